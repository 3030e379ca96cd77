/**
 * Options every job command shares: how progress is shown and how much is logged, the source time
 * limits, and the validation of them all (with the connection options of connection-options.ts).
 */
import type { Command } from 'commander';
import { withCredentials } from '../config/connection-settings.js';
import {
  DEFAULT_OPTIONS,
  LOG_FORMATS,
  LOG_LEVELS,
  PROGRESS_MODES,
  validateMigrateOptions,
  type LogLevel,
  type MigrateOptions,
  type OptionSources,
} from '../config/options.js';
import { parseTargetUrls } from '../sink/connect-target.js';
import { parseDragonflyUrl } from '../source/dragonfly-url.js';
import { optionSourcesOf } from './config-layers.js';
import { connectionSettingsFrom } from './connection-options.js';

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
    .option('--log-level <level>', `${LOG_LEVELS.join(' | ')}: log lines on stderr (progress lines show at warn and error too)`, defaults.logLevel ?? DEFAULT_OPTIONS.logLevel)
    .option('--log-format <format>', `${LOG_FORMATS.join(' | ')}: readable lines or one JSON object a line; auto = pretty on a terminal, else json`, DEFAULT_OPTIONS.logFormat);
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
 * names as commander spells them, e.g. `tlsInsecure`), with the connection settings of both sides.
 * @throws ConfigError naming the option and where its value came from (see config-layers.ts).
 */
export function validateJobOptions(raw: Record<string, unknown>): MigrateOptions {
  const s = optionSourcesOf(raw);
  const sources: OptionSources = {
    ...s,
    isTlsInsecure: s.tlsInsecure,
    sourceTimeoutMs: s.sourceTimeout,
    fullSyncStallTimeoutMs: s.fullSyncStallTimeout,
  };
  const options = validateMigrateOptions({
    source: raw.source,
    target: raw.target,
    onExisting: raw.onExisting,
    unsupported: raw.unsupported,
    restoreMaxBytes: raw.restoreMaxBytes,
    isTlsInsecure: raw.tlsInsecure,
    dbs: raw.dbs,
    progress: raw.progress,
    logLevel: raw.logLevel,
    logFormat: raw.logFormat,
    sourceTimeoutMs: raw.sourceTimeout,
    fullSyncStallTimeoutMs: raw.fullSyncStallTimeout,
  }, sources);
  const sourceConnection = connectionSettingsFrom(raw, 'source', s);
  const targetConnection = connectionSettingsFrom(raw, 'target', s);
  // A password both in a URL and apart is refused now (exit 2), not at the first connection.
  for (const ep of parseTargetUrls(options.target)) withCredentials(ep, targetConnection, 'target');
  if (/^rediss?:\/\//i.test(options.source)) withCredentials(parseDragonflyUrl(options.source), sourceConnection, 'source');
  return { ...options, ...(sourceConnection && { sourceConnection }), ...(targetConnection && { targetConnection }) };
}
