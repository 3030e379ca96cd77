/**
 * Listpack reader (Redis src/listpack.c: `lpCurrentEncodedSizeUnsafe`, `lpGet`). A listpack is
 * `LE32 total_bytes | LE16 num_elements | entries… | 0xFF`; each entry is encoding+data followed
 * by a 1–5 byte backlen. Used by types 16, 17, 18 (PACKED nodes), 20, 23, 25 and stream nodes.
 */
import { intText } from './rdb-reader.js';

/** Thrown by the blob readers on malformed input; the object decoder maps it to RdbError BAD_ENCODING. */
export class BlobFormatError extends Error {}

/** One decoded container element: an integer (`int`, or `big` beyond 2^53) or a string (`str`). */
export interface BlobElement {
  isInt: boolean;
  int: number;
  big: bigint | undefined;
  str: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** A fresh, reusable {@link BlobElement}. */
export function newBlobElement(): BlobElement {
  return { isInt: false, int: 0, big: undefined, str: EMPTY };
}

/** The element as bytes (integers as decimal text, as Redis returns them). */
export function elementValue(e: BlobElement): Buffer {
  return e.isInt ? intText(e.big ?? e.int) : e.str;
}

/**
 * Parses the listpack entry at `buf[p]` (not the 0xFF end marker) into `out`, using at most
 * `avail` bytes. Returns the entry's total size (encoding, data, backlen), or -1 if it needs more
 * than `avail` bytes. Throws BlobFormatError on an invalid encoding byte.
 */
export function parseListpackEntry(buf: Buffer, p: number, avail: number, out: BlobElement): number {
  if (avail < 1) return -1;
  const b = buf[p]!;
  let entryLen: number;
  out.big = undefined;
  if (b < 0x80) {
    out.isInt = true;
    out.int = b;
    entryLen = 1;
  } else if (b < 0xc0) {
    const n = b & 0x3f;
    entryLen = 1 + n;
    if (entryLen + 1 > avail) return -1;
    out.isInt = false;
    out.str = buf.subarray(p + 1, p + 1 + n);
  } else if (b < 0xe0) {
    if (avail < 2) return -1;
    const v = ((b & 0x1f) << 8) | buf[p + 1]!;
    out.isInt = true;
    out.int = v >= 4096 ? v - 8192 : v;
    entryLen = 2;
  } else if (b < 0xf0) {
    if (avail < 2) return -1;
    const n = ((b & 0x0f) << 8) | buf[p + 1]!;
    entryLen = 2 + n;
    if (entryLen + 2 > avail) return -1;
    out.isInt = false;
    out.str = buf.subarray(p + 2, p + 2 + n);
  } else {
    switch (b) {
      case 0xf0: {
        if (avail < 5) return -1;
        const n = buf.readUInt32LE(p + 1);
        entryLen = 5 + n;
        if (entryLen + backlenSize(entryLen) > avail) return -1;
        out.isInt = false;
        out.str = buf.subarray(p + 5, p + 5 + n);
        break;
      }
      case 0xf1:
        if (avail < 3) return -1;
        out.isInt = true;
        out.int = buf.readInt16LE(p + 1);
        entryLen = 3;
        break;
      case 0xf2:
        if (avail < 4) return -1;
        out.isInt = true;
        out.int = buf.readIntLE(p + 1, 3);
        entryLen = 4;
        break;
      case 0xf3:
        if (avail < 5) return -1;
        out.isInt = true;
        out.int = buf.readInt32LE(p + 1);
        entryLen = 5;
        break;
      case 0xf4: {
        if (avail < 9) return -1;
        const v = buf.readBigInt64LE(p + 1);
        out.isInt = true;
        out.int = Number(v);
        if (!Number.isSafeInteger(out.int)) out.big = v;
        entryLen = 9;
        break;
      }
      default:
        throw new BlobFormatError(`invalid listpack encoding byte 0x${b.toString(16)}`);
    }
  }
  const total = entryLen + backlenSize(entryLen);
  return total > avail ? -1 : total;
}

/** Size of the backlen that follows an entry of `entryLen` bytes (7 bits per byte). */
function backlenSize(entryLen: number): number {
  return entryLen < 128 ? 1 : entryLen < 16384 ? 2 : entryLen < 2097152 ? 3 : entryLen < 268435456 ? 4 : 5;
}

/** Iterates the elements of a whole listpack blob. After `next()` returns true, read the element fields. */
export class ListpackIterator implements BlobElement {
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

  /** Advances to the next element; false at the end marker. */
  next(): boolean {
    const p = this.#pos;
    if (p >= this.#end) {
      if (p === this.#end) return false;
      throw new BlobFormatError('listpack entry overruns the blob');
    }
    const n = parseListpackEntry(this.#buf, p, this.#end - p, this);
    if (n < 0) throw new BlobFormatError('listpack entry overruns the blob');
    this.#pos = p + n;
    return true;
  }

  /** The current element as bytes (integers as decimal text). */
  value(): Buffer {
    return elementValue(this);
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
}
