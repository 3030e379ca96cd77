/**
 * CRC-64/Jones as used by Redis for RDB files and DUMP/RESTORE payloads: polynomial
 * 0xad93d23594c935a9 (0x95ac9329ac4bc9b5 reflected; input and output reflected), initial value 0,
 * no final xor. Upstream: Redis src/crc64.c (`crc64`) and src/crcspeed.c, whose
 * test vector `crc64(0, "123456789") == 0xe9c6d914c4b8d9ca` is in crc64.test.ts.
 *
 * Implementation: inputs of {@link WASM_MIN_BYTES} or more go to a WebAssembly kernel (slice-by-16
 * over i64 words, src/decode/rdb/crc64.wat, embedded by the generated crc64-wasm.ts) in chunks copied
 * into its memory: ~1.5–2 GB/s against ~0.3–0.6 GB/s for slice-by-8 in JS. Shorter inputs (the
 * RESTORE payload's type byte and trailer, small values), where the copy and the call cost more than
 * they save (~120 ns), go a byte at a time in JS. The state is two uint32 halves either way (no BigInt
 * on the hot path); the public {@link crc64} converts to and from `bigint` once per call. Throughput
 * is in bench/decode.ts.
 */
import { CRC64_WASM_BASE64 } from './crc64-wasm.js';

const POLY_LO = 0xac4bc9b5;
const POLY_HI = 0x95ac9329;

/** T[n] = CRC of byte n, low and high halves (the byte-at-a-time table of Redis `_crc64`). */
const TLO = new Uint32Array(256);
const THI = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let lo = n;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) {
      lo = (lo ^ POLY_LO) >>> 0;
      hi = (hi ^ POLY_HI) >>> 0;
    }
  }
  TLO[n] = lo;
  THI[n] = hi;
}

/** What crc64.wat exports. */
interface Crc64Exports {
  memory: WebAssembly.Memory;
  stateOffset: WebAssembly.Global;
  inputOffset: WebAssembly.Global;
  inputBytes: WebAssembly.Global;
  /** Continues (lo, hi) over `len` bytes at inputOffset; returns the new low half, both halves at stateOffset. */
  update(lo: number, hi: number, len: number): number;
}

// A module of under 1 KB: compiled synchronously at import (well under a millisecond).
const wasm = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(CRC64_WASM_BASE64, 'base64')), {})
  .exports as unknown as Crc64Exports;
/** The module's memory has a fixed size (the .wat declares min = max), so these views stay valid. */
const WASM_U8 = new Uint8Array(wasm.memory.buffer);
const WASM_U32 = new Uint32Array(wasm.memory.buffer);
const WASM_HI = (wasm.stateOffset.value as number) / 4 + 1;
const WASM_IN = wasm.inputOffset.value as number;
const WASM_CHUNK = wasm.inputBytes.value as number;
const wasmUpdate = wasm.update;

/**
 * Inputs shorter than this many bytes stay in JS: the measured crossover (bench/decode.ts, rows
 * `crc64 … B`) is 32–64 bytes on the 2-core development machine.
 */
export const WASM_MIN_BYTES = 64;

/**
 * Incremental CRC-64/Jones state held as two uint32 halves. `update` any number of times, then read
 * `value`. Used by the RDB decoder (EOF checksum) and by the sink (RESTORE payload trailer).
 */
export class Crc64 {
  lo = 0;
  hi = 0;

  /** Starts from a previous CRC value (default 0). */
  constructor(initial: bigint = 0n) {
    this.lo = Number(initial & 0xffffffffn) >>> 0;
    this.hi = Number((initial >> 32n) & 0xffffffffn) >>> 0;
  }

  /** Feeds `buf[start, end)`: the WebAssembly kernel from {@link WASM_MIN_BYTES} bytes on, else JS. */
  update(buf: Uint8Array, start = 0, end = buf.length): this {
    return end - start < WASM_MIN_BYTES ? this.updateJs(buf, start, end) : this.updateWasm(buf, start, end);
  }

  /** Feeds `buf[start, end)` through the WebAssembly kernel, whatever its length (bench, tests). */
  updateWasm(buf: Uint8Array, start = 0, end = buf.length): this {
    let lo = this.lo;
    let hi = this.hi;
    for (let i = start; i < end; i += WASM_CHUNK) {
      const n = Math.min(WASM_CHUNK, end - i);
      WASM_U8.set(buf.subarray(i, i + n), WASM_IN);
      lo = wasmUpdate(lo, hi, n) >>> 0;
      hi = WASM_U32[WASM_HI]!;
    }
    this.lo = lo;
    this.hi = hi;
    return this;
  }

  /** Feeds `buf[start, end)` a byte at a time in JS, whatever its length (bench, tests). */
  updateJs(buf: Uint8Array, start = 0, end = buf.length): this {
    let lo = this.lo;
    let hi = this.hi;
    for (let i = start; i < end; i++) {
      const idx = (lo ^ buf[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ TLO[idx]!;
      hi = (hi >>> 8) ^ THI[idx]!;
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    return this;
  }

  /** Current CRC as an unsigned 64-bit bigint. */
  get value(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** Writes the CRC as 8 little-endian bytes (the RDB/RESTORE trailer layout) into `out` at `offset`. */
  writeLE(out: Buffer, offset: number): void {
    out.writeUInt32LE(this.lo, offset);
    out.writeUInt32LE(this.hi, offset + 4);
  }
}

/**
 * CRC-64/Jones of `buf` continuing from `crc` (Redis `crc64(crc, s, l)`).
 * @returns the new CRC, unsigned 64-bit.
 */
export function crc64(crc: bigint, buf: Uint8Array): bigint {
  return new Crc64(crc).update(buf).value;
}
