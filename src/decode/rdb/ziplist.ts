/**
 * Ziplist reader (Redis src/ziplist.c, `zipEntrySafe`): `LE32 zlbytes | LE32 zltail | LE16 zllen |
 * entries… | 0xFF`; entry = prevlen (1 byte, or 0xFE + LE32) | encoding | data. Used by RDB types
 * 10, 12, 13 and quicklist (14) nodes written by Redis < 7.
 */
import { BlobFormatError, elementValue, type BlobElement } from './listpack.js';

const EMPTY = Buffer.alloc(0);

/**
 * Parses the ziplist entry at `buf[p]` (not the 0xFF end marker) into `out`, using at most `avail`
 * bytes. Returns the entry's total size, or -1 if it needs more than `avail` bytes. Throws
 * BlobFormatError on an invalid encoding byte.
 */
export function parseZiplistEntry(buf: Buffer, p: number, avail: number, out: BlobElement): number {
  if (avail < 1) return -1;
  const pre = buf[p]! < 0xfe ? 1 : 5;
  if (avail < pre + 1) return -1;
  const q = p + pre;
  const b = buf[q]!;
  const top = b >> 6;
  out.big = undefined;
  let head: number;
  let n: number;
  if (top === 0) {
    head = 1;
    n = b & 0x3f;
  } else if (top === 1) {
    if (avail < pre + 2) return -1;
    head = 2;
    n = ((b & 0x3f) << 8) | buf[q + 1]!;
  } else if (top === 2) {
    if (avail < pre + 5) return -1;
    head = 5;
    n = buf.readUInt32BE(q + 1);
  } else {
    out.isInt = true;
    let w: number;
    switch (b) {
      case 0xc0:
        w = 2;
        break;
      case 0xd0:
        w = 4;
        break;
      case 0xe0:
        w = 8;
        break;
      case 0xf0:
        w = 3;
        break;
      case 0xfe:
        w = 1;
        break;
      default:
        if (b >= 0xf1 && b <= 0xfd) {
          out.int = (b & 0x0f) - 1;
          return pre + 1;
        }
        throw new BlobFormatError(`invalid ziplist encoding byte 0x${b.toString(16)}`);
    }
    if (avail < pre + 1 + w) return -1;
    if (w === 2) out.int = buf.readInt16LE(q + 1);
    else if (w === 4) out.int = buf.readInt32LE(q + 1);
    else if (w === 3) out.int = buf.readIntLE(q + 1, 3);
    else if (w === 1) out.int = buf.readInt8(q + 1);
    else {
      const v = buf.readBigInt64LE(q + 1);
      out.int = Number(v);
      if (!Number.isSafeInteger(out.int)) out.big = v;
    }
    return pre + 1 + w;
  }
  const total = pre + head + n;
  if (total > avail) return -1;
  out.isInt = false;
  out.str = buf.subarray(q + head, q + head + n);
  return total;
}

/** Iterates the elements of a whole ziplist blob; after `next()` read the element fields or `value()`. */
export class ZiplistIterator implements BlobElement {
  readonly #buf: Buffer;
  #pos = 10;
  readonly #end: number;
  isInt = false;
  int = 0;
  big: bigint | undefined;
  str: Buffer = EMPTY;

  constructor(buf: Buffer) {
    if (buf.length < 11) throw new BlobFormatError(`ziplist of ${buf.length} bytes`);
    if (buf.readUInt32LE(0) !== buf.length) throw new BlobFormatError('ziplist size header mismatch');
    if (buf[buf.length - 1] !== 0xff) throw new BlobFormatError('ziplist without end marker');
    this.#buf = buf;
    this.#end = buf.length - 1;
  }

  next(): boolean {
    const p = this.#pos;
    if (p >= this.#end) {
      if (p === this.#end) return false;
      throw new BlobFormatError('ziplist entry overruns the blob');
    }
    const n = parseZiplistEntry(this.#buf, p, this.#end - p, this);
    if (n < 0) throw new BlobFormatError('ziplist entry overruns the blob');
    this.#pos = p + n;
    return true;
  }

  value(): Buffer {
    return elementValue(this);
  }
}
