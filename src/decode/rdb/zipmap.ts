/**
 * Zipmap reader (Redis src/zipmap.c, RDB type 9, Redis < 2.6 hashes):
 * `zmlen(1) | (len key len free value free-bytes)… | 0xFF`; a length is 1 byte (< 254) or 254 + LE32.
 */
import { BlobFormatError } from './listpack.js';

/** Returns the flat `[field, value, …]` pairs of a zipmap blob. */
export function zipmapPairs(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 1;
  const readLen = (): number => {
    if (p >= buf.length) throw new BlobFormatError('zipmap overruns the blob');
    const b = buf[p]!;
    if (b < 254) {
      p += 1;
      return b;
    }
    if (b === 254) {
      if (p + 5 > buf.length) throw new BlobFormatError('zipmap overruns the blob');
      const n = buf.readUInt32LE(p + 1);
      p += 5;
      return n;
    }
    return -1;
  };
  for (;;) {
    const klen = readLen();
    if (klen < 0) break;
    if (p + klen > buf.length) throw new BlobFormatError('zipmap key overruns the blob');
    const key = buf.subarray(p, p + klen);
    p += klen;
    const vlen = readLen();
    if (vlen < 0 || p >= buf.length) throw new BlobFormatError('zipmap value missing');
    const free = buf[p++]!;
    if (p + vlen + free > buf.length) throw new BlobFormatError('zipmap value overruns the blob');
    out.push(key, buf.subarray(p, p + vlen));
    p += vlen + free;
  }
  return out;
}
