/**
 * Exit codes of the `df2redis` binary (README "Exit codes"), and the mapping from errors to them.
 * Only `main.ts` uses this; library code throws typed errors and never exits.
 */
import { CommanderError } from 'commander';
import { maskUrlPasswords } from '../config/url-credentials.js';
import { ConfigError, Df2RedisError, NotHealthyError, StatusUnreachableError, StoppedError, UnsupportedTypesError } from '../errors.js';

/** Every command was acknowledged by the target. */
export const EXIT_OK = 0;
/** The job failed with a known error (corrupt input, target refused a command, connection lost…). */
export const EXIT_FAILED = 1;
/** Bad command line or option value; nothing was done. */
export const EXIT_USAGE = 2;
/** `--unsupported fail` and the source holds keys the target cannot hold; nothing was written. */
export const EXIT_UNSUPPORTED = 3;
/** `df2redis status`: no replicator answers at the URL (refused, timeout, HTTP error). */
export const EXIT_UNREACHABLE = 4;
/** `df2redis status`: the replicator answers but is not healthy (phase `stopped`). */
export const EXIT_NOT_HEALTHY = 5;
/** Stopped by SIGINT (128 + 2) or SIGTERM (128 + 15) before the job finished ({@link StoppedError}). */
export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;
/** A bug: an unexpected error (printed with its stack). Like sysexits.h EX_SOFTWARE. */
export const EXIT_INTERNAL = 70;

/** The exit-code table that ends every command's `--help` (README "Exit codes" has the details). */
export const EXIT_CODES_HELP = `
Exit codes:
  0         done: the target acknowledged every command (replicate: stopped in stable sync)
  1         the job failed (corrupt input, a refused command, a lost connection, …)
  2         bad command line, option, environment variable or config file value; nothing was done
  3         --unsupported fail and the source holds keys the target cannot hold
  130, 143  stopped by SIGINT / SIGTERM before the job finished
  70        internal error (a bug; please report it)
`;

/** `--help` epilogue: real examples, then {@link EXIT_CODES_HELP}. */
export function helpEpilogue(examples: ReadonlyArray<string>): string {
  return `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n${EXIT_CODES_HELP}`;
}

/**
 * How an error is reported: its exit code and the text for stderr (typed errors: message only).
 * Passwords of URLs in the text are masked, whatever the error (defence in depth: the URL parsers
 * already mask what they quote).
 */
export function describeError(err: unknown): { exitCode: number; text: string } {
  const { exitCode, text } = classifyError(err);
  return { exitCode, text: maskUrlPasswords(text) };
}

function classifyError(err: unknown): { exitCode: number; text: string } {
  if (err instanceof CommanderError) {
    // commander already printed its message (or the help) to stderr / stdout.
    return { exitCode: err.exitCode === 0 ? EXIT_OK : EXIT_USAGE, text: '' };
  }
  if (err instanceof ConfigError) return { exitCode: EXIT_USAGE, text: `df2redis: ${err.message}\n` };
  if (err instanceof StoppedError) return { exitCode: err.exitCode, text: `df2redis: ${err.message}\n` };
  if (err instanceof UnsupportedTypesError) return { exitCode: EXIT_UNSUPPORTED, text: `df2redis: ${err.message}\n` };
  if (err instanceof StatusUnreachableError) return { exitCode: EXIT_UNREACHABLE, text: `df2redis: ${err.message}\n` };
  if (err instanceof NotHealthyError) return { exitCode: EXIT_NOT_HEALTHY, text: `df2redis: ${err.message}\n` };
  if (err instanceof Df2RedisError) return { exitCode: EXIT_FAILED, text: `df2redis: ${err.message}\n` };
  const stack = err instanceof Error ? (err.stack ?? String(err)) : String(err);
  return { exitCode: EXIT_INTERNAL, text: `df2redis: internal error (please report it):\n${stack}\n` };
}
