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

/** The exit codes of `df2redis check`. */
export const CHECK_EXIT_CODES_HELP = `
Exit codes:
  0         the target equals the source (classes unsupported and lossy do not count)
  1         keys differ (the summary names them), or the check failed (a lost connection, …)
  2         bad command line or option value; nothing was compared
  70        internal error (a bug; please report it)
`;

/** The exit codes of `df2redis reset`. */
export const RESET_EXIT_CODES_HELP = `
Exit codes:
  0         the checkpoint was removed, or there was none
  1         the target failed (unreachable, refused a command)
  2         bad command line or option value; nothing was done
  70        internal error (a bug; please report it)
`;

/** The exit codes of `df2redis cutover`. */
export const CUTOVER_EXIT_CODES_HELP = `
Exit codes:
  0         verified: the target equals the paused source; it was held, then unpaused
  1         not verified (not in stable sync, not caught up in time, differences, …): unpaused at once
  2         bad command line or option value; nothing was paused
  70        internal error (a bug; please report it)
`;

/** The exit codes of `df2redis status`. */
export const STATUS_EXIT_CODES_HELP = `
Exit codes:
  0         the replicator answers and is healthy
  2         bad option, or the endpoint wants a token that is missing or wrong
  4         nothing answers at the URL
  5         it answers but is not healthy (stopping or failed)
  70        internal error (a bug; please report it)
`;

/** `--help` epilogue: real examples, then the exit codes (those of the jobs by default). */
export function helpEpilogue(examples: ReadonlyArray<string>, exitCodes: string = EXIT_CODES_HELP): string {
  return `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n${exitCodes}`;
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
