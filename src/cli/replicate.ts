/**
 * `df2redis replicate`: argv → options → {@link Replicator} until SIGINT/SIGTERM → final LSNs on stdout.
 */
import { Command } from 'commander';
import type { Logger } from 'pino';
import * as z from 'zod/mini';
import { checkedField, DEFAULT_OPTIONS, parseDurationMs, parseWithSchema, type ProgressMode } from '../config/options.js';
import { optionSourcesOf } from './config-layers.js';
import { ConfigError } from '../errors.js';
import { REPLICATE_DEFAULTS, Replicator, type ReplicateOptions, type ReplicateSummary, type ReplicationStatus } from '../pipeline/replicate.js';
import { formatDuration } from '../progress/human-units.js';
import { addHttpOptions, httpOptionsFrom } from './http-options.js';
import { createLogger } from './logger.js';
import { progressLogger } from '../progress/progress-reporter.js';
import { addConfigLayers } from './config-layers.js';
import { helpEpilogue } from './exit-codes.js';
import { addConnectionOptions } from './connection-options.js';
import { addOutputOptions, addSourceTimeoutOptions, validateJobOptions } from './output-options.js';
import { onStopSignals } from './stop-signals.js';
import { startIdleCollector } from './idle-collector.js';

/** The `replicate` command. */
export function replicateCommand(): Command {
  const cmd = new Command('replicate')
    .summary('replicate a live Dragonfly master into Redis until stopped')
    .description(
      'Attach to a Dragonfly master as a replica (full sync over every flow, then the journal) and keep the ' +
        'target Redis equal to it until SIGINT/SIGTERM. On stop, in-flight writes are finished and the last ' +
        'acknowledged LSN of every flow is printed.',
    )
    .option('--source <url>', 'Dragonfly master: redis://[user:password@]host:port, rediss:// for TLS (required)')
    .option(
      '--target <url[,url…]>',
      'target Redis: redis://[user:password@]host:port[/db], rediss:// for TLS (required). A Redis Cluster is detected ' +
        '(INFO cluster) and written through all its masters; give one or more of its nodes as seeds, comma-separated',
    )
    .option('--dbs <list>', 'copy only these source databases, e.g. 0 or 0,3 (a Redis Cluster target needs --dbs 0 when the source uses others) (default: every database)')
    .option('--on-existing <policy>', 'replace | skip | fail: a snapshot key that already exists on the target', DEFAULT_OPTIONS.onExisting)
    .option('--unsupported <policy>', 'fail | skip: keys of a type the target cannot hold', DEFAULT_OPTIONS.unsupported)
    .option('--restore-max-bytes <bytes>', 'write values up to this encoded size with one RESTORE (0 = never)', String(DEFAULT_OPTIONS.restoreMaxBytes))
    .option('--tls-insecure', 'accept any TLS certificate from rediss:// source and target', DEFAULT_OPTIONS.isTlsInsecure)
    .option(
      '--delivery <mode>',
      'exactly-once: each batch of journal records and its checkpoint on the target are applied together (standalone: one MULTI/EXEC; ' +
        'cluster: one script per master with a checkpoint per slot); ' +
        'at-least-once: the checkpoint follows the acknowledgements, records since it apply again after a crash',
      REPLICATE_DEFAULTS.delivery,
    )
    .option(
      '--on-full-resync <policy>',
      'flush | fail: when the master cannot resume from the checkpoint (backlog overrun, master restart, crash during the full sync), ' +
        'flush the copied databases and sync again in full, or stop (exit 2)',
      REPLICATE_DEFAULTS.onFullResync,
    )
    .option(
      '--wait-replicas <n>',
      'advance the resume checkpoint only once WAIT reports n replicas of every master written to (0 = no WAIT): ' +
        'a master that fails over cannot lose writes it already counts (at-least-once, and the resume point on a cluster)',
      '0',
    )
    .option('--reconnect-timeout <ms>', 'after a lost source or target connection, keep reconnecting this long (e.g. 5m; 0 = never reconnect: exit 1)', '5m')
    .option('--checkpoint-prefix <prefix>', "name prefix of df2redis's own keys on the target (the checkpoint hash <prefix>checkpoint; on a cluster also <prefix>cp:{…}, one per slot); never copied nor compared", REPLICATE_DEFAULTS.checkpointPrefix);
  addConnectionOptions(cmd);
  addHttpOptions(cmd);
  addSourceTimeoutOptions(cmd);
  addOutputOptions(cmd);
  addConfigLayers(cmd);
  cmd.addHelpText(
    'after',
    helpEpilogue([
      'df2redis replicate --source redis://10.0.0.5:6379 --target redis://127.0.0.1:6380 --status-port 9121',
      'DF2REDIS_SOURCE_PASSWORD=… df2redis replicate --source rediss://df.internal:6380 --source-tls-ca ca.pem \\\n' +
        '      --target redis://redis-1:7000,redis://redis-2:7000 --dbs 0',
      'df2redis replicate --config /etc/df2redis/df2redis.yaml --log-format json',
      'df2redis replicate --source redis://10.0.0.5:6379 --target redis://10.0.0.7:7000 --wait-replicas 1 --reconnect-timeout 15m',
    ]),
  );
  return cmd.action(async (raw: Record<string, unknown>) => {
    const { options, progress, logger } = replicateOptionsFrom(raw, false);
    const summary = await runReplicator(options, logger, progress, true);
    process.stdout.write(formatReplicateSummary(summary));
  });
}

/**
 * Validates the options shared with `migrate` (same rules and messages) and builds
 * {@link ReplicateOptions}. `isFullSyncOnly` for `migrate --source redis://…`.
 */
export function replicateOptionsFrom(
  raw: Record<string, unknown>,
  isFullSyncOnly: boolean,
): { options: ReplicateOptions; progress: ProgressMode; logger: Logger } {
  if (typeof raw.source !== 'string' || !/^rediss?:\/\//.test(raw.source)) {
    throw new ConfigError('--source must be a Dragonfly URL: redis://[user:password@]host:port or rediss://…');
  }
  const v = validateJobOptions(raw);
  return {
    options: {
      ...REPLICATE_DEFAULTS,
      source: raw.source,
      target: v.target,
      isFullSyncOnly,
      onExisting: v.onExisting,
      unsupported: v.unsupported,
      restoreMaxBytes: v.restoreMaxBytes,
      isTlsInsecure: v.isTlsInsecure,
      dbs: v.dbs,
      ...httpOptionsFrom(raw),
      sourceConnection: v.sourceConnection,
      targetConnection: v.targetConnection,
      sourceTimeoutMs: v.sourceTimeoutMs,
      fullSyncStallTimeoutMs: v.fullSyncStallTimeoutMs,
      ...(isFullSyncOnly ? {} : resumeOptionsFrom(raw)),
    },
    progress: v.progress,
    logger: createLogger(v.logLevel, v.logFormat),
  };
}

/** `replicate`'s own options (resume, reconnect, checkpoint), checked with {@link RESUME_OPTIONS_SCHEMA}. */
function resumeOptionsFrom(raw: Record<string, unknown>): Pick<ReplicateOptions, 'delivery' | 'onFullResync' | 'reconnectTimeoutMs' | 'checkpointPrefix' | 'waitReplicas'> {
  const s = optionSourcesOf(raw);
  return parseWithSchema(
    RESUME_OPTIONS_SCHEMA,
    { delivery: raw.delivery, onFullResync: raw.onFullResync, reconnectTimeoutMs: raw.reconnectTimeout, checkpointPrefix: raw.checkpointPrefix, waitReplicas: raw.waitReplicas },
    { delivery: '--delivery', onFullResync: '--on-full-resync', reconnectTimeoutMs: '--reconnect-timeout', checkpointPrefix: '--checkpoint-prefix', waitReplicas: '--wait-replicas' },
    { delivery: s.delivery, onFullResync: s.onFullResync, reconnectTimeoutMs: s.reconnectTimeout, checkpointPrefix: s.checkpointPrefix, waitReplicas: s.waitReplicas },
  );
}

/** The options only `replicate` has, with their defaults (flags, `DF2REDIS_*`, config file alike). */
const RESUME_OPTIONS_SCHEMA = z.object({
  delivery: checkedField(oneOfOrDefault(['exactly-once', 'at-least-once'] as const, REPLICATE_DEFAULTS.delivery)),
  onFullResync: checkedField(oneOfOrDefault(['flush', 'fail'] as const, REPLICATE_DEFAULTS.onFullResync)),
  reconnectTimeoutMs: checkedField((v) => parseDurationMs(v ?? '5m')),
  checkpointPrefix: checkedField((v): string => {
    if (v === undefined) return REPLICATE_DEFAULTS.checkpointPrefix;
    if (typeof v !== 'string' || v === '') throw new Error('must not be empty');
    return v;
  }),
  waitReplicas: checkedField((v): number => {
    if (v === undefined) return REPLICATE_DEFAULTS.waitReplicas;
    const n = Number(v); // as z.coerce.number() did: '' is 0
    if (!Number.isInteger(n)) throw new Error('must be a whole number of replicas');
    if (n < 0) throw new Error('must be 0 or more');
    return n;
  }),
});

/** A check that takes one of `allowed`, or `fallback` when not given. */
function oneOfOrDefault<T extends string>(allowed: readonly T[], fallback: T): (v: unknown) => T {
  return (v) => {
    if (v === undefined) return fallback;
    if (!allowed.includes(v as T)) throw new Error(`must be one of ${allowed.join(', ')}`);
    return v as T;
  };
}

/**
 * Runs a {@link Replicator} with progress output; with `isStoppedBySignal`, SIGINT/SIGTERM stop it
 * gracefully (a second signal exits at once). Stopped before the full sync finished, it rejects
 * with a StoppedError (exit 130/143), never resolves.
 */
export async function runReplicator(options: ReplicateOptions, logger: Logger, progress: ProgressMode, isStoppedBySignal: boolean): Promise<ReplicateSummary> {
  const replicator = new Replicator(options, logger);
  const removeSignals = isStoppedBySignal ? onStopSignals(logger, (signal) => void replicator.stop(signal)) : () => {};
  const stopProgress = startProgress(replicator, progress, logger);
  // After a burst of journal records, give its garbage back while the flows are quiet.
  const stopCollector = startIdleCollector({ onCollect: (rss, ms) => logger.debug({ rssMb: Math.round(rss / 2 ** 20), durationMs: Math.round(ms) }, 'idle: garbage collected') });
  try {
    return await replicator.run();
  } finally {
    stopCollector();
    stopProgress();
    removeSignals();
  }
}

/** Progress: a status line on a terminal (every second), else a log line every 5 s. */
function startProgress(replicator: Replicator, mode: ProgressMode, logger: Logger): () => void {
  const resolved = mode === 'auto' ? (process.stderr.isTTY ? 'bar' : 'log') : mode;
  if (resolved === 'none') return () => {};
  const progressLog = progressLogger(logger);
  let last = { ops: 0n, atMs: performance.now() };
  const render = (s: ReplicationStatus): { line: string; fields: Record<string, unknown> } => {
    const now = performance.now();
    const opsPerSec = Number(s.opsApplied - last.ops) / Math.max(0.001, (now - last.atMs) / 1000);
    last = { ops: s.opsApplied, atMs: now };
    const keys = s.flows.reduce((n, f) => n + f.snapshotKeys, 0);
    const lag = s.flows.reduce((n, f) => n + Number(f.receivedLsn - f.lsn), 0);
    const perFlow = s.flows.map((f) => `${f.id}:${f.phase === 'full-sync' ? `${f.snapshotKeys}k` : `lsn ${f.lsn}`}`).join(' ');
    return {
      line: `${s.phase}  keys ${keys}  ops/s ${Math.round(s.phase === 'stable-sync' ? opsPerSec : 0)}  lag ${lag} records  [${perFlow}]`,
      fields: { phase: s.phase, snapshotKeys: keys, opsPerSec: Math.round(opsPerSec), lagRecords: lag, flows: s.flows.length },
    };
  };
  const timer = setInterval(
    () => {
      const { line, fields } = render(replicator.status());
      if (resolved === 'bar') process.stderr.write(`\r\x1b[2K${line}`);
      else progressLog.info(fields, 'progress');
    },
    resolved === 'bar' ? 1000 : 5000,
  );
  timer.unref();
  return () => {
    clearInterval(timer);
    if (resolved === 'bar') process.stderr.write('\n');
  };
}

/** Final lines on stdout: the acknowledged LSN of every flow (what a restart would resume from). */
export function formatReplicateSummary(s: ReplicateSummary): string {
  const lines = [`stopped after ${formatDuration(s.elapsedMs)}: ${s.snapshotKeys} snapshot keys written`];
  for (const f of s.flows) lines.push(`flow ${f.id}: acknowledged lsn ${f.lsn} (${f.snapshotKeys} snapshot keys)`);
  const dropped = Object.entries(s.dropped);
  if (dropped.length > 0) lines.push(`dropped: ${dropped.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const lossy = Object.entries(s.lossy);
  if (lossy.length > 0) lines.push(`lossy: ${lossy.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  lines.push(`longest source pause: ${s.longestPauseMs} ms`);
  lines.push(`reconnects: ${s.reconnects}, full syncs: ${s.resyncs.full}, partial syncs: ${s.resyncs.partial}`);
  return `${lines.join('\n')}\n`;
}
