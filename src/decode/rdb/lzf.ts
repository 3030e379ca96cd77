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
  let ip = 0;
  let op = 0;
  const inEnd = src.length;
  while (ip < inEnd) {
    const ctrl = src[ip++]!;
    if (ctrl < 32) {
      const len = ctrl + 1;
      if (op + len > expectedLength || ip + len > inEnd) return undefined;
      for (let i = 0; i < len; i++) out[op++] = src[ip++]!;
    } else {
      let len = ctrl >> 5;
      if (len === 7) {
        if (ip >= inEnd) return undefined;
        len += src[ip++]!;
      }
      if (ip >= inEnd) return undefined;
      let ref = op - ((ctrl & 0x1f) << 8) - src[ip++]! - 1;
      len += 2;
      if (ref < 0 || op + len > expectedLength) return undefined;
      // Overlapping copy (ref may be op-1): byte by byte, as liblzf does.
      for (let i = 0; i < len; i++) out[op++] = out[ref++]!;
    }
  }
  return op === expectedLength ? out : undefined;
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
