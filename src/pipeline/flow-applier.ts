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
import { ClusterError, printableKey, TargetCommandError } from '../errors.js';
import type { Router } from '../sink/router.js';
import type { SnapshotWriter } from '../sink/snapshot-writer.js';
import { planForCluster } from '../translate/cluster-keys.js';
import type { JournalTranslator, TranslatedCommand, Translation } from '../translate/journal-translator.js';

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
  /** The flow's own target router (one ordered connection per node, DESIGN invariant 1). */
  router: Router;
  /** Copy only these databases (`--dbs`); undefined = all. */
  dbs: readonly number[] | undefined;
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
  #isPingAckWanted = false;
  #isMarkScheduled = false;
  #queue: QueuedRecord[] | undefined;

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
    if (this.phase === 'stopped') return; // stopping: what arrives now is not applied nor acknowledged
    if (this.#queue !== undefined) {
      this.#queue.push({ entry, lsn });
      // Records pile up only while a barrier or read-back is pending (milliseconds); past this,
      // stop reading until it resolves rather than grow without bound.
      if (this.#queue.length === MAX_QUEUED_RECORDS) this.#ctx.pauseSource();
      return;
    }
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
    for (let i = 0; i < queue.length; i++) {
      const r = queue[i]!;
      this.#apply(r.entry, r.lsn);
      if (this.#queue !== undefined) {
        // Blocked again: the rest waits, in order, behind the new blocking record.
        this.#queue = queue.slice(i + 1);
        break;
      }
    }
    if (this.#router.isBackpressured) this.#ctx.pauseSource();
    else this.#ctx.resumeSource();
  }

  #apply(entry: JournalEntry, lsn: bigint | undefined): void {
    if (entry.op === 'ping') {
      this.#isPingAckWanted = true;
      this.#advance(lsn);
      return;
    }
    if (entry.op !== 'command') return;
    const args = this.#acrossDbs(entry, lsn);
    if (args === undefined) return;
    const t = this.#ctx.translator.translate(args, entry.txid);
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
    if (!isFromCopied) {
      if ((isMove || dbOpt > 0) && isToCopied) {
        // The key arrives in a copied database from one we do not copy: read it back.
        this.#queue = [];
        this.#readBack([isMove ? args[1]! : args[2]!], toDb, lsn);
        return undefined;
      }
      this.skippedOtherDbs++;
      this.#advance(lsn);
      return undefined;
    }
    if (isToCopied) return args;
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
        router.sendToAll(c.args, db);
        return true;
      case 'split':
        for (const part of plan.commands) router.connectionFor(part.key ?? EMPTY, db).send(part.args, part.key);
        return true;
      case 'move':
        this.#queue = [];
        this.#moveAcrossSlots(plan.src, plan.dst, plan.nx).then(
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
  async #moveAcrossSlots(src: Buffer, dst: Buffer, nx: boolean): Promise<void> {
    const router = this.#router;
    const payload = await router.call(src, ['DUMP', src]);
    if (!Buffer.isBuffer(payload)) {
      // The master renamed a key the target does not hold (it expired here first): nothing to move.
      this.#ctx.countDropped(nx ? 'RENAMENX' : 'RENAME', 'source key missing on the target');
      return;
    }
    const pttl = Number(await router.call(src, ['PTTL', src]));
    const ttl = pttl > 0 ? pttl : 0;
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

  /** Reads keys back from the master, writes them, then lets the flow go on. */
  #readBack(keys: Buffer[], db: number, lsn: bigint | undefined): void {
    const run = async (): Promise<void> => {
      for (const key of keys) {
        const entries = await this.#ctx.readBack(key, db);
        if (entries === undefined || entries.length === 0) this.#router.connectionFor(key, db).send(['DEL', key], key);
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
    this.#router.whenAcked(() => this.#onAcked(lsn));
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
const DEL = Buffer.from('DEL');

/** A Redis Cluster target met a key in a database other than 0 (the source was checked at start). */
function otherDbError(flowId: number, db: number, what: string): ClusterError {
  return new ClusterError(
    `flow ${flowId}: ${what} is in database ${db}, but a Redis Cluster has only database 0; ` +
      'restart with --dbs 0 to copy database 0 only',
  );
}

/** Upper-case command name for counters. */
export function commandName(arg: Buffer | undefined): string {
  return arg === undefined ? '?' : arg.toString('latin1', 0, Math.min(arg.length, 64)).toUpperCase();
}
