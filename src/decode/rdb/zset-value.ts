/**
 * Sorted sets: RDB types 3 (text scores), 5 (binary double scores), 12 (ziplist), 17 (listpack).
 * Upstream: Redis src/rdb.c `rdbLoadObject` (RDB_TYPE_ZSET/ZSET_2/ZSET_ZIPLIST/ZSET_LISTPACK),
 * `rdbLoadDoubleValue` (length byte 253 = nan, 254 = +inf, 255 = -inf), src/t_zset.c `zzlGetScore`.
 */
import { RDB_TYPE_ZSET, RDB_TYPE_ZSET_2 } from '../../entry/entry.js';
import { stepContainerValue } from './container-value.js';
import { PHASE_VALUE, type ObjectContext, type RdbObject } from './rdb-object.js';
import type { RdbReader } from './rdb-reader.js';

const PHASE_ITEMS = 2;

/** Decodes one unit of a zset value. */
export function stepZset(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  const type = o.rdbType;
  if (type !== RDB_TYPE_ZSET && type !== RDB_TYPE_ZSET_2) return stepContainerValue(r, o, c);
  if (o.phase === PHASE_VALUE) {
    o.count = r.len();
    o.phase = PHASE_ITEMS;
    if (o.count === 0) o.emit(r, c, true);
    return;
  }
  const m = r.rstr();
  let score: number;
  if (type === RDB_TYPE_ZSET_2) {
    score = r.double();
  } else {
    const n = r.u8();
    if (n === 253) score = NaN;
    else if (n === 254) score = Infinity;
    else if (n === 255) score = -Infinity;
    else score = parseScore(r.bytes(n));
  }
  if (!c.skipValues) {
    o.beginItem(r, c, m.length + 8);
    o.elems.push(m);
    o.nums.push(score);
  }
  if (--o.count === 0) o.emit(r, c, true);
}

/** Parses a score written as text (`%.17g`, `inf`, `-inf`, `nan`), like C `strtod`. */
export function parseScore(text: Buffer): number {
  const s = text.toString('latin1').trim().toLowerCase();
  if (s === 'inf' || s === '+inf' || s === 'infinity' || s === '+infinity') return Infinity;
  if (s === '-inf' || s === '-infinity') return -Infinity;
  if (s === 'nan' || s === '-nan') return NaN;
  const v = Number(s);
  return Number.isNaN(v) ? parseFloat(s) : v;
}
