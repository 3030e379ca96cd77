/**
 * `df2redis replicate` (and `migrate --source redis://…`): a Dragonfly master into Redis, top to bottom.
 *
 *   connect target ─► DragonflySession (handshake, flows, DFLY SYNC) ─► per flow: FlowApplier
 *     (snapshot pieces + journal blobs in stream order, own target connection) ─► STARTSTABLE
 *     ─► journal forever: translate ─► write ─► acknowledged LSN ─► REPLCONF ACK
 *
 * Global commands (FLUSHALL/FLUSHDB) wait at a barrier until every flow reached them, run once,
 * then all flows go on (reference §5.5). A flow's socket is paused only while its connection is
 * above its in-flight bound (a large window, so a slow target is absorbed for a while) and the
 * longest pause is reported (DESIGN invariant 4).
 */
import { tlsConnectOptions, withCredentials, type ConnectionSettings } from '../config/connection-settings.js';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ConfigError, Df2RedisError, isTransientFault, ReplicationError, StoppedError, TargetCommandError } from '../errors.js';
import { startStatusServer, type StatusServer } from '../metrics/status-server.js';
import { ClusterRouter } from '../sink/cluster-router.js';
import { openRouter, resolveTarget, targetDbPlan, type ResolvedTarget } from '../sink/connect-target.js';
import { RedisConnection, type RespValue } from '../sink/redis-connection.js';
import type { Router } from '../sink/router.js';
import { describeDiscarded, MSET_KEYS_DEFAULT, SLOT_STAGE_BYTES, SnapshotWriter } from '../sink/snapshot-writer.js';
import type { TargetInfo } from '../sink/target-info.js';
import { DragonflySession, type SessionResume } from '../source/dragonfly-session.js';
import type { SourceEndpoint } from '../source/dragonfly-url.js';
import {
  CHECKPOINT_VERSION,
  checkpointKey,
  dbsField,
  DEFAULT_CHECKPOINT_PREFIX,
  flowCheckpoint,
  fullCheckpointArgs,
  readCheckpoint,
  readSlotCheckpoints,
  deleteSlotCheckpoints,
  WAIT_REPLICAS_TIMEOUT_MS,
  type CheckpointState,
} from './checkpoint.js';
import { ReconnectLoop } from './reconnect-loop.js';
import { parseDragonflyUrl } from '../source/dragonfly-url.js';
import { versionTraits } from '../source/dragonfly-versions.js';
import { JournalTranslator, type Translation } from '../translate/journal-translator.js';
import { commandName, FlowApplier } from './flow-applier.js';
import { DEFAULT_READ_BACK_MAX_BYTES, masterOffsets, SourceReader } from './read-back.js';
import { createMetricsRegistry } from '../metrics/prometheus-metrics.js';
import { maskUrlPasswords } from '../config/url-credentials.js';

/** Options of a replication run. */
export interface ReplicateOptions {
  /** Dragonfly master, `redis://[user:password@]host:port` or `rediss://…`. Required. */
  source: string;
  /** Target Redis URL, or comma-separated seed URLs of a Redis Cluster (detected). Required. */
  target: string;
  /** Copy only these source databases; a cluster target without it refuses sources using others. @default undefined (all) */
  dbs: readonly number[] | undefined;
  /** Full sync only: stop once every flow's snapshot is acknowledged (`migrate --source redis://…`). @default false */
  isFullSyncOnly: boolean;
  /** Snapshot keys that exist on the target: replace | skip | fail. @default 'replace' */
  onExisting: 'replace' | 'skip' | 'fail';
  /** Keys of types the target cannot hold: fail | skip. @default 'fail' */
  unsupported: 'fail' | 'skip';
  /** RESTORE only values up to this encoded size. @default 524288 */
  restoreMaxBytes: number;
  /** Accept any TLS certificate (source and target). @default false */
  isTlsInsecure: boolean;
  /** Source credentials and TLS material given apart from its URL. @default undefined (none) */
  sourceConnection?: ConnectionSettings;
  /** Target credentials and TLS material, applied to every node. @default undefined (none) */
  targetConnection?: ConnectionSettings;
  /** Serve the HTTP endpoints (`/status`, `/metrics`, `/healthz`, the dashboard `/`) on this port; undefined = none. */
  statusPort: number | undefined;
  /** Address the HTTP endpoints listen on; anything but loopback needs {@link httpToken}. @default '127.0.0.1' */
  httpBind: string;
  /** Token asked of every HTTP request but a bare `/healthz` (Bearer header or `?token=`); undefined = none (loopback only). */
  httpToken: string | undefined;
  /**
   * Encoded but unacknowledged bytes on the target for the whole process: each of the master's N
   * flows gets an N-th of it (a cluster flow spreads its share over one connection per master), and a
   * flow's socket is paused while its share is full. Large on purpose: a slow target fills this
   * window instead of stalling the master; one bound so that memory does not grow with the number
   * of flows (Dragonfly has one per thread) or of cluster masters.
   * @default 64 MiB
   */
  maxInflightBytes: number;
  /** Longest wait for one reply of the master (handshake, DFLY FLOW/SYNC/STARTSTABLE, liveness PING); 0 = none. @default 30000 */
  sourceTimeoutMs: number;
  /** Fail the full sync after this many ms without a byte on any flow; 0 = never. @default 60000 */
  fullSyncStallTimeoutMs: number;
  /**
   * Largest DUMP payload read back from the master (keys the journal cannot carry), in bytes. A key
   * above it stops the run with an error naming it; the read holds about twice this while decoding.
   * @default 256 MiB
   */
  readBackMaxBytes: number;
  /** Name prefix of df2redis's own keys on the target (the checkpoint hash `<prefix>checkpoint`). @default 'df2redis:' */
  checkpointPrefix: string;
  /**
   * When the master cannot resume (backlog overrun, new replid, other flow count, a crash during
   * the full sync) on a target the checkpoint proves df2redis filled from this source: `flush` the
   * copied databases and sync again in full, or `fail` (exit 2). @default 'flush'
   */
  onFullResync: 'flush' | 'fail';
  /**
   * `exactly-once`: each batch of journal records and its checkpoint are one MULTI/EXEC (standalone
   * targets; a cluster target is always at-least-once). `at-least-once`: the checkpoint follows the
   * target's acknowledgements, and after a crash the records since it apply again. @default 'exactly-once'
   */
  delivery: 'exactly-once' | 'at-least-once';
  /** Give up reconnecting after this long without reaching stable sync again, in ms; 0 = never reconnect. @default 300000 */
  reconnectTimeoutMs: number;
  /**
   * At-least-once delivery: the checkpoint advances only after `WAIT <n>` on every target master
   * the flow writes to reports `n` replicas (see `WaitReplicas` in checkpoint.ts); 0 = no WAIT.
   * @default 0
   */
  waitReplicas: number;
}

/**
 * The in-flight window of the full sync, bytes, for the whole process (shared by the flows like
 * `maxInflightBytes`, which applies from each flow's stable sync on when it is larger). A snapshot
 * needs no slack for a slow target (the master only waits), and a 64 MiB window measured a peak RSS
 * of 184–239 MB on `bulk-1m` against 149–176 MB with 16 MiB, which was no slower (issue 12).
 */
export const FULL_SYNC_INFLIGHT_BYTES = 16 * 1024 * 1024;

export const REPLICATE_DEFAULTS = {
  isFullSyncOnly: false,
  onExisting: 'replace',
  unsupported: 'fail',
  restoreMaxBytes: 512 * 1024,
  isTlsInsecure: false,
  dbs: undefined,
  statusPort: undefined,
  httpBind: '127.0.0.1',
  httpToken: undefined,
  maxInflightBytes: 64 * 1024 * 1024,
  sourceTimeoutMs: 30_000,
  fullSyncStallTimeoutMs: 60_000,
  readBackMaxBytes: DEFAULT_READ_BACK_MAX_BYTES,
  checkpointPrefix: DEFAULT_CHECKPOINT_PREFIX,
  onFullResync: 'flush',
  delivery: 'exactly-once',
  reconnectTimeoutMs: 300_000,
  waitReplicas: 0,
} as const;

/** One target node (a master of a cluster, or the standalone server), summed over the flows' connections. */
export interface TargetNodeStatus {
  /** `host:port`. */
  node: string;
  commandsSent: number;
  bytesSent: number;
  replies: number;
  /** Error replies by their first word (`MOVED`, `ASK`, `ERR`…), tolerated ones included. */
  errorReplies: Record<string, number>;
  /** Encoded commands not yet replied to, in bytes. */
  inflightBytes: number;
  /** Connections to this node opened again after a loss: the run's reconnects (every connection is opened anew). */
  reconnects: number;
}

/** `/status` shape (issue "replicate" §4, issue 11 §1). LSNs use REPLCONF ACK numbering. */
export interface ReplicationStatus {
  phase: 'handshake' | 'full-sync' | 'stable-sync' | 'reconnecting' | 'stopped';
  /** When the run started and when this document was made, ISO 8601 UTC; uptime in ms. */
  startedAt: string;
  at: string;
  uptimeMs: number;
  flows: Array<{
    id: number;
    phase: string;
    snapshotKeys: number;
    /** Bytes received from the master on this flow (snapshot, then journal). */
    snapshotBytes: number;
    /** Next LSN not yet acknowledged by the target (what REPLCONF ACK sends). */
    lsn: bigint;
    /** Next LSN not yet handed to the target. */
    receivedLsn: bigint;
    /** The master's next LSN of this shard (`DFLY REPLICAOFFSET`, polled every second while the HTTP endpoint runs); null = unknown. */
    masterLsn: bigint | null;
    /** Records handed to the target and not yet acknowledged (`receivedLsn - lsn`). */
    lagRecords: number;
    /** Age of the oldest record handed to the target and not yet acknowledged, in ms (0 = none). */
    lagMs: number;
    pausedMs: number;
  }>;
  /** Rates over the last ~5 s (records applied, bytes received from the master, snapshot keys acknowledged), per second. */
  throughput: { opsPerSec: number; bytesPerSec: number; keysPerSec: number };
  /** Full syncs started (the first one included) and partial syncs (resumes) done. */
  resyncs: { full: number; partial: number };
  /** Reconnects after a lost source or target connection (each followed by a partial or full sync). */
  reconnects: number;
  /** The per-flow LSNs the last attempt resumed from (the target's checkpoint); null = it did not resume. */
  resumedFrom: string[] | null;
  /** How the checkpoint on the target advances (`none` for a full-sync-only run). */
  delivery: 'exactly-once' | 'at-least-once' | 'none';
  dropped: Record<string, number>;
  lossy: Record<string, number>;
  /** Records replaced by a read-back of their keys from the master, by what they were. */
  repaired: Record<string, number>;
  skipped: { expired: number; existing: number; unsupported: number };
  longestPauseMs: number;
  opsApplied: bigint;
  /** The target: standalone, or a cluster with its masters and redirection counters (summed over flows). */
  target: {
    cluster: boolean;
    masters: string[];
    moved: number;
    asked: number;
    retried: number;
    resentAfterLoss: number;
    /** Cluster master connections lost and re-opened by the cluster router itself (no new attempt). */
    lostConnections: number;
    /**
     * Exactly-once on a cluster (src/sink/slot-batch.ts), this attempt: batch scripts sent, slot
     * groups resent as scripts of their own (redirected or lost), commands skipped on resume because
     * their slot's checkpoint showed them applied.
     */
    batchScripts: number;
    resentSlotGroups: number;
    skippedOnResume: number;
    /** Per target node, summed over the flows' connections. */
    nodes: TargetNodeStatus[];
  };
  /** Objects and journal records of databases not selected by `--dbs`. */
  skippedOtherDbs: number;
  /** The run's options, URL passwords masked and the HTTP token left out (one frozen object per run). */
  options: Readonly<Record<string, unknown>>;
}

/** What a finished run reports (also printed on SIGINT). */
export interface ReplicateSummary {
  flows: Array<{ id: number; lsn: bigint; snapshotKeys: number }>;
  snapshotKeys: number;
  dropped: Record<string, number>;
  lossy: Record<string, number>;
  longestPauseMs: number;
  elapsedMs: number;
  /** Bytes received from the master on every flow (snapshot, then journal). */
  bytesReceived: number;
  /** Snapshot objects not written, by reason (as `/status`). */
  skipped: ReplicationStatus['skipped'];
  /** Objects and journal records of databases not selected by `--dbs`. */
  skippedOtherDbs: number;
  /** Function libraries loaded from the snapshot. */
  functions: number;
  /** Reconnects, and the partial and full syncs of the run. */
  reconnects: number;
  resyncs: { full: number; partial: number };
}

/** Interval of the `REPLCONF ACK` resend, as the Dragonfly replica (`--replication_acks_interval`). */
const ACK_INTERVAL_MS = 1000;

/**
 * One replication run. {@link run} resolves when {@link stop} was called (after in-flight writes
 * were acknowledged) or, with `isFullSyncOnly`, when every snapshot is acknowledged; it rejects
 * with a typed error naming the flow or target connection that failed.
 */
export class Replicator {
  readonly #options: ReplicateOptions;
  /**
   * {@link publicOptions} of `#options`, made once: `status()` runs on every `/status`, metrics
   * scrape and progress line (and every ~1 ms in the replay benchmark), and masking the URLs was
   * ~40 % of its cost there.
   */
  #publicOptions: Readonly<Record<string, unknown>> | undefined;
  readonly #logger: Logger;
  #session: DragonflySession | undefined;
  #sourceConn: RedisConnection | undefined;
  #sourceReader: SourceReader | undefined;
  #info: TargetInfo | undefined;
  #target: ResolvedTarget | undefined;
  #translator: JournalTranslator | undefined;
  #flows = new Map<number, FlowApplier>();
  #flowWriters = new Map<number, SnapshotWriter>();
  /** Every writer (snapshot and journal of every flow), for the half-written objects after a stop or failure. */
  #writers: SnapshotWriter[] = [];
  #flowRouters = new Map<number, Router>();
  #barriers = new Map<bigint, { flows: Map<FlowApplier, bigint | undefined>; args: Buffer[]; db: number }>();
  #dropped = new Map<string, number>();
  #lossy = new Map<string, number>();
  #repaired = new Map<string, number>();
  #state: ReplicationStatus['phase'] = 'handshake';
  #longestPauseMs = 0;
  #pausedAt = new Map<number, number>();
  #status: StatusServer | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  #fullSyncEnds = new Set<number>();
  #startMs = Date.now();
  /** Totals sampled every second while the HTTP endpoint runs, for {@link ReplicationStatus.throughput}. */
  #samples: Array<{ atMs: number; ops: bigint; bytes: number; keys: number }> = [];
  /** The master's next LSN per shard, last polled; undefined = not yet, null = the master refused the command. */
  #masterLsns: bigint[] | undefined | null;
  #httpTimer: NodeJS.Timeout | undefined;
  #fullResyncs = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #isWaitShortWarned = false;
  /** This attempt started a full sync (set by #onFullSync, cleared when an attempt starts). */
  #isFullSyncAttempt = false;
  #partialResyncs = 0;
  #done: { resolve: (s: ReplicateSummary) => void; reject: (e: Error) => void } | undefined;
  #isStopping = false;
  #failure: Error | undefined;
  /** The source databases copied: `--dbs`, or the one a target URL's `/db` receives; undefined = all. */
  #dbs: readonly number[] | undefined;
  /** Every copied key goes to this target database (target URL `/db`); undefined = same number as on the source. */
  #targetDb: number | undefined;
  /** Attempt number of the reconnect loop: callbacks of an older attempt are ignored. */
  #generation = 0;
  #sourceEp: SourceEndpoint | undefined;
  #sourceTls: ReturnType<typeof tlsConnectOptions> | undefined;
  /** `REPLCONF CLIENT-ID`, the same for every attempt (as the Dragonfly replica keeps it). */
  readonly #clientId = randomBytes(20).toString('hex');
  /** The handshake succeeded once: the endpoints are right, later faults are reconnected. */
  #isAttached = false;
  #isVersionWarned = false;
  #masterReplid = '';
  /** The attempt's connection for the checkpoint (reads, the full-sync claim, phase changes). */
  #control: Router | undefined;
  /** Target connections of failed attempts, killed on the server before the checkpoint is read. */
  #staleClients: Array<{ peer: string; id: number }> = [];
  readonly #isCheckpointing: boolean;
  /** Checkpointing with `--delivery exactly-once` (MULTI/EXEC per batch, or slot batches on a cluster). */
  readonly #isExactlyOnce: boolean;
  readonly #checkpointPrefix: string;
  /** Exactly-once on a cluster, resuming: per flow, slot → next LSN already applied there (src/sink/slot-batch.ts). */
  #resumeSlotCps: Array<Map<number, bigint>> | undefined;
  readonly #checkpointKey: Buffer;
  #sourceId = '';
  /** The checkpoint on the target proves this replication wrote it (read, or written by this run). */
  #ownsTarget = false;
  #resumedFrom: bigint[] | null = null;
  /** Flows whose snapshot and first checkpoint the target acknowledged, this attempt. */
  #settled = new Set<number>();
  readonly #reconnect: ReconnectLoop;

  constructor(options: ReplicateOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.#dbs = options.dbs;
    this.#isCheckpointing = !options.isFullSyncOnly;
    this.#isExactlyOnce = this.#isCheckpointing && options.delivery !== 'at-least-once';
    this.#checkpointPrefix = options.checkpointPrefix ?? DEFAULT_CHECKPOINT_PREFIX;
    this.#checkpointKey = checkpointKey(this.#checkpointPrefix);
    this.#reconnect = new ReconnectLoop(options.reconnectTimeoutMs ?? REPLICATE_DEFAULTS.reconnectTimeoutMs);
  }

  /** The bound port of the HTTP endpoint (`statusPort` 0 picks one), once it listens; else undefined. */
  get httpPort(): number | undefined {
    return this.#status?.port;
  }

  /** Runs the replication. See the class comment for when it settles. */
  async run(): Promise<ReplicateSummary> {
    const options = this.#options;
    const sourceEp = withCredentials(parseDragonflyUrl(options.source), options.sourceConnection, 'source');
    this.#sourceId = `${sourceEp.host.includes(':') ? `[${sourceEp.host}]` : sourceEp.host}:${sourceEp.port}`;
    const sourceTls = tlsConnectOptions(options.sourceConnection, options.isTlsInsecure);
    this.#target = await resolveTarget(options.target, { ...tlsConnectOptions(options.targetConnection, options.isTlsInsecure), credentials: options.targetConnection });
    const info = (this.#info = this.#target.info);
    if (info.clusterEnabled && options.dbs !== undefined && options.dbs.some((db) => db !== 0)) {
      throw new ConfigError(`--dbs ${options.dbs.join(',')}: a Redis Cluster target has only database 0; use --dbs 0`);
    }
    if (info.clusterEnabled && this.#isExactlyOnce && Number(info.redisVersion.split('.')[0]) < 7) {
      // src/sink/slot-batch.ts: one script per master touching several slots (flag allow-cross-slot-keys, Redis 7.0).
      throw new ConfigError(
        `exactly-once delivery on a Redis Cluster needs Redis 7.0 or later on the target (scripts with the allow-cross-slot-keys flag); ` +
          `the target runs ${info.redisVersion}. Use --delivery at-least-once (records since the checkpoint apply again after a crash), or upgrade the target.`,
      );
    }
    this.#translator = new JournalTranslator(info);
    this.#logger.info(
      { target: this.#target.reached, redisVersion: info.redisVersion, cluster: info.clusterEnabled },
      info.clusterEnabled ? 'connected to target redis cluster' : 'connected to target',
    );
    this.#sourceConn = await RedisConnection.connect(
      { host: sourceEp.host, port: sourceEp.port, tls: sourceEp.tls, username: sourceEp.username, password: sourceEp.password, db: 0 },
      { ...sourceTls, role: 'source read-back', maxReplyBulkBytes: options.readBackMaxBytes },
    ).catch((err: unknown) => {
      throw err instanceof Df2RedisError ? err : new ReplicationError(`cannot connect to the source: ${String(err)}`);
    });
    if (this.#target.endpoints[0]!.hasDb === true && !info.clusterEnabled) {
      const plan = await Promise.resolve(options.dbs === undefined ? this.#sourceDbs() : undefined)
        .then((sourceDbs) => targetDbPlan(this.#target!, options.dbs, sourceDbs))
        .catch(async (err: unknown) => {
          await this.#sourceConn?.close().catch(() => undefined);
          throw err;
        });
      this.#dbs = plan.dbs;
      this.#targetDb = plan.targetDb;
      this.#logger.info({ sourceDb: plan.dbs![0], targetDb: plan.targetDb }, 'copying one source database into the target database of the url');
    }
    if (info.clusterEnabled && options.dbs === undefined) await this.#refuseOtherDbs();
    this.#sourceReader = new SourceReader(this.#sourceConn, options.readBackMaxBytes);
    if (options.statusPort !== undefined) {
      const metrics = createMetricsRegistry(() => this.status());
      this.#status = await startStatusServer({
        port: options.statusPort,
        bind: options.httpBind,
        token: options.httpToken,
        status: () => this.status(),
        metrics: () => metrics.metrics(),
        metricsContentType: metrics.contentType,
        isHealthy: () => this.#failure === undefined && !this.#isStopping && this.#state !== 'stopped',
      }).catch(async (err: unknown) => {
        await this.#sourceConn?.close().catch(() => undefined);
        throw err;
      });
      this.#logger.info({ url: `http://${formatHost(options.httpBind)}:${this.#status.port}/` }, 'serving /status, /metrics and the dashboard');
      this.#httpTimer = setInterval(() => this.#sample(), 1000);
      this.#httpTimer.unref();
      this.#sample();
    }

    const finished = new Promise<ReplicateSummary>((resolve, reject) => (this.#done = { resolve, reject }));
    this.#sourceEp = sourceEp;
    this.#sourceTls = sourceTls;
    try {
      await this.#startAttempt();
    } catch (err) {
      this.#fail(err as Error);
    }
    this.#ackTimer = setInterval(() => {
      for (const f of this.#flows.values()) f.sendAckNow();
    }, ACK_INTERVAL_MS);
    this.#ackTimer.unref();
    return finished;
  }

  /**
   * One attempt of the reconnect loop ({@link ReconnectLoop}): (after a fault: a new source
   * connection, the previous attempt's target connections killed on the server) read the target's
   * checkpoint, then a session that resumes from it (partial sync) or starts a full sync.
   * Resolves once the session reached stable sync, or was stopped or replaced.
   */
  async #startAttempt(): Promise<void> {
    const gen = ++this.#generation;
    this.#isFullSyncAttempt = false;
    this.#resumedFrom = null;
    const options = this.#options;
    const sourceEp = this.#sourceEp!;
    if (this.#sourceConn === undefined) {
      this.#sourceConn = await RedisConnection.connect(
        { host: sourceEp.host, port: sourceEp.port, tls: sourceEp.tls, username: sourceEp.username, password: sourceEp.password, db: 0 },
        { ...this.#sourceTls, role: 'source read-back', maxReplyBulkBytes: options.readBackMaxBytes },
      );
      this.#sourceReader = new SourceReader(this.#sourceConn, options.readBackMaxBytes);
    }
    let resume: SessionResume | undefined;
    if (this.#isCheckpointing) resume = await this.#readCheckpoint(gen);
    if (gen !== this.#generation) return;
    const session = new DragonflySession({
      source: sourceEp,
      ...this.#sourceTls,
      clientId: this.#clientId,
      resume,
      ackIntervalMs: 0, // our own timer sends the acknowledged LSN, not the last value sent
      replyTimeoutMs: options.sourceTimeoutMs,
      fullSyncStallTimeoutMs: options.fullSyncStallTimeoutMs,
      // Strings are RESTOREd only under skip/fail (SnapshotWriter.isStringPayloadUsed): else no capture.
      rdb: { maxRestorePayloadBytes: options.restoreMaxBytes, captureStrings: options.onExisting !== 'replace' },
      handler: {
        onMaster: async (m) => {
          if (gen !== this.#generation) return;
          this.#isAttached = true;
          this.#reconnect.enter('greet');
          this.#masterReplid = m.replid;
          this.#logger.info(
            { replid: m.replid, flows: m.numFlows, version: m.version, dragonflyVersion: m.dragonflyVersion?.text ?? 'unknown' },
            'attached to dragonfly master',
          );
          if (m.dragonflyVersion !== undefined && !versionTraits(m.dragonflyVersion).journalsXreadgroup && !this.#isVersionWarned) {
            this.#isVersionWarned = true;
            this.#logger.warn(
              { dragonflyVersion: m.dragonflyVersion.text },
              'Dragonfly before v1.37 does not journal XREADGROUP: stream consumer groups read after the full sync ' +
                '(pending entries, consumers, entries-read) will differ on the target',
            );
          }
          await this.#openFlows(m.numFlows, gen);
        },
        onFullSync: (reason) => (gen === this.#generation ? this.#onFullSync(reason) : undefined),
        onSnapshotEntry: (flowId, entry) => this.#flow(flowId).onSnapshotEntry(entry),
        onSnapshotString: (flowId, db, buf, ks, ke, vs, ve, exp) => this.#flow(flowId).onSnapshotString(db, buf, ks, ke, vs, ve, exp),
        onSnapshotStringRun: (flowId, db, buf, start, end, maxValueBytes) =>
          this.#flow(flowId).onSnapshotStringRun(db, buf, start, end, maxValueBytes),
        onJournal: (flowId, entry, lsn) => this.#flow(flowId).onJournal(entry, lsn),
        onFullSyncEnd: (flowId) => this.#onFullSyncEnd(flowId),
        onStable: (flowId, offset) => this.#flow(flowId).onStable(offset),
        onStateChange: (s) => {
          if (gen !== this.#generation) return;
          if (s === 'stable-sync' && this.#session?.syncKind === 'partial') this.#partialResyncs++;
          if (s === 'stopped') return; // the run's phase is the replicator's (a reconnect may follow)
          this.#state = s === 'idle' || s === 'greeting' ? 'handshake' : s;
          this.#logger.info({ phase: this.#state }, 'replication phase');
        },
        onError: (err) => {
          if (gen === this.#generation) this.#fail(err);
        },
      },
    });
    this.#session = session;
    try {
      await session.start();
    } catch (err) {
      // A stop (signal, or the end of a full-sync-only run) before stable sync also rejects start().
      if (!this.#isStopping && gen === this.#generation) this.#fail(err as Error);
    }
  }

  /**
   * Reads and checks the target's checkpoint (after killing the previous attempt's target
   * connections, so no transaction of theirs can still apply): the resume point when it is a
   * stable checkpoint of this same replication, undefined for a full sync.
   * @throws ConfigError (exit 2) when the target holds another replication's checkpoint.
   */
  async #readCheckpoint(gen: number): Promise<SessionResume | undefined> {
    const control = await openRouter(this.#target!, {
      ...tlsConnectOptions(this.#options.targetConnection, this.#options.isTlsInsecure),
      role: 'target (checkpoint)',
      targetDb: this.#targetDb,
    });
    if (gen !== this.#generation) {
      control.destroy();
      return undefined;
    }
    this.#control = control;
    // Idle for as long as the full sync lasts (a server `timeout` may close it): its loss matters
    // only when it is next used, whose flush() then rejects (see #onFullSync, #onSettled).
    control.on('error', () => undefined);
    const stale = this.#staleClients;
    this.#staleClients = [];
    await Promise.all(
      control.all().flatMap((c) => stale.filter((s) => s.peer === c.peer).map((s) => c.call(['CLIENT', 'KILL', 'ID', s.id]).catch(() => undefined))),
    );
    const key = this.#checkpointKey;
    let cp: CheckpointState | undefined;
    try {
      cp = await readCheckpoint(control, key);
    } catch (err) {
      if (err instanceof Df2RedisError) throw err; // the read failed (a lost connection is reconnected)
      throw new ConfigError(
        `the target's ${key.toString()} is not a df2redis checkpoint this version can read (${(err as Error).message}). ` +
          'Nothing was written. Remove it with df2redis reset, or pass another --checkpoint-prefix.',
      );
    }
    const dbs = dbsField(this.#dbs);
    if (cp === undefined) return undefined;
    if (cp.source !== this.#sourceId || cp.dbs !== dbs) {
      throw new ConfigError(
        `the target holds the checkpoint of another replication (${key.toString()}: source ${cp.source}, databases ${cp.dbs}; ` +
          `this run: source ${this.#sourceId}, databases ${dbs}). Nothing was written. Replicate into a target of its own, ` +
          `or, if that replication is over, remove its checkpoint with: df2redis reset --target <url>`,
      );
    }
    this.#ownsTarget = true;
    if (cp.phase !== 'stable' || cp.lsns.some((l) => l === undefined)) {
      this.#logger.warn({ phase: cp.phase }, 'the checkpoint on the target is from a full sync that did not finish: a full sync follows');
      return undefined;
    }
    const nextLsn = cp.lsns as bigint[];
    this.#resumeSlotCps = undefined;
    if (control.isCluster && this.#isExactlyOnce) {
      // Which records after lsn:<i> each slot holds already (exactly-once: written with the data).
      this.#resumeSlotCps = await readSlotCheckpoints(control, this.#checkpointPrefix, cp.flows);
      const slots = this.#resumeSlotCps.reduce((n, m) => n + m.size, 0);
      this.#logger.info({ slotCheckpoints: slots }, 'read the slots\' checkpoints');
    }
    this.#resumedFrom = nextLsn;
    nextLsn.forEach((lsn, flow) => this.#logger.info({ flow, lsn: String(lsn), replid: cp!.replid }, `resuming from LSN ${lsn}`));
    return { replid: cp.replid, nextLsn };
  }

  /**
   * Graceful stop: stop reading, wait until the target acknowledged every write already sent, send
   * the final ACKs, close. In stable sync, `run()` then resolves with the final acknowledged LSN per
   * flow. Before (handshake or full sync), the target holds a partial copy: a big object cut in
   * half is deleted and `run()` rejects with a {@link StoppedError} saying the full sync did not
   * finish (never a success). `signal` names the cause in that message. @default 'SIGTERM'
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.#isStopping) return;
    this.#isStopping = true;
    if (this.#state === 'reconnecting' && this.#done !== undefined) {
      // Between attempts nothing is in flight: the target holds exactly what its checkpoint says.
      await this.#finish();
      return;
    }
    const session = this.#session;
    for (const f of session?.flows ?? []) f.pause();
    // A key being read back is written before the end (its record was received).
    await Promise.all([...this.#flows.values()].map((f) => f.readBacksSettled()));
    await Promise.all([...this.#flowRouters.values()].map((r) => r.flush().catch(() => undefined)));
    // Stopped while resuming (no full sync under way): the target holds what its checkpoint says.
    const isResuming = this.#resumedFrom !== null && !this.#isFullSyncAttempt;
    if (this.#state !== 'stable-sync' && this.#done !== undefined && !isResuming) {
      const count = session?.master?.numFlows ?? 0;
      this.#fail(
        new StoppedError(
          signal,
          `the full sync did not finish (${this.#fullSyncEnds.size} of ${count} flow snapshot(s) received); the target holds a partial copy`,
        ),
      );
      return;
    }
    for (const f of this.#flows.values()) f.sendAckNow();
    await this.#finish();
  }

  /**
   * A cluster target without `--dbs`: the source's `INFO keyspace` must list no database but 0.
   * @throws ConfigError naming the databases.
   */
  async #refuseOtherDbs(): Promise<void> {
    const dbs = await this.#sourceDbs();
    // Cannot tell (INFO refused by ACL): a key in another database will stop the run when it comes.
    const others = dbs?.filter((db) => db !== 0) ?? [];
    if (others.length > 0) {
      const conn = this.#sourceConn!;
      await conn.close().catch(() => undefined);
      throw new ConfigError(
        `the source has keys in database(s) ${others.join(', ')}, but a Redis Cluster has only database 0. ` +
          'Nothing was written. Pass --dbs 0 to replicate database 0 only.',
      );
    }
  }

  /**
   * The databases holding keys on the source, ascending, from its `INFO keyspace`; undefined when
   * the source refuses INFO (e.g. by ACL), which is logged.
   * @throws ConnectionError (the source connection is closed first)
   */
  async #sourceDbs(): Promise<number[] | undefined> {
    const conn = this.#sourceConn!;
    let keyspace: string;
    try {
      keyspace = asText(await conn.call(['INFO', 'keyspace']));
    } catch (err) {
      if (!(err instanceof TargetCommandError)) {
        await conn.close().catch(() => undefined);
        throw err;
      }
      this.#logger.warn({ reply: err.reply }, 'source refused INFO keyspace: cannot list its databases before starting');
      return undefined;
    }
    return [...keyspace.matchAll(/^db(\d+):keys=(\d+)/gm)]
      .filter((m) => m[2] !== '0')
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  /**
   * Every second while the HTTP endpoint runs: the totals for the throughput, and the master's
   * offsets (`DFLY REPLICAOFFSET` on the read-back connection; a master refusing it is asked no more).
   */
  #sample(): void {
    const s = this.status();
    const samples = this.#samples;
    samples.push({
      atMs: performance.now(),
      ops: s.opsApplied,
      bytes: s.flows.reduce((n, f) => n + f.snapshotBytes, 0),
      keys: s.flows.reduce((n, f) => n + f.snapshotKeys, 0),
    });
    if (samples.length > 6) samples.shift();
    const reader = this.#sourceReader;
    if (reader === undefined || this.#masterLsns === null || this.#isStopping) return;
    masterOffsets(reader).then(
      (lsns) => {
        if (this.#masterLsns !== null) this.#masterLsns = lsns;
      },
      (err: unknown) => {
        this.#masterLsns = null;
        this.#logger.debug({ err: String(err) }, 'the master does not answer DFLY REPLICAOFFSET: no master offsets in /status');
      },
    );
  }

  /** Rates between the oldest and the newest sample (about the last 5 s). */
  #throughput(): ReplicationStatus['throughput'] {
    const a = this.#samples[0];
    const b = this.#samples[this.#samples.length - 1];
    if (a === undefined || b === undefined || b.atMs <= a.atMs) return { opsPerSec: 0, bytesPerSec: 0, keysPerSec: 0 };
    const sec = (b.atMs - a.atMs) / 1000;
    return {
      opsPerSec: Math.round(Number(b.ops - a.ops) / sec),
      bytesPerSec: Math.round((b.bytes - a.bytes) / sec),
      keysPerSec: Math.round((b.keys - a.keys) / sec),
    };
  }

  /** The `/status` document (also what `/metrics` and the dashboard read). */
  status(): ReplicationStatus {
    const flows = [...this.#flows.values()].sort((a, b) => a.flowId - b.flowId);
    const session = this.#session;
    let ops = 0n;
    const writers = [...this.#flowWriters.values()];
    const nowMs = Date.now();
    const perfNow = performance.now();
    const masterLsns = this.#masterLsns ?? undefined;
    return {
      phase: this.#state === 'stopped' || this.#isStopping ? 'stopped' : this.#state,
      startedAt: new Date(this.#startMs).toISOString(),
      at: new Date(nowMs).toISOString(),
      uptimeMs: nowMs - this.#startMs,
      flows: flows.map((f) => {
        const df = session?.flows.find((x) => x.flowId === f.flowId);
        ops += f.ackedLsn;
        const lag = f.receivedLsn - f.ackedLsn;
        return {
          id: f.flowId,
          phase: f.phase,
          snapshotKeys: this.#flowWriters.get(f.flowId)?.ackedKeys ?? 0,
          snapshotBytes: df?.bytesReceived ?? 0,
          lsn: f.ackedLsn,
          receivedLsn: f.receivedLsn,
          masterLsn: masterLsns?.[f.flowId] ?? null,
          lagRecords: lag > 0n ? Number(lag) : 0,
          lagMs: Math.round(f.oldestUnackedAgeMs(perfNow)),
          pausedMs: Math.round(df?.pausedForMs ?? 0),
        };
      }),
      throughput: this.#throughput(),
      resyncs: { full: this.#fullResyncs, partial: this.#partialResyncs },
      reconnects: this.#reconnect.reconnects,
      resumedFrom: this.#resumedFrom?.map(String) ?? null,
      delivery: !this.#isCheckpointing ? 'none' : this.#options.delivery,
      dropped: Object.fromEntries(this.#dropped),
      lossy: Object.fromEntries(this.#lossy),
      repaired: Object.fromEntries(this.#repaired),
      skipped: {
        expired: writers.reduce((s, w) => s + w.stats.skippedExpired, 0),
        existing: writers.reduce((s, w) => s + w.stats.skippedExisting, 0),
        unsupported: writers.reduce((s, w) => s + w.stats.skippedUnsupported, 0),
      },
      longestPauseMs: Math.round(this.#longestPauseMs),
      opsApplied: ops,
      target: this.#targetStatus(),
      skippedOtherDbs: flows.reduce((n, f) => n + f.skippedOtherDbs, 0),
      options: (this.#publicOptions ??= Object.freeze(publicOptions(this.#options))),
    };
  }

  #targetStatus(): ReplicationStatus['target'] {
    const routers = [...this.#flowRouters.values()];
    const cluster = routers.filter((r): r is ClusterRouter => r instanceof ClusterRouter);
    const sum = (k: 'moved' | 'asked' | 'retried' | 'resentAfterLoss' | 'lostConnections'): number => cluster.reduce((n, r) => n + r.stats[k], 0);
    return {
      cluster: this.#info?.clusterEnabled ?? false,
      masters: routers[0]?.all().map((c) => c.peer) ?? [],
      moved: sum('moved'),
      asked: sum('asked'),
      retried: sum('retried'),
      resentAfterLoss: sum('resentAfterLoss'),
      lostConnections: sum('lostConnections'),
      batchScripts: cluster.reduce((n, r) => n + r.batchStats.scripts, 0),
      resentSlotGroups: cluster.reduce((n, r) => n + r.batchStats.resentGroups, 0),
      skippedOnResume: cluster.reduce((n, r) => n + r.batchStats.skippedOnResume, 0),
      nodes: nodeStatus(routers).map((n) => ({ ...n, reconnects: this.#reconnect.reconnects })),
    };
  }

  #flow(flowId: number): FlowApplier {
    const f = this.#flows.get(flowId);
    if (f === undefined) throw new ReplicationError(`no target connection prepared for flow ${flowId}`, flowId);
    return f;
  }

  /**
   * One target connection, router and writers per flow, opened once the flow count is known and
   * before any flow is opened (the session awaits `onMaster`), so no flow data can arrive first.
   */
  async #openFlows(count: number, gen: number): Promise<void> {
    const info = this.#info!;
    for (let id = 0; id < count; id++) {
      if (this.#flows.has(id)) continue;
      // The process-wide window, an equal share per flow; a cluster flow spreads its share over one
      // connection per master. Until the flow's stable sync, a smaller window (FULL_SYNC_INFLIGHT_BYTES).
      const share = (bytes: number): number => Math.max(1, Math.floor(bytes / count / (info.clusterEnabled ? 3 : 1)));
      const router = await openRouter(this.#target!, {
        ...tlsConnectOptions(this.#options.targetConnection, this.#options.isTlsInsecure),
        role: `target (flow ${id})`,
        fetchClientId: this.#isCheckpointing,
        maxInflightBytes: share(Math.min(this.#options.maxInflightBytes, FULL_SYNC_INFLIGHT_BYTES)),
        targetDb: this.#targetDb,
      });
      if (gen !== this.#generation) {
        router.destroy();
        return;
      }
      // Registered before anything else can fail so teardown closes it.
      this.#flowRouters.set(id, router);
      const snapshotWriter = new SnapshotWriter(router, info, {
        onExisting: this.#options.onExisting,
        unsupported: this.#options.unsupported,
        restoreMaxBytes: this.#options.restoreMaxBytes,
        // The flow applier sends its held keys before any journal record (FlowApplier.onJournal).
        msetMaxKeys: MSET_KEYS_DEFAULT,
        // Strings held per slot on a cluster: one process-wide amount, an equal share per flow.
        slotStageBytes: Math.floor(SLOT_STAGE_BYTES / count),
      });
      const journalWriter = new SnapshotWriter(router, info, {
        onExisting: 'replace',
        unsupported: 'skip',
        restoreMaxBytes: this.#options.restoreMaxBytes,
      });
      const flow: FlowApplier = new FlowApplier(id, {
        translator: this.#translator!,
        snapshotWriter,
        journalWriter,
        router,
        dbs: this.#dbs,
        targetDb: this.#targetDb,
        sendAck: (lsn) => this.#session?.ack(id, lsn),
        stableInflightBytes: share(this.#options.maxInflightBytes),
        checkpoint: this.#isCheckpointing
          ? flowCheckpoint(router, this.#checkpointKey, 0, id, this.#isExactlyOnce, {
              count: this.#options.waitReplicas ?? 0,
              timeoutMs: WAIT_REPLICAS_TIMEOUT_MS,
              onShort: (counts) => {
                if (this.#isWaitShortWarned) return;
                this.#isWaitShortWarned = true;
                this.#logger.warn({ flow: id, replicas: counts, wanted: this.#options.waitReplicas }, 'WAIT found fewer replicas than --wait-replicas: the checkpoint does not advance until they catch up');
              },
            }, this.#checkpointPrefix)
          : undefined,
        onSettled: (flowId) => {
          if (gen === this.#generation) this.#onSettled(flowId);
        },
        arriveAtBarrier: (f, txid, t, db) => this.#arriveAtBarrier(f, txid, t, db),
        readBack: (key, db, flowId) => this.#sourceReader!.read(key, db, flowId),
        countDropped: (name, reason) => this.#count(this.#dropped, name, `dropped ${name}: ${reason}`),
        countLossy: (name) => this.#count(this.#lossy, name, `lossy translation of ${name}`),
        countRepaired: (name) => this.#count(this.#repaired, name, `${name} repaired by reading the key back from the master`),
        fail: (err) => {
          if (gen === this.#generation) this.#fail(err);
        },
        pauseSource: () => this.#pause(id),
        resumeSource: () => this.#resume(id),
      });
      router.on('error', (err: Error) => {
        if (gen === this.#generation) this.#fail(err);
      });
      router.on('drain', () => {
        if (gen === this.#generation) this.#resume(id);
      });
      if (router instanceof ClusterRouter) router.setResumeFilter(this.#resumeSlotCps?.[id]);
      if (router instanceof ClusterRouter && id === 0) {
        this.#logger.info({ masters: router.all().map((c) => c.peer) }, 'writing through every cluster master');
      }
      this.#flows.set(id, flow);
      this.#flowWriters.set(id, snapshotWriter);
      this.#writers.push(snapshotWriter, journalWriter);
    }
  }

  #count(map: Map<string, number>, name: string, message: string): void {
    const n = map.get(name) ?? 0;
    if (n === 0) this.#logger.warn({ command: name }, message);
    map.set(name, n + 1);
  }

  #pause(flowId: number): void {
    if (this.#pausedAt.has(flowId)) return;
    this.#pausedAt.set(flowId, performance.now());
    this.#session?.flow(flowId).pause();
  }

  #resume(flowId: number): void {
    const at = this.#pausedAt.get(flowId);
    if (at === undefined || this.#isStopping) return;
    const flow = this.#flows.get(flowId);
    // A blocked flow (barrier, read-back) reads on into its queue until that is full; whoever
    // unblocks it calls this again, so a 'drain' that came meanwhile is never lost.
    if (flow !== undefined && (flow.router.isBackpressured || flow.isQueueFull)) return;
    this.#pausedAt.delete(flowId);
    this.#longestPauseMs = Math.max(this.#longestPauseMs, performance.now() - at);
    this.#session?.flow(flowId).resume();
  }

  /**
   * A full sync starts (awaited before the flows open). On a target this replication filled before
   * (its checkpoint), the copied databases are flushed first (`--on-full-resync flush`, so no key
   * the source deleted meanwhile survives) or the run stops (`fail`). Then the checkpoint claims
   * the target for this source with phase `full-sync`.
   * @throws ConfigError with `--on-full-resync fail`.
   */
  async #onFullSync(reason: string): Promise<void> {
    this.#fullResyncs++;
    this.#isFullSyncAttempt = true;
    // The slots' checkpoints count LSNs of the replication that ends here.
    this.#resumeSlotCps = undefined;
    for (const r of this.#flowRouters.values()) if (r instanceof ClusterRouter) r.setResumeFilter(undefined);
    this.#fullSyncEnds.clear();
    this.#settled.clear();
    this.#reconnect.enter('sync');
    const control = this.#control;
    if (!this.#isCheckpointing || control === undefined) {
      this.#logger.info({ reason }, 'full sync');
      return;
    }
    if (this.#ownsTarget) {
      if (this.#options.onFullResync === 'fail') {
        throw new ConfigError(
          `a full resync is needed (${reason}) and --on-full-resync is fail: the target keeps what it holds ` +
            `(it may hold keys the source deleted meanwhile). Rerun with --on-full-resync flush to empty the copied databases and copy them again.`,
        );
      }
      this.#logger.warn({ reason, dbs: dbsField(this.#dbs) }, 'full resync: flushing the copied databases on the target first');
      // Whatever an aborted attempt still has in flight is applied before the flush.
      await Promise.all([...this.#flowRouters.values()].map((r) => r.flush().catch(() => undefined)));
      const dbs = this.#dbs;
      if (dbs === undefined || control.isCluster) control.sendToAll(['FLUSHALL']);
      else for (const db of dbs) control.connectionFor(EMPTY_KEY, db).send(['FLUSHDB']);
    } else {
      this.#logger.info({ reason }, 'full sync');
    }
    const key = this.#checkpointKey;
    // Exactly-once on a cluster: no slot checkpoint may survive from an earlier replication.
    if (control.isCluster && this.#isExactlyOnce) deleteSlotCheckpoints(control, this.#checkpointPrefix);
    const sink = control.connectionFor(key, 0);
    sink.send(['DEL', key], key);
    sink.send(fullCheckpointArgs(key, this.#checkpointState('full-sync', [])), key);
    await control.flush();
    this.#ownsTarget = true;
  }

  /** The checkpoint's fields for this run. */
  #checkpointState(phase: CheckpointState['phase'], lsns: Array<bigint | undefined>): CheckpointState {
    return {
      version: CHECKPOINT_VERSION,
      source: this.#sourceId,
      replid: this.#masterReplid,
      flows: this.#session?.master?.numFlows ?? this.#flows.size,
      dbs: dbsField(this.#dbs),
      phase,
      lsns,
    };
  }

  /**
   * Flow `flowId`'s snapshot (with its repairs) and first checkpoint are on the target. Once every
   * flow is, the checkpoint's phase becomes `stable`: from now on a restart resumes.
   */
  #onSettled(flowId: number): void {
    this.#settled.add(flowId);
    const count = this.#session?.master?.numFlows ?? 0;
    if (this.#settled.size < count) return;
    this.#reconnect.enter('stable');
    const control = this.#control;
    if (control === undefined) return;
    const key = this.#checkpointKey;
    const gen = this.#generation;
    control.connectionFor(key, 0).send(['HSET', key, 'phase', 'stable', 'replid', this.#masterReplid], key);
    control.flush().then(
      () => {
        this.#logger.info({ key: key.toString() }, 'every flow is in stable sync: the checkpoint on the target is a resume point');
        // Not needed again in this attempt: an idle connection would only be closed by a server `timeout`.
        if (this.#control === control) this.#control = undefined;
        control.close().catch(() => undefined);
      },
      (err: unknown) => {
        if (gen === this.#generation) this.#fail(err as Error);
      },
    );
  }

  #onFullSyncEnd(flowId: number): void {
    this.#flowWriters.get(flowId)?.sendPending();
    this.#fullSyncEnds.add(flowId);
    const count = this.#session?.master?.numFlows ?? 0;
    this.#logger.info({ flow: flowId, done: this.#fullSyncEnds.size, of: count }, 'flow snapshot received');
    if (this.#options.isFullSyncOnly && this.#fullSyncEnds.size === count) {
      this.#isStopping = true;
      for (const f of this.#session?.flows ?? []) f.pause();
      // Keys repaired during the full sync are read back at its end (their records' LSNs are unknown).
      Promise.all([...this.#flows.values()].map((f) => f.readBackDeferred()))
        .then(() => Promise.all([...this.#flowRouters.values()].map((r) => r.flush())))
        .then(() => this.#finish())
        .catch((err: unknown) => this.#fail(err as Error));
    }
  }

  /** FLUSHALL/FLUSHDB txid `txid` reached `flow`; when every flow did, run it once and release them. */
  #arriveAtBarrier(flow: FlowApplier, txid: bigint, t: Extract<Translation, { action: 'global' }>, db: number): void {
    let b = this.#barriers.get(txid);
    if (b === undefined) {
      b = { flows: new Map(), args: t.args, db };
      this.#barriers.set(txid, b);
    }
    b.flows.set(flow, flow.phase === 'stable-sync' ? flow.receivedLsn : undefined);
    const count = this.#session?.master?.numFlows ?? this.#flows.size;
    if (b.flows.size < count) return;
    this.#barriers.delete(txid);
    const barrier = b;
    const all = [...this.#flowRouters.values()];
    (async () => {
      // Everything each flow sent before the flush must be applied first (no flow may lose a
      // post-flush write, no pre-flush write may survive).
      await Promise.all(all.map((r) => r.flush()));
      const router = all[0]!;
      const dbs = this.#dbs;
      // The flush and a checkpoint past it (every flow at its barrier record + 1, all fields: the
      // flush may have deleted the hash) in one transaction when exactly-once.
      const conn = router.all()[0]!;
      const isAtomic = this.#isExactlyOnce && !router.isCluster;
      if (isAtomic) conn.beginTransaction();
      if (dbs !== undefined && !router.isCluster && commandName(barrier.args[0]) === 'FLUSHALL') {
        // Only some databases are copied: a FLUSHALL empties those (in their target database), not
        // the target's others. (A cluster has only database 0: FLUSHALL is that already.)
        const flushDb = [FLUSHDB, ...barrier.args.slice(1)];
        for (const db of dbs) router.sendToAll(flushDb, db);
      } else {
        // Every master of a cluster (database 0 there, whichever database the client had selected).
        router.sendToAll(barrier.args, router.isCluster ? 0 : barrier.db);
      }
      if (this.#isCheckpointing && [...barrier.flows.values()].every((lsn) => lsn !== undefined)) {
        const lsns: Array<bigint | undefined> = [];
        for (const [f, lsn] of barrier.flows) lsns[f.flowId] = lsn! + 1n;
        const key = this.#checkpointKey;
        router.connectionFor(key, 0).send(fullCheckpointArgs(key, this.#checkpointState('stable', lsns)), key);
      }
      if (isAtomic) conn.commitTransaction();
      await router.flush();
      // The flush wiped the slots' checkpoints: no flow's next batch may expect its old one there.
      for (const r of all) if (r instanceof ClusterRouter) r.forgetSlotCheckpoints();
      this.#logger.info({ command: commandName(barrier.args[0]), txid: String(txid), db: barrier.db }, 'global command applied once');
      for (const [f, lsn] of barrier.flows) f.unblock(lsn);
    })().catch((err: unknown) => this.#fail(err as Error));
  }

  #fail(err: Error): void {
    if (this.#failure !== undefined || this.#done === undefined) {
      if (this.#done === undefined) this.#failure ??= err;
      return;
    }
    if (!this.#isStopping && this.#isAttached && !this.#options.isFullSyncOnly && isTransientFault(err)) {
      const delayMs = this.#reconnect.onFault();
      if (delayMs !== undefined) {
        this.#reconnectAfter(err, delayMs);
        return;
      }
      if (this.#options.reconnectTimeoutMs > 0) {
        err.message += ` (gave up reconnecting after ${Math.round((Date.now() - (this.#reconnect.outageSinceMs ?? Date.now())) / 1000)} s: --reconnect-timeout ${this.#options.reconnectTimeoutMs} ms)`;
      }
    }
    this.#failure = err;
    // Synchronously, before the connection fires its acknowledgement markers for the batch that
    // held the refused command (DESIGN invariant 6).
    for (const f of this.#flows.values()) f.phase = 'stopped';
    const done = this.#done;
    this.#discardUnsettled(err)
      .then(() => this.#logger.error({ err: err.message }, err instanceof StoppedError ? 'replication stopped' : 'replication failed'))
      .then(() => this.#teardown())
      .finally(() => done.reject(err));
  }

  /**
   * A lost connection (source or target): drops this attempt at once (its target connections are
   * killed on the server by the next attempt before it reads the checkpoint, so nothing of theirs
   * applies after that read) and starts a new attempt after `delayMs`.
   */
  #reconnectAfter(err: Error, delayMs: number): void {
    this.#generation++; // callbacks of this attempt are ignored from now on
    for (const f of this.#flows.values()) f.phase = 'stopped';
    this.#state = 'reconnecting';
    for (const r of [...this.#flowRouters.values(), ...(this.#control ? [this.#control] : [])]) {
      for (const c of r.all()) if (c.clientId !== undefined) this.#staleClients.push({ peer: c.peer, id: c.clientId });
      r.destroy();
    }
    this.#control = undefined;
    this.#session?.stop().catch(() => undefined);
    this.#session = undefined;
    this.#sourceConn?.destroy();
    this.#sourceConn = undefined;
    this.#sourceReader = undefined;
    this.#flows.clear();
    this.#flowWriters.clear();
    this.#flowRouters.clear();
    this.#writers = [];
    this.#barriers.clear();
    this.#pausedAt.clear();
    this.#fullSyncEnds.clear();
    this.#settled.clear();
    this.#masterLsns = undefined;
    this.#logger.warn(
      { err: err.message, retryInMs: delayMs, reconnects: this.#reconnect.reconnects },
      'connection lost: reconnecting, then resuming from the checkpoint on the target',
    );
    const gen = this.#generation;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (gen !== this.#generation || this.#isStopping) return;
      this.#reconnect.enter('connect');
      this.#startAttempt().catch((e: unknown) => this.#fail(e as Error));
    }, delayMs);
  }

  /**
   * Before closing after a failure or an early stop: deletes the big objects that may be half
   * written (pieces cut off, or not known applied when the target failed) and says so in the
   * message, with the number of snapshot keys acknowledged (always for a stop).
   */
  async #discardUnsettled(err: Error): Promise<void> {
    if (!this.#writers.some((w) => w.unsettled.length > 0) && !(err instanceof StoppedError)) return;
    await Promise.all([...this.#flowRouters.values()].map((r) => r.flush().catch(() => undefined)));
    const discarded = [];
    for (const w of this.#writers) discarded.push(...(await w.discardUnsettled()));
    const acked = [...this.#flowWriters.values()].reduce((n, w) => n + w.ackedKeys, 0);
    err.message += describeDiscarded(discarded, acked, 'snapshot key(s)');
  }

  async #finish(): Promise<void> {
    const done = this.#done;
    await this.#teardown();
    done?.resolve(this.#summary());
  }

  #summary(): ReplicateSummary {
    const flows = [...this.#flows.values()].sort((a, b) => a.flowId - b.flowId);
    const status = this.status();
    return {
      bytesReceived: status.flows.reduce((n, f) => n + f.snapshotBytes, 0),
      skipped: status.skipped,
      skippedOtherDbs: status.skippedOtherDbs,
      functions: [...this.#flowWriters.values()].reduce((s, w) => s + w.stats.functions, 0),
      flows: flows.map((f) => ({ id: f.flowId, lsn: f.ackedLsn, snapshotKeys: this.#flowWriters.get(f.flowId)?.ackedKeys ?? 0 })),
      snapshotKeys: [...this.#flowWriters.values()].reduce((s, w) => s + w.ackedKeys, 0),
      dropped: Object.fromEntries(this.#dropped),
      lossy: Object.fromEntries(this.#lossy),
      longestPauseMs: Math.round(this.#longestPauseMs),
      elapsedMs: Date.now() - this.#startMs,
      reconnects: status.reconnects,
      resyncs: status.resyncs,
    };
  }

  async #teardown(): Promise<void> {
    if (this.#ackTimer !== undefined) clearInterval(this.#ackTimer);
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#generation++;
    if (this.#httpTimer !== undefined) clearInterval(this.#httpTimer);
    this.#state = 'stopped';
    for (const f of this.#flows.values()) f.phase = 'stopped';
    await this.#session?.stop();
    await Promise.all([...this.#flowRouters.values()].map((r) => r.close().catch(() => undefined)));
    await this.#control?.close().catch(() => undefined);
    await this.#sourceConn?.close().catch(() => undefined);
    await this.#status?.close();
  }
}

const FLUSHDB = Buffer.from('FLUSHDB');
const EMPTY_KEY = Buffer.alloc(0);

/** `[::1]` for an IPv6 literal, else the address as is (for a URL). */
function formatHost(addr: string): string {
  return addr.includes(':') ? `[${addr}]` : addr;
}

/** The options as `/status` shows them: URL passwords masked, the HTTP token left out. */
function publicOptions(o: ReplicateOptions): Record<string, unknown> {
  const { httpToken, ...rest } = o;
  return { ...rest, source: maskUrlPasswords(o.source), target: maskUrlPasswords(o.target), httpToken: httpToken === undefined ? undefined : '***' };
}

/** Per target node, the counters of every flow's connection to it, summed. */
function nodeStatus(routers: Router[]): TargetNodeStatus[] {
  const nodes = new Map<string, TargetNodeStatus>();
  for (const r of routers) {
    for (const c of r.all()) {
      let n = nodes.get(c.peer);
      if (n === undefined) {
        n = { node: c.peer, commandsSent: 0, bytesSent: 0, replies: 0, errorReplies: {}, inflightBytes: 0, reconnects: 0 };
        nodes.set(c.peer, n);
      }
      n.commandsSent += c.commandsSent;
      n.bytesSent += c.bytesSent;
      n.replies += c.repliesReceived;
      n.inflightBytes += c.inflightBytes;
      for (const [prefix, k] of Object.entries(c.errorRepliesByPrefix)) n.errorReplies[prefix] = (n.errorReplies[prefix] ?? 0) + k;
    }
  }
  return [...nodes.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

function asText(v: RespValue): string {
  return Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : String(v);
}
