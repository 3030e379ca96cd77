/**
 * String-like values: RDB type 0 (string) and Dragonfly type 30 (JSON text; also type 20 in
 * Dragonfly files with RDB version < 10). Upstream: Redis src/rdb.c `rdbLoadObject` (RDB_TYPE_STRING),
 * Dragonfly src/server/rdb_load.cc `ReadObj`/`ReadJson`.
 *
 * A plain string longer than `maxPieceBytes` is streamed: each piece is a subarray of the input,
 * so only one piece is ever buffered. Int- and LZF-encoded strings are complete after the header
 * (an LZF string is held whole, then cut into pieces).
 */
import { PHASE_VALUE, type ObjectContext, type RdbObject } from './rdb-object.js';
import { NEED_MORE, type RdbReader } from './rdb-reader.js';

const PHASE_STREAM = 2;

/** Decodes one unit of a string-like value. */
export function stepString(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  if (o.phase === PHASE_VALUE) {
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
