/**
 * The decoder's one buffer and cursor (DESIGN.md "Hot-path rules"). Every read method either
 * completes and advances `pos`, or throws the singleton {@link NEED_MORE} without allocating; the
 * caller then rewinds `pos` to its last committed unit start (`mark`) and waits for more bytes.
 *
 * Upstream formats: Redis src/rdb.c (`rdbLoadLen`, `rdbGenericLoadStringObject`,
 * `rdbLoadLzfStringObject`, `rdbLoadIntegerObject`), Dragonfly src/server/rdb_load.cc.
 */
import { RdbError, type RdbErrorCode } from '../../errors.js';
import { lzfDecompress } from './lzf.js';
import { MAX_STRING_LENGTH, RDB_32BITLEN, RDB_64BITLEN, RDB_ENC_INT16, RDB_ENC_INT32, RDB_ENC_INT8, RDB_ENC_LZF } from './rdb-constants.js';

/** Thrown (never allocated anew) when the buffer ends inside the current unit. */
export const NEED_MORE: { readonly needMore: true } = Object.freeze({ needMore: true });

/** Initial capacity of an owned buffer; grows by doubling. */
const MIN_CAPACITY = 64 * 1024;

/** {@link RdbReader.appendStitched}: bytes of the new chunk copied behind the unconsumed tail. */
export const STITCH_HEAD_BYTES = 4096;

/** {@link RdbReader.appendStitched}: a longer unconsumed tail is appended to as by {@link RdbReader.append}. */
const STITCH_MAX_TAIL = 16 * 1024;

/**
 * A growable window over a byte stream. `base` is the absolute stream offset of `buf[0]`; bytes
 * `[mark, end)` (or from `retainFrom` when set) survive compaction. Buffers are never written to
 * after bytes were handed out as subarrays: compaction copies into a new allocation.
 */
export class RdbReader {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  /** Absolute stream offset of `buf[0]`. */
  base = 0;
  /** Buffer index of the start of the current (uncommitted) unit. */
  mark = 0;
  /** Absolute offset from which bytes must be kept (rdbValue capture), or -1. */
  retainFrom = -1;
  /** Whether `buf` is our allocation (its spare capacity may be appended into). */
  #owned = false;
  /** The chunk whose head was stitched behind the tail ({@link appendStitched}), until resumed. */
  #stitchChunk: Buffer | undefined;
  /** Bytes of `buf` before the stitched head (the former unconsumed tail). */
  #stitchTail = 0;
  /** When set, errors report this fixed offset (compressed blobs, tagged chunk payloads). */
  fixedErrorOffset = -1;
  /** Key of the object being decoded, for error messages. */
  key: Buffer | undefined;
  source: string | undefined;
  /** Called with `(buf, start, end)` for bytes about to be dropped by compaction (CRC). */
  onDiscard: ((buf: Buffer, start: number, end: number) => void) | undefined;

  constructor(source?: string) {
    this.source = source;
  }

  /** Buffer over complete, already available bytes (a decompressed blob). */
  static over(buf: Buffer, errorOffset: number, source: string | undefined): RdbReader {
    const r = new RdbReader(source);
    r.buf = buf;
    r.end = buf.length;
    r.fixedErrorOffset = errorOffset;
    return r;
  }

  /** Bytes between the cursor and the end of the buffered input. */
  get available(): number {
    return this.end - this.pos;
  }

  /** Absolute offset of the cursor. */
  get offset(): number {
    return this.base + this.pos;
  }

  /** Appends bytes, compacting away everything before `mark` (and `retainFrom`). */
  append(chunk: Buffer): void {
    const keep = this.#keepFrom();
    const live = this.end - keep;
    if (live === 0) {
      if (this.onDiscard !== undefined && keep > 0) this.onDiscard(this.buf, 0, keep);
      this.base += this.end;
      this.buf = chunk;
      this.pos = this.mark = 0;
      this.end = chunk.length;
      this.#owned = false;
      return;
    }
    if (this.#owned && this.buf.length - this.end >= chunk.length) {
      chunk.copy(this.buf, this.end);
      this.end += chunk.length;
      return;
    }
    if (this.onDiscard !== undefined && keep > 0) this.onDiscard(this.buf, 0, keep);
    const need = live + chunk.length;
    const cap = Math.max(need, MIN_CAPACITY, live * 2);
    const nb = Buffer.allocUnsafeSlow(cap);
    this.buf.copy(nb, 0, keep, this.end);
    chunk.copy(nb, live);
    this.#moveTo(nb, true, keep, need);
  }

  /** Buffer index from which bytes must be kept: `mark`, or `retainFrom` when earlier. */
  #keepFrom(): number {
    let keep = this.mark;
    if (this.retainFrom >= 0) keep = Math.min(keep, this.retainFrom - this.base);
    return keep < 0 ? 0 : keep;
  }

  /** Makes `buf` the new buffer whose index 0 is the old index `shift`, holding `end` bytes. */
  #moveTo(buf: Buffer, isOwned: boolean, shift: number, end: number): void {
    this.buf = buf;
    this.#owned = isOwned;
    this.base += shift;
    this.pos -= shift;
    this.mark -= shift;
    this.end = end;
  }

  /**
   * {@link append} without copying the chunk: when bytes before it are unconsumed (a record cut
   * by the chunk boundary), `buf` becomes a small new buffer holding that tail and the chunk's
   * first {@link STITCH_HEAD_BYTES}; the caller parses it, rewinds to `mark`, then calls
   * {@link resumeStitch}, which moves the cursor onto the chunk itself. Every file or socket chunk
   * was copied once by {@link append} otherwise (a record almost always straddles the boundary).
   * The CRC sees the same bytes in the same order (`onDiscard`).
   */
  appendStitched(chunk: Buffer): void {
    const keep = this.#keepFrom();
    const live = this.end - keep;
    if (live === 0 || live > STITCH_MAX_TAIL || chunk.length <= STITCH_HEAD_BYTES) {
      this.append(chunk);
      return;
    }
    if (this.onDiscard !== undefined && keep > 0) this.onDiscard(this.buf, 0, keep);
    const nb = Buffer.allocUnsafeSlow(live + STITCH_HEAD_BYTES);
    this.buf.copy(nb, 0, keep, this.end);
    chunk.copy(nb, live, 0, STITCH_HEAD_BYTES);
    this.#moveTo(nb, true, keep, nb.length);
    this.#stitchChunk = chunk;
    this.#stitchTail = live;
  }

  /** Bytes of the stitched chunk not yet in `buf` (0 when nothing is stitched). */
  get stitchedLeft(): number {
    const c = this.#stitchChunk;
    return c === undefined ? 0 : c.length - STITCH_HEAD_BYTES;
  }

  /**
   * After parsing a stitched buffer up to `mark`: continues on the chunk itself when the bytes to
   * keep all lie in its head (the cut record is complete), else appends the rest of the chunk
   * (a unit longer than the head; copies as {@link append}). Returns false when nothing was stitched.
   */
  resumeStitch(): boolean {
    const chunk = this.#stitchChunk;
    if (chunk === undefined) return false;
    this.#stitchChunk = undefined;
    const tail = this.#stitchTail;
    if (this.#keepFrom() < tail) {
      this.append(chunk.subarray(STITCH_HEAD_BYTES));
      return true;
    }
    if (this.onDiscard !== undefined) this.onDiscard(this.buf, 0, tail);
    this.#moveTo(chunk, false, tail, chunk.length);
    return true;
  }

  /** A typed error at the current position (or the fixed blob/chunk offset). */
  error(code: RdbErrorCode, detail: string): RdbError {
    const offset = this.fixedErrorOffset >= 0 ? this.fixedErrorOffset : this.base + this.pos;
    return new RdbError(code, detail, { offset, key: this.key, source: this.source });
  }

  /** One byte. */
  u8(): number {
    if (this.pos >= this.end) throw NEED_MORE;
    return this.buf[this.pos++]!;
  }

  /** `n` bytes as a subarray of the buffer (never copied). */
  bytes(n: number): Buffer {
    const p = this.pos;
    if (p + n > this.end) throw NEED_MORE;
    this.pos = p + n;
    return this.buf.subarray(p, p + n);
  }

  /** Skips `n` bytes (all of them must be buffered). */
  skip(n: number): void {
    if (this.pos + n > this.end) throw NEED_MORE;
    this.pos += n;
  }

  /** Unsigned LE32 (DF_MASK flags, tagged chunk header fields, EXPIRETIME seconds). */
  le32(): number {
    const p = this.pos;
    if (p + 4 > this.end) throw NEED_MORE;
    this.pos = p + 4;
    return this.buf.readUInt32LE(p);
  }

  /** Signed LE64 as a number (expiry ms, delivery times). */
  le64(): number {
    const p = this.pos;
    if (p + 8 > this.end) throw NEED_MORE;
    this.pos = p + 8;
    return this.buf.readUInt32LE(p) + this.buf.readInt32LE(p + 4) * 4294967296;
  }

  /** Unsigned LE64 as a bigint (JOURNAL_OFFSET, EOF checksum). */
  le64Big(): bigint {
    const p = this.pos;
    if (p + 8 > this.end) throw NEED_MORE;
    this.pos = p + 8;
    return this.buf.readBigUInt64LE(p);
  }

  /** IEEE-754 LE double (Redis `rdbLoadBinaryDoubleValue`). */
  double(): number {
    const p = this.pos;
    if (p + 8 > this.end) throw NEED_MORE;
    this.pos = p + 8;
    return this.buf.readDoubleLE(p);
  }

  /**
   * RDB length (Dragonfly PUINT) as a number. Throws BAD_ENCODING on a special-encoding marker
   * or an invalid first byte, BAD_LENGTH above 2^53.
   */
  len(): number {
    const buf = this.buf;
    const p = this.pos;
    if (p >= this.end) throw NEED_MORE;
    const b = buf[p]!;
    if (b < 0x40) {
      this.pos = p + 1;
      return b;
    }
    if (b < 0x80) {
      if (p + 2 > this.end) throw NEED_MORE;
      this.pos = p + 2;
      return ((b & 0x3f) << 8) | buf[p + 1]!;
    }
    if (b === RDB_32BITLEN) {
      if (p + 5 > this.end) throw NEED_MORE;
      this.pos = p + 5;
      return buf.readUInt32BE(p + 1);
    }
    if (b === RDB_64BITLEN) {
      if (p + 9 > this.end) throw NEED_MORE;
      const hi = buf.readUInt32BE(p + 1);
      if (hi >= 0x200000) throw this.error('BAD_LENGTH', `length above 2^53 (0x${buf.subarray(p + 1, p + 9).toString('hex')})`);
      this.pos = p + 9;
      return hi * 4294967296 + buf.readUInt32BE(p + 5);
    }
    throw this.error('BAD_ENCODING', `invalid length byte 0x${b.toString(16)}`);
  }

  /** RDB length as a bigint (stream ids, entries_read = 2^64−1). */
  lenBig(): bigint {
    const p = this.pos;
    if (p >= this.end) throw NEED_MORE;
    if (this.buf[p] === RDB_64BITLEN) {
      if (p + 9 > this.end) throw NEED_MORE;
      this.pos = p + 9;
      return this.buf.readBigUInt64BE(p + 1);
    }
    return BigInt(this.len());
  }

  /** A string length, checked against {@link MAX_STRING_LENGTH} (fails fast, before waiting for the bytes). */
  strLen(): number {
    const n = this.len();
    if (n > MAX_STRING_LENGTH) throw this.error('BAD_LENGTH', `string length ${n} exceeds ${MAX_STRING_LENGTH}`);
    return n;
  }

  /**
   * Reads an RSTR header. Returns the byte length of a plain string (cursor on its first byte), or
   * -1 for a special encoding, whose complete value is then in {@link special} (int → decimal text,
   * LZF → decompressed bytes).
   */
  strHeader(): number {
    const p = this.pos;
    if (p >= this.end) throw NEED_MORE;
    const b = this.buf[p]!;
    if (b < 0xc0) return this.strLen();
    this.pos = p + 1;
    this.special = this.#encoded(b & 0x3f);
    return -1;
  }

  /** Value of the last special-encoded string read by {@link strHeader}. */
  special: Buffer = Buffer.alloc(0);

  /** A whole RSTR (Redis `rdbGenericLoadStringObject`). */
  rstr(): Buffer {
    const buf = this.buf;
    const p = this.pos;
    if (p >= this.end) throw NEED_MORE;
    const b = buf[p]!;
    let n: number;
    let q: number;
    if (b < 0x40) {
      n = b;
      q = p + 1;
    } else if (b < 0x80) {
      if (p + 2 > this.end) throw NEED_MORE;
      n = ((b & 0x3f) << 8) | buf[p + 1]!;
      q = p + 2;
    } else if (b >= 0xc0) {
      this.pos = p + 1;
      return this.#encoded(b & 0x3f);
    } else {
      n = this.strLen();
      q = this.pos;
      this.pos = p;
    }
    if (q + n > this.end) throw NEED_MORE;
    this.pos = q + n;
    return buf.subarray(q, q + n);
  }

  /**
   * A whole RSTR whose plain length must not exceed `max` (checked as soon as the length is read,
   * before waiting for the bytes: a corrupt length cannot hold the stream hostage).
   * @throws RdbError BAD_LENGTH naming `what`, at the string's offset.
   */
  rstrAtMost(max: number, what: string): Buffer {
    const p = this.pos;
    if (p >= this.end) throw NEED_MORE;
    if (this.buf[p]! < 0xc0) {
      const n = this.strLen();
      this.pos = p;
      if (n > max) throw this.error('BAD_LENGTH', `${what} of ${n} bytes exceeds the ${max}-byte bound`);
    }
    return this.rstr();
  }

  /** Skips an RSTR without materializing it (LZF data is skipped, not decompressed). */
  skipRstr(): void {
    const p = this.pos;
    if (p >= this.end) throw NEED_MORE;
    const b = this.buf[p]!;
    if (b >= 0xc0) {
      const enc = b & 0x3f;
      this.pos = p + 1;
      if (enc === RDB_ENC_INT8) return this.skip(1);
      if (enc === RDB_ENC_INT16) return this.skip(2);
      if (enc === RDB_ENC_INT32) return this.skip(4);
      if (enc === RDB_ENC_LZF) {
        const clen = this.strLen();
        this.strLen();
        return this.skip(clen);
      }
      throw this.error('BAD_ENCODING', `unknown string encoding ${enc}`);
    }
    const n = this.strLen();
    this.skip(n);
  }

  #encoded(enc: number): Buffer {
    switch (enc) {
      case RDB_ENC_INT8: {
        if (this.pos + 1 > this.end) throw NEED_MORE;
        return intText(this.buf.readInt8(this.pos++));
      }
      case RDB_ENC_INT16: {
        if (this.pos + 2 > this.end) throw NEED_MORE;
        const v = this.buf.readInt16LE(this.pos);
        this.pos += 2;
        return intText(v);
      }
      case RDB_ENC_INT32: {
        if (this.pos + 4 > this.end) throw NEED_MORE;
        const v = this.buf.readInt32LE(this.pos);
        this.pos += 4;
        return intText(v);
      }
      case RDB_ENC_LZF: {
        const clen = this.strLen();
        const ulen = this.strLen();
        const data = this.bytes(clen);
        const out = lzfDecompress(data, ulen);
        if (out === undefined) throw this.error('DECOMPRESS', `corrupt LZF string (${clen} → ${ulen} bytes)`);
        return out;
      }
      default:
        throw this.error('BAD_ENCODING', `unknown string encoding ${enc}`);
    }
  }
}

/** Small-integer text cache: RDB int-encoded strings are mostly small numbers. */
const SMALL_INTS: Buffer[] = Array.from({ length: 1024 }, (_, i) => Buffer.from(String(i), 'latin1'));

/** Decimal ASCII of an integer, as Redis prints it. */
export function intText(v: number | bigint): Buffer {
  if (typeof v === 'number' && v >= 0 && v < 1024) return SMALL_INTS[v]!;
  return Buffer.from(String(v), 'latin1');
}

/**
 * A 6- or 14-bit RDB length (`rdbLoadLenByRef`'s two short forms, Redis src/rdb.c) at `buf[p]`,
 * packed as `length * 4 + bytes it takes` (1 or 2); -1 for another form (32/64-bit, encoded) or
 * when it is not whole before `end`. For the fast paths that read records straight from a chunk.
 */
export function shortLength(buf: Buffer, p: number, end: number): number {
  if (p >= end) return -1;
  const b = buf[p]!;
  if (b < 0x40) return b * 4 + 1;
  if (b < 0x80 && p + 1 < end) return (((b & 0x3f) << 8) | buf[p + 1]!) * 4 + 2;
  return -1;
}
