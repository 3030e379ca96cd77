/**
 * Intset reader (Redis src/intset.c): `LE32 encoding (2|4|8) | LE32 length | length × LE int`.
 * RDB type 11.
 */
import { BlobFormatError } from './listpack.js';
import { intText } from './rdb-reader.js';

/** Returns the members of an intset blob as decimal text, in stored (ascending) order. */
export function intsetMembers(buf: Buffer): Buffer[] {
  if (buf.length < 8) throw new BlobFormatError(`intset of ${buf.length} bytes`);
  const enc = buf.readUInt32LE(0);
  const n = buf.readUInt32LE(4);
  if ((enc !== 2 && enc !== 4 && enc !== 8) || 8 + enc * n !== buf.length) {
    throw new BlobFormatError(`intset encoding ${enc} with ${n} members does not fit ${buf.length} bytes`);
  }
  const out = new Array<Buffer>(n);
  for (let i = 0, p = 8; i < n; i++, p += enc) {
    out[i] = enc === 2 ? intText(buf.readInt16LE(p)) : enc === 4 ? intText(buf.readInt32LE(p)) : intText(buf.readBigInt64LE(p));
  }
  return out;
}
