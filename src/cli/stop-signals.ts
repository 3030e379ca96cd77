/**
 * SIGINT/SIGTERM for the job commands: the first one asks the job to stop cleanly, a second one
 * exits at once (128 + the signal number) after putting the terminal back as it was.
 */
import type { Logger } from 'pino';
import { restoreTerminal } from '../progress/progress-reporter.js';

const EXIT_AT_ONCE: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Calls `stop(signal)` on the first SIGINT or SIGTERM; on a second one, restores the terminal
 * (cursor shown, line wrap on) and exits at once. Returns the function that removes the handlers.
 */
export function onStopSignals(logger: Logger, stop: (signal: NodeJS.Signals) => void): () => void {
  const atOnce = (signal: NodeJS.Signals): void => {
    restoreTerminal();
    process.exit(EXIT_AT_ONCE[signal] ?? 143);
  };
  const first = (signal: NodeJS.Signals): void => {
    logger.warn({ signal }, 'stopping: finishing in-flight writes (a second signal exits at once)');
    process.off('SIGINT', first);
    process.off('SIGTERM', first);
    process.once('SIGINT', atOnce);
    process.once('SIGTERM', atOnce);
    stop(signal);
  };
  process.once('SIGINT', first);
  process.once('SIGTERM', first);
  return () => {
    process.off('SIGINT', first);
    process.off('SIGTERM', first);
    process.off('SIGINT', atOnce);
    process.off('SIGTERM', atOnce);
  };
}
