/**
 * String-like values: RDB type 0 (string) and Dragonfly type 30 (JSON text; also type 20 in
 * Dragonfly files with RDB version < 10). Upstream: Redis src/rdb.c `rdbLoadObject` (RDB_TYPE_STRING),
 * Dragonfly src/server/rdb_load.cc `ReadObj`/`ReadJson`.
 *
 * A plain string longer than `maxPieceBytes` is streamed: each piece is a subarray of the input,
 * so only one piece is ever buffered. An LZF string longer than `maxPieceBytes` (≥ 4 KiB) is
 * decompressed incrementally (only 8 KiB of output history is kept); smaller LZF and int-encoded
 * strings are complete after the header.
 */
import { LzfStreamDecoder } from './lzf.js';
import { RDB_ENC_LZF } from './rdb-constants.js';
import { PHASE_VALUE, type ObjectContext, type RdbObject } from './rdb-object.js';
import { NEED_MORE, type RdbReader } from './rdb-reader.js';

const PHASE_STREAM = 2;
const PHASE_LZF_STREAM = 3;
/** Smallest piece size for incremental LZF (an instruction outputs up to 264 bytes). */
const MIN_LZF_PIECE_BYTES = 4096;
const LZF_MARKER = 0xc0 | RDB_ENC_LZF;

/** Decodes one unit of a string-like value. */
export function stepString(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  if (o.phase === PHASE_VALUE) {
    if (r.pos < r.end && r.buf[r.pos] === LZF_MARKER) {
      const start = r.pos;
      r.pos++;
      const clen = r.strLen();
      const ulen = r.strLen();
      if (c.skipValues || (ulen > c.maxPieceBytes && c.maxPieceBytes >= MIN_LZF_PIECE_BYTES)) {
        o.count = clen;
        o.count2 = ulen;
        if (c.skipValues) o.phase = PHASE_STREAM;
        else {
          o.lzf = new LzfStreamDecoder(c.maxPieceBytes, ulen);
          o.phase = PHASE_LZF_STREAM;
        }
        return;
      }
      r.pos = start;
    }
    const n = r.strHeader();
    if (n < 0) {
      const v = r.special;
      if (c.skipValues) return o.emit(r, c, true);
      for (let off = 0; off < v.length || off === 0; off += c.maxPieceBytes) {
        const end = Math.min(v.length, off + c.maxPieceBytes);
        o.str = v.subarray(off, end);
        o.emit(r, c, end >= v.length);
        if (v.length === 0) break;
      }
      return;
    }
    if (n <= c.maxPieceBytes) {
      if (c.skipValues) r.skip(n);
      else o.str = r.bytes(n);
      return o.emit(r, c, true);
    }
    o.count = n;
    o.phase = PHASE_STREAM;
    if (n === 0) o.emit(r, c, true);
    return;
  }
  if (o.phase === PHASE_LZF_STREAM) return stepLzf(r, o, c);
  // PHASE_STREAM: o.count bytes left
  if (c.skipValues) {
    const n = Math.min(o.count, r.available);
    if (n === 0) throw NEED_MORE;
    r.pos += n;
    o.count -= n;
    if (o.count === 0) o.emit(r, c, true);
    return;
  }
  const n = Math.min(o.count, c.maxPieceBytes);
  o.str = r.bytes(n);
  o.count -= n;
  o.emit(r, c, o.count === 0);
}

/** Decompresses the available part of a big LZF string, emitting each full piece. */
function stepLzf(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  const lz = o.lzf!;
  const avail = Math.min(o.count, r.available);
  const n = lz.decode(r.buf, r.pos, r.pos + avail);
  if (n < 0) throw r.error('DECOMPRESS', `corrupt LZF string (${o.count2} bytes expected)`);
  if (n === 0 && !lz.isPieceFull) {
    if (avail === o.count) throw r.error('DECOMPRESS', 'LZF string ends inside an instruction');
    throw NEED_MORE;
  }
  r.pos += n;
  o.count -= n;
  if (o.count === 0) {
    if (lz.total !== o.count2) throw r.error('DECOMPRESS', `LZF string decompressed to ${lz.total} bytes, ${o.count2} expected`);
    o.str = lz.takePiece();
    o.lzf = undefined;
    o.emit(r, c, true);
  } else if (lz.isPieceFull) {
    o.str = lz.takePiece();
    o.emit(r, c, false);
  }
}
