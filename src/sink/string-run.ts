/**
 * Runs of plain string records transcoded from RDB bytes straight into the RESP arguments of an
 * `MSET` by a hand-written WebAssembly kernel (src/sink/string-run.wat, embedded by the generated
 * string-run-wasm.ts): one call per run instead of a decoder step, a handler call and two argument
 * copies per key (issue 12: ~150–200 ns per 100-byte value copy alone, whichever JS way).
 *
 * Keys and values may be int-encoded (their decimal text is written) or LZF-compressed
 * (decompressed in the kernel): Redis and Dragonfly save numbers and compressible strings over 20
 * bytes so. The kernel reads only what JS copied into its memory ({@link StringRunTranscoder.load});
 * a record it stops at (an opcode, a long length, corrupt LZF data, a limit, the end of the copied
 * input) is left for the JS path.
 */
import { CRC16_TABLE } from './key-slot.js';
import { STRING_RUN_WASM_BASE64 } from './string-run-wasm.js';

/** Why {@link StringRunTranscoder.run} stopped (the record it stopped at is not consumed). */
export const RUN_STOP = {
  /** `maxRecords` written. */
  KEYS: 1,
  /** The output reached the byte budget (the record that crossed it is written). */
  BYTES: 2,
  /** The loaded input ends inside or right before a record. */
  INPUT: 3,
  /** Not a string record it takes: another type or opcode byte, a 32/64-bit length, another string encoding, corrupt LZF data. */
  OTHER: 4,
  /** A key or value longer than allowed (`slots`: or the record is longer than a region). */
  LIMIT: 5,
  /** The output area is full. */
  ROOM: 6,
  /** (`slots`) The record's slot region cannot take it: send {@link StringRunTranscoder.fullSlot}, call again. */
  FULL: 7,
} as const;

/** Slots of a Redis Cluster (src/cluster.h `CLUSTER_SLOTS`). */
export const CLUSTER_SLOTS = 16384;

/**
 * The kernel's per-slot regions and counters (string-run.wat memory map), shared by its `slots`
 * entry and the JS path of src/sink/slot-stage.ts. Views of the kernel's memory.
 */
export interface SlotRegions {
  /** The kernel's whole memory; slot `s`'s region starts at `regionsOffset + s × region`. */
  memory: Buffer;
  regionsOffset: number;
  /** Per slot: bytes held in its region. */
  bytes: Uint32Array;
  /** Per slot: keys held in its region. */
  keys: Uint32Array;
  /** Slots listed since the list was cleared (the first `counts[0]`), each once (`listed`). */
  list: Uint32Array;
  listed: Uint8Array;
  /** `[slots listed, keys held in all regions]`. */
  counts: Uint32Array;
}

/** What string-run.wat exports. */
interface StringRunExports {
  memory: WebAssembly.Memory;
  resultOffset: WebAssembly.Global;
  inputOffset: WebAssembly.Global;
  inputBytes: WebAssembly.Global;
  outputOffset: WebAssembly.Global;
  outputBytes: WebAssembly.Global;
  ttlOutputOffset: WebAssembly.Global;
  ttlIndexOffset: WebAssembly.Global;
  run(start: number, end: number, maxRecords: number, budget: number, maxKey: number, maxValue: number, nowMs: number): number;
  crcTableOffset: WebAssembly.Global;
  slotBytesOffset: WebAssembly.Global;
  slotKeysOffset: WebAssembly.Global;
  slotListOffset: WebAssembly.Global;
  slotListedOffset: WebAssembly.Global;
  regionsOffset: WebAssembly.Global;
  slots(start: number, end: number, region: number, maxKeys: number, maxKey: number, maxValue: number): number;
}

/** Most `SET … PXAT` commands one {@link StringRunTranscoder.run} writes (its index area; stops ROOM). */
const MAX_TTL_COMMANDS = 5418;

/** Largest region per slot of {@link StringRunTranscoder.slots} (string-run.wat memory map). */
export const MAX_SLOT_REGION_BYTES = 1024;

/**
 * One instance of the kernel (a module of under 2 KB, compiled synchronously) with its own memory
 * (17 MB reserved; the 256 KiB of `run` touched, and the slot regions only by `slots`), and views
 * of it. What was {@link load}ed stays there until the next load: one instance per user.
 */
export class StringRunTranscoder {
  readonly #run: StringRunExports['run'];
  readonly #slots: StringRunExports['slots'];
  /** Per-slot regions and counters of {@link slots}. */
  readonly slotRegions: SlotRegions;
  /** The slot whose region was full when {@link slots} last stopped with {@link RUN_STOP.FULL}. */
  fullSlot = 0;
  /** The module's whole memory as a Buffer (fixed size: the .wat declares min = max pages). */
  readonly #mem: Buffer;
  readonly #result: Uint32Array;
  readonly #in: number;
  readonly #out: number;
  /** Most input bytes one {@link load} takes. */
  readonly inputBytes: number;
  /** Input bytes consumed by the last {@link run}, from its `start`. */
  consumed = 0;
  /** Why the last {@link run} stopped ({@link RUN_STOP}). */
  reason = 0;
  /** Output bytes written by the last {@link run}: {@link output}. */
  outputLength = 0;
  /** `SET … PXAT` bytes written by the last {@link run}: {@link ttlOutput}. */
  ttlLength = 0;
  /** `SET … PXAT` commands written by the last {@link run} ({@link ttlCommand}). */
  ttlCount = 0;
  /** Records with a past expiry the last {@link run} skipped (consumed, not written). */
  expired = 0;
  /** Offset in {@link output} of the first MSET key the last {@link run} wrote (its bytes: an encoded key is not in the input); -1: none. */
  firstKeyAt = -1;
  /** Length of that key. */
  firstKeyLength = 0;
  readonly #ttlOut: number;
  /** Per `SET … PXAT` command: length, key offset in {@link ttlOutput}, key length. */
  readonly #ttlIndex: Uint32Array;

  constructor() {
    const wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(STRING_RUN_WASM_BASE64, 'base64')), {})
      .exports as unknown as StringRunExports;
    this.#run = wasm.run;
    this.#slots = wasm.slots;
    const buffer = wasm.memory.buffer;
    this.#mem = Buffer.from(buffer);
    this.#result = new Uint32Array(buffer, wasm.resultOffset.value as number, 11);
    new Uint16Array(buffer, wasm.crcTableOffset.value as number, 256).set(CRC16_TABLE);
    const at = (g: WebAssembly.Global): number => g.value as number;
    this.slotRegions = {
      memory: this.#mem,
      regionsOffset: at(wasm.regionsOffset),
      bytes: new Uint32Array(buffer, at(wasm.slotBytesOffset), CLUSTER_SLOTS),
      keys: new Uint32Array(buffer, at(wasm.slotKeysOffset), CLUSTER_SLOTS),
      list: new Uint32Array(buffer, at(wasm.slotListOffset), CLUSTER_SLOTS),
      listed: new Uint8Array(buffer, at(wasm.slotListedOffset), CLUSTER_SLOTS),
      counts: this.#result.subarray(4, 6),
    };
    this.#in = wasm.inputOffset.value as number;
    this.#out = wasm.outputOffset.value as number;
    this.#ttlOut = wasm.ttlOutputOffset.value as number;
    this.#ttlIndex = new Uint32Array(buffer, wasm.ttlIndexOffset.value as number, 3 * MAX_TTL_COMMANDS);
    this.inputBytes = wasm.inputBytes.value as number;
  }

  /** Copies `buf[start, end)` (at most {@link inputBytes}) to the kernel's input, offset 0. */
  load(buf: Buffer, start: number, end: number): void {
    buf.copy(this.#mem, this.#in, start, end);
  }

  /**
   * Transcodes records of the loaded input from offset `start` to `end`: at most `maxRecords`
   * (≥ 1), until both outputs reach `budget` bytes (≥ 1), keys ≤ `maxKey` and values ≤ `maxValue`
   * bytes. Plain strings become MSET arguments ({@link output}); a string with an expiry after
   * `nowMs` a whole `SET key value PXAT ms` ({@link ttlOutput}, {@link ttlCommand}); one with an
   * expiry at or before `nowMs` is skipped ({@link expired}). Returns the records written; sets
   * {@link consumed}, {@link outputLength}, {@link reason} and the fields above.
   */
  run(start: number, end: number, maxRecords: number, budget: number, maxKey: number, maxValue: number, nowMs: number): number {
    const n = this.#run(start, end, maxRecords, budget, maxKey, maxValue, nowMs);
    const r = this.#result;
    this.consumed = r[0]!;
    this.outputLength = r[1]!;
    this.reason = r[2]!;
    this.ttlLength = r[6]!;
    this.ttlCount = r[7]!;
    this.expired = r[8]!;
    this.firstKeyAt = r[9] === 0xffffffff ? -1 : r[9]!;
    this.firstKeyLength = r[10]!;
    return n;
  }

  /** The `SET … PXAT` commands of the last {@link run}, back to back (a view, valid until the next run). */
  ttlOutput(): Buffer {
    return this.#mem.subarray(this.#ttlOut, this.#ttlOut + this.ttlLength);
  }

  /**
   * The `i`-th `SET … PXAT` command of the last {@link run}: its length and where its key lies in
   * {@link ttlOutput} (`[keyStart, keyEnd)`), written into `out` (reused by the caller).
   */
  ttlCommand(i: number, out: { length: number; keyStart: number; keyEnd: number }): void {
    const x = this.#ttlIndex;
    out.length = x[3 * i]!;
    out.keyStart = x[3 * i + 1]!;
    out.keyEnd = out.keyStart + x[3 * i + 2]!;
  }

  /**
   * Holds records of the loaded input from offset `start` to `end` in their cluster slots' regions
   * ({@link slotRegions}, `region` ≤ {@link MAX_SLOT_REGION_BYTES} bytes each), keys ≤ `maxKey` and
   * values ≤ `maxValue` bytes; stops with {@link RUN_STOP.FULL} before a record whose slot holds
   * `maxKeys` keys or too many bytes for it ({@link fullSlot}: send and empty that region, call
   * again). Returns the records held; sets {@link consumed}, {@link reason}.
   */
  slots(start: number, end: number, region: number, maxKeys: number, maxKey: number, maxValue: number): number {
    const n = this.#slots(start, end, region, maxKeys, maxKey, maxValue);
    const r = this.#result;
    this.consumed = r[0]!;
    this.outputLength = 0;
    this.reason = r[2]!;
    this.fullSlot = r[3]!;
    return n;
  }

  /** The RESP bytes of the last {@link run} (a view of the kernel's memory, valid until the next run). */
  output(): Buffer {
    return this.#mem.subarray(this.#out, this.#out + this.outputLength);
  }
}
