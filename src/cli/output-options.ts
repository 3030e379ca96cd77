/**
 * Options every job command shares: how progress is shown and how much is logged.
 */
import type { Command } from 'commander';
import { DEFAULT_OPTIONS, LOG_LEVELS, PROGRESS_MODES, type LogLevel } from '../config/options.js';

/**
 * Adds `--progress` and `--log-level` to `cmd`, with their defaults from DEFAULT_OPTIONS unless
 * the command has a reason to differ (`logLevel`).
 */
export function addOutputOptions(cmd: Command, defaults: { logLevel?: LogLevel } = {}): Command {
  return cmd
    .option(
      '--progress <mode>',
      `${PROGRESS_MODES.join(' | ')}: bar on stderr, a log line every 5 s, only the summary; auto = bar on a terminal, else log`,
      DEFAULT_OPTIONS.progress,
    )
    .option('--log-level <level>', `${LOG_LEVELS.join(' | ')}: JSON log lines on stderr`, defaults.logLevel ?? DEFAULT_OPTIONS.logLevel);
}
