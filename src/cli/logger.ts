/**
 * The one logger of a CLI run: pino on stderr (stdout is kept for the job's summary), written
 * synchronously so nothing is lost when the process exits right after an error. Readable lines
 * (pino-pretty) on a terminal, one JSON object a line otherwise (`--log-format`).
 * Messages are lowercase text with structured fields, never one line per entry.
 */
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type { LogFormat, LogLevel } from '../config/options.js';
import { maskUrlPasswords } from '../config/url-credentials.js';

/** pino-pretty, loaded only when a log goes to a terminal (or `--log-format pretty`): start-up CPU. */
const requireLazily = createRequire(import.meta.url);

/**
 * A number as a log line shows it: integers as they are; others rounded to 3 significant digits
 * with at most 3 decimals (1234.5678 → 1235, 12.3456 → 12.3, 0.012345 → 0.012).
 */
export function roundForLog(n: number): number {
  if (Number.isInteger(n) || !Number.isFinite(n)) return n;
  const abs = Math.abs(n);
  if (abs >= 100) return Math.round(n);
  const decimals = Math.min(3, Math.max(0, 2 - Math.floor(Math.log10(abs))));
  return Number(n.toFixed(decimals));
}

/**
 * Masks URL passwords in a log line's message and top-level string fields, and rounds its
 * top-level numbers ({@link roundForLog}) (logs are milestones, not per entry).
 */
function formatFields(obj: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'string') obj[k] = maskUrlPasswords(v);
    else if (typeof v === 'number') obj[k] = roundForLog(v);
  }
  return obj;
}

/** `auto` resolved: pretty when stderr is a terminal. */
export function resolveLogFormat(format: LogFormat, isTerminal = process.stderr.isTTY === true): 'pretty' | 'json' {
  return format === 'auto' ? (isTerminal ? 'pretty' : 'json') : format;
}

/**
 * A logger at `level` writing to file descriptor 2, as JSON lines or pino-pretty lines (colours
 * only on a terminal). Passwords in URLs never reach the log.
 */
export function createLogger(level: LogLevel, format: LogFormat = 'auto'): Logger {
  const isTerminal = process.stderr.isTTY === true;
  const destination =
    resolveLogFormat(format, isTerminal) === 'pretty'
      ? (requireLazily('pino-pretty') as typeof import('pino-pretty'))({ destination: 2, sync: true, colorize: isTerminal, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name', singleLine: true })
      : pino.destination({ dest: 2, sync: true });
  return pino(
    {
      name: 'df2redis',
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { log: formatFields },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? maskUrlPasswords(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}

