/**
 * One flow's replay into the target: snapshot pieces and journal records of flow `flowId`, applied
 * in stream order over one ordered connection (DESIGN invariants 1 and 2), with the flow's LSN
 * advanced only once the target acknowledged everything before it (invariant 6).
 *
 * Upstream: Dragonfly `DflyShardReplica::StableSyncDflyReadFb` (execute, then `journal_rec_executed_++`)
 * and `StableSyncDflyAcksFb` (ACK cadence), src/server/replica.cc.
 */
import type { JournalEntry, SnapshotEntry } from '../entry/entry.js';
import { decodeDumpPayload } from '../decode/rdb/dump-payload.js';
import { commandToken, MAX_INTERNED_NAME_BYTES } from '../decode/journal/command-names.js';
import { ClusterError, printableKey, TargetCommandError } from '../errors.js';
import type { FlowCheckpoint } from './checkpoint.js';
import type { ReadBackValue } from './read-back.js';
import type { Router } from '../sink/router.js';
import type { SnapshotWriter } from '../sink/snapshot-writer.js';
import { commandKeys, planForCluster } from '../translate/cluster-keys.js';
import type { JournalTranslator, TranslatedCommand, Translation } from '../translate/journal-translator.js';

/** Where a flow is, as `/status` shows it. */
export type FlowApplyPhase = 'full-sync' | 'stable-sync' | 'stopped';

/** Send a `REPLCONF ACK` as soon as this many records were acknowledged since the last one (Dragonfly: > 1024). */
export const ACK_EVERY_RECORDS = 1024n;

/** A journal record held while the flow waits (barrier or read-back). */
interface QueuedRecord {
  entry: JournalEntry;
  lsn: bigint | undefined;
  /** When the record was read from the flow (Unix ms): relative TTLs count from there. */
  receivedAtMs: number;
}

/** What a flow needs from the replicator around it. */
export interface FlowApplierContext {
  translator: JournalTranslator;
  /** Writer for snapshot pieces (user's `--on-existing` / `--unsupported` policies). */
  snapshotWriter: SnapshotWriter;
  /** Writer for objects carried by journal `RESTORE`s and read-backs: always replaces. */
  journalWriter: SnapshotWriter;
  /** The flow's own target router (one ordered connection per node, DESIGN invariant 1). */
  router: Router;
  /** Copy only these databases (`--dbs`); undefined = all. */
  dbs: readonly number[] | undefined;
  /** The target database receiving the one copied database (target URL `/db`); undefined = same numbers. */
  targetDb?: number | undefined;
  /** Sends `REPLCONF ACK <nextLsn>` on this flow. */
  sendAck(nextLsn: bigint): void;
  /**
   * The router's in-flight bound from stable sync on, bytes (the full sync runs with a smaller one:
   * `FULL_SYNC_INFLIGHT_BYTES` of pipeline/replicate.ts); undefined = unchanged.
   */
  stableInflightBytes?: number | undefined;
  /**
   * The flow's checkpoint on the target (`replicate`; undefined for `migrate`): every stable-sync
   * batch is opened with `begin()` before its first command and closed with `commit(nextLsn)` at
   * its acknowledgement marker (exactly-once: one MULTI/EXEC with the checkpoint inside).
   */
  checkpoint?: FlowCheckpoint | undefined;
  /**
   * The flow's snapshot, its deferred read-backs and its first checkpoint are all acknowledged by
   * the target: from here on its checkpoint is a valid resume point (called once, after STARTSTABLE).
   */
  onSettled?(flowId: number): void;
  /** A FLUSHALL/FLUSHDB reached this flow: hold it until every flow reached txid `txid`. */
  arriveAtBarrier(flow: FlowApplier, txid: bigint, translation: Extract<Translation, { action: 'global' }>, db: number): void;
  /**
   * Reads `key` of database `db` from the master, atomically with its expiry, between two journal
   * offsets of shard `flowId` ({@link ReadBackValue}). @throws ReplicationError
   */
  readBack(key: Buffer, db: number, flowId: number): Promise<ReadBackValue>;
  /** Counts a dropped or lossy command, by upper-case name (logged once per name by the owner). */
  countDropped(name: string, reason: string): void;
  countLossy(name: string): void;
  /** Counts a record replaced by a read-back of its keys, by what it was (e.g. `SORT`, `ZADD after DEL (…STORE)`). */
  countRepaired(name: string): void;
  /** The flow cannot go on (an undecodable RESTORE payload, a failed read-back). */
  fail(err: Error): void;
  /**
   * Pauses / resumes reading this flow's socket (briefly). Both are idempotent; a resume is a no-op
   * while the router is backpressured or the flow's queue is full ({@link FlowApplier.isQueueFull}).
   */
  pauseSource(): void;
  resumeSource(): void;
}

/** Applies one flow. Created by the replicator, fed synchronously by the session callbacks. */
export class FlowApplier {
  readonly flowId: number;
  readonly #ctx: FlowApplierContext;
  readonly #router: Router;
  readonly #isCluster: boolean;
  readonly #dbs: readonly number[] | undefined;
  phase: FlowApplyPhase = 'full-sync';
  /** LSN of the next record not yet received (counts COMMAND and PING, as the master does). */
  receivedLsn = 0n;
  /** LSN of the next record not yet acknowledged by the target: what REPLCONF ACK sends. */
  ackedLsn = 0n;
  #lastSentAck = 0n;
  /**
   * One entry per acknowledgement marker in flight ({@link #mark}, one per socket read): the LSN it
   * covers and when it was set (performance.now() ms). The head is the oldest read not yet
   * acknowledged, which gives {@link oldestUnackedAgeMs} without a timestamp per record.
   */
  #markLsns: bigint[] = [];
  #markTimes: number[] = [];
  #markHead = 0;
  /** The previous record of this flow, when it was a single-key `DEL` with a txid (see {@link #isRewrittenZsetStore}). */
  #lastDel: { key: Buffer; db: number; txid: bigint } | undefined;
  #isPingAckWanted = false;
  #isMarkScheduled = false;
  /** Every snapshot piece was acknowledged by the target (set after STARTSTABLE): ACKs may be sent. */
  #isSnapshotAcked = false;
  #queue: QueuedRecord[] | undefined;
  /** Keys read back in stable sync, until the flow's records pass the read's `lsnAfter` (see {@link #fenced}). */
  #fences: Map<string, Fence> | undefined;
  /** Keys to read back once the full sync is over (a repair met in a JOURNAL_BLOB, whose LSN is unknown). */
  #deferred: Map<string, ReadBackItem> | undefined;
  /** Keys to read back before the held records are replayed (fenced keys a FLUSHALL/FLUSHDB wiped; deferred keys met while blocked). */
  #pendingReads: ReadBackItem[] | undefined;
  #readInProgress: Promise<void> | undefined;
  /**
   * Consecutive plain journal `SET key value`s of stable sync held to leave as one `MSET`
   * ({@link #stageSet}): key, value, key, value… (views of the records' socket chunks), all in
   * database `#setRunDb`. Sent before anything else of this flow reaches the target and at the
   * end of every socket read ({@link #commitBatch}), so never across an event-loop turn.
   */
  #setRun: Buffer[] = [];
  #setRunDb = 0;
  #setRunBytes = 0;

  /** Snapshot objects and journal records skipped because their database is not in `dbs`. */
  skippedOtherDbs = 0;

  constructor(flowId: number, ctx: FlowApplierContext) {
    this.flowId = flowId;
    this.#ctx = ctx;
    this.#router = ctx.router;
    this.#isCluster = ctx.router.isCluster;
    this.#dbs = ctx.dbs;
  }

  /** The flow's target router. */
  get router(): Router {
    return this.#router;
  }

  /** True while records are held (barrier or read-back in progress). */
  get isBlocked(): boolean {
    return this.#queue !== undefined;
  }

  /** True while the held records reached {@link MAX_QUEUED_RECORDS}: the source must stay paused. */
  get isQueueFull(): boolean {
    return this.#queue !== undefined && this.#queue.length >= MAX_QUEUED_RECORDS;
  }

  /** Snapshot piece: written at once on the flow's connection. */
  onSnapshotEntry(entry: SnapshotEntry): void {
    if (this.phase === 'stopped') return; // stopping: the target connections are closing
    if (this.#dbs !== undefined && !this.#dbs.includes(entry.db)) {
      if (entry.isLast) this.skippedOtherDbs++;
      return;
    }
    if (this.#isCluster && entry.db !== 0) {
      if (entry.isFirst) this.#ctx.fail(otherDbError(this.flowId, entry.db, `snapshot key ${JSON.stringify(printableKey(entry.key))}`));
      return;
    }
    this.#ctx.snapshotWriter.write(entry);
    if (this.#router.isBackpressured) this.#ctx.pauseSource();
  }

  /**
   * The decoder's string fast path ({@link onSnapshotEntry} of a one-piece string as ranges of
   * `buf`, `SnapshotWriter.writeString`). @returns false when it must come as an entry instead.
   */
  onSnapshotString(db: number, buf: Buffer, keyStart: number, keyEnd: number, valueStart: number, valueEnd: number, expireAtMs: number): boolean {
    if (this.phase === 'stopped') return true;
    if (this.#dbs !== undefined && !this.#dbs.includes(db)) {
      this.skippedOtherDbs++;
      return true;
    }
    if (!this.#ctx.snapshotWriter.writeString(db, buf, keyStart, keyEnd, valueStart, valueEnd, expireAtMs)) return false;
    if (this.#router.isBackpressured) this.#ctx.pauseSource();
    return true;
  }

  /**
   * The decoder's string-run fast path (`SnapshotWriter.writeStringRun`). @returns the bytes
   * consumed; 0 (the strings then come one by one) when stopping or for a database not in `--dbs`.
   */
  onSnapshotStringRun(db: number, buf: Buffer, start: number, end: number, maxValueBytes: number): number {
    if (this.phase === 'stopped' || (this.#dbs !== undefined && !this.#dbs.includes(db))) return 0;
    const consumed = this.#ctx.snapshotWriter.writeStringRun(db, buf, start, end, maxValueBytes);
    if (consumed > 0 && this.#router.isBackpressured) this.#ctx.pauseSource();
    return consumed;
  }

  /**
   * The flow's journal starts at `journalOffset`. The Dragonfly replica ACKs it at once; here the
   * ACK waits until the target acknowledged every snapshot piece sent before (DESIGN invariant 6):
   * until then no ACK is sent and {@link ackedLsn} stays below the offset.
   */
  onStable(journalOffset: bigint): void {
    this.#ctx.snapshotWriter.endSnapshot(); // the marker below must follow every snapshot key
    this.phase = 'stable-sync';
    if (this.#ctx.stableInflightBytes !== undefined) this.#router.setMaxInflightBytes(this.#ctx.stableInflightBytes);
    this.receivedLsn = journalOffset;
    // After the snapshot on this ordered connection, before any journal record: the journal starts here.
    this.#ctx.checkpoint?.write(journalOffset);
    this.#router.whenAcked(() => {
      if (this.phase === 'stopped') return;
      this.#isSnapshotAcked = true;
      if (this.#ctx.onSettled !== undefined) {
        const settled = this.#ctx.onSettled;
        // Keys repaired during the full sync are part of the snapshot: the checkpoint is a resume
        // point once they are written and acknowledged too.
        this.readBacksSettled()
          .then(() => this.#router.flush())
          .then(() => this.phase !== 'stopped' && settled(this.flowId))
          .catch(() => undefined); // a failure reaches the replicator through the router
      }
      if (journalOffset <= this.ackedLsn) return; // journal records after it were acknowledged already
      this.ackedLsn = journalOffset;
      this.sendAckNow();
    });
    // Keys repaired during the full sync are read now (their ACK is not held back for it: the
    // master keeps no state on ACKs but the lag it reports; the checkpoint of a later issue will be).
    const deferred = this.#takeDeferred();
    if (deferred === undefined) return;
    // Read now, fenced by the master's offsets: stable records below `lsnBefore` are in the value.
    if (this.#queue !== undefined) this.#pendingReads = [...(this.#pendingReads ?? []), ...deferred];
    else {
      this.#queue = [];
      this.#readBack(deferred, undefined);
    }
  }

  /**
   * The keys whose read-back was deferred during the full sync, forgotten here (undefined: none).
   * `migrate` (full sync only) reads them with {@link readBackDeferred} before it finishes.
   */
  #takeDeferred(): ReadBackItem[] | undefined {
    const d = this.#deferred;
    this.#deferred = undefined;
    return d === undefined ? undefined : [...d.values()];
  }

  /**
   * Full sync only (`migrate`): reads back and writes the keys deferred during the full sync (their
   * records are in the snapshot's JOURNAL_BLOBs, whose LSNs are unknown). Resolves once they were
   * handed to the target connection; rejects with the read's error.
   */
  async readBackDeferred(): Promise<void> {
    const items = this.#takeDeferred();
    if (items === undefined) return;
    for (const item of items) await this.#readOne(item);
  }

  /**
   * A journal record: a JOURNAL_BLOB of the full sync (`lsn` undefined, counts nothing) or a
   * stable-sync record with its LSN. Held in order while the flow is blocked.
   */
  onJournal(entry: JournalEntry, lsn: bigint | undefined): void {
    if (this.phase === 'stopped') return; // stopping: what arrives now is not applied nor acknowledged
    // Snapshot keys held for an MSET go first: the record may touch them (DESIGN invariant 2).
    this.#ctx.snapshotWriter.sendPending();
    if (this.#queue !== undefined) {
      this.#queue.push({ entry, lsn, receivedAtMs: Date.now() });
      // Records pile up only while a barrier or read-back is pending (milliseconds); past this,
      // stop reading until it resolves rather than grow without bound.
      if (this.#queue.length === MAX_QUEUED_RECORDS) this.#ctx.pauseSource();
      return;
    }
    if (lsn !== undefined) this.#ctx.checkpoint?.begin(lsn);
    this.#apply(entry, lsn);
    if (this.#router.isBackpressured) this.#ctx.pauseSource();
  }

  /**
   * The barrier (or read-back, or cross-slot move) this flow waited on is done: count its record
   * and replay the queue, then ask to resume the source. Whatever paused it (a full queue, or
   * backpressure whose 'drain' came while the flow was blocked), this is the matching resume; the
   * replicator keeps it paused only while the router is still backpressured (its next 'drain'
   * resumes it then) or the flow is blocked again with a full queue.
   */
  unblock(lsn: bigint | undefined): void {
    const queue = this.#queue;
    if (queue === undefined || this.phase === 'stopped') return;
    this.#queue = undefined;
    this.#advance(lsn);
    const repairs = this.#pendingReads;
    if (repairs !== undefined) {
      // Keys to read first: fenced keys a FLUSHALL/FLUSHDB wiped, or deferred ones met while blocked.
      this.#pendingReads = undefined;
      this.#queue = queue;
      this.#readBack(repairs, undefined);
      return;
    }
    const checkpoint = this.#ctx.checkpoint;
    for (let i = 0; i < queue.length; i++) {
      const r = queue[i]!;
      if (r.lsn !== undefined) checkpoint?.begin(r.lsn);
      this.#apply(r.entry, r.lsn, r.receivedAtMs);
      if (this.#queue !== undefined) {
        // Blocked again: the rest waits, in order, behind the new blocking record.
        this.#queue = queue.slice(i + 1);
        break;
      }
    }
    // Any record boundary is a valid checkpoint: do not leave what was replayed uncommitted
    // (a read-back of the start of stable sync advances no LSN, so no marker would close it).
    this.#commitBatch();
    if (this.#router.isBackpressured) this.#ctx.pauseSource();
    else this.#ctx.resumeSource();
  }

  /**
   * Whether `entry` is the `ZADD dst …` of a zset `…STORE` as Dragonfly journals it: `DEL dst` then
   * `ZADD dst <score> <member> …` with one non-zero txid on the destination's flow, the scores
   * printed with 6 significant digits (`ZUNIONSTORE`/`ZINTERSTORE`/`ZDIFFSTORE`/`ZRANGESTORE` and
   * the `GEO…STORE` commands; Dragonfly src/server/zset_family.cc `OpAdd` with `absl::StrCat`,
   * reference §6.1). Such a ZADD is replaced by a read-back of `dst`. A client's own `DEL k` +
   * `ZADD k` in one MULTI matches too; reading it back costs a read and is exact all the same.
   */
  #isRewrittenZsetStore(entry: Extract<JournalEntry, { op: 'command' }>): boolean {
    const prev = this.#lastDel;
    const args = entry.args;
    const isDel = entry.txid !== 0n && args.length === 2 && commandName(args[0]) === 'DEL';
    this.#lastDel = isDel ? { key: args[1]!, db: entry.db, txid: entry.txid } : undefined;
    return (
      prev !== undefined &&
      entry.txid === prev.txid &&
      entry.db === prev.db &&
      args.length >= 4 &&
      commandName(args[0]) === 'ZADD' &&
      args[1]!.equals(prev.key)
    );
  }

  #apply(entry: JournalEntry, lsn: bigint | undefined, receivedAtMs?: number): void {
    if (entry.op === 'ping') {
      this.#isPingAckWanted = true;
      this.#advance(lsn);
      return;
    }
    if (entry.op !== 'command') return;
    if ((this.#fences !== undefined || this.#deferred !== undefined) && this.#fenced(entry, lsn)) return;
    const args = this.#acrossDbs(entry, lsn);
    if (args === undefined) return;
    if (this.#isRewrittenZsetStore(entry)) {
      // The master's exact scores, in this place of the flow's order (the journal's are rounded).
      this.#ctx.countRepaired(ZSET_STORE_REPAIR);
      this.#sendSets();
      this.#repair([{ key: entry.args[1]!, db: entry.db, rereads: 0 }], lsn);
      return;
    }
    const t = this.#ctx.translator.translate(args, entry.txid, receivedAtMs);
    // Stable-sync records only: a full-sync record replayed after STARTSTABLE (held behind a
    // barrier) goes as it did, outside the batches.
    if (t.action === 'write' && t.isPlainSet === true && !this.#isCluster && lsn !== undefined && this.phase === 'stable-sync') {
      this.#stageSet(t.commands[0]!.args, entry.db);
      this.#advance(lsn);
      return;
    }
    // Whatever else this record writes goes after the SETs held before it.
    this.#sendSets();
    switch (t.action) {
      case 'write': {
        const cmds = t.commands;
        for (let i = 0; i < cmds.length; i++) {
          const c = cmds[i]!;
          if (this.#isCluster) {
            if (!this.#writeToCluster(c, entry.db, lsn)) return; // blocked: the LSN advances when the move is done
          } else {
            this.#router.connectionFor(c.key ?? EMPTY, entry.db).send(c.args, c.key);
          }
        }
        if (t.lossy !== undefined) this.#ctx.countLossy(t.lossy);
        break;
      }
      case 'drop':
        this.#ctx.countDropped(commandName(entry.args[0]), t.reason);
        break;
      case 'restore':
        try {
          const writer = this.#ctx.journalWriter;
          decodeDumpPayload(t.payload, t.key, entry.db, t.expireAtMs, (e) => writer.write(e), { source: `flow ${this.flowId} RESTORE` });
        } catch (err) {
          this.#ctx.fail(err as Error);
        }
        break;
      case 'global':
        if (this.#fences !== undefined) this.#refenceAfterFlush(t.name === 'FLUSHALL' ? undefined : entry.db);
        // Everything before the flush is committed with its checkpoint; the flush and the
        // checkpoint past it are one transaction of the replicator's (see arriveAtBarrier).
        this.#commitBatch();
        this.#queue = [];
        this.#ctx.arriveAtBarrier(this, entry.txid, t, entry.db);
        return; // the LSN advances when the barrier resolves
      case 'repair':
        this.#ctx.countRepaired(commandName(entry.args[0]));
        this.#repair(
          t.keys.map((key) => ({ key, db: entry.db, rereads: 0 })),
          lsn,
        );
        return;
    }
    this.#advance(lsn);
  }

  /**
   * Database filtering (`--dbs`) and the commands that cross databases. Returns the argv to apply,
   * or undefined when the record was handled here (skipped, failed, or repaired by a read-back):
   * - a record of a database not copied is skipped, except `MOVE`/`COPY … DB n` into a copied
   *   database, whose key is read back from the master (its value is not in the journal);
   * - `MOVE key db` out of the copied databases becomes `DEL key`; `COPY … DB n` into a database not
   *   copied is dropped;
   * - a cluster target without `--dbs` stops on any write in (or into) a database other than 0.
   */
  #acrossDbs(entry: Extract<JournalEntry, { op: 'command' }>, lsn: bigint | undefined): Buffer[] | undefined {
    const args = entry.args;
    const dbs = this.#dbs;
    if (dbs === undefined && !this.#isCluster) return args; // hot path: nothing to check
    // Only MOVE and COPY name another database; look at the name only when it starts with m or c.
    const initial = (args[0]?.[0] ?? 0) | 0x20;
    const name = args.length >= 3 && (initial === 0x6d || initial === 0x63) ? commandName(args[0]) : '';
    const isMove = name === 'MOVE';
    const dbOpt = name === 'COPY' ? args.findIndex((a, i) => i >= 3 && a.length === 2 && a.toString('latin1').toUpperCase() === 'DB') : -1;
    const toDb = isMove ? Number(args[2]!.toString('latin1')) : dbOpt > 0 && dbOpt + 1 < args.length ? Number(args[dbOpt + 1]!.toString('latin1')) : entry.db;
    if (dbs === undefined) {
      if (this.#isCluster && (entry.db !== 0 || toDb !== 0)) {
        this.#ctx.fail(otherDbError(this.flowId, entry.db !== 0 ? entry.db : toDb, `journal command ${commandName(args[0])}`));
        return undefined;
      }
      return args;
    }
    const isFromCopied = dbs.includes(entry.db);
    const isToCopied = dbs.includes(toDb);
    // FLUSHALL empties the copied databases whichever database its client had selected.
    if (!isFromCopied && initial === 0x66 && commandName(args[0]) === 'FLUSHALL') return args;
    if (!isFromCopied) {
      if ((isMove || dbOpt > 0) && isToCopied) {
        // The key arrives in a copied database from one we do not copy: read it back.
        this.#repair([{ key: isMove ? args[1]! : args[2]!, db: toDb, rereads: 0 }], lsn);
        return undefined;
      }
      this.skippedOtherDbs++;
      this.#advance(lsn);
      return undefined;
    }
    if (isToCopied) {
      // `COPY … DB n` within the copied database: n is its target number.
      const targetDb = this.#ctx.targetDb;
      if (dbOpt > 0 && targetDb !== undefined) return [...args.slice(0, dbOpt + 1), Buffer.from(String(targetDb)), ...args.slice(dbOpt + 2)];
      return args;
    }
    this.skippedOtherDbs++;
    if (isMove) return [DEL, args[1]!]; // the key leaves the copied databases
    this.#advance(lsn); // COPY into a database not copied: nothing changes here
    return undefined;
  }

  /**
   * One command into a Redis Cluster, planned so the target never answers CROSSSLOT
   * ({@link planForCluster}): as is, on every master, split into single-key commands, or, for a
   * RENAME/RENAMENX across slots, moved with DUMP + RESTORE + DEL (the flow blocks meanwhile; returns
   * false then). A command whose keys span slots and cannot be split stops the run.
   */
  #writeToCluster(c: TranslatedCommand, db: number, lsn: bigint | undefined): boolean {
    const router = this.#router;
    const plan = planForCluster(c.args);
    switch (plan.kind) {
      case 'single': {
        const key = plan.key ?? c.key;
        router.connectionFor(key ?? EMPTY, db).send(c.args, key);
        return true;
      }
      case 'all-masters':
        // Not in a cluster batch (keyless, every master): what the batch holds goes first.
        this.#commitBatch();
        router.sendToAll(c.args, db);
        if (lsn !== undefined) this.#ctx.checkpoint?.begin(lsn);
        return true;
      case 'split':
        for (const part of plan.commands) router.connectionFor(part.key ?? EMPTY, db).send(part.args, part.key);
        return true;
      case 'move':
        this.#commitBatch(); // the DUMP below must see every write before it
        this.#queue = [];
        this.#moveAcrossSlots(plan.src, plan.dst, plan.nx, lsn).then(
          () => this.unblock(lsn),
          (err: unknown) => this.#ctx.fail(err as Error),
        );
        return false;
      case 'cross-slot':
        this.#ctx.fail(
          new ClusterError(
            `flow ${this.flowId}: journal command ${commandName(c.args[0])} cannot run on a Redis Cluster: ${plan.reason} ` +
              `(keys ${plan.keys.map((k) => JSON.stringify(printableKey(k))).join(', ')})`,
          ),
        );
        return false;
    }
  }

  /**
   * RENAME/RENAMENX `src` → `dst` in different slots (so on possibly different nodes): `DUMP` and
   * `PTTL` of `src` on its node (after everything sent before), `RESTORE dst ttl payload [REPLACE]`,
   * then `DEL src`. RENAMENX onto an existing `dst` (BUSYKEY) leaves both keys alone, as Redis does.
   */
  async #moveAcrossSlots(src: Buffer, dst: Buffer, nx: boolean, lsn: bigint | undefined): Promise<void> {
    const router = this.#router;
    const payload = await router.call(src, ['DUMP', src]);
    if (!Buffer.isBuffer(payload)) {
      // The master renamed a key the target does not hold (it expired here first): nothing to move.
      this.#ctx.countDropped(nx ? 'RENAMENX' : 'RENAME', 'source key missing on the target');
      return;
    }
    const pttl = Number(await router.call(src, ['PTTL', src]));
    const ttl = pttl > 0 ? pttl : 0;
    // The writes below are the record's: in its batch (exactly-once), committed by unblock().
    if (lsn !== undefined && this.phase === 'stable-sync') this.#ctx.checkpoint?.begin(lsn);
    if (nx) {
      try {
        await router.call(dst, ['RESTORE', dst, ttl, payload]);
      } catch (err) {
        if (err instanceof TargetCommandError && err.reply.startsWith('BUSYKEY')) return;
        throw err;
      }
    } else {
      router.connectionFor(dst, 0).send(['RESTORE', dst, ttl, payload, 'REPLACE'], dst);
    }
    router.connectionFor(src, 0).send(['DEL', src], src);
  }

  /**
   * Keys whose value the journal does not carry, at record `lsn`. In stable sync they are read back
   * now (the flow blocks meanwhile). In the full sync (`lsn` undefined: a JOURNAL_BLOB, whose LSN
   * is not known, so a read cannot be fenced) they are deferred to the start of stable sync, and
   * every later full-sync record of those keys is skipped: the read made then contains it.
   */
  #repair(items: ReadBackItem[], lsn: bigint | undefined): void {
    if (lsn === undefined && this.phase === 'full-sync') {
      const d = (this.#deferred ??= new Map());
      for (const item of items) d.set(itemId(item.key, item.db), item);
      return;
    }
    this.#queue = [];
    this.#readBack(items, lsn);
  }

  /**
   * Reads keys back from the master and writes them (a key gone at read time becomes `DEL`), fences
   * them, then lets the flow go on from record `lsn`.
   */
  #readBack(items: ReadBackItem[], lsn: bigint | undefined): void {
    const run = async (): Promise<void> => {
      for (const item of items) {
        const v = await this.#readOne(item, lsn);
        if (v.lsnAfter > (lsn ?? -1n)) {
          (this.#fences ??= new Map()).set(itemId(item.key, item.db), { ...item, lsnBefore: v.lsnBefore, lsnAfter: v.lsnAfter });
        }
      }
    };
    const done = run().then(
      () => {
        this.#readInProgress = undefined;
        this.unblock(lsn);
      },
      (err: unknown) => {
        this.#readInProgress = undefined;
        this.#ctx.fail(err as Error);
      },
    );
    this.#readInProgress = done;
  }

  /**
   * Resolves once no read-back is in progress (nor started by the one that ended: a fenced key
   * read again). A graceful stop waits for it, so a key being repaired is written before the end.
   */
  async readBacksSettled(): Promise<void> {
    while (this.#readInProgress !== undefined) await this.#readInProgress;
  }

  /**
   * One read-back: `DEL` (the target may hold an older value; a key gone on the master stays gone),
   * then the DUMP payload decoded by our RDB decoder into snapshot pieces (every type; those the
   * target cannot hold are skipped and counted, as for a journal RESTORE).
   */
  async #readOne(item: ReadBackItem, lsn?: bigint): Promise<ReadBackValue> {
    const v = await this.#ctx.readBack(item.key, item.db, this.flowId);
    if (this.phase === 'stopped') return v;
    if (this.phase === 'stable-sync') this.#ctx.checkpoint?.begin(lsn);
    this.#sendSets();
    this.#router.connectionFor(item.key, item.db).send(['DEL', item.key], item.key);
    if (v.payload !== undefined) {
      const writer = this.#ctx.journalWriter;
      decodeDumpPayload(v.payload, item.key, item.db, v.expireAtMs, (e) => writer.write(e), { source: `flow ${this.flowId} read-back` });
    }
    return v;
  }

  /**
   * The fence of read-back keys (stable sync), or the deferral of full-sync repairs. A read's value
   * already holds the effect of the flow's records below `lsnBefore` and of none at or above
   * `lsnAfter`; for the records in between (written on the master while the read ran) the protocol
   * cannot tell. So a record of a fenced key:
   * - at or above `lsnAfter`: applied, and the fence ends;
   * - below `lsnBefore`, touching only fenced keys: skipped (already in the value);
   * - in the window, or touching other keys too (e.g. a same-shard `SORT s STORE d`): becomes a new
   *   read-back of all its keys, whose value holds it for sure. After {@link MAX_REREADS} reads of a
   *   key that kept being written during the read, a record in the window is applied: it may then
   *   apply twice (the documented window).
   * In the full sync, a record touching a deferred key is skipped and its other keys are deferred too.
   * Returns true when the record was handled here. Runs only while fences or deferrals exist.
   */
  #fenced(entry: Extract<JournalEntry, { op: 'command' }>, lsn: bigint | undefined): boolean {
    const items = recordItems(entry);
    if (items.length === 0) return false;
    const deferred = this.#deferred;
    if (deferred !== undefined && lsn === undefined) {
      if (!items.some((i) => deferred.has(itemId(i.key, i.db)))) return false;
      for (const i of items) deferred.set(itemId(i.key, i.db), i);
      return true;
    }
    const fences = this.#fences;
    if (fences === undefined || lsn === undefined) return false;
    let isCovered = true;
    let isAmbiguous = false;
    let hasFence = false;
    let rereads = 0;
    for (const i of items) {
      const id = itemId(i.key, i.db);
      const f = fences.get(id);
      if (f !== undefined && lsn >= f.lsnAfter) fences.delete(id);
      if (f === undefined || lsn >= f.lsnAfter) {
        isCovered = false;
        continue;
      }
      hasFence = true;
      if (lsn >= f.lsnBefore) isAmbiguous = true;
      rereads = Math.max(rereads, f.rereads);
    }
    if (fences.size === 0) this.#fences = undefined;
    if (!hasFence) return false;
    if (isCovered && !isAmbiguous) {
      this.#advance(lsn);
      return true;
    }
    if (isAmbiguous && isCovered && rereads >= MAX_REREADS) {
      for (const i of items) fences.delete(itemId(i.key, i.db));
      if (fences.size === 0) this.#fences = undefined;
      return false;
    }
    for (const i of items) i.rereads = isAmbiguous ? rereads + 1 : 0;
    this.#repair(items, lsn);
    return true;
  }

  /** A FLUSHALL (`db` undefined) or FLUSHDB of `db`: the fenced keys it wipes are read again after it. */
  #refenceAfterFlush(db: number | undefined): void {
    const fences = this.#fences!;
    const again: ReadBackItem[] = [];
    for (const [id, f] of fences) {
      if (db !== undefined && f.db !== db) continue;
      again.push({ key: f.key, db: f.db, rereads: 0 });
      fences.delete(id);
    }
    if (fences.size === 0) this.#fences = undefined;
    if (again.length > 0) this.#pendingReads = [...(this.#pendingReads ?? []), ...again];
  }

  /** A record was handed to the target (or needed nothing): count it and mark the ACK point. */
  #advance(lsn: bigint | undefined): void {
    if (lsn === undefined) return;
    this.receivedLsn = lsn + 1n;
    if (this.#isMarkScheduled) return;
    // One acknowledgement marker per socket read (the session delivers a read synchronously), not
    // per record: the marker fires once the target replied to everything sent before it.
    this.#isMarkScheduled = true;
    queueMicrotask(this.#mark);
  }

  /**
   * Age in ms of the oldest record handed to the target and not yet acknowledged by it (0 when
   * every record is acknowledged). Precise to one socket read: the records of one read share the
   * time their acknowledgement marker was set, within the same event-loop turn as their arrival.
   */
  oldestUnackedAgeMs(nowMs = performance.now()): number {
    if (this.#markHead >= this.#markLsns.length || this.ackedLsn >= this.receivedLsn) return 0;
    return Math.max(0, nowMs - this.#markTimes[this.#markHead]!);
  }

  /**
   * Holds a plain `SET key value` (`args`, from {@link JournalTranslator.translate} with
   * `isPlainSet`) of database `db` for the flow's next `MSET` (standalone target, stable sync):
   * redis-server spends ~1.0–1.3 µs of CPU per pipelined `SET` against ~0.7 µs per key of these
   * `MSET`s (bench/README "Journal replay"), and the replicator saves one command's bookkeeping
   * and reply per record. The run is sent first when the database changes, and at once when it
   * reaches {@link SET_RUN_MAX_KEYS} keys or {@link SET_RUN_MAX_BYTES}; a pair longer than
   * {@link SET_RUN_MAX_PAIR_BYTES} goes as its own `SET`, after the run.
   */
  #stageSet(args: readonly Buffer[], db: number): void {
    const key = args[1]!;
    const value = args[2]!;
    const bytes = key.length + value.length;
    if (this.#setRun.length > 0 && db !== this.#setRunDb) this.#sendSets();
    if (bytes > SET_RUN_MAX_PAIR_BYTES) {
      this.#sendSets();
      this.#router.connectionFor(key, db).send(args, key);
      return;
    }
    this.#setRunDb = db;
    this.#setRun.push(key, value);
    this.#setRunBytes += bytes;
    if (this.#setRun.length >= 2 * SET_RUN_MAX_KEYS || this.#setRunBytes >= SET_RUN_MAX_BYTES) this.#sendSets();
  }

  /**
   * Sends the held `SET`s ({@link #stageSet}) as one `MSET` (a lone one as `SET`), on the
   * connection of their database. Once the flow stopped they are dropped instead: their records
   * were not acknowledged, so the checkpoint does not count them.
   */
  #sendSets(): void {
    const run = this.#setRun;
    const n = run.length >> 1;
    if (n === 0) return;
    this.#setRunBytes = 0;
    if (this.phase !== 'stopped') {
      const first = run[0]!;
      const conn = this.#router.connectionFor(first, this.#setRunDb);
      const name = n === 1 ? 'SET' : 'MSET';
      conn.begin(1 + 2 * n);
      conn.arg(name);
      for (let i = 0; i < run.length; i++) conn.arg(run[i]!);
      // An error reply names the first key (under any policy a refused write stops the run).
      conn.end(name, first);
    }
    run.length = 0;
  }

  /** Closes the open batch with the checkpoint of what it holds (see {@link FlowApplierContext.checkpoint}). */
  #commitBatch(): void {
    this.#sendSets();
    const checkpoint = this.#ctx.checkpoint;
    if (checkpoint !== undefined && checkpoint.isOpen && this.phase === 'stable-sync') checkpoint.commit(this.receivedLsn);
  }

  readonly #mark = (): void => {
    this.#isMarkScheduled = false;
    this.#commitBatch();
    const lsn = this.receivedLsn;
    this.#markLsns.push(lsn);
    this.#markTimes.push(performance.now());
    this.#router.whenAcked(() => this.#onAcked(lsn));
  };

  #onAcked(lsn: bigint): void {
    // A refused command counts as a reply for the connection, but not as applied: once the run
    // failed (the replicator stops every flow synchronously on the error), nothing advances.
    this.#dropMarksUpTo(lsn);
    if (lsn <= this.ackedLsn || this.phase === 'stopped') return;
    this.ackedLsn = lsn;
    if (this.#isSnapshotAcked) this.#ctx.checkpoint?.onAcked(lsn);
    if (this.#isPingAckWanted || lsn - this.#lastSentAck >= ACK_EVERY_RECORDS) {
      this.#isPingAckWanted = false;
      this.sendAckNow();
    }
  }

  /** Markers fire in order: forget the ones covering up to `lsn`, compacting now and then. */
  #dropMarksUpTo(lsn: bigint): void {
    const lsns = this.#markLsns;
    while (this.#markHead < lsns.length && lsns[this.#markHead]! <= lsn) this.#markHead++;
    if (this.#markHead === lsns.length) {
      lsns.length = 0;
      this.#markTimes.length = 0;
      this.#markHead = 0;
    } else if (this.#markHead > 1024 && this.#markHead * 2 > lsns.length) {
      lsns.splice(0, this.#markHead);
      this.#markTimes.splice(0, this.#markHead);
      this.#markHead = 0;
    }
  }

  /** Sends `REPLCONF ACK <ackedLsn>` now (periodic timer, PING, every 1024 records). */
  sendAckNow(): void {
    if (this.phase !== 'stable-sync' || !this.#isSnapshotAcked) return;
    this.#lastSentAck = this.ackedLsn;
    this.#ctx.sendAck(this.ackedLsn);
  }
}

/** A key to read back from the master: its database, and how often it was read again because it was written during the read. */
interface ReadBackItem {
  key: Buffer;
  db: number;
  rereads: number;
}

/** A key read back in stable sync, with the master's journal offsets of the flow's shard around the read. */
interface Fence extends ReadBackItem {
  lsnBefore: bigint;
  lsnAfter: bigint;
}

/**
 * Reads of one key, each made again because a record of it fell in the previous read's window,
 * before such a record is applied as is (it may then apply twice: the documented window).
 */
export const MAX_REREADS = 3;

function itemId(key: Buffer, db: number): string {
  return `${db}:${key.toString('latin1')}`;
}

/**
 * The keys a journal record touches, with their databases: its keys in its own database, and for
 * `MOVE`/`COPY … DB n` in the other database too (over-inclusive is safe: it only reads more).
 */
function recordItems(entry: Extract<JournalEntry, { op: 'command' }>): ReadBackItem[] {
  const keys = commandKeys(entry.args);
  const items = keys.map((key) => ({ key, db: entry.db, rereads: 0 }));
  const name = keys.length > 0 ? commandName(entry.args[0]) : '';
  if (name === 'MOVE' || name === 'COPY') {
    const args = entry.args;
    const at = name === 'MOVE' ? 2 : args.findIndex((a, i) => i >= 3 && a.toString('latin1').toUpperCase() === 'DB') + 1;
    const other = at > 0 && at < args.length ? Number(args[at]!.toString('latin1')) : NaN;
    if (Number.isInteger(other) && other !== entry.db) for (const key of keys) items.push({ key, db: other, rereads: 0 });
  }
  return items;
}

/** How {@link FlowApplier} counts the read-back of a zset `…STORE` destination (`repaired` in `/status`). */
export const ZSET_STORE_REPAIR = 'ZADD after DEL (…STORE)';

/** Held records per flow before its socket is paused (a barrier or read-back takes milliseconds). */
export const MAX_QUEUED_RECORDS = 100_000;

const EMPTY = Buffer.alloc(0);
const DEL = Buffer.from('DEL');

/** Most keys of one `MSET` of journal `SET`s (as the full sync's, snapshot-writer.ts MSET_KEYS_DEFAULT). */
export const SET_RUN_MAX_KEYS = 512;
/** Key and value bytes after which a run of journal `SET`s is sent at once. */
export const SET_RUN_MAX_BYTES = 256 * 1024;
/** A journal `SET` whose key and value are longer than this is not held for an `MSET`. */
export const SET_RUN_MAX_PAIR_BYTES = 16 * 1024;

/** A Redis Cluster target met a key in a database other than 0 (the source was checked at start). */
function otherDbError(flowId: number, db: number, what: string): ClusterError {
  return new ClusterError(
    `flow ${flowId}: ${what} is in database ${db}, but a Redis Cluster has only database 0; ` +
      'restart with --dbs 0 to copy database 0 only',
  );
}

/** Upper-case command name for counters. */
export function commandName(arg: Buffer | undefined): string {
  if (arg === undefined) return '?';
  return arg.length <= MAX_INTERNED_NAME_BYTES ? commandToken(arg) : arg.toString('latin1', 0, Math.min(arg.length, 64)).toUpperCase();
}
