/**
 * Runs of plain string records transcoded from RDB bytes straight into the RESP arguments of an
 * `MSET` by a hand-written WebAssembly kernel (src/sink/string-run.wat, embedded by the generated
 * string-run-wasm.ts): one call per run instead of a decoder step, a handler call and two argument
 * copies per key (issue 12: ~150–200 ns per 100-byte value copy alone, whichever JS way).
 *
 * The kernel reads only what JS copied into its memory ({@link StringRunTranscoder.load}); a record
 * it stops at (an opcode, an encoded or long length, a limit, the end of the copied input) is left
 * for the JS path.
 */
import { STRING_RUN_WASM_BASE64 } from './string-run-wasm.js';

/** Why {@link StringRunTranscoder.run} stopped (the record it stopped at is not consumed). */
export const RUN_STOP = {
  /** `maxRecords` written. */
  KEYS: 1,
  /** The output reached the byte budget (the record that crossed it is written). */
  BYTES: 2,
  /** The loaded input ends inside or right before a record. */
  INPUT: 3,
  /** Not a plain string record: another type or opcode byte, or an int/LZF/32-bit length. */
  OTHER: 4,
  /** A key or value longer than allowed. */
  LIMIT: 5,
  /** The output area is full. */
  ROOM: 6,
} as const;

/** What string-run.wat exports. */
interface StringRunExports {
  memory: WebAssembly.Memory;
  resultOffset: WebAssembly.Global;
  inputOffset: WebAssembly.Global;
  inputBytes: WebAssembly.Global;
  outputOffset: WebAssembly.Global;
  outputBytes: WebAssembly.Global;
  run(start: number, end: number, maxRecords: number, budget: number, maxKey: number, maxValue: number): number;
}

/**
 * One instance of the kernel (a module of under 1 KB, compiled synchronously) with its own 256 KiB
 * memory, and views of it. What was {@link load}ed stays there until the next load: one instance per
 * user.
 */
export class StringRunTranscoder {
  readonly #run: StringRunExports['run'];
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

  constructor() {
    const wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(STRING_RUN_WASM_BASE64, 'base64')), {})
      .exports as unknown as StringRunExports;
    this.#run = wasm.run;
    this.#mem = Buffer.from(wasm.memory.buffer);
    this.#result = new Uint32Array(wasm.memory.buffer, wasm.resultOffset.value as number, 3);
    this.#in = wasm.inputOffset.value as number;
    this.#out = wasm.outputOffset.value as number;
    this.inputBytes = wasm.inputBytes.value as number;
  }

  /** Copies `buf[start, end)` (at most {@link inputBytes}) to the kernel's input, offset 0. */
  load(buf: Buffer, start: number, end: number): void {
    buf.copy(this.#mem, this.#in, start, end);
  }

  /**
   * Transcodes records of the loaded input from offset `start` to `end`: at most `maxRecords`
   * (≥ 1), until the output reaches `budget` bytes (≥ 1), keys ≤ `maxKey` and values ≤ `maxValue`
   * bytes. Returns the records written; sets {@link consumed}, {@link outputLength}, {@link reason}.
   */
  run(start: number, end: number, maxRecords: number, budget: number, maxKey: number, maxValue: number): number {
    const n = this.#run(start, end, maxRecords, budget, maxKey, maxValue);
    const r = this.#result;
    this.consumed = r[0]!;
    this.outputLength = r[1]!;
    this.reason = r[2]!;
    return n;
  }

  /** The RESP bytes of the last {@link run} (a view of the kernel's memory, valid until the next run). */
  output(): Buffer {
    return this.#mem.subarray(this.#out, this.#out + this.outputLength);
  }
}
