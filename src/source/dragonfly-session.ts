/**
 * A replication session with a Dragonfly master: the main connection, one flow per shard, and the
 * state machine that drives them from handshake to stable sync.
 *
 * Upstream: Dragonfly src/server/replica.h (`enum State`), replica.cc `Replica::MainReplicationFb`,
 * `InitiateDflySync`, `ConsumeDflyStream`; reference §2–§5 and §13.
 *
 * ```
 *   idle ──start()──► greeting ──(capa reply, flows opened)──┬─ all FULL ──► full-sync ──┐
 *                                                            │  DFLY SYNC; snapshot +    │ +OK of DFLY SYNC and
 *                                                            │  journal blobs per flow   │ FULLSYNC_END of every flow
 *                                                            │                           ▼ (any order)
 *                                                            └─ all PARTIAL ────────► stable-sync
 *                                                               (no DFLY SYNC)         DFLY STARTSTABLE; each flow:
 *                                                                                      [blobs] JOURNAL_OFFSET EOF token,
 *   any error / stop() ───────────────────────────────────────────────► stopped        then the journal forever
 * ```
 *
 * Mixed FULL/PARTIAL replies to a resume request are answered like the Dragonfly replica does:
 * close everything and start again with a full sync (`onFullSync` tells the consumer first). So is
 * a FLUSHALL/FLUSHDB in a journal blob during full sync (`RdbLoaderBase::HandleJournalBlob`
 * aborts the sync, reference §4.6 and pitfall 16): the flows are at different positions of their
 * snapshots, so no single point exists where the flush could be applied to all of them.
 *
 * Every flow socket is read at all times (pitfall 2): while waiting for `+OK` of DFLY SYNC, for the
 * other flows' FULLSYNC_END, and for `+OK` of STARTSTABLE. The consumer can pause a flow only
 * briefly (see {@link DragonflyFlow.pause}).
 */
import { randomBytes } from 'node:crypto';
import type { JournalEntry, SnapshotEntry } from '../entry/entry.js';
import { ReplicationError } from '../errors.js';
import type { RdbDecoderOptions } from '../decode/rdb/rdb-decoder.js';
import { parseDragonflyUrl, type SourceEndpoint } from './dragonfly-url.js';
import { DragonflyFlow, type FlowEvents } from './dragonfly-flow.js';
import { handshakeError, MasterLink, type HandshakeOptions, type MasterInfo } from './master-link.js';
import type { SourceSocketOptions } from './source-socket.js';

/**
 * Session states (after Dragonfly's replica.h `enum State`: R_ENABLED, R_TCP_CONNECTED,
 * R_GREETED, R_SYNCING, R_SYNC_OK):
 * - `idle`: created, not started;
 * - `greeting`: main connection handshake and flow connections (`DFLY FLOW`) in progress;
 * - `full-sync`: `DFLY SYNC` sent; flows deliver snapshot entries and journal blobs;
 * - `stable-sync`: `DFLY STARTSTABLE` acknowledged; flows deliver the journal;
 * - `stopped`: closed by {@link DragonflySession.stop} or by an error (terminal).
 */
export type SessionState = 'idle' | 'greeting' | 'full-sync' | 'stable-sync' | 'stopped';

/**
 * What the session reports. Called synchronously, per flow in stream order, from socket reads:
 * no Promise per entry. Entries' Buffers are views of socket chunks (copy what you keep long).
 * A callback that throws fails the session (onError, then stopped).
 */
export interface DragonflySessionHandler {
  /** The master's identity and flow count, before any flow opens. A returned Promise is awaited
   *  before the flows open (e.g. to open one target connection per flow); a rejection fails the session. */
  onMaster?(info: MasterInfo): void | Promise<void>;
  /** A full sync is about to start (first start, changed replid, refused partial sync, or a
   *  restart after FLUSHALL/FLUSHDB during the previous full sync — then entries of the aborted
   *  attempt were already delivered): prepare the target for a full import. `reason` says why. */
  onFullSync?(reason: string): void | Promise<void>;
  /** AUX field of a flow's RDB header (`redis-ver`, `ctime`, `shard-id`, `lua`, …). */
  onAux?(flowId: number, key: Buffer, value: Buffer): void;
  /** One piece of a snapshot object of flow `flowId`. */
  onSnapshotEntry(flowId: number, entry: SnapshotEntry): void;
  /**
   * Optional fast path for a one-piece string of flow `flowId`'s snapshot: key `buf[keyStart,
   * keyEnd)`, value `buf[valueStart, valueEnd)` (valid during the call), absolute expiry in ms or
   * -1 (`RdbHandler.onString`). Return true when handled, false to get it as {@link onSnapshotEntry}.
   */
  onSnapshotString?(flowId: number, db: number, buf: Buffer, keyStart: number, keyEnd: number, valueStart: number, valueEnd: number, expireAtMs: number): boolean;
  /**
   * Optional fast path for a run of plain string records (with or without an expiry) of flow
   * `flowId`'s snapshot starting at `buf[start]` (`RdbHandler.onStringRun`). @returns the bytes consumed (0: none, they come one by one).
   */
  onSnapshotStringRun?(flowId: number, db: number, buf: Buffer, start: number, end: number, maxValueBytes: number): number;
  /**
   * A journal record of flow `flowId`, COMMAND or PING (LSN records are verified, not delivered).
   * `lsn` is its LSN in stable sync; undefined for JOURNAL_BLOBs interleaved with the snapshot
   * (apply those after the snapshot entries before them; they do not count towards LSNs). After a
   * PING, ack as soon as everything before it is applied (the master asked for it).
   */
  onJournal(flowId: number, entry: JournalEntry, lsn: bigint | undefined): void;
  /** The flow's snapshot is complete (FULLSYNC_END); journal blobs may still follow. */
  onFullSyncEnd?(flowId: number): void;
  /** The flow's journal starts at LSN `journalOffset` (FULL: JOURNAL_OFFSET after a verified EOF
   *  token; PARTIAL: the LSN asked for). No snapshot entry follows on this flow. The Dragonfly
   *  replica ACKs this value at once; ack it once the flow's snapshot and blobs are applied. */
  onStable?(flowId: number, journalOffset: bigint): void;
  /** Entered a new state. */
  onStateChange?(state: SessionState): void;
  /** The session failed and stopped (called once; not for {@link DragonflySession.stop}). */
  onError(err: Error): void;
}

/** Saved progress to resume with a partial sync (reference §8). */
export interface SessionResume {
  /** Master replid the LSNs belong to; a different one forces a full sync. */
  replid: string;
  /** Per flow id: LSN of the next record not yet applied (the last ACK value). */
  nextLsn: ReadonlyArray<bigint>;
}

/** Options of {@link DragonflySession}. */
export interface DragonflySessionOptions extends SourceSocketOptions {
  /** `redis://[user:pass@]host:port` / `rediss://…`, or a parsed endpoint. */
  source: string | SourceEndpoint;
  handler: DragonflySessionHandler;
  /** Resume from saved LSNs (partial sync when the master still has them). */
  resume?: SessionResume;
  /** `REPLCONF CLIENT-ID`; keep it across restarts like the Dragonfly replica. @default random 40 hex */
  clientId?: string;
  /** See {@link HandshakeOptions.clientVersion}. @default 4 */
  clientVersion?: number | null;
  /** See {@link HandshakeOptions.listeningPort}. */
  listeningPort?: number;
  /** Resend every flow's last ACK this often even when unchanged, as the Dragonfly replica does
   *  (`--replication_acks_interval`); 0 disables. @default 1000 */
  ackIntervalMs?: number;
  /** Passed to every flow's RdbDecoder. */
  rdb?: Omit<RdbDecoderOptions, 'source'>;
  /** Restart the full sync when a JOURNAL_BLOB carries FLUSHALL/FLUSHDB (as Dragonfly does);
   *  false delivers it like any journal blob. @default true */
  shouldRestartOnFlushInFullSync?: boolean;
  /**
   * Longest wait for the master's reply to one command: the handshake, `DFLY FLOW` (per flow),
   * `DFLY SYNC`, `DFLY STARTSTABLE`, the liveness `PING`. 0 = no limit.
   * @default 30 s (`DEFAULT_SOURCE_TIMEOUT_MS` in master-link.ts)
   */
  replyTimeoutMs?: number;
  /**
   * The full sync fails when no byte arrived on any flow for this long while some flow has not
   * reached its journal yet (from `DFLY SYNC` until every flow's EOF token), no flow is paused by
   * the consumer and no command is awaiting its reply (that has {@link replyTimeoutMs}). 0 = no
   * watchdog. @default {@link DEFAULT_FULL_SYNC_STALL_TIMEOUT_MS} (60 s)
   */
  fullSyncStallTimeoutMs?: number;
  /**
   * In stable sync, send `PING` on the main connection this often; an unanswered PING (within
   * {@link replyTimeoutMs}) fails the session. The master sends nothing on idle flows (reference
   * §5.2), and TCP keepalive probes are slow (see `openSourceSocket`): this is what notices a
   * half-open or frozen master. 0 = never. @default {@link DEFAULT_LIVENESS_INTERVAL_MS} (10 s)
   */
  livenessIntervalMs?: number;
}

/** Default of {@link DragonflySessionOptions.fullSyncStallTimeoutMs}: twice the master's own
 *  `--replication_timeout` (30 s), after which a healthy master has cancelled a stalled replica. */
export const DEFAULT_FULL_SYNC_STALL_TIMEOUT_MS = 60_000;
/** Default of {@link DragonflySessionOptions.livenessIntervalMs}. */
export const DEFAULT_LIVENESS_INTERVAL_MS = 10_000;

/** Default periodic ACK interval (Dragonfly `--replication_acks_interval`). */
export const DEFAULT_ACK_INTERVAL_MS = 1000;

/**
 * One replication session. Create, {@link start}, consume callbacks, {@link ack} what the target
 * acknowledged, {@link stop}.
 *
 * ```ts
 * const s = new DragonflySession({ source: 'redis://df:6379', handler });
 * await s.start();            // resolves in stable sync on every flow
 * s.ack(2, 1234n);            // REPLCONF ACK 1234 on flow 2
 * s.flow(2).pause(); s.flow(2).resume();
 * await s.stop();
 * ```
 */
export class DragonflySession {
  readonly #options: DragonflySessionOptions;
  readonly #endpoint: SourceEndpoint;
  readonly #handler: DragonflySessionHandler;
  readonly clientId: string;
  #state: SessionState = 'idle';
  #link: MasterLink | undefined;
  #flows: DragonflyFlow[] = [];
  #kind: 'full' | 'partial' | undefined;
  #isSyncOk = false;
  #fullSyncEnds = 0;
  #isStartStableSent = false;
  #ackTimer: NodeJS.Timeout | undefined;
  #watchdogTimer: NodeJS.Timeout | undefined;
  #livenessTimer: NodeJS.Timeout | undefined;
  #error: Error | undefined;
  #startResolve: (() => void) | undefined;
  #startReject: ((e: Error) => void) | undefined;
  /** Incremented per attempt (restarts): callbacks and awaits of an older attempt are ignored. */
  #generation = 0;
  readonly #flowEvents: FlowEvents;

  constructor(options: DragonflySessionOptions) {
    this.#options = options;
    this.#endpoint = typeof options.source === 'string' ? parseDragonflyUrl(options.source) : options.source;
    this.#handler = options.handler;
    this.clientId = options.clientId ?? randomBytes(20).toString('hex');
    const h = this.#handler;
    // A flow that is no longer current (closed by a restart while its last chunk is being
    // decoded) must not deliver anything.
    const isCurrent = (f: DragonflyFlow): boolean => this.#flows[f.flowId] === f && this.#state !== 'stopped';
    const shouldRestartOnFlush = options.shouldRestartOnFlushInFullSync ?? true;
    this.#flowEvents = {
      onAux: (f, k, v) => void (isCurrent(f) && h.onAux?.(f.flowId, k, v)),
      onSnapshotEntry: (f, e) => void (isCurrent(f) && h.onSnapshotEntry(f.flowId, e)),
      onSnapshotString:
        h.onSnapshotString === undefined
          ? undefined
          : (f, db, buf, ks, ke, vs, ve, exp) => !isCurrent(f) || h.onSnapshotString!(f.flowId, db, buf, ks, ke, vs, ve, exp),
      onSnapshotStringRun:
        h.onSnapshotStringRun === undefined
          ? undefined
          : (f, db, buf, start, end, maxValueBytes) => (isCurrent(f) ? h.onSnapshotStringRun!(f.flowId, db, buf, start, end, maxValueBytes) : 0),
      onJournal: (f, e, lsn) => {
        if (!isCurrent(f)) return;
        if (lsn === undefined && shouldRestartOnFlush && e.op === 'command' && isFlush(e.args[0]!)) {
          this.#restart(`${e.args[0]!.toString('latin1').toUpperCase()} in a journal blob of flow ${f.flowId} during full sync`);
          return;
        }
        h.onJournal(f.flowId, e, lsn);
      },
      onFullSyncEnd: (f) => void (isCurrent(f) && this.#onFullSyncEnd(f)),
      onStable: (f, offset) => void (isCurrent(f) && h.onStable?.(f.flowId, offset)),
      onError: (f, err) => void (isCurrent(f) && this.#fail(err)),
    };
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The capa reply (after the handshake). */
  get master(): MasterInfo | undefined {
    return this.#link?.info;
  }

  /** `full` or `partial` once the flows answered. */
  get syncKind(): 'full' | 'partial' | undefined {
    return this.#kind;
  }

  /** Flows by flow id (after the flows answered). */
  get flows(): ReadonlyArray<DragonflyFlow> {
    return this.#flows;
  }

  /** Flow `flowId`. @throws ReplicationError if there is no such flow (yet). */
  flow(flowId: number): DragonflyFlow {
    const f = this.#flows[flowId];
    if (f === undefined) throw new ReplicationError(`no flow ${flowId}`);
    return f;
  }

  /** The error that stopped the session, if any. */
  get error(): Error | undefined {
    return this.#error;
  }

  /**
   * Connects and syncs. Resolves once `DFLY STARTSTABLE` was acknowledged (every flow is in, or
   * about to enter, stable sync; `onStable` fires per flow when its journal starts). Rejects with
   * the error that stopped the session before that (the same error also goes to `onError`).
   */
  start(): Promise<void> {
    if (this.#state !== 'idle') return Promise.reject(new ReplicationError(`session already ${this.#state}`));
    const p = new Promise<void>((resolve, reject) => {
      this.#startResolve = resolve;
      this.#startReject = reject;
    });
    this.#launch(this.#options.resume, 'no saved state');
    return p;
  }

  /**
   * Sends `REPLCONF ACK <nextLsn>` on flow `flowId` now and remembers the value for the periodic
   * resend. `nextLsn` = LSN of the first record of that flow not yet acknowledged by the target.
   * @throws ReplicationError before the flow's journal started.
   */
  ack(flowId: number, nextLsn: bigint): void {
    this.flow(flowId).ack(nextLsn);
  }

  /** Closes every connection; the session is stopped (no onError). Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#closeAll();
    this.#setState('stopped');
    this.#startReject?.(new ReplicationError('session stopped'));
    this.#startResolve = this.#startReject = undefined;
  }

  /** Starts an attempt (the first, or a restart): a fresh generation. */
  #launch(resume: SessionResume | undefined, fullSyncReason: string): void {
    const gen = ++this.#generation;
    this.#run(gen, resume, fullSyncReason).catch((err: unknown) => {
      if (gen === this.#generation) this.#fail(err as Error);
    });
  }

  /** Closes the current attempt's connections and starts a full sync on new ones. */
  #restart(reason: string): void {
    this.#closeAll();
    this.#flows = [];
    this.#link = undefined;
    this.#isSyncOk = false;
    this.#fullSyncEnds = 0;
    this.#isStartStableSent = false;
    this.#kind = undefined;
    this.#launch(undefined, reason);
  }

  async #run(gen: number, resume: SessionResume | undefined, fullSyncReason: string): Promise<void> {
    const isStale = (): boolean => gen !== this.#generation || this.#isStopped();
    this.#setState('greeting');
    const o = this.#options;
    // TLS material and time limits: the same for the main connection and every flow.
    const connection = {
      tlsInsecure: o.tlsInsecure,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      connectTimeoutMs: o.connectTimeoutMs,
      replyTimeoutMs: o.replyTimeoutMs,
    };
    const handshake: HandshakeOptions = { clientId: this.clientId, clientVersion: o.clientVersion, listeningPort: o.listeningPort, ...connection };
    const link = await MasterLink.connect(this.#endpoint, handshake);
    if (isStale()) return link.close();
    this.#link = link;
    link.onClose((err) => {
      if (gen === this.#generation) this.#fail(err);
    });
    const info = link.info;
    await this.#handler.onMaster?.(info);
    if (isStale()) return link.close();
    let lsns: ReadonlyArray<bigint> | undefined;
    let fullReason: string | undefined;
    if (resume !== undefined) {
      if (resume.replid !== info.replid) fullReason = `the master replid changed (${resume.replid} → ${info.replid}): it restarted`;
      else if (resume.nextLsn.length !== info.numFlows) fullReason = `the master has ${info.numFlows} flows, the saved state ${resume.nextLsn.length}`;
      else lsns = resume.nextLsn;
    } else fullReason = fullSyncReason;
    if (fullReason !== undefined) {
      await this.#handler.onFullSync?.(fullReason);
      if (isStale()) return link.close();
    }
    // All flows in parallel (the master needs every flow before DFLY SYNC / STARTSTABLE).
    const opened = await Promise.allSettled(
      Array.from({ length: info.numFlows }, (_, i) =>
        DragonflyFlow.open(this.#endpoint, info, i, this.#flowEvents, { lsn: lsns?.[i], rdb: o.rdb, ...connection }),
      ),
    );
    if (isStale()) {
      for (const r of opened) if (r.status === 'fulfilled') r.value.close();
      return;
    }
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const r of opened) if (r.status === 'fulfilled') this.#flows[r.value.flowId] = r.value;
    if (failed) throw failed.reason;
    const full = this.#flows.filter((f) => f.kind === 'FULL').map((f) => f.flowId);
    if (lsns !== undefined && full.length > 0) {
      // Partial sync needs every flow (`Replica::InitiateDflySync`): start over with a full sync.
      return this.#restart(`the master refused a partial sync on flow(s) ${full.join(', ')}`);
    }
    if (lsns === undefined && full.length !== info.numFlows) throw new ReplicationError('the master answered PARTIAL to a full sync request');
    if (full.length === 0) {
      this.#kind = 'partial';
      for (const f of this.#flows) this.#handler.onStable?.(f.flowId, f.journalOffset!);
      await this.#startStable(gen);
      return;
    }
    this.#kind = 'full';
    this.#setState('full-sync');
    this.#startWatchdog(gen);
    await link.dflySync();
    if (isStale()) return;
    this.#isSyncOk = true;
    await this.#maybeStartStable(gen);
  }

  #onFullSyncEnd(f: DragonflyFlow): void {
    this.#fullSyncEnds++;
    this.#handler.onFullSyncEnd?.(f.flowId);
    // STARTSTABLE needs both the +OK of DFLY SYNC and every FULLSYNC_END, in any order (§4.1).
    const gen = this.#generation;
    if (this.#isSyncOk) {
      this.#maybeStartStable(gen).catch((err: unknown) => {
        if (gen === this.#generation) this.#fail(err as Error);
      });
    }
  }

  async #maybeStartStable(gen: number): Promise<void> {
    if (this.#isStartStableSent || !this.#isSyncOk || this.#fullSyncEnds < this.#flows.length) return;
    await this.#startStable(gen);
  }

  async #startStable(gen: number): Promise<void> {
    this.#isStartStableSent = true;
    await this.#link!.dflyStartStable();
    if (gen !== this.#generation || this.#isStopped()) return;
    this.#setState('stable-sync');
    this.#startAckTimer();
    this.#startLivenessPing(gen);
    const resolve = this.#startResolve;
    this.#startResolve = this.#startReject = undefined;
    resolve?.();
  }

  /** Resends each flow's last ACK every `ackIntervalMs` (Dragonfly `StableSyncDflyAcksFb`). */
  #startAckTimer(): void {
    const ms = this.#options.ackIntervalMs ?? DEFAULT_ACK_INTERVAL_MS;
    if (ms <= 0) return;
    this.#ackTimer = setInterval(() => {
      for (const f of this.#flows) if (f.phase === 'journal' && f.lastAck !== undefined) f.ack(f.lastAck);
    }, ms);
    this.#ackTimer.unref();
  }

  /**
   * Fails the session when the full sync stops moving (see
   * {@link DragonflySessionOptions.fullSyncStallTimeoutMs}). Polls the flows' byte counters, so
   * the hot path pays nothing. Ends by itself once every flow is in its journal.
   */
  #startWatchdog(gen: number): void {
    const stallMs = this.#options.fullSyncStallTimeoutMs ?? DEFAULT_FULL_SYNC_STALL_TIMEOUT_MS;
    if (stallMs <= 0) return;
    let lastBytes = -1;
    let movedAtMs = performance.now();
    const timer = setInterval(
      () => {
        if (gen !== this.#generation || this.#isStopped()) return clearInterval(timer);
        const waiting = this.#flows.filter((f) => f.phase !== 'journal');
        if (this.#flows.length > 0 && waiting.length === 0) return clearInterval(timer);
        const bytes = this.#flows.reduce((n, f) => n + f.bytesReceived, 0);
        const now = performance.now();
        if (bytes !== lastBytes || this.#flows.some((f) => f.isPaused) || this.#link?.isAwaitingReply) {
          lastBytes = bytes;
          movedAtMs = now;
          return;
        }
        if (now - movedAtMs < stallMs) return;
        const where = waiting
          .map((f) => `flow ${f.flowId} (${f.isFullSyncEnded ? 'snapshot done, waiting for its EOF' : 'in its snapshot'}, ${f.bytesReceived} bytes received)`)
          .join(', ');
        this.#fail(
          new ReplicationError(
            `full sync stalled: no byte from the master on any flow for ${Math.round(now - movedAtMs)} ms (--full-sync-stall-timeout ${stallMs} ms); waiting for ${where}`,
            undefined,
            { isTransient: true },
          ),
        );
      },
      Math.min(1000, Math.max(10, Math.floor(stallMs / 4))),
    );
    timer.unref();
    this.#watchdogTimer = timer;
  }

  /** Sends `PING` on the main connection every `livenessIntervalMs` in stable sync (see the option). */
  #startLivenessPing(gen: number): void {
    const ms = this.#options.livenessIntervalMs ?? DEFAULT_LIVENESS_INTERVAL_MS;
    const link = this.#link;
    if (ms <= 0 || link === undefined) return;
    this.#livenessTimer = setInterval(() => {
      if (gen !== this.#generation || this.#isStopped() || link.isAwaitingReply) return;
      link.command(['PING']).then(
        (reply) => {
          if (reply !== 'PONG' && gen === this.#generation) this.#fail(handshakeError(['PING'], reply));
        },
        () => undefined, // the link failed: its onClose already failed the session
      );
    }, ms);
    this.#livenessTimer.unref();
  }

  #isStopped(): boolean {
    return this.#state === 'stopped';
  }

  #setState(s: SessionState): void {
    if (this.#state === s) return;
    this.#state = s;
    this.#handler.onStateChange?.(s);
  }

  #closeAll(): void {
    if (this.#ackTimer) clearInterval(this.#ackTimer);
    if (this.#watchdogTimer) clearInterval(this.#watchdogTimer);
    if (this.#livenessTimer) clearInterval(this.#livenessTimer);
    this.#ackTimer = this.#watchdogTimer = this.#livenessTimer = undefined;
    this.#link?.close();
    for (const f of this.#flows) f?.close();
  }

  #fail(err: Error): void {
    if (this.#state === 'stopped') return;
    this.#error = err;
    this.#closeAll();
    this.#setState('stopped');
    const reject = this.#startReject;
    this.#startResolve = this.#startReject = undefined;
    reject?.(err);
    this.#handler.onError(err);
  }
}

/** FLUSHALL / FLUSHDB (any case): the global commands of Dragonfly's `TransactionData::IsGlobalCmd`
 *  that can appear in a journal blob. */
function isFlush(name: Buffer): boolean {
  if (name.length !== 7 && name.length !== 8) return false;
  const n = name.toString('latin1').toUpperCase();
  return n === 'FLUSHALL' || n === 'FLUSHDB';
}
