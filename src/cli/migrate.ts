/**
 * `df2redis migrate`: argv → validated options → {@link migrateFile} → summary on stdout.
 */
import { Command } from 'commander';
import { DEFAULT_OPTIONS } from '../config/options.js';
import { migrateFile, MigrateStoppedError, type MigrateFileSummary } from '../pipeline/migrate-file.js';
import { formatBytes, formatDuration, formatRate } from '../progress/human-units.js';
import { createProgressReporter } from '../progress/progress-reporter.js';
import { ConfigError } from '../errors.js';
import { addHttpOptions, httpOptionsFrom } from './http-options.js';
import { createLogger } from './logger.js';
import { addConfigLayers } from './config-layers.js';
import { helpEpilogue } from './exit-codes.js';
import { addConnectionOptions } from './connection-options.js';
import { addOutputOptions, addSourceTimeoutOptions, validateJobOptions } from './output-options.js';
import type { ReplicateSummary } from '../pipeline/replicate.js';
import { onStopSignals } from './stop-signals.js';

/** A `--source` that names a Dragonfly master rather than a file. */
const DRAGONFLY_URL = /^rediss?:\/\//i;

/** The `migrate` command. Its action throws on failure; `main.ts` maps errors to exit codes. */
export function migrateCommand(): Command {
  const cmd = new Command('migrate')
    .summary('copy an RDB file into Redis, then exit')
    .description(
      'Copy every key of an RDB file (a Redis dump.rdb or a single-file Dragonfly RDB), or a full sync of a ' +
        'live Dragonfly master, into a Redis server, then exit. Exits 0 only when the target acknowledged every command.',
    )
    .option(
      '--source <file.rdb|url>',
      'RDB file to import, or a Dragonfly master redis://[user:password@]host:port (rediss:// for TLS) (required)',
    )
    .option(
      '--target <url[,url…]>',
      'target Redis: redis://[user:password@]host:port[/db], rediss:// for TLS (required). A Redis Cluster is detected ' +
        '(INFO cluster) and written through all its masters; give one or more of its nodes as seeds, comma-separated',
    )
    .option('--dbs <list>', 'copy only these source databases, e.g. 0 or 0,3 (a Redis Cluster target needs --dbs 0 when the source uses others) (default: every database)')
    .option('--on-existing <policy>', 'replace | skip | fail: a key that already exists on the target', DEFAULT_OPTIONS.onExisting)
    .option(
      '--unsupported <policy>',
      'fail | skip: keys of a type the target cannot hold (fail lists them before writing anything)',
      DEFAULT_OPTIONS.unsupported,
    )
    .option(
      '--restore-max-bytes <bytes>',
      'write values up to this encoded size with one RESTORE (e.g. 512k, 1m; 0 = never)',
      String(DEFAULT_OPTIONS.restoreMaxBytes),
    )
    .option('--tls-insecure', 'accept any TLS certificate from a rediss:// target', DEFAULT_OPTIONS.isTlsInsecure);
  addConnectionOptions(cmd);
  addHttpOptions(cmd);
  addSourceTimeoutOptions(cmd);
  addOutputOptions(cmd);
  addConfigLayers(cmd);
  cmd.addHelpText(
    'after',
    helpEpilogue([
      'df2redis migrate --source /var/lib/redis/dump.rdb --target redis://127.0.0.1:6380 --on-existing skip',
      'df2redis migrate --source redis://10.0.0.5:6379 --target rediss://redis.internal:6380 --target-tls-ca ca.pem',
      'DF2REDIS_TARGET_PASSWORD=… df2redis migrate --source dump.rdb --target redis://redis-1:7000 --dbs 0 --progress log',
    ]),
  );
  return cmd.action(async (raw: Record<string, unknown>) => {
    if (typeof raw.source === 'string' && DRAGONFLY_URL.test(raw.source)) {
      // A live Dragonfly: the replicator's full sync over every flow, stopping once it is acknowledged.
      // Loaded here only: a file migration does not load the replicator (start-up CPU, issue 12).
      const { formatReplicateSummary, replicateOptionsFrom, runReplicator } = await import('./replicate.js');
      const { options, progress, logger } = replicateOptionsFrom(raw, true);
      const summary = await runReplicator(options, logger, progress, true);
      const fileShaped = migrateSummaryOf(summary);
      logger.info({ ...fileShaped }, 'migrate done');
      // The same shape as a file migration's summary, plus what the journal of the full sync dropped.
      const extra = formatReplicateSummary(summary)
        .split('\n')
        .filter((l) => /^(dropped|lossy): /.test(l));
      process.stdout.write(formatSummary(fileShaped) + extra.map((l) => `${l}\n`).join(''));
      return;
    }
    if (httpOptionsFrom(raw).statusPort !== undefined) {
      throw new ConfigError('--status-port serves a migration from a Dragonfly master (--source redis://…), not from a file');
    }
    const options = validateJobOptions(raw);
    const logger = createLogger(options.logLevel, options.logFormat);
    // SIGINT/SIGTERM: finish what is in flight, delete a half-written key, print the partial
    // summary, then exit 130/143 (main.ts, from the StoppedError).
    const stopping = new AbortController();
    const removeSignals = onStopSignals(logger, (signal) => stopping.abort(signal));
    let summary: MigrateFileSummary;
    try {
      summary = await migrateFile(options, { logger, progress: createProgressReporter(options.progress, { logger }), signal: stopping.signal });
    } catch (err) {
      if (err instanceof MigrateStoppedError) process.stdout.write(formatSummary(err.summary));
      throw err;
    } finally {
      removeSignals();
    }
    logger.info({ ...summary }, 'migrate done');
    process.stdout.write(formatSummary(summary));
  });
}

/**
 * A full sync of a Dragonfly master in the shape of a file migration's summary: `keys` written
 * and acknowledged, `totalKeys` = those plus the ones skipped (expired, existing, unsupported),
 * `bytes` received from the master.
 */
export function migrateSummaryOf(s: ReplicateSummary): MigrateFileSummary {
  const skipped = s.skipped.expired + s.skipped.existing + s.skipped.unsupported;
  return {
    totalKeys: s.snapshotKeys + skipped,
    skippedOtherDbs: s.skippedOtherDbs,
    keys: s.snapshotKeys,
    bytes: s.bytesReceived,
    skippedExpired: s.skipped.expired,
    skippedExisting: s.skipped.existing,
    skippedUnsupported: s.skipped.unsupported,
    functions: s.functions,
    elapsedMs: s.elapsedMs,
    keysPerSec: s.elapsedMs > 0 ? (s.snapshotKeys * 1000) / s.elapsedMs : s.snapshotKeys,
  };
}

/**
 * The human summary printed on stdout at the end of a migration, two lines:
 * `migrated 20 of 20 keys (75.8 KiB) in 0.2 s, 100 keys/s`
 * `skipped: 0 expired, 0 existing, 0 unsupported[, 5 in other databases (not in --dbs)]; 1 function library loaded`
 */
export function formatSummary(s: MigrateFileSummary): string {
  return (
    `migrated ${s.keys} of ${s.totalKeys} keys (${formatBytes(s.bytes)}) in ${formatDuration(s.elapsedMs)}, ` +
    `${formatRate(s.keysPerSec)} keys/s\n` +
    `skipped: ${s.skippedExpired} expired, ${s.skippedExisting} existing, ${s.skippedUnsupported} unsupported` +
    `${s.skippedOtherDbs > 0 ? `, ${s.skippedOtherDbs} in other databases (not in --dbs)` : ''}; ` +
    `${s.functions} function ${s.functions === 1 ? 'library' : 'libraries'} loaded\n`
  );
}
