/**
 * Values held in a compact container blob: listpack (types 16, 17, 20, 23, 25 and quicklist-2
 * PACKED nodes), ziplist (10, 12, 13 and quicklist nodes of type 14) and intset (11). Upstream:
 * Redis src/rdb.c `rdbLoadObject` (the `RDB_TYPE_*_ZIPLIST` / `_LISTPACK` / `SET_INTSET` cases);
 * element layouts in listpack.ts, ziplist.ts, intset.ts.
 *
 * A blob of at most `maxBlobBytes` (or an LZF/int-encoded one) is read whole and iterated. A larger
 * plain blob is parsed from the stream one element per unit, so memory stays bounded by the piece
 * size whatever the container size (e.g. `hash-max-listpack-entries 100000`).
 * Elements are grouped in tuples: 1 (list, set), 2 (zset member+score, hash field+value),
 * 3 (hash field+value+TTL of types 23/25).
 */
import {
  RDB_TYPE_HASH_LISTPACK_EX,
  RDB_TYPE_HASH_LISTPACK_EX_PRE_GA,
  RDB_TYPE_HASH_ZIPLIST,
  RDB_TYPE_LIST_QUICKLIST,
  RDB_TYPE_LIST_ZIPLIST,
  RDB_TYPE_SET_INTSET,
  RDB_TYPE_ZSET_ZIPLIST,
} from '../../entry/entry.js';
import { BlobFormatError, elementValue, ListpackIterator, parseListpackEntry, type BlobElement } from './listpack.js';
import { PHASE_VALUE, type ObjectContext, type RdbObject } from './rdb-object.js';
import { RDB_ENC_LZF } from './rdb-constants.js';
import { NEED_MORE, type RdbReader } from './rdb-reader.js';
import { parseZiplistEntry, ZiplistIterator } from './ziplist.js';
import { parseScore } from './zset-value.js';

/** Container formats (`RdbObject.blobFormat`). */
export const BLOB_LISTPACK = 0;
export const BLOB_ZIPLIST = 1;
export const BLOB_INTSET = 2;

/** First byte of an LZF-compressed RSTR. */
const LZF_MARKER = 0xc0 | RDB_ENC_LZF;

/** Phases of a whole-value container (types 10, 11, 12, 13, 16, 17, 20, 23, 25). */
const PHASE_STREAM = 2;
const PHASE_SKIP = 3;

/** Container format of a type's blob (quicklist nodes: 14 → ziplist, 18 → listpack). */
export function blobFormatOf(rdbType: number): number {
  switch (rdbType) {
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_LIST_QUICKLIST:
      return BLOB_ZIPLIST;
    case RDB_TYPE_SET_INTSET:
      return BLOB_INTSET;
    default:
      return BLOB_LISTPACK;
  }
}

function tupleSize(o: RdbObject): number {
  if (o.kind === 'zset' || o.kind === 'hash') return 2;
  if (o.rdbType === RDB_TYPE_HASH_LISTPACK_EX || o.rdbType === RDB_TYPE_HASH_LISTPACK_EX_PRE_GA) return 3;
  return 1;
}

/** Decodes one unit of a value that is a single container blob. */
export function stepContainerValue(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  if (o.phase === PHASE_VALUE) {
    if (o.rdbType === RDB_TYPE_HASH_LISTPACK_EX) r.skip(8); // minExpire: informational only
    if (c.skipValues && r.pos < r.end && r.buf[r.pos] === LZF_MARKER) {
      // Compressed bytes skipped as they stream by, not decompressed (the pre-scan reads no values).
      r.pos++;
      o.skip = r.strLen();
      r.strLen();
      o.phase = PHASE_SKIP;
      if (o.skip === 0) o.emit(r, c, true);
      return;
    }
    const n = r.strHeader();
    if (n >= 0 && n > c.maxBlobBytes) {
      if (c.skipValues) {
        o.skip = n;
        o.phase = PHASE_SKIP;
      } else {
        startBlobStream(r, o, blobFormatOf(o.rdbType), n);
        o.phase = PHASE_STREAM;
      }
      return;
    }
    const blob = n < 0 ? r.special : r.bytes(n);
    if (!c.skipValues) addWholeBlob(r, o, c, blob, blobFormatOf(o.rdbType));
    return o.emit(r, c, true);
  }
  if (o.phase === PHASE_SKIP) {
    const n = Math.min(o.skip, r.available);
    if (n === 0) throw NEED_MORE;
    r.pos += n;
    o.skip -= n;
    if (o.skip === 0) o.emit(r, c, true);
    return;
  }
  if (stepBlobStream(r, o, c)) o.emit(r, c, true);
}

/** Iterates a whole blob, adding its elements to the object's pieces. Throws RdbError BAD_ENCODING. */
export function addWholeBlob(r: RdbReader, o: RdbObject, c: ObjectContext, blob: Buffer, format: number): void {
  try {
    iterateBlob(r, o, c, blob, format);
  } catch (err) {
    if (err instanceof BlobFormatError) {
      throw r.error('BAD_ENCODING', `${format === BLOB_INTSET ? 'intset' : format === BLOB_ZIPLIST ? 'ziplist' : 'listpack'}: ${err.message}`);
    }
    throw err;
  }
}

function iterateBlob(r: RdbReader, o: RdbObject, c: ObjectContext, blob: Buffer, format: number): void {
  o.tupleFill = 0;
  if (format === BLOB_INTSET) {
    if (blob.length < 8) throw new BlobFormatError(`intset of ${blob.length} bytes`);
    const width = blob.readUInt32LE(0);
    const count = blob.readUInt32LE(4);
    if ((width !== 2 && width !== 4 && width !== 8) || 8 + width * count !== blob.length) {
      throw new BlobFormatError(`intset encoding ${width} with ${count} members does not fit ${blob.length} bytes`);
    }
    const e = o.elem;
    for (let p = 8; p < blob.length; p += width) {
      readIntsetElement(blob, p, width, e);
      acceptElement(r, o, c, e);
    }
  } else {
    const it = format === BLOB_ZIPLIST ? new ZiplistIterator(blob) : new ListpackIterator(blob);
    while (it.next()) acceptElement(r, o, c, it);
  }
  if (o.tupleFill !== 0) throw new BlobFormatError(`element count is not a multiple of ${tupleSize(o)}`);
}

/** Starts parsing a plain blob of `n` bytes at the cursor element by element. */
export function startBlobStream(r: RdbReader, o: RdbObject, format: number, n: number): void {
  o.blobFormat = format;
  o.blobEnd = r.base + r.pos + n;
  o.isBlobHeaderRead = false;
  o.tupleFill = 0;
}

/**
 * One unit of a streamed blob: its header, one element, or its end. Returns true when the blob
 * is complete (all its bytes consumed).
 */
export function stepBlobStream(r: RdbReader, o: RdbObject, c: ObjectContext): boolean {
  const remaining = o.blobEnd - (r.base + r.pos);
  const format = o.blobFormat;
  if (!o.isBlobHeaderRead) {
    const total = remaining;
    if (format === BLOB_INTSET) {
      const h = r.bytes(8);
      const width = h.readUInt32LE(0);
      const count = h.readUInt32LE(4);
      if ((width !== 2 && width !== 4 && width !== 8) || 8 + width * count !== total) {
        throw r.error('BAD_ENCODING', `intset encoding ${width} with ${count} members does not fit ${total} bytes`);
      }
      o.intWidth = width;
    } else {
      const h = r.bytes(format === BLOB_ZIPLIST ? 10 : 6);
      const declared = h.readUInt32LE(0);
      if (declared !== total) throw r.error('BAD_ENCODING', `container header says ${declared} bytes, RDB string has ${total}`);
    }
    o.isBlobHeaderRead = true;
    return false;
  }
  const e = o.elem;
  if (format === BLOB_INTSET) {
    if (remaining === 0) return finishTuple(r, o);
    const w = o.intWidth;
    const p = r.pos;
    r.skip(w);
    readIntsetElement(r.buf, p, w, e);
    acceptStreamed(r, o, c, e);
    return false;
  }
  if (remaining <= 0) throw r.error('BAD_ENCODING', 'container without end marker');
  const avail = Math.min(r.end - r.pos, remaining);
  if (avail < 1) throw NEED_MORE;
  if (r.buf[r.pos] === 0xff) {
    if (remaining !== 1) throw r.error('BAD_ENCODING', `container end marker ${remaining - 1} byte(s) before the end of its RDB string`);
    r.pos++;
    return finishTuple(r, o);
  }
  let n: number;
  try {
    n = format === BLOB_ZIPLIST ? parseZiplistEntry(r.buf, r.pos, avail, e) : parseListpackEntry(r.buf, r.pos, avail, e);
  } catch (err) {
    if (err instanceof BlobFormatError) throw r.error('BAD_ENCODING', err.message);
    throw err;
  }
  if (n < 0) {
    if (avail === remaining) throw r.error('BAD_ENCODING', 'container entry overruns its RDB string');
    throw NEED_MORE;
  }
  r.pos += n;
  acceptStreamed(r, o, c, e);
  return false;
}

function acceptStreamed(r: RdbReader, o: RdbObject, c: ObjectContext, e: BlobElement): void {
  try {
    acceptElement(r, o, c, e);
  } catch (err) {
    if (err instanceof BlobFormatError) throw r.error('BAD_ENCODING', err.message);
    throw err;
  }
}

function finishTuple(r: RdbReader, o: RdbObject): boolean {
  if (o.tupleFill !== 0) throw r.error('BAD_ENCODING', `element count is not a multiple of ${tupleSize(o)}`);
  return true;
}

function readIntsetElement(buf: Buffer, p: number, width: number, e: BlobElement): void {
  e.isInt = true;
  e.big = undefined;
  if (width === 2) e.int = buf.readInt16LE(p);
  else if (width === 4) e.int = buf.readInt32LE(p);
  else {
    const v = buf.readBigInt64LE(p);
    e.int = Number(v);
    if (!Number.isSafeInteger(e.int)) e.big = v;
  }
}

/** Adds one container element to the object, assembling tuples (member+score, field+value[+ttl]). */
function acceptElement(r: RdbReader, o: RdbObject, c: ObjectContext, e: BlobElement): void {
  if (c.skipValues) {
    o.tupleFill = (o.tupleFill + 1) % tupleSize(o);
    return;
  }
  switch (o.kind) {
    case 'list':
    case 'set': {
      const v = elementValue(e);
      o.beginItem(r, c, v.length);
      o.elems.push(v);
      return;
    }
    case 'zset':
      if (o.tupleFill === 0) {
        o.pending = elementValue(e);
        o.tupleFill = 1;
      } else {
        const score = e.isInt ? (e.big !== undefined ? Number(e.big) : e.int) : parseScore(e.str);
        o.beginItem(r, c, o.pending.length + 8);
        o.elems.push(o.pending);
        o.nums.push(score);
        o.tupleFill = 0;
      }
      return;
    default: {
      // hash (2) or hash-ttl listpack (3): field, value[, ttl ms (0 = none)]
      const size = tupleSize(o);
      if (o.tupleFill === 0) {
        o.pending = elementValue(e);
        o.tupleFill = 1;
      } else if (o.tupleFill === 1) {
        o.pending2 = elementValue(e);
        o.tupleFill = 2;
      } else {
        if (!e.isInt) throw new BlobFormatError('hash field TTL is not an integer');
        o.tupleFill = 3;
      }
      if (o.tupleFill === size) {
        o.beginItem(r, c, o.pending.length + o.pending2.length);
        o.elems.push(o.pending, o.pending2);
        if (size === 3) o.nums.push(e.int !== 0 ? e.int : -1);
        o.tupleFill = 0;
      }
      return;
    }
  }
}


