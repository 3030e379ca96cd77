/**
 * Ziplist reader (Redis src/ziplist.c, `zipEntrySafe`): `LE32 zlbytes | LE32 zltail | LE16 zllen |
 * entries… | 0xFF`; entry = prevlen (1 byte, or 0xFE + LE32) | encoding | data. Used by RDB types
 * 10, 12, 13 and quicklist (14) nodes written by Redis < 7.
 */
import { BlobFormatError } from './listpack.js';
import { intText } from './rdb-reader.js';

/** Iterates ziplist elements; after `next()` the element is `value()` (integers as decimal text). */
export class ZiplistIterator {
  readonly #buf: Buffer;
  #pos = 10;
  readonly #end: number;
  isInt = false;
  int: number | bigint = 0;
  str: Buffer = Buffer.alloc(0);

  constructor(buf: Buffer) {
    if (buf.length < 11) throw new BlobFormatError(`ziplist of ${buf.length} bytes`);
    if (buf.readUInt32LE(0) !== buf.length) throw new BlobFormatError('ziplist size header mismatch');
    if (buf[buf.length - 1] !== 0xff) throw new BlobFormatError('ziplist without end marker');
    this.#buf = buf;
    this.#end = buf.length - 1;
  }

  next(): boolean {
    const buf = this.#buf;
    let p = this.#pos;
    if (p >= this.#end) {
      if (p === this.#end) return false;
      throw new BlobFormatError('ziplist entry overruns the blob');
    }
    p += buf[p]! < 0xfe ? 1 : 5; // prevlen
    this.#need(p, 1);
    const b = buf[p]!;
    const top = b >> 6;
    if (top === 0) {
      this.#str(p + 1, b & 0x3f);
    } else if (top === 1) {
      this.#need(p, 2);
      this.#str(p + 2, ((b & 0x3f) << 8) | buf[p + 1]!);
    } else if (top === 2) {
      this.#need(p, 5);
      this.#str(p + 5, buf.readUInt32BE(p + 1));
    } else {
      this.isInt = true;
      let n: number;
      switch (b) {
        case 0xc0:
          n = 2;
          this.#need(p, 1 + n);
          this.int = buf.readInt16LE(p + 1);
          break;
        case 0xd0:
          n = 4;
          this.#need(p, 1 + n);
          this.int = buf.readInt32LE(p + 1);
          break;
        case 0xe0: {
          n = 8;
          this.#need(p, 1 + n);
          const v = buf.readBigInt64LE(p + 1);
          this.int = Number.isSafeInteger(Number(v)) ? Number(v) : v;
          break;
        }
        case 0xf0:
          n = 3;
          this.#need(p, 1 + n);
          this.int = buf.readIntLE(p + 1, 3);
          break;
        case 0xfe:
          n = 1;
          this.#need(p, 1 + n);
          this.int = buf.readInt8(p + 1);
          break;
        default:
          if (b >= 0xf1 && b <= 0xfd) {
            n = 0;
            this.int = (b & 0x0f) - 1;
          } else {
            throw new BlobFormatError(`invalid ziplist encoding byte 0x${b.toString(16)}`);
          }
      }
      this.#pos = p + 1 + n;
    }
    return true;
  }

  value(): Buffer {
    return this.isInt ? intText(this.int) : this.str;
  }

  #str(start: number, n: number): void {
    if (start + n > this.#end) throw new BlobFormatError('ziplist string overruns the blob');
    this.isInt = false;
    this.str = this.#buf.subarray(start, start + n);
    this.#pos = start + n;
  }

  #need(p: number, n: number): void {
    if (p + n > this.#end) throw new BlobFormatError('ziplist entry overruns the blob');
  }
}
