/**
 * Strings of a full sync held per Redis Cluster slot, to be sent as one `MSET` per slot (issue 12).
 *
 * An `MSET` may only name keys of one slot (Redis src/cluster.c `getNodeByQuery`: CROSSSLOT), and
 * keys without a hash tag spread uniformly over the 16384 slots: consecutive keys of a snapshot
 * almost never share one, so without holding them every key would cost the target a `SET` of its
 * own. Each slot has a region of `region` bytes (1 KiB by default: ~8 keys of 100 bytes; 16 MiB for
 * the 16384 slots); a slot's keys leave as one `MSET` when its region cannot take the next key of
 * the slot, and every held key by {@link SlotStage.flush}.
 *
 * Keys of a snapshot are distinct, so the order in which different keys reach the target does not
 * matter; the caller sends the held keys before anything that may touch them (a journal record,
 * the end of the snapshot): {@link SlotStage.flush}.
 *
 * The regions and their counters live in the string-run kernel's memory ({@link SlotRegions}): its
 * `slots` entry fills them from runs of plain string records (no JS per key), {@link SlotStage.add}
 * from one key at a time. A region holds its keys and values RESP-encoded back to back,
 * `$<klen>\r\n<key>\r\n$<vlen>\r\n<value>\r\n` per key (the arguments as the `MSET` carries them),
 * so a slot's command is one copy of its region.
 */
import { keySlotRange } from './key-slot.js';
import type { Router } from './router.js';
import { copyRange } from './resp-encoder.js';
import { MAX_SLOT_REGION_BYTES, type SlotRegions, type StringRunTranscoder } from './string-run.js';

const CR = 13;
const LF = 10;

/** Where held commands go: a cluster router's sink of their slot (`Router.connectionForSlot`). */
export type SlotStageTarget = Pick<Router, 'connectionForSlot'>;

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
  /** Most keys of one command. */
  readonly maxKeys: number;
  /** Bytes held per slot. */
  readonly region: number;
  readonly #r: SlotRegions;
  readonly #sent: SlotStageSent = { keys: 0, commands: 0 };

  /**
   * @param kernel whose memory holds the regions (its `slots` entry fills them too)
   * @param maxKeys most keys of one command (≥ 1)
   * @param regionBytes bytes held per slot, at most MAX_SLOT_REGION_BYTES (1 KiB); a key and value
   *   whose encoding exceeds it are refused by {@link add}
   */
  constructor(target: SlotStageTarget, kernel: StringRunTranscoder, maxKeys: number, regionBytes: number) {
    this.#target = target;
    this.#r = kernel.slotRegions;
    this.maxKeys = Math.max(1, maxKeys);
    this.region = Math.min(MAX_SLOT_REGION_BYTES, regionBytes);
  }

  /** Keys held, not yet sent. */
  get heldKeys(): number {
    return this.#r.counts[1]!;
  }

  /** What the last {@link add}, {@link sendSlot} or {@link flush} sent (reset by the next call: read it at once). */
  get sent(): Readonly<SlotStageSent> {
    return this.#sent;
  }

  /**
   * Holds the key `keyBuf[keyStart, keyEnd)` with the value `valueBuf[valueStart, valueEnd)` (both
   * copied); may first send the keys held for the same slot (see {@link sent}). Returns false,
   * holding and sending nothing, when the pair does not fit in a region: the caller writes it.
   * Same rules as the kernel's `slots` (string-run.wat).
   */
  add(keyBuf: Buffer, keyStart: number, keyEnd: number, valueBuf: Buffer, valueStart: number, valueEnd: number): boolean {
    this.#reset();
    const klen = keyEnd - keyStart;
    const vlen = valueEnd - valueStart;
    const need = klen + vlen + 20; // both bulk strings: lengths + 2 × (1 + 5 digits + 4)
    if (need > this.region) return false;
    const r = this.#r;
    const slot = keySlotRange(keyBuf, keyStart, keyEnd);
    if (r.bytes[slot]! + need > this.region || r.keys[slot]! >= this.maxKeys) this.#send(slot);
    if (r.listed[slot] === 0) {
      r.listed[slot] = 1;
      r.list[r.counts[0]!++] = slot;
    }
    const base = r.regionsOffset + slot * this.region;
    let p = this.#bulk(base + r.bytes[slot]!, keyBuf, keyStart, klen);
    p = this.#bulk(p, valueBuf, valueStart, vlen);
    r.bytes[slot] = p - base;
    r.keys[slot]!++;
    r.counts[1]!++;
    return true;
  }

  /** Sends the keys held for `slot` (the kernel stopped because its region is full). */
  sendSlot(slot: number): void {
    this.#reset();
    this.#send(slot);
  }

  /** Sends every held key, one command per slot, and clears the list of slots. */
  flush(): void {
    this.#reset();
    const r = this.#r;
    const n = r.counts[0]!;
    for (let i = 0; i < n; i++) {
      const slot = r.list[i]!;
      if (r.keys[slot] !== 0) this.#send(slot);
      r.listed[slot] = 0;
    }
    r.counts[0] = 0;
  }

  #reset(): void {
    this.#sent.keys = 0;
    this.#sent.commands = 0;
  }

  /** One `MSET` (or `SET`) of the slot's held keys, in the order they came. */
  #send(slot: number): void {
    const r = this.#r;
    const n = r.keys[slot]!;
    if (n === 0) return;
    const mem = r.memory;
    const base = r.regionsOffset + slot * this.region;
    // The first key, for routing and for naming the command in an error: `$<klen>\r\n<key>`.
    let keyStart = base + 1;
    let klen = 0;
    for (let c = mem[keyStart]!; c !== CR; c = mem[++keyStart]!) klen = klen * 10 + c - 48;
    keyStart += 2;
    const firstKey = copyRange(mem, keyStart, keyStart + klen);
    // The slot is this region's: no need to hash the key again.
    const conn = this.#target.connectionForSlot(slot);
    const name = n === 1 ? 'SET' : 'MSET';
    conn.begin(1 + 2 * n);
    conn.arg(name);
    conn.raw(mem.subarray(base, base + r.bytes[slot]!));
    conn.end(name, firstKey);
    r.bytes[slot] = 0;
    r.keys[slot] = 0;
    r.counts[1]! -= n;
    this.#sent.keys += n;
    this.#sent.commands++;
  }

  /** Writes `$<n>\r\n<bytes>\r\n` of `buf[start, start + n)` at `p`; returns the offset after it. */
  #bulk(p: number, buf: Buffer, start: number, n: number): number {
    const out = this.#r.memory;
    out[p] = 36; // $
    const digits = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10_000 ? 4 : 5;
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
