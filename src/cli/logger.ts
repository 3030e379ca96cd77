/**
 * The one logger of a CLI run: pino, JSON lines on stderr (stdout is kept for the job's summary),
 * written synchronously so nothing is lost when the process exits right after an error.
 * Messages are lowercase text with structured fields, never one line per entry.
 */
import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/options.js';

/** A logger at `level` writing to file descriptor 2. */
export function createLogger(level: LogLevel): Logger {
  return pino(
    { name: 'df2redis', level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 2, sync: true }),
  );
}
