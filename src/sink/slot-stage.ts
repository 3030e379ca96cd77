/**
 * Strings of a full sync held per Redis Cluster slot, to be sent as one `MSET` per slot (issue 12).
 *
 * An `MSET` may only name keys of one slot (Redis src/cluster.c `getNodeByQuery`: CROSSSLOT), and
 * keys without a hash tag spread uniformly over the 16384 slots: consecutive keys of a snapshot
 * almost never share one, so without holding them every key would cost the target a `SET` of its
 * own. Each slot has a region of `regionBytes` (1 KiB: ~8 keys of 100 bytes) in one arena (16 MiB
 * for the 16384 slots); a slot's keys leave as one `MSET` when its region is full, and every held
 * key by {@link SlotStage.flush}.
 *
 * Keys of a snapshot are distinct, so the order in which different keys reach the target does not
 * matter; the caller sends the held keys before anything that may touch them (a journal record,
 * the end of the snapshot): {@link SlotStage.flush}.
 *
 * A region holds its keys and values RESP-encoded back to back, `$<klen>\r\n<key>\r\n$<vlen>\r\n
 * <value>\r\n` per key (the arguments as the `MSET` carries them), so a slot's command is one copy
 * of its region. No allocation per key.
 */
import { keySlotRange } from './key-slot.js';
import type { CommandSink } from './redis-connection.js';

/** Slots of a Redis Cluster (src/cluster.h `CLUSTER_SLOTS`). */
const CLUSTER_SLOTS = 16384;
const CR = 13;
const LF = 10;

/** Where held commands go: a cluster router's sink of the key's slot (`Router.connectionFor`). */
export interface SlotStageTarget {
  connectionFor(key: Buffer, db: number): CommandSink;
}

/** Counts of what one call sent. */
export interface SlotStageSent {
  /** Keys sent. */
  keys: number;
  /** Commands sent (`MSET`, or `SET` for a slot holding one key). */
  commands: number;
}

/**
 * Holds one-piece strings (database 0, no expiry) for a cluster target and sends them grouped by
 * slot: a slot's keys leave together when its region cannot take the next key of the slot or
 * holds `maxKeys`, and all of them on {@link flush}.
 */
export class SlotStage {
  readonly #target: SlotStageTarget;
  readonly #maxKeys: number;
  readonly #region: number;
  readonly #arena: Buffer;
  /** Per slot: bytes and keys held in its region. */
  readonly #used = new Int32Array(CLUSTER_SLOTS);
  readonly #keys = new Int32Array(CLUSTER_SLOTS);
  /** Slots that held keys since the last {@link flush}, each once (`#isListed`). */
  #slots: number[] = [];
  readonly #isListed = new Uint8Array(CLUSTER_SLOTS);
  #held = 0;
  readonly #sent: SlotStageSent = { keys: 0, commands: 0 };

  /**
   * @param maxKeys most keys of one command (≥ 1)
   * @param regionBytes bytes held per slot (the arena is 16384 × this); a key and value whose
   *   encoding exceeds it is refused by {@link add}
   */
  constructor(target: SlotStageTarget, maxKeys: number, regionBytes = 1024) {
    this.#target = target;
    this.#maxKeys = Math.max(1, maxKeys);
    this.#region = regionBytes;
    this.#arena = Buffer.allocUnsafeSlow(CLUSTER_SLOTS * regionBytes);
  }

  /** Keys held, not yet sent. */
  get heldKeys(): number {
    return this.#held;
  }

  /**
   * Holds the key `keyBuf[keyStart, keyEnd)` with the value `valueBuf[valueStart, valueEnd)` (both
   * copied); may first send the keys held for the same slot. Returns false, holding and sending
   * nothing, when the pair does not fit in a region: the caller writes it itself.
   * {@link sent} says what this call sent.
   */
  add(keyBuf: Buffer, keyStart: number, keyEnd: number, valueBuf: Buffer, valueStart: number, valueEnd: number): boolean {
    const sent = this.#sent;
    sent.keys = 0;
    sent.commands = 0;
    const klen = keyEnd - keyStart;
    const vlen = valueEnd - valueStart;
    const need = klen + vlen + 2 * (1 + 10 + 4);
    if (need > this.#region) return false;
    const slot = keySlotRange(keyBuf, keyStart, keyEnd);
    let used = this.#used[slot]!;
    if (used + need > this.#region) {
      this.#sendSlot(slot);
      used = 0;
    }
    if (this.#isListed[slot] === 0) {
      this.#isListed[slot] = 1;
      this.#slots.push(slot);
    }
    const base = slot * this.#region;
    let p = this.#bulk(base + used, keyBuf, keyStart, klen);
    p = this.#bulk(p, valueBuf, valueStart, vlen);
    this.#used[slot] = p - base;
    this.#held++;
    if (++this.#keys[slot]! >= this.#maxKeys) this.#sendSlot(slot);
    return true;
  }

  /** What the last {@link add} or {@link flush} sent (reset by the next call: read it at once). */
  get sent(): Readonly<SlotStageSent> {
    return this.#sent;
  }

  /** Sends every held key, one command per slot. */
  flush(): void {
    const sent = this.#sent;
    sent.keys = 0;
    sent.commands = 0;
    for (const slot of this.#slots) {
      if (this.#used[slot] !== 0) this.#sendSlot(slot);
      this.#isListed[slot] = 0;
    }
    this.#slots = [];
  }

  /** One `MSET` (or `SET`) of the slot's held keys, in the order they came. */
  #sendSlot(slot: number): void {
    const n = this.#keys[slot]!;
    const arena = this.#arena;
    const base = slot * this.#region;
    // The first key, for routing and for naming the command in an error: after `$<klen>\r\n`.
    const keyStart = arena.indexOf(LF, base) + 1;
    const firstKey = Buffer.from(arena.subarray(keyStart, keyStart + Number(arena.toString('latin1', base + 1, keyStart - 2))));
    const conn = this.#target.connectionFor(firstKey, 0);
    const name = n === 1 ? 'SET' : 'MSET';
    conn.begin(1 + 2 * n);
    conn.arg(name);
    conn.raw(arena.subarray(base, base + this.#used[slot]!));
    conn.end(name, firstKey);
    this.#used[slot] = 0;
    this.#keys[slot] = 0;
    this.#held -= n;
    this.#sent.keys += n;
    this.#sent.commands++;
  }

  /** Writes `$<n>\r\n<bytes>\r\n` of `buf[start, start + n)` at `p`; returns the offset after it. */
  #bulk(p: number, buf: Buffer, start: number, n: number): number {
    const out = this.#arena;
    out[p] = 36; // $
    const digits = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10_000 ? 4 : String(n).length;
    for (let q = p + digits, m = n; q > p; q--, m = Math.floor(m / 10)) out[q] = 48 + (m % 10);
    p += digits + 1;
    out[p++] = CR;
    out[p++] = LF;
    if (n <= 48) for (let i = start, end = start + n; i < end; i++) out[p++] = buf[i]!;
    else p += buf.copy(out, p, start, start + n);
    out[p++] = CR;
    out[p++] = LF;
    return p;
  }
}
