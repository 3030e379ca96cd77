/**
 * The one logger of a CLI run: pino, JSON lines on stderr (stdout is kept for the job's summary),
 * written synchronously so nothing is lost when the process exits right after an error.
 * Messages are lowercase text with structured fields, never one line per entry.
 */
import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/options.js';
import { maskUrlPasswords } from '../config/url-credentials.js';

/** Masks URL passwords in a log line's message and top-level string fields (logs are milestones, not per entry). */
function maskFields(obj: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) if (typeof v === 'string') obj[k] = maskUrlPasswords(v);
  return obj;
}

/** A logger at `level` writing to file descriptor 2. Passwords in URLs never reach the log. */
export function createLogger(level: LogLevel): Logger {
  return pino(
    {
      name: 'df2redis',
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { log: maskFields },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? maskUrlPasswords(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
