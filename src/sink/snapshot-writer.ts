import { printableKey, UnsupportedTypesError, type TargetCommandError } from '../errors.js';
import type { SnapshotEntry } from '../entry/entry.js';
import {
  writeElements,
  writeHashFields,
  writeHashTtlPiece,
  writeStreamPiece,
  writeStringPiece,
  writeZsetPiece,
  type StreamTargetFeatures,
} from './command-rewriter.js';
import { hasHashTag, keySlotRange } from './key-slot.js';
import type { CommandSink } from './redis-connection.js';
import { copyRange, RespEncoder } from './resp-encoder.js';
import { SlotStage, type SlotStageSent } from './slot-stage.js';
import { CLUSTER_SLOTS, RUN_STOP, StringRunTranscoder } from './string-run.js';
import { restoreVersionFor, writeRestorePayload } from './restore-payload.js';
import type { Router } from './router.js';
import type { TargetInfo } from './target-info.js';
import { tempKeyFor } from './temp-key.js';

/** Options of {@link SnapshotWriter}. */
export interface SnapshotWriterOptions {
  /**
   * What to do with a key that already exists on the target. `replace` overwrites it; `skip` keeps
   * the target's value (counted in `skippedExisting`); `fail` stops with a TargetCommandError
   * naming the key (BUSYKEY). @default 'replace'
   */
  onExisting: 'replace' | 'skip' | 'fail';
  /** Keys the target cannot hold: `fail` throws UnsupportedTypesError, `skip` counts them. @default 'fail' */
  unsupported: 'fail' | 'skip';
  /** RESTORE is used only for values whose RDB encoding is at most this many bytes. @default 512 KiB */
  restoreMaxBytes: number;
  /** Clock for "already expired", Unix ms. @default Date.now */
  nowMs?: () => number;
  /**
   * Under `replace`, one-piece strings without expiry are batched into one `MSET` of up to this many
   * keys (same database; same slot on a cluster): the target's cheapest ingest path, the same value
   * and no TTL as `SET`. One-piece strings with an expiry are held in the same batch and sent as
   * `SET key value PXAT ms` right after its `MSET` (the batch's keys are distinct: one snapshot holds
   * a key once, and only multi-piece objects, never held, repeat a key). Keys are held back only
   * until the next other command of this writer, the end of the current task (a microtask) or
   * {@link SnapshotWriter.sendPending}; 0 (off) for a writer whose keys other code writes too
   * (journal RESTOREs). On a cluster, strings without expiry in database 0 are held per slot across
   * tasks instead, 1 KiB a slot (16 MiB in all, {@link SlotStage}), until the slot's region is full or
   * {@link SnapshotWriter.sendPending}: the caller must call it before anything else that may touch
   * those keys (a journal record) and at the end of the snapshot ({@link SnapshotWriter.flush} does).
   * @default 0
   */
  msetMaxKeys?: number;
  /**
   * Memory for the strings held per slot on a cluster target ({@link SlotStage}: 16384 regions of
   * `slotStageBytes / 16384` bytes; a key and value that do not fit a region go alone). The
   * replicator gives each flow's writer an equal share of {@link SLOT_STAGE_BYTES}.
   * @default SLOT_STAGE_BYTES (16 MiB)
   */
  slotStageBytes?: number;
}

/** Default {@link SnapshotWriterOptions.slotStageBytes}: 1 KiB a slot, ~8 keys of 100 bytes per MSET. */
export const SLOT_STAGE_BYTES = 16 * 1024 * 1024;

/** Defaults of {@link SnapshotWriterOptions}. */
export const SNAPSHOT_WRITER_DEFAULTS: SnapshotWriterOptions = {
  onExisting: 'replace',
  unsupported: 'fail',
  restoreMaxBytes: 512 * 1024,
  msetMaxKeys: 0,
};

/** A batch of MSET is sent once its key/value bytes reach this (bounds the command's size). */
const MSET_MAX_BYTES = 64 * 1024;
/** Strings longer than this are not batched: one big SET costs no more per byte than MSET. */
const MSET_MAX_VALUE_BYTES = 8 * 1024;
/**
 * Keys longer than this are not batched. Below LARGE_ARG_BYTES (resp-encoder.ts) the stage copies
 * every argument (a longer one would be referenced, and the decoder reuses its buffers).
 */
const MSET_MAX_KEY_BYTES = 1024;
/** `msetMaxKeys` to pass by default when every write of the keys goes through one writer. */
export const MSET_KEYS_DEFAULT = 512;

/** `*5\r\n$3\r\nSET\r\n`: the head of a staged `SET key value PXAT ms` (string-run.wat `$writeTtl`). */
const SET_5_HEADER = Buffer.from('*5\r\n$3\r\nSET\r\n', 'latin1');
/** Bytes of its `*5\r\n`. */
const SET_ARRAY_HEADER_BYTES = 4;
/**
 * Input bytes {@link SnapshotWriter.writeStringRun} copies into the kernel at once (≤ its input
 * area; larger than any record it takes: key ≤ MSET_MAX_KEY_BYTES, value ≤ MSET_MAX_VALUE_BYTES).
 */
const RUN_WINDOW_BYTES = 64 * 1024;
/** Slab of the MSET stage: holds at least one full batch. */
const STAGE_SLAB_BYTES = 4 * MSET_MAX_BYTES;

/** Counters of a {@link SnapshotWriter}. */
export interface SnapshotWriterStats {
  /** Objects written (last piece sent); minus those the target refused as existing under `skip`. */
  keys: number;
  /** Pieces written. */
  pieces: number;
  /** Commands sent (SELECT excluded). */
  commands: number;
  /** Objects already expired at write time, not written. */
  skippedExpired: number;
  /** Objects left alone because the key existed (`onExisting: 'skip'`), counted when the target replies. */
  skippedExisting: number;
  /** Objects of a type the target cannot hold, under `unsupported: 'skip'`. */
  skippedUnsupported: number;
  /** Functions libraries loaded. */
  functions: number;
}

/**
 * An object written with several data commands (several pieces, or one piece split into bounded
 * commands) and not yet known to be whole on the target: a stop or a failure can leave it half
 * written. `written` is where it is built (the key, or its temporary key under skip/fail).
 */
export interface UnsettledObject {
  db: number;
  key: Buffer;
  written: Buffer;
  /** Objects sent when its last piece was sent ({@link SnapshotWriter} count); -1 while pieces are missing. */
  doneAt: number;
}

/** What {@link SnapshotWriter.discardUnsettled} did with one {@link UnsettledObject}. */
export interface DiscardedObject {
  db: number;
  key: Buffer;
  written: Buffer;
  /** The `DEL` was acknowledged; otherwise `error` says why it failed. */
  isDeleted: boolean;
  error?: string;
}

/**
 * Atomically moves the object built under KEYS[1] (temporary key) to KEYS[2] unless KEYS[2] exists:
 * then the temporary key is dropped and the reply is a BUSYKEY error (the same error RESTORE
 * without REPLACE gives), which `skip` tolerates and `fail` reports with the key.
 */
const MOVE_IF_ABSENT_SCRIPT =
  "if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DEL', KEYS[1]) " +
  "return redis.error_reply('BUSYKEY Target key name already exists.') end " +
  "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[2]) end return 'OK'";

/**
 * Translates snapshot pieces into commands on a {@link Router} (DESIGN.md "Data path").
 *
 * Per object:
 * - RESTORE `key ttl payload ABSTTL [REPLACE]` when the object is one piece, its `rdbValue` is at
 *   most `restoreMaxBytes`, and the target's RDB version reads its encoding ({@link restoreVersionFor});
 *   except strings under `replace`, which `SET key value [PXAT ms]` writes more cheaply, batched
 *   when `msetMaxKeys` > 0: into `MSET`s, those with an expiry as `SET … PXAT` right after (see
 *   {@link sendPending}); on a cluster one `MSET` per slot of the keys held ({@link SlotStage});
 * - otherwise commands per piece ({@link writeStringPiece} etc.): the first piece replaces the key
 *   (`DEL`, or `SET` for strings), later pieces append, the last applies `PEXPIREAT` (absolute).
 * - `onExisting` skip/fail: RESTORE without REPLACE; rewritten objects are built under a temporary
 *   key in the same slot and moved into place by one script (MOVE_IF_ABSENT_SCRIPT), so an existing
 *   key is never touched, even by multi-piece objects, and no round trip is needed.
 * - objects already expired when their first piece arrives are skipped with all their pieces.
 *
 * Pieces of one object must arrive contiguously per key (as one decoder emits them); pieces of
 * different objects may interleave. Under `skip`, adds its own error policy to the router
 * ({@link Router.addErrorPolicy}: BUSYKEY of its guarded commands tolerated and counted); several
 * writers with different policies may share one router (replicate: the snapshot writer under the
 * user's `--on-existing`, and the always-replacing writer of journal RESTOREs and read-backs).
 */
export class SnapshotWriter {
  readonly #router: Router;
  readonly #info: TargetInfo;
  readonly #options: SnapshotWriterOptions;
  readonly #nowMs: () => number;
  readonly #isGuarded: boolean;
  readonly #stream: StreamTargetFeatures;
  /** Multi-piece objects being skipped (expired/unsupported), by `db:key`. */
  readonly #skipping = new Set<string>();
  /** JSON documents arriving in several pieces, accumulated (JSON.SET needs the whole text). */
  readonly #jsonParts = new Map<string, Buffer[]>();
  readonly #unsettled = new Map<string, UnsettledObject>();
  /** Objects whose last command was sent (written, or refused later as existing under skip). */
  #sentObjects = 0;
  /** {@link ackedKeys}: updated by one acknowledgement marker at a time. */
  #ackedKeys = 0;
  #isMarkPending = false;
  /** `#sentObjects` when the pending marker was placed. */
  #markAt = 0;
  /** The target failed: acknowledgements no longer mean "applied"; the counters stop. */
  #isFailed = false;
  /** {@link SnapshotWriterOptions.msetMaxKeys}; 0 under skip/fail (each key needs its own guard). */
  readonly #msetMaxKeys: number;
  readonly #isCluster: boolean;
  /** Key/value pairs of the next MSET, encoded as its arguments (created on first use). */
  #stage: RespEncoder | undefined;
  #stagedKeys = 0;
  #stagedDb = 0;
  /** Slot of every staged key on a cluster; -1 standalone. */
  #stagedSlot = -1;
  /** Copy of the first staged key: routes the MSET and names it in errors. */
  #stagedFirstKey: Buffer = Buffer.alloc(0);
  /**
   * Strings with an expiry held in the same batch (sent after its MSET): each a whole encoded
   * `SET key value PXAT ms` (by {@link #stageString} or the string-run kernel, byte for byte the
   * same), their lengths and copies of their keys (each names its own command in errors).
   */
  #ttlStage: RespEncoder | undefined;
  #ttlLengths: number[] = [];
  #ttlKeys: Buffer[] = [];
  /** Scratch of the string-run kernel's SET … PXAT index (StringRunTranscoder.ttlCommand). */
  readonly #ttlCommand = { length: 0, keyStart: 0, keyEnd: 0 };
  /** Copy of the first key of the MSET (the first staged key unless that one has an expiry). */
  #stagedMsetFirstKey: Buffer = Buffer.alloc(0);
  #isSendQueued = false;
  /** Strings held per slot for a cluster target (see {@link SlotStage}), created on first use. */
  #slotStage: SlotStage | undefined;
  /** The string-run kernel (see {@link writeStringRun}), created on first use; its memory holds this writer's input window. */
  #kernel: StringRunTranscoder | undefined;
  /** The input window of {@link writeStringRun} in the kernel's memory: `#winBuf[#winStart, #winEnd)`. */
  #winBuf: Buffer | undefined;
  #winStart = 0;
  #winEnd = 0;
  readonly #stats: SnapshotWriterStats = {
    keys: 0,
    pieces: 0,
    commands: 0,
    skippedExpired: 0,
    skippedExisting: 0,
    skippedUnsupported: 0,
    functions: 0,
  };

  constructor(router: Router, info: TargetInfo, options: SnapshotWriterOptions) {
    this.#router = router;
    this.#info = info;
    this.#options = { ...SNAPSHOT_WRITER_DEFAULTS, ...options };
    this.#nowMs = options.nowMs ?? Date.now;
    this.#isGuarded = this.#options.onExisting !== 'replace';
    this.#stream = { hasStreamV2: info.rdbVersion >= 10 };
    this.#msetMaxKeys = this.#isGuarded ? 0 : (this.#options.msetMaxKeys ?? 0);
    this.#isCluster = info.clusterEnabled;
    if (this.#options.onExisting === 'skip') {
      // This writer's own policy, next to those of other writers on the router: it claims only the
      // BUSYKEY replies of its guarded commands (RESTORE without REPLACE, MOVE_IF_ABSENT_SCRIPT),
      // which a writer under `replace` never sends. Under `fail` nothing is claimed: BUSYKEY stops
      // the run naming the key.
      router.addErrorPolicy((err: TargetCommandError): boolean => {
        if (!err.reply.startsWith('BUSYKEY') || (err.command !== 'RESTORE' && err.command !== 'EVAL')) return false;
        this.#stats.keys--;
        this.#stats.skippedExisting++;
        return true;
      });
    }
    // Emitted synchronously with the refused command's reply, before the acknowledgement markers
    // of that read fire: objects after it are never counted as written.
    router.on('error', () => {
      this.#isFailed = true;
    });
  }

  get stats(): Readonly<SnapshotWriterStats> {
    return this.#stats;
  }

  /**
   * Keys the target acknowledged (every command of the object replied to, without error), a lower
   * bound that lags {@link SnapshotWriterStats.keys} by at most one round trip; what progress shows
   * (DESIGN invariant 6). Stops moving once the target failed. Equals `stats.keys` after {@link flush}.
   */
  get ackedKeys(): number {
    return this.#ackedKeys;
  }

  /** Objects written with several commands and not known whole on the target (see {@link discardUnsettled}). */
  get unsettled(): UnsettledObject[] {
    return [...this.#unsettled.values()];
  }

  /**
   * After a stop or a failure: `DEL`s (in order after everything sent before it) every object that
   * may be half written on the target: its pieces were cut off, or it was not known applied when the
   * target failed. Under skip/fail only its temporary key is deleted, never the target's own key.
   * Never throws: a `DEL` that fails (lost connection, READONLY) is reported in the result.
   */
  async discardUnsettled(): Promise<DiscardedObject[]> {
    this.sendPending();
    const out: DiscardedObject[] = [];
    for (const o of this.#unsettled.values()) {
      const d: DiscardedObject = { db: o.db, key: o.key, written: o.written, isDeleted: false };
      try {
        this.#router.connectionFor(o.key, o.db); // selects its database (standalone)
        await this.#router.call(o.key, ['DEL', o.written]);
        d.isDeleted = true;
      } catch (err) {
        d.error = err instanceof Error ? err.message : String(err);
      }
      out.push(d);
    }
    this.#unsettled.clear();
    return out;
  }

  /** Keeps one acknowledgement marker in flight while objects are unacknowledged (no closure per object). */
  #requestMark(): void {
    this.#isMarkPending = true;
    this.#markAt = this.#sentObjects;
    this.#router.whenAcked(this.#onMark);
  }

  readonly #onMark = (): void => {
    this.#isMarkPending = false;
    if (this.#isFailed) return;
    const at = this.#markAt;
    // Objects refused as existing (skip) up to the marker were taken off stats.keys; those refused
    // in the same read after it too, so this can only undercount.
    const acked = at - this.#stats.skippedExisting;
    if (acked > this.#ackedKeys) this.#ackedKeys = acked;
    if (this.#unsettled.size > 0) {
      for (const [id, o] of this.#unsettled) if (o.doneAt !== -1 && o.doneAt <= at) this.#unsettled.delete(id);
    }
    if (this.#sentObjects > at) this.#requestMark();
  };

  /** `n` more objects fully sent. */
  #objectSent(n = 1): void {
    this.#stats.keys += n;
    this.#sentObjects += n;
    if (!this.#isMarkPending) this.#requestMark();
  }

  /**
   * Sends every key held for an MSET now, the cluster's per-slot ones included (see
   * {@link SnapshotWriterOptions.msetMaxKeys}). Call it before anything else writes to the router:
   * a journal record may touch a held key, and a `whenAcked` marker must come after them. One held
   * key goes as a plain `SET`.
   */
  sendPending(): void {
    this.#sendStaged();
    const slots = this.#slotStage;
    if (slots !== undefined && slots.heldKeys > 0) {
      slots.flush();
      this.#slotsSent(slots.sent);
    }
  }

  /**
   * {@link sendPending}, then lets go of the string-run kernel and the cluster's per-slot stage in
   * its memory (16 MiB by default): call it when the snapshot is over (a later snapshot makes them
   * again).
   */
  endSnapshot(): void {
    this.sendPending();
    this.#slotStage = undefined;
    this.#kernel = undefined;
    this.#winBuf = undefined;
  }

  /** Counts keys and commands a {@link SlotStage} sent. */
  #slotsSent(sent: SlotStageSent): void {
    if (sent.keys === 0) return;
    this.#stats.commands += sent.commands;
    this.#objectSent(sent.keys);
  }

  /**
   * A one-piece string without expiry for a cluster target (db 0, key and value within the MSET
   * bounds), held in its slot's next MSET ({@link SlotStage}); false (nothing done) when the pair
   * is too long for a slot's region.
   */
  #stageSlotString(keyBuf: Buffer, keyStart: number, keyEnd: number, valueBuf: Buffer, valueStart: number, valueEnd: number): boolean {
    const stage = this.#slotStageFor();
    if (!stage.add(keyBuf, keyStart, keyEnd, valueBuf, valueStart, valueEnd)) return false;
    this.#stats.pieces++;
    this.#slotsSent(stage.sent);
    return true;
  }

  /** The cluster's per-slot stage, created on first use (in the string-run kernel's memory). */
  #slotStageFor(): SlotStage {
    const region = Math.floor((this.#options.slotStageBytes ?? SLOT_STAGE_BYTES) / CLUSTER_SLOTS);
    return (this.#slotStage ??= new SlotStage(this.#router, (this.#kernel ??= new StringRunTranscoder()), this.#msetMaxKeys, region));
  }

  /**
   * {@link writeStringRun} on a cluster: the kernel holds each record in its slot's region
   * ({@link SlotStage}); a full region is sent and the run goes on.
   */
  #writeSlotRun(db: number, buf: Buffer, start: number, end: number, maxValue: number): number {
    if (db !== 0) return 0;
    const stage = this.#slotStageFor();
    const k = this.#kernel!;
    let pos = start;
    while (this.#loadWindow(k, buf, pos, end)) {
      const winStart = this.#winStart;
      const winEnd = this.#winEnd;
      const records = k.slots(pos - winStart, winEnd - winStart, stage.region, stage.maxKeys, MSET_MAX_KEY_BYTES, maxValue);
      this.#stats.pieces += records;
      pos += k.consumed;
      const reason = k.reason;
      if (reason === RUN_STOP.FULL) {
        stage.sendSlot(k.fullSlot);
        this.#slotsSent(stage.sent);
        continue;
      }
      if (this.#isWindowCut(reason, pos, end)) continue;
      break;
    }
    return pos - start;
  }

  /**
   * Makes the kernel's input window hold `buf[pos…]` (see {@link writeStringRun}): kept when it
   * already does (same Buffer, `pos` inside), else loaded from `pos` (up to RUN_WINDOW_BYTES, not
   * past `end`). False when `pos` ≥ `end` and the window does not hold it.
   */
  #loadWindow(k: StringRunTranscoder, buf: Buffer, pos: number, end: number): boolean {
    if (buf === this.#winBuf && pos >= this.#winStart && pos < this.#winEnd) return true;
    if (pos >= end) return false;
    this.#winBuf = buf;
    this.#winStart = pos;
    this.#winEnd = Math.min(end, pos + RUN_WINDOW_BYTES);
    k.load(buf, pos, this.#winEnd);
    return true;
  }

  /**
   * The kernel stopped at the end of its window inside a record (`reason` INPUT at `pos`) while
   * `buf` has more input before `end`: the window is cut at `pos`, so the next load starts there.
   */
  #isWindowCut(reason: number, pos: number, end: number): boolean {
    if (reason !== RUN_STOP.INPUT || this.#winEnd >= end || pos <= this.#winStart) return false;
    this.#winEnd = pos;
    return true;
  }

  /** Sends the keys of the one staged batch (MSET and SET … PXAT; not the slot stage's). */
  #sendStaged(): void {
    const total = this.#stagedKeys;
    if (total === 0) return;
    this.#stagedKeys = 0;
    const ttlKeys = this.#ttlKeys;
    const t = ttlKeys.length;
    const n = total - t;
    const conn = this.#router.connectionFor(this.#stagedFirstKey, this.#stagedDb);
    if (n > 0) {
      const name = n === 1 ? 'SET' : 'MSET';
      conn.begin(1 + 2 * n);
      conn.arg(name);
      copyParts(conn, this.#stage!.take());
      this.#stage!.recycle();
      // An error reply of the MSET names its first key (under `replace` any error stops the run).
      conn.end(name, this.#stagedMsetFirstKey);
      this.#stats.commands++;
    }
    if (t > 0) {
      const parts = this.#ttlStage!.take();
      // Usually one segment; two when the stage's slab filled in between (RespEncoder segments).
      const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      const lengths = this.#ttlLengths;
      for (let i = 0, off = 0; i < t; i++) {
        const end = off + lengths[i]!;
        // `*5\r\n` again from begin(), then the rest of the staged command as is.
        conn.begin(5);
        conn.raw(buf.subarray(off + SET_ARRAY_HEADER_BYTES, end));
        conn.end('SET', ttlKeys[i]);
        off = end;
      }
      this.#ttlStage!.recycle();
      this.#ttlKeys = [];
      this.#ttlLengths = [];
      this.#stats.commands += t;
    }
    this.#objectSent(total);
  }

  /** The held keys leave at the end of the task that staged them, at the latest. */
  readonly #onSendQueued = (): void => {
    this.#isSendQueued = false;
    this.#sendStaged();
  };

  /**
   * The decoder's string fast path (`RdbHandler.onString`): {@link write} of a one-piece string
   * whose key is `buf[keyStart, keyEnd)` and value `buf[valueStart, valueEnd)` (copied before this
   * returns), when it would join an `MSET` batch: standalone target, `--on-existing replace`,
   * short key and value. An expired string is counted as skipped.
   * @returns false when the string must go through {@link write} as an entry instead (nothing done).
   */
  writeString(db: number, buf: Buffer, keyStart: number, keyEnd: number, valueStart: number, valueEnd: number, expireAtMs: number): boolean {
    if (!this.#fitsMset(keyEnd - keyStart, valueEnd - valueStart)) return false;
    if (this.#isCluster) {
      // Held per slot; an expiry (SET … PXAT, or skipped when past) and db ≠ 0 (refused) go as entries.
      if (db !== 0 || expireAtMs !== -1) return false;
      return this.#stageSlotString(buf, keyStart, keyEnd, buf, valueStart, valueEnd);
    }
    if (this.#isExpired(expireAtMs)) {
      this.#stats.skippedExpired++;
      return true;
    }
    this.#stageString(db, buf, keyStart, keyEnd, buf, valueStart, valueEnd, expireAtMs);
    return true;
  }

  /** A one-piece string of these sizes may join an `MSET` batch (a cluster adds its own condition). */
  #fitsMset(keyBytes: number, valueBytes: number): boolean {
    return this.#msetMaxKeys > 0 && valueBytes <= MSET_MAX_VALUE_BYTES && keyBytes <= MSET_MAX_KEY_BYTES;
  }

  /** `expireAtMs` (Unix ms, -1 = none) is already past: the object is not written. */
  #isExpired(expireAtMs: number): boolean {
    return expireAtMs !== -1 && expireAtMs <= this.#nowMs();
  }

  /**
   * The decoder's string-run fast path (`RdbHandler.onStringRun`): {@link writeString} of each record
   * of a run of plain string records starting at `buf[start]` (an RDB_TYPE_STRING byte, or an
   * RDB_OPCODE_EXPIRETIME_MS with its string) and ending before `end`, transcoded by a WebAssembly
   * kernel ({@link StringRunTranscoder}) in one call per run into the next `MSET`s' arguments, and
   * a string with a future expiry into its whole `SET … PXAT` (a past one is counted as skipped):
   * same commands, same order, same batch boundaries as one {@link writeString} per record. Stops
   * (and leaves to the caller) at the first record that is not a string whose key and value each
   * have a 6/14-bit length, or are int-encoded or LZF-compressed with 6/14-bit lengths (their text
   * or decompressed bytes are sent): another type, another opcode, an expiry outside [0, 2^53) ms,
   * corrupt LZF data (the decoder names the error); or whose value exceeds `maxValueBytes` or the
   * batched sizes, or that is not wholly before `end`.
   * The kernel keeps a copy of a window of `buf` across calls: the bytes of a Buffer handed again
   * must not have changed (true of the decoder's buffers: RdbReader never rewrites bytes it holds,
   * and `RdbDecoder.push` forbids modifying a pushed chunk).
   * On a cluster the kernel holds each record in its slot's region instead ({@link SlotStage}), the
   * same as {@link writeString} of each record (database 0 only; an expiry stops the run).
   * @returns the bytes consumed from `start` (whole records; 0 when the writer does not batch).
   */
  writeStringRun(db: number, buf: Buffer, start: number, end: number, maxValueBytes: number): number {
    if (this.#msetMaxKeys === 0) return 0;
    const maxValue = Math.min(maxValueBytes, MSET_MAX_VALUE_BYTES);
    if (this.#isCluster) return this.#writeSlotRun(db, buf, start, end, maxValue);
    const k = (this.#kernel ??= new StringRunTranscoder());
    let pos = start;
    // The kernel reads a window of `buf` copied into its memory, kept across calls: the decoder
    // hands the same buffer again (its bytes never change: RdbReader) while runs alternate with
    // other records (other types, long values), so most calls copy nothing.
    while (this.#loadWindow(k, buf, pos, end)) {
      const winStart = this.#winStart;
      const winEnd = this.#winEnd;
      if (this.#stagedKeys > 0 && db !== this.#stagedDb) this.#sendStaged();
      const staged = (this.#stage?.pendingBytes ?? 0) + (this.#ttlStage?.pendingBytes ?? 0);
      const records = k.run(pos - winStart, winEnd - winStart, this.#msetMaxKeys - this.#stagedKeys, MSET_MAX_BYTES - staged, MSET_MAX_KEY_BYTES, maxValue, this.#nowMs());
      this.#stats.skippedExpired += k.expired;
      if (records > 0) {
        const isFirst = this.#stagedKeys === 0;
        const ttl = k.ttlCount;
        let firstKey: Buffer | undefined;
        if (k.firstKeyAt >= 0 && (isFirst || this.#stagedKeys === this.#ttlKeys.length)) {
          // The run's first MSET key, from the kernel's output (an encoded key is not in the input).
          firstKey = this.#stagedMsetFirstKey = copyRange(k.output(), k.firstKeyAt, k.firstKeyAt + k.firstKeyLength);
        }
        if (ttl > 0) {
          const out = k.ttlOutput();
          const cmd = this.#ttlCommand;
          for (let i = 0; i < ttl; i++) {
            k.ttlCommand(i, cmd);
            this.#ttlLengths.push(cmd.length);
            this.#ttlKeys.push(copyRange(out, cmd.keyStart, cmd.keyEnd));
          }
          (this.#ttlStage ??= new RespEncoder(STAGE_SLAB_BYTES)).rawCopy(out);
        }
        if (isFirst) {
          this.#stagedDb = db;
          this.#stagedSlot = -1;
          this.#stagedFirstKey = firstKey ?? this.#ttlKeys[0]!;
          if (!this.#isSendQueued) {
            this.#isSendQueued = true;
            queueMicrotask(this.#onSendQueued);
          }
        }
        if (k.outputLength > 0) (this.#stage ??= new RespEncoder(STAGE_SLAB_BYTES)).rawCopy(k.output());
        this.#stats.pieces += records;
        this.#stagedKeys += records;
        if (this.#stagedKeys >= this.#msetMaxKeys || staged + k.outputLength + k.ttlLength >= MSET_MAX_BYTES) this.#sendStaged();
      }
      pos += k.consumed;
      const reason = k.reason;
      if ((reason === RUN_STOP.KEYS || reason === RUN_STOP.BYTES) && records > 0) continue;
      if (this.#isWindowCut(reason, pos, end)) continue;
      break;
    }
    return pos - start;
  }

  /**
   * Holds one string for the next batch (its key `keyBuf[keyStart, keyEnd)` and value
   * `valueBuf[valueStart, valueEnd)` are copied, encoded): for its MSET, or with an expiry
   * (`expireAtMs` ≠ -1) for a `SET … PXAT` after it.
   */
  #stageString(
    db: number,
    keyBuf: Buffer,
    keyStart: number,
    keyEnd: number,
    valueBuf: Buffer,
    valueStart: number,
    valueEnd: number,
    expireAtMs: number,
  ): void {
    const slot = this.#isCluster ? keySlotRange(keyBuf, keyStart, keyEnd) : -1;
    if (this.#stagedKeys > 0 && (db !== this.#stagedDb || slot !== this.#stagedSlot)) this.#sendStaged();
    const isFirst = this.#stagedKeys === 0;
    if (isFirst) {
      this.#stagedDb = db;
      this.#stagedSlot = slot;
      this.#stagedFirstKey = copyRange(keyBuf, keyStart, keyEnd);
      if (!this.#isSendQueued) {
        this.#isSendQueued = true;
        queueMicrotask(this.#onSendQueued);
      }
    }
    if (expireAtMs === -1) {
      const stage = (this.#stage ??= new RespEncoder(STAGE_SLAB_BYTES));
      if (this.#stagedKeys === this.#ttlKeys.length) {
        this.#stagedMsetFirstKey = isFirst ? this.#stagedFirstKey : copyRange(keyBuf, keyStart, keyEnd);
      }
      stage.argRange(keyBuf, keyStart, keyEnd);
      stage.argRange(valueBuf, valueStart, valueEnd);
    } else {
      const stage = (this.#ttlStage ??= new RespEncoder(STAGE_SLAB_BYTES));
      const before = stage.pendingBytes;
      stage.rawCopy(SET_5_HEADER);
      stage.argRange(keyBuf, keyStart, keyEnd);
      stage.argRange(valueBuf, valueStart, valueEnd);
      stage.arg('PXAT');
      stage.arg(expireAtMs);
      this.#ttlLengths.push(stage.pendingBytes - before);
      this.#ttlKeys.push(isFirst ? this.#stagedFirstKey : copyRange(keyBuf, keyStart, keyEnd));
    }
    const bytes = (this.#stage?.pendingBytes ?? 0) + (this.#ttlStage?.pendingBytes ?? 0);
    this.#stats.pieces++;
    if (++this.#stagedKeys >= this.#msetMaxKeys || bytes >= MSET_MAX_BYTES) this.#sendStaged();
  }

  /**
   * Whether `rdbValue` of a one-piece string is ever used (RESTORE under skip/fail); under `replace`
   * strings go as SET / MSET, so the decoder need not capture it (`captureStrings`).
   */
  get isStringPayloadUsed(): boolean {
    return this.#isGuarded;
  }

  /** True while any target connection is above its in-flight bound: stop calling {@link write}. */
  get isBackpressured(): boolean {
    return this.#router.isBackpressured;
  }

  /** Calls `cb` once writing may continue (synchronously if not backpressured). */
  onceDrained(cb: () => void): void {
    this.#router.onceDrained(cb);
  }

  /** Resolves once the target acknowledged every command; rejects with the first fatal error. */
  flush(): Promise<void> {
    this.sendPending();
    return this.#router.flush();
  }

  /**
   * Why the target cannot hold `entry`'s value, or undefined if it can. Depends on the kind and on
   * the target (modules, commands, version), not on the value, except for Redis module values,
   * which can only be passed through by RESTORE (single piece with `rdbValue`).
   */
  unsupportedReason(entry: SnapshotEntry): string | undefined {
    switch (entry.valueKind) {
      case 'string':
      case 'list':
      case 'set':
      case 'zset':
      case 'hash':
      case 'stream':
        return undefined;
      case 'json':
        return this.#info.hasCommand('json.set') ? undefined : 'ReJSON-RL needs RedisJSON (JSON.SET) on the target';
      case 'hash-ttl':
        return this.#info.hasCommand('hpexpireat') ? undefined : 'hash field TTLs need Redis ≥ 7.4 (HPEXPIREAT)';
      case 'set-ttl':
        return 'set member TTLs (Dragonfly SADDEX) have no Redis equivalent';
      case 'sbf':
      case 'cms':
      case 'topk':
      case 'cuckoo':
        return `Dragonfly ${entry.valueKind} has no Redis counterpart that can load it (RedisBloom cannot read Dragonfly's encoding)`;
      case 'module':
        return entry.rdbValue !== undefined ? undefined : 'Redis module value too large for RESTORE passthrough';
    }
  }

  /**
   * Translates one piece into commands and sends them (never awaits; check {@link isBackpressured}).
   * @throws UnsupportedTypesError when the type is unsupported and the policy is `fail` (callers
   *   pre-scan so this does not happen mid-stream).
   */
  write(entry: SnapshotEntry): void {
    if (entry.isFirst) {
      const reason = this.unsupportedReason(entry);
      if (reason !== undefined) {
        if (this.#options.unsupported === 'fail') {
          throw new UnsupportedTypesError(
            [{ db: entry.db, key: entry.key, type: `${entry.valueKind}: ${reason}` }],
            1,
            'use --unsupported skip to migrate everything else',
          );
        }
        this.#stats.skippedUnsupported++;
        if (!entry.isLast) this.#skipping.add(objectId(entry));
        return;
      }
      if (this.#isExpired(entry.expireAtMs)) {
        this.#stats.skippedExpired++;
        if (!entry.isLast) this.#skipping.add(objectId(entry));
        return;
      }
    } else if (this.#skipping.size > 0 && this.#skipping.has(objectId(entry))) {
      if (entry.isLast) this.#skipping.delete(objectId(entry));
      return;
    }

    if (
      entry.valueKind === 'string' &&
      entry.isFirst &&
      entry.isLast &&
      this.#fitsMset(entry.key.length, entry.value.length) &&
      // Cluster: db 0 only (else connectionFor throws, here rather than in sendPending).
      (!this.#isCluster || entry.db === 0)
    ) {
      if (this.#isCluster && entry.expireAtMs === -1) {
        if (!this.#stageSlotString(entry.key, 0, entry.key.length, entry.value, 0, entry.value.length)) this.#writeObject(entry);
        return;
      }
      // With an expiry on a cluster: only a hash-tagged key can share the next key's slot.
      if (this.#isCluster && !hasHashTag(entry.key)) return this.#writeObject(entry);
      this.#stageString(entry.db, entry.key, 0, entry.key.length, entry.value, 0, entry.value.length, entry.expireAtMs);
      return;
    }
    this.#writeObject(entry);
  }

  /** {@link write} of a piece not held for a batch: RESTORE, or commands per piece. */
  #writeObject(entry: SnapshotEntry): void {
    if (this.#stagedKeys > 0) this.#sendStaged();
    const key = entry.key;
    const conn = this.#router.connectionFor(key, entry.db);
    this.#stats.pieces++;
    const rdbValue = entry.rdbValue;
    // Strings: SET is the same value for less work under `replace` (measured with bench/sink.ts on
    // 1 M × 100-byte strings: RESTORE costs redis-server ~20 % more CPU than SET, plus a CRC64 here).
    // Under skip/fail, RESTORE without REPLACE is one command instead of SET + EVAL on a temp key.
    const isRestoreWorthIt = entry.valueKind !== 'string' || this.#isGuarded;
    if (
      isRestoreWorthIt &&
      entry.isFirst &&
      entry.isLast &&
      rdbValue !== undefined &&
      (rdbValue.length <= this.#options.restoreMaxBytes || entry.valueKind === 'module')
    ) {
      const version = restoreVersionFor(entry.rdbType, this.#info.rdbVersion);
      if (version !== undefined) {
        this.#restore(conn, entry, rdbValue, version);
        return;
      }
    }
    this.#rewrite(conn, entry);
  }

  /** `FUNCTION LOAD REPLACE code` on the target (on every master of a cluster). */
  writeFunction(code: Buffer): void {
    this.sendPending();
    this.#router.sendToAll(['FUNCTION', 'LOAD', 'REPLACE', code]);
    this.#stats.commands++;
    this.#stats.functions++;
  }

  #restore(conn: CommandSink, entry: SnapshotEntry, rdbValue: Buffer, version: number): void {
    const isReplace = !this.#isGuarded;
    conn.begin(isReplace ? 6 : 5);
    conn.arg('RESTORE');
    conn.arg(entry.key);
    conn.arg(entry.expireAtMs === -1 ? 0 : entry.expireAtMs);
    writeRestorePayload(conn, entry.rdbType, rdbValue, version);
    conn.arg('ABSTTL');
    if (isReplace) conn.arg('REPLACE');
    conn.end('RESTORE', entry.key);
    this.#stats.commands++;
    this.#objectSent();
  }

  #rewrite(conn: CommandSink, entry: SnapshotEntry): void {
    const key = entry.key;
    const wkey = this.#isGuarded ? tempKeyFor(key) : key;
    let commands = 0;
    const isOnePiece = entry.isFirst && entry.isLast;
    // Strings replace with SET; everything else starts from an empty key.
    if (entry.isFirst && entry.valueKind !== 'string') {
      conn.send(['DEL', wkey], key);
      commands++;
    }
    const commandsBeforeData = commands;
    let isExpirySet = false;
    switch (entry.valueKind) {
      case 'string': {
        const pxat = isOnePiece ? entry.expireAtMs : -1;
        commands += writeStringPiece(conn, wkey, key, entry, pxat);
        isExpirySet = pxat !== -1;
        break;
      }
      case 'list':
        commands += writeElements(conn, 'RPUSH', wkey, key, entry.value);
        break;
      case 'set':
        commands += writeElements(conn, 'SADD', wkey, key, entry.value);
        break;
      case 'zset':
        commands += writeZsetPiece(conn, wkey, key, entry.value);
        break;
      case 'hash':
        commands += writeHashFields(conn, wkey, key, entry.value);
        break;
      case 'hash-ttl':
        commands += writeHashTtlPiece(conn, wkey, key, entry.value, this.#nowMs());
        break;
      case 'stream':
        commands += writeStreamPiece(conn, wkey, key, entry.value, this.#stream);
        break;
      case 'json': {
        let text = entry.value;
        if (!isOnePiece) {
          const id = objectId(entry);
          const parts = this.#jsonParts.get(id) ?? [];
          parts.push(entry.value);
          if (!entry.isLast) {
            this.#jsonParts.set(id, parts);
            break;
          }
          this.#jsonParts.delete(id);
          text = Buffer.concat(parts);
        }
        conn.send(['JSON.SET', wkey, '$', text], key);
        commands++;
        break;
      }
      case 'set-ttl':
      case 'sbf':
      case 'cms':
      case 'topk':
      case 'cuckoo':
      case 'module':
        // unsupportedReason() rejects these unless passed through by RESTORE above.
        throw new UnsupportedTypesError([{ db: entry.db, key, type: entry.valueKind }], 1, 'no command rewrite exists for this type');
    }
    if (!isOnePiece || commands - commandsBeforeData > 1) this.#trackUnsettled(entry, wkey);
    if (entry.isLast) {
      if (entry.expireAtMs !== -1 && !isExpirySet) {
        conn.send(['PEXPIREAT', wkey, entry.expireAtMs], key);
        commands++;
      }
      if (this.#isGuarded) {
        conn.send(['EVAL', MOVE_IF_ABSENT_SCRIPT, 2, wkey, key], key);
        commands++;
      }
      this.#objectSent();
      const u = this.#unsettled.size > 0 ? this.#unsettled.get(objectId(entry)) : undefined;
      if (u !== undefined) u.doneAt = this.#sentObjects;
    }
    this.#stats.commands += commands;
  }

  /** Big objects only (several data commands): remembered until acknowledged whole. */
  #trackUnsettled(entry: SnapshotEntry, wkey: Buffer): void {
    const id = objectId(entry);
    if (this.#unsettled.has(id)) return;
    // Copied: the decoder's key may be a view into a buffer it reuses.
    const key = Buffer.from(entry.key);
    this.#unsettled.set(id, { db: entry.db, key, written: wkey === entry.key ? key : Buffer.from(wkey), doneAt: -1 });
  }
}

/** Below LARGE_ARG_BYTES (resp-encoder.ts): `raw` copies rather than references. */
const COPY_PIECE_BYTES = 32 * 1024;

/**
 * Copies staged bytes into the command being built on `conn` (in pieces the encoder copies rather
 * than references), so the stage's slabs can be reused at once.
 */
function copyParts(conn: CommandSink, parts: readonly Buffer[]): void {
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    for (let off = 0; off < p.length; off += COPY_PIECE_BYTES) conn.raw(off === 0 && p.length <= COPY_PIECE_BYTES ? p : p.subarray(off, off + COPY_PIECE_BYTES));
  }
}

/** Identity of an object across its pieces. */
function objectId(entry: SnapshotEntry): string {
  return `${entry.db}:${entry.key.toString('latin1')}`;
}

/**
 * The sentence appended to a failure or stop message after {@link SnapshotWriter.discardUnsettled}:
 * how many keys the target acknowledged (`ackedKeys`, named `noun`), and each half-written key,
 * deleted or to delete by hand. An object built under a temporary key (`--on-existing skip|fail`)
 * never touched the target's own key, and the message says so.
 */
export function describeDiscarded(discarded: readonly DiscardedObject[], ackedKeys: number, noun = 'key(s)'): string {
  const parts = [`${ackedKeys} ${noun} were written and acknowledged`];
  for (const d of discarded) {
    const name = `key ${JSON.stringify(printableKey(d.key))} (db ${d.db})`;
    if (!d.isDeleted) {
      parts.push(
        `${name} was partly written as ${JSON.stringify(printableKey(d.written))} and could NOT be deleted from the target ` +
          `(${d.error ?? 'unknown error'}): delete it by hand`,
      );
    } else if (d.written.equals(d.key)) {
      parts.push(`${name} was partly written and has been deleted from the target`);
    } else {
      parts.push(`${name} was partly built under a temporary key, which has been deleted (the target's key was not touched)`);
    }
  }
  return `; ${parts.join('; ')}`;
}
