/**
 * Listpack reader (Redis src/listpack.c: `lpCurrentEncodedSizeUnsafe`, `lpGet`). A listpack is
 * `LE32 total_bytes | LE16 num_elements | entries… | 0xFF`; each entry is encoding+data followed
 * by a 1–5 byte backlen. Used by types 16, 17, 18 (PACKED nodes), 20, 25 and stream nodes.
 */
import { intText } from './rdb-reader.js';

/** Thrown by the blob readers on malformed input; the object decoder maps it to RdbError BAD_ENCODING. */
export class BlobFormatError extends Error {}

/**
 * Iterates the elements of a listpack blob. After `next()` returns true, the element is either an
 * integer (`isInt`, value in `int`, or `big` for int64 beyond 2^53) or a string (`str`).
 */
export class ListpackIterator {
  readonly #buf: Buffer;
  #pos = 6;
  readonly #end: number;
  isInt = false;
  int = 0;
  big: bigint | undefined;
  str: Buffer = EMPTY;

  constructor(buf: Buffer) {
    if (buf.length < 7) throw new BlobFormatError(`listpack of ${buf.length} bytes`);
    const total = buf.readUInt32LE(0);
    if (total !== buf.length) throw new BlobFormatError(`listpack header says ${total} bytes, blob has ${buf.length}`);
    if (buf[buf.length - 1] !== 0xff) throw new BlobFormatError('listpack without end marker');
    this.#buf = buf;
    this.#end = buf.length - 1;
  }

  /** Element count from the header (65535 = unknown). */
  get headerCount(): number {
    return this.#buf.readUInt16LE(4);
  }

  /** Advances to the next element; false at the end marker. */
  next(): boolean {
    const buf = this.#buf;
    let p = this.#pos;
    if (p >= this.#end) {
      if (p === this.#end) return false;
      throw new BlobFormatError('listpack entry overruns the blob');
    }
    const b = buf[p]!;
    let entryLen: number;
    this.big = undefined;
    if (b < 0x80) {
      this.isInt = true;
      this.int = b;
      entryLen = 1;
    } else if (b < 0xc0) {
      const n = b & 0x3f;
      this.isInt = false;
      this.str = this.#slice(p + 1, n);
      entryLen = 1 + n;
    } else if (b < 0xe0) {
      this.#need(p, 2);
      const v = ((b & 0x1f) << 8) | buf[p + 1]!;
      this.isInt = true;
      this.int = v >= 4096 ? v - 8192 : v;
      entryLen = 2;
    } else if (b < 0xf0) {
      this.#need(p, 2);
      const n = ((b & 0x0f) << 8) | buf[p + 1]!;
      this.isInt = false;
      this.str = this.#slice(p + 2, n);
      entryLen = 2 + n;
    } else {
      this.isInt = true;
      switch (b) {
        case 0xf0: {
          this.#need(p, 5);
          const n = buf.readUInt32LE(p + 1);
          this.isInt = false;
          this.str = this.#slice(p + 5, n);
          entryLen = 5 + n;
          break;
        }
        case 0xf1:
          this.#need(p, 3);
          this.int = buf.readInt16LE(p + 1);
          entryLen = 3;
          break;
        case 0xf2:
          this.#need(p, 4);
          this.int = buf.readIntLE(p + 1, 3);
          entryLen = 4;
          break;
        case 0xf3:
          this.#need(p, 5);
          this.int = buf.readInt32LE(p + 1);
          entryLen = 5;
          break;
        case 0xf4: {
          this.#need(p, 9);
          const v = buf.readBigInt64LE(p + 1);
          this.int = Number(v);
          if (!Number.isSafeInteger(this.int)) this.big = v;
          entryLen = 9;
          break;
        }
        default:
          throw new BlobFormatError(`invalid listpack encoding byte 0x${b.toString(16)}`);
      }
    }
    // backlen encodes entryLen in 7-bit groups
    const back = entryLen < 128 ? 1 : entryLen < 16384 ? 2 : entryLen < 2097152 ? 3 : entryLen < 268435456 ? 4 : 5;
    p += entryLen + back;
    if (p > this.#end) throw new BlobFormatError('listpack entry overruns the blob');
    this.#pos = p;
    return true;
  }

  /** The current element as bytes (integers as decimal text, as Redis returns them). */
  value(): Buffer {
    if (!this.isInt) return this.str;
    return intText(this.big ?? this.int);
  }

  /** The current element as an integer (stream fields); throws if it is a string that is not one. */
  integer(): number {
    if (this.isInt) return this.int;
    const v = Number(this.str.toString('latin1'));
    if (!Number.isInteger(v)) throw new BlobFormatError('expected an integer listpack element');
    return v;
  }

  /** The current element as a bigint (stream id deltas). */
  bigint(): bigint {
    if (this.isInt) return this.big ?? BigInt(this.int);
    try {
      return BigInt(this.str.toString('latin1'));
    } catch {
      throw new BlobFormatError('expected an integer listpack element');
    }
  }

  #need(p: number, n: number): void {
    if (p + n > this.#end) throw new BlobFormatError('listpack entry overruns the blob');
  }

  #slice(start: number, n: number): Buffer {
    if (start + n > this.#end) throw new BlobFormatError('listpack string overruns the blob');
    return this.#buf.subarray(start, start + n);
  }
}

const EMPTY = Buffer.alloc(0);
