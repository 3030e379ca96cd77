/**
 * CRC-64/Jones as used by Redis for RDB files and DUMP/RESTORE payloads: polynomial
 * 0xad93d23594c935a9 (0x95ac9329ac4bc9b5 reflected; input and output reflected), initial value 0,
 * no final xor. Upstream: Redis src/crc64.c (`crc64`), whose
 * test vector `crc64(0, "123456789") == 0xe9c6d914c4b8d9ca` is in crc64.test.ts.
 *
 * Implementation: slice-by-8 over two uint32 halves (no BigInt on the hot path); the public
 * {@link crc64} converts to and from `bigint` once per call. Throughput is in bench/decode.ts.
 */

const POLY_LO = 0xac4bc9b5;
const POLY_HI = 0x95ac9329;

const IS_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** 8 tables × 256 entries, low and high halves. T[k][n] = CRC of byte n followed by k zero bytes. */
const TLO = new Uint32Array(8 * 256);
const THI = new Uint32Array(8 * 256);

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
for (let t = 1; t < 8; t++) {
  for (let n = 0; n < 256; n++) {
    const plo = TLO[(t - 1) * 256 + n]!;
    const phi = THI[(t - 1) * 256 + n]!;
    const idx = plo & 0xff;
    TLO[t * 256 + n] = (((plo >>> 8) | (phi << 24)) ^ TLO[idx]!) >>> 0;
    THI[t * 256 + n] = ((phi >>> 8) ^ THI[idx]!) >>> 0;
  }
}

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

  /** Feeds `buf[start, end)`. */
  update(buf: Uint8Array, start = 0, end = buf.length): this {
    let lo = this.lo;
    let hi = this.hi;
    let i = start;
    // Bytes up to a 4-byte aligned address, then 8 bytes per step read as two uint32 words
    // (little-endian platforms; the generic path below handles the rest).
    while (i < end && ((buf.byteOffset + i) & 3) !== 0) {
      const idx = (lo ^ buf[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ TLO[idx]!;
      hi = (hi >>> 8) ^ THI[idx]!;
      i++;
    }
    const words = IS_LE ? (end - i) >>> 3 : 0;
    if (words > 0) {
      const w = new Uint32Array(buf.buffer, buf.byteOffset + i, words * 2);
      for (let k = 0; k < w.length; k += 2) {
        const a = (lo ^ w[k]!) >>> 0;
        const b = (hi ^ w[k + 1]!) >>> 0;
        lo =
          TLO[1792 + (a & 0xff)]! ^ TLO[1536 + ((a >>> 8) & 0xff)]! ^ TLO[1280 + ((a >>> 16) & 0xff)]! ^ TLO[1024 + (a >>> 24)]! ^
          TLO[768 + (b & 0xff)]! ^ TLO[512 + ((b >>> 8) & 0xff)]! ^ TLO[256 + ((b >>> 16) & 0xff)]! ^ TLO[b >>> 24]!;
        hi =
          THI[1792 + (a & 0xff)]! ^ THI[1536 + ((a >>> 8) & 0xff)]! ^ THI[1280 + ((a >>> 16) & 0xff)]! ^ THI[1024 + (a >>> 24)]! ^
          THI[768 + (b & 0xff)]! ^ THI[512 + ((b >>> 8) & 0xff)]! ^ THI[256 + ((b >>> 16) & 0xff)]! ^ THI[b >>> 24]!;
      }
      i += words * 8;
    }
    while (i < end) {
      const idx = (lo ^ buf[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ TLO[idx]!;
      hi = (hi >>> 8) ^ THI[idx]!;
      i++;
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
