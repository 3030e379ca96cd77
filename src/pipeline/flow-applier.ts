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
import type { RedisConnection } from '../sink/redis-connection.js';
import type { Router } from '../sink/router.js';
import type { SnapshotWriter } from '../sink/snapshot-writer.js';
import type { JournalTranslator, Translation } from '../translate/journal-translator.js';

/** Where a flow is, as `/status` shows it. */
export type FlowApplyPhase = 'full-sync' | 'stable-sync' | 'stopped';

/** Send a `REPLCONF ACK` as soon as this many records were acknowledged since the last one (Dragonfly: > 1024). */
export const ACK_EVERY_RECORDS = 1024n;

/** A journal record held while the flow waits (barrier or read-back). */
interface QueuedRecord {
  entry: JournalEntry;
  lsn: bigint | undefined;
}

/** What a flow needs from the replicator around it. */
export interface FlowApplierContext {
  translator: JournalTranslator;
  /** Writer for snapshot pieces (user's `--on-existing` / `--unsupported` policies). */
  snapshotWriter: SnapshotWriter;
  /** Writer for objects carried by journal `RESTORE`s and read-backs: always replaces. */
  journalWriter: SnapshotWriter;
  router: Router;
  /** Sends `REPLCONF ACK <nextLsn>` on this flow. */
  sendAck(nextLsn: bigint): void;
  /** A FLUSHALL/FLUSHDB reached this flow: hold it until every flow reached txid `txid`. */
  arriveAtBarrier(flow: FlowApplier, txid: bigint, translation: Extract<Translation, { action: 'global' }>, db: number): void;
  /** Reads `key` in `db` back from the master and reports it as snapshot pieces (or `undefined` when missing). */
  readBack(key: Buffer, db: number): Promise<SnapshotEntry[] | undefined>;
  /** Counts a dropped or lossy command, by upper-case name (logged once per name by the owner). */
  countDropped(name: string, reason: string): void;
  countLossy(name: string): void;
  /** The flow cannot go on (an undecodable RESTORE payload, a failed read-back). */
  fail(err: Error): void;
  /** Pauses / resumes reading this flow's socket (briefly). */
  pauseSource(): void;
  resumeSource(): void;
}

/** Applies one flow. Created by the replicator, fed synchronously by the session callbacks. */
export class FlowApplier {
  readonly flowId: number;
  readonly #ctx: FlowApplierContext;
  readonly #conn: RedisConnection;
  phase: FlowApplyPhase = 'full-sync';
  /** LSN of the next record not yet received (counts COMMAND and PING, as the master does). */
  receivedLsn = 0n;
  /** LSN of the next record not yet acknowledged by the target: what REPLCONF ACK sends. */
  ackedLsn = 0n;
  #lastSentAck = 0n;
  #isPingAckWanted = false;
  #isMarkScheduled = false;
  #queue: QueuedRecord[] | undefined;

  constructor(flowId: number, conn: RedisConnection, ctx: FlowApplierContext) {
    this.flowId = flowId;
    this.#conn = conn;
    this.#ctx = ctx;
  }

  /** The flow's connection to the target (one ordered connection per flow). */
  get connection(): RedisConnection {
    return this.#conn;
  }

  /** True while records are held (barrier or read-back in progress). */
  get isBlocked(): boolean {
    return this.#queue !== undefined;
  }

  /** Snapshot piece: written at once on the flow's connection. */
  onSnapshotEntry(entry: SnapshotEntry): void {
    this.#ctx.snapshotWriter.write(entry);
    if (this.#conn.isBackpressured) this.#ctx.pauseSource();
  }

  /** The flow's journal starts at `journalOffset`: ACK it at once (the Dragonfly replica does). */
  onStable(journalOffset: bigint): void {
    this.phase = 'stable-sync';
    this.receivedLsn = journalOffset;
    this.ackedLsn = journalOffset;
    this.#lastSentAck = journalOffset;
    this.#ctx.sendAck(journalOffset);
  }

  /**
   * A journal record: a JOURNAL_BLOB of the full sync (`lsn` undefined, counts nothing) or a
   * stable-sync record with its LSN. Held in order while the flow is blocked.
   */
  onJournal(entry: JournalEntry, lsn: bigint | undefined): void {
    if (this.#queue !== undefined) {
      this.#queue.push({ entry, lsn });
      // Records pile up only while a barrier or read-back is pending (milliseconds); past this,
      // stop reading until it resolves rather than grow without bound.
      if (this.#queue.length === MAX_QUEUED_RECORDS) this.#ctx.pauseSource();
      return;
    }
    this.#apply(entry, lsn);
    if (this.#conn.isBackpressured) this.#ctx.pauseSource();
  }

  /** The barrier (or read-back) this flow waited on is done: count its record and replay the queue. */
  unblock(lsn: bigint | undefined): void {
    const queue = this.#queue;
    if (queue === undefined) return;
    this.#queue = undefined;
    this.#advance(lsn);
    const wasFull = queue.length >= MAX_QUEUED_RECORDS;
    for (let i = 0; i < queue.length; i++) {
      const r = queue[i]!;
      this.#apply(r.entry, r.lsn);
      if (this.#queue !== undefined) {
        // Blocked again: the rest waits, in order, behind the new blocking record.
        this.#queue = queue.slice(i + 1);
        break;
      }
    }
    if (wasFull) this.#ctx.resumeSource();
  }

  #apply(entry: JournalEntry, lsn: bigint | undefined): void {
    if (entry.op === 'ping') {
      this.#isPingAckWanted = true;
      this.#advance(lsn);
      return;
    }
    if (entry.op !== 'command') return;
    const t = this.#ctx.translator.translate(entry.args, entry.txid);
    switch (t.action) {
      case 'write': {
        const cmds = t.commands;
        for (let i = 0; i < cmds.length; i++) {
          const c = cmds[i]!;
          const conn = this.#ctx.router.connectionFor(c.key ?? EMPTY, entry.db);
          conn.send(c.args, c.key);
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
        this.#queue = [];
        this.#ctx.arriveAtBarrier(this, entry.txid, t, entry.db);
        return; // the LSN advances when the barrier resolves
      case 'repair':
        this.#queue = [];
        this.#readBack(t.keys, entry.db, lsn);
        return;
    }
    this.#advance(lsn);
  }

  /** Reads keys back from the master, writes them, then lets the flow go on. */
  #readBack(keys: Buffer[], db: number, lsn: bigint | undefined): void {
    const run = async (): Promise<void> => {
      for (const key of keys) {
        const entries = await this.#ctx.readBack(key, db);
        const conn = this.#ctx.router.connectionFor(key, db);
        if (entries === undefined || entries.length === 0) conn.send(['DEL', key], key);
        else for (const e of entries) this.#ctx.journalWriter.write(e);
      }
    };
    run().then(
      () => this.unblock(lsn),
      (err: unknown) => this.#ctx.fail(err as Error),
    );
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

  readonly #mark = (): void => {
    this.#isMarkScheduled = false;
    const lsn = this.receivedLsn;
    this.#conn.whenAcked(() => this.#onAcked(lsn));
  };

  #onAcked(lsn: bigint): void {
    // A refused command counts as a reply for the connection, but not as applied: once the run
    // failed (the replicator stops every flow synchronously on the error), nothing advances.
    if (lsn <= this.ackedLsn || this.phase === 'stopped') return;
    this.ackedLsn = lsn;
    if (this.#isPingAckWanted || lsn - this.#lastSentAck >= ACK_EVERY_RECORDS) {
      this.#isPingAckWanted = false;
      this.sendAckNow();
    }
  }

  /** Sends `REPLCONF ACK <ackedLsn>` now (periodic timer, PING, every 1024 records). */
  sendAckNow(): void {
    if (this.phase !== 'stable-sync') return;
    this.#lastSentAck = this.ackedLsn;
    this.#ctx.sendAck(this.ackedLsn);
  }
}

/** Held records per flow before its socket is paused (a barrier or read-back takes milliseconds). */
export const MAX_QUEUED_RECORDS = 100_000;

const EMPTY = Buffer.alloc(0);

/** Upper-case command name for counters. */
export function commandName(arg: Buffer | undefined): string {
  return arg === undefined ? '?' : arg.toString('latin1', 0, Math.min(arg.length, 64)).toUpperCase();
}
