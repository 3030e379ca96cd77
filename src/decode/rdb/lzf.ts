/**
 * LZF decompression (liblzf `lzf_decompress`, used by Redis/Dragonfly for RSTR encoding 0xC3;
 * Redis src/lzf_d.c). The whole compressed block is held in memory: RDB LZF strings are bounded by
 * the writer (Redis compresses values of at most `len - 4` bytes in one call).
 */

/**
 * Decompresses `src` into a new Buffer of exactly `expectedLength` bytes.
 * @returns the output, or `undefined` when the data is corrupt (back-reference before the start,
 *   output overflow) or does not produce exactly `expectedLength` bytes.
 */
export function lzfDecompress(src: Uint8Array, expectedLength: number): Buffer | undefined {
  const out = Buffer.allocUnsafe(expectedLength);
  return lzfDecompressInto(src, 0, src.length, out, 0, expectedLength) ? out : undefined;
}

/**
 * Decompresses `src[srcStart, srcEnd)` into `out[outStart, outStart + expectedLength)` (which must
 * fit in `out`), without allocating: the decoder's one-step string path decompresses into a reused
 * buffer. Same algorithm and checks as {@link lzfDecompress}.
 * @returns false when the data is corrupt or does not produce exactly `expectedLength` bytes
 *   (`out` then holds garbage in that range).
 */
export function lzfDecompressInto(src: Uint8Array, srcStart: number, srcEnd: number, out: Uint8Array, outStart: number, expectedLength: number): boolean {
  let ip = srcStart;
  let op = outStart;
  const inEnd = srcEnd;
  const outEnd = outStart + expectedLength;
  while (ip < inEnd) {
    const ctrl = src[ip++]!;
    if (ctrl < 32) {
      const len = ctrl + 1;
      if (op + len > outEnd || ip + len > inEnd) return false;
      for (let i = 0; i < len; i++) out[op++] = src[ip++]!;
    } else {
      let len = ctrl >> 5;
      if (len === 7) {
        if (ip >= inEnd) return false;
        len += src[ip++]!;
      }
      if (ip >= inEnd) return false;
      let ref = op - ((ctrl & 0x1f) << 8) - src[ip++]! - 1;
      len += 2;
      if (ref < outStart || op + len > outEnd) return false;
      // Overlapping copy (ref may be op-1): byte by byte, as liblzf does.
      for (let i = 0; i < len; i++) out[op++] = out[ref++]!;
    }
  }
  return op === outEnd;
}

/**
 * LZF compression (liblzf `lzf_compress`-compatible output, simple hash-table greedy matcher).
 * Used by tests and the benchmark writer to produce LZF strings; not on the decode path.
 * @returns compressed bytes, or `undefined` if the output would not be smaller than the input.
 */
export function lzfCompress(src: Uint8Array): Buffer | undefined {
  const n = src.length;
  const out = Buffer.allocUnsafe(n + (n >> 5) + 16);
  const table = new Int32Array(1 << 14).fill(-1);
  let op = 0;
  let litStart = 0;
  let ip = 0;
  const flushLiterals = (upTo: number): void => {
    while (litStart < upTo) {
      const len = Math.min(32, upTo - litStart);
      out[op++] = len - 1;
      for (let i = 0; i < len; i++) out[op++] = src[litStart++]!;
    }
  };
  while (ip + 2 < n) {
    const h = ((src[ip]! << 16) | (src[ip + 1]! << 8) | src[ip + 2]!) * 2654435761;
    const slot = (h >>> 18) & 0x3fff;
    const ref = table[slot]!;
    table[slot] = ip;
    const off = ip - ref - 1;
    if (ref >= 0 && off < 8192 && src[ref] === src[ip] && src[ref + 1] === src[ip + 1] && src[ref + 2] === src[ip + 2]) {
      let len = 3;
      const maxLen = Math.min(264, n - ip);
      while (len < maxLen && src[ref + len] === src[ip + len]) len++;
      flushLiterals(ip);
      const l = len - 2;
      if (l < 7) {
        out[op++] = (l << 5) | (off >> 8);
      } else {
        out[op++] = (7 << 5) | (off >> 8);
        out[op++] = l - 7;
      }
      out[op++] = off & 0xff;
      ip += len;
      litStart = ip;
      if (op >= n) return undefined;
    } else {
      ip++;
    }
  }
  flushLiterals(n);
  return op < n ? Buffer.from(out.subarray(0, op)) : undefined;
}

/** LZF back-references reach at most 8 KiB back (13-bit offset + 1). */
const LZF_WINDOW = 8192;

/**
 * Incremental LZF decompression into bounded pieces (for big LZF strings): only the last 8 KiB of
 * output is kept for back-references. Feed compressed bytes with {@link decode}; it stops at an
 * incomplete instruction or when the next instruction would overflow the current piece. Pieces
 * returned by {@link takePiece} are never written to again.
 */
export class LzfStreamDecoder {
  readonly #pieceBytes: number;
  readonly #expected: number;
  #out: Buffer;
  #pos = 0;
  #pieceStart = 0;
  #total = 0;
  /** The next instruction does not fit in the current piece: take it first. */
  isPieceFull = false;

  /** `pieceBytes` must be ≥ 264 (the longest instruction output). */
  constructor(pieceBytes: number, expectedLength: number) {
    this.#pieceBytes = pieceBytes;
    this.#expected = expectedLength;
    this.#out = Buffer.allocUnsafe(pieceBytes);
  }

  /** Total bytes output so far. */
  get total(): number {
    return this.#total;
  }

  /**
   * Decodes complete instructions from `src[start, end)`. Returns the bytes consumed, or -1 on
   * corrupt data (reference before the start, output beyond the expected length).
   */
  decode(src: Uint8Array, start: number, end: number): number {
    let ip = start;
    const out = this.#out;
    let op = this.#pos;
    const limit = this.#pieceStart + this.#pieceBytes;
    this.isPieceFull = false;
    while (ip < end) {
      const ctrl = src[ip]!;
      let len: number;
      let need: number;
      if (ctrl < 32) {
        len = ctrl + 1;
        need = 1 + len;
      } else {
        len = ctrl >> 5;
        need = 2;
        if (len === 7) {
          if (ip + 1 >= end) break;
          len += src[ip + 1]!;
          need = 3;
        }
        len += 2;
      }
      if (ip + need > end) break;
      if (op + len > limit) {
        this.isPieceFull = true;
        break;
      }
      if (this.#total + (op - this.#pos) + len > this.#expected) return -1;
      if (ctrl < 32) {
        for (let i = 1; i <= len; i++) out[op++] = src[ip + i]!;
      } else {
        // The buffer keeps min(8 KiB, all output) of history, so ref < 0 means corrupt data.
        let ref = op - ((ctrl & 0x1f) << 8) - src[ip + need - 1]! - 1;
        if (ref < 0) return -1;
        for (let i = 0; i < len; i++) out[op++] = out[ref++]!;
      }
      ip += need;
    }
    this.#total += op - this.#pos;
    this.#pos = op;
    return ip - start;
  }

  /** The output since the last piece; starts a new piece buffer keeping the 8 KiB history. */
  takePiece(): Buffer {
    const piece = this.#out.subarray(this.#pieceStart, this.#pos);
    const hist = Math.min(LZF_WINDOW, this.#pos);
    const next = Buffer.allocUnsafe(hist + this.#pieceBytes);
    this.#out.copy(next, 0, this.#pos - hist, this.#pos);
    this.#out = next;
    this.#pos = this.#pieceStart = hist;
    return piece;
  }
}
