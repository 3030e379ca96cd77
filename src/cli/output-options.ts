/**
 * Options every job command shares: how progress is shown and how much is logged.
 */
import type { Command } from 'commander';
import { DEFAULT_OPTIONS, LOG_LEVELS, PROGRESS_MODES, validateMigrateOptions, type LogLevel, type MigrateOptions } from '../config/options.js';

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

/**
 * Adds the time limits of a Dragonfly source (`--source-timeout`, `--full-sync-stall-timeout`),
 * shared by `replicate` and `migrate --source redis://…`.
 */
export function addSourceTimeoutOptions(cmd: Command): Command {
  return cmd
    .option(
      '--source-timeout <ms>',
      'Dragonfly source: longest wait for the master to answer a handshake, DFLY FLOW/SYNC/STARTSTABLE or liveness PING (e.g. 30s; 0 = no limit)',
      String(DEFAULT_OPTIONS.sourceTimeoutMs),
    )
    .option(
      '--full-sync-stall-timeout <ms>',
      'Dragonfly source: fail the full sync after this long without a byte from the master on any flow (e.g. 60s; 0 = no limit)',
      String(DEFAULT_OPTIONS.fullSyncStallTimeoutMs),
    );
}

/**
 * Validates the options `migrate` and `replicate` share, from commander's parsed record (flag
 * names as commander spells them, e.g. `tlsInsecure`). @throws ConfigError naming the option.
 */
export function validateJobOptions(raw: Record<string, unknown>): MigrateOptions {
  return validateMigrateOptions({
    source: raw.source,
    target: raw.target,
    onExisting: raw.onExisting,
    unsupported: raw.unsupported,
    restoreMaxBytes: raw.restoreMaxBytes,
    isTlsInsecure: raw.tlsInsecure,
    dbs: raw.dbs,
    progress: raw.progress,
    logLevel: raw.logLevel,
    sourceTimeoutMs: raw.sourceTimeout,
    fullSyncStallTimeoutMs: raw.fullSyncStallTimeout,
  });
}
