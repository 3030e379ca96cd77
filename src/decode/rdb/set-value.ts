/**
 * Sets: RDB types 2 (hash table), 11 (intset), 20 (listpack), and Dragonfly 32 (members with
 * expiry). Upstream: Redis src/rdb.c `rdbLoadObject` (RDB_TYPE_SET, RDB_TYPE_SET_INTSET,
 * RDB_TYPE_SET_LISTPACK); Dragonfly src/server/rdb_load.cc `ReadSet` (RDB_TYPE_SET_WITH_EXPIRY:
 * member RSTR, expiry RSTR with decimal seconds since 2023-02-01 UTC, -1 = none).
 */
import { RDB_TYPE_SET, RDB_TYPE_SET_INTSET, RDB_TYPE_SET_LISTPACK } from '../../entry/entry.js';
import { stepContainerValue } from './container-value.js';
import { DF_MEMBER_EXPIRY_BASE_S } from './rdb-constants.js';
import { PHASE_VALUE, type ObjectContext, type RdbObject } from './rdb-object.js';
import type { RdbReader } from './rdb-reader.js';

const PHASE_ITEMS = 2;

/** Decodes one unit of a set value (types 2, 11, 20, 32). */
export function stepSet(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  const type = o.rdbType;
  if (type === RDB_TYPE_SET_INTSET || type === RDB_TYPE_SET_LISTPACK) return stepContainerValue(r, o, c);
  if (o.phase === PHASE_VALUE) {
    o.count = r.len();
    o.phase = PHASE_ITEMS;
    if (o.count === 0) o.emit(r, c, true);
    return;
  }
  if (c.skipValues && type === RDB_TYPE_SET) {
    r.skipRstr();
    if (--o.count === 0) o.emit(r, c, true);
    return;
  }
  const m = r.rstr();
  if (type === RDB_TYPE_SET) {
    o.beginItem(r, c, m.length);
    o.elems.push(m);
  } else {
    const exp = r.rstr();
    if (!c.skipValues) {
      const at = dragonflyExpiryMs(r, exp);
      o.beginItem(r, c, m.length);
      o.elems.push(m);
      o.nums.push(at);
    }
  }
  if (--o.count === 0) o.emit(r, c, true);
}

/**
 * Dragonfly member/field expiry (types 31, 32): decimal text, -1 = none, else seconds since
 * 2023-02-01T00:00:00Z. Returns absolute Unix ms, or -1.
 */
export function dragonflyExpiryMs(r: RdbReader, text: Buffer): number {
  const v = Number(text.toString('latin1'));
  if (!Number.isInteger(v)) throw r.error('BAD_ENCODING', `member expiry ${JSON.stringify(text.toString('latin1'))}`);
  return v < 0 ? -1 : (v + DF_MEMBER_EXPIRY_BASE_S) * 1000;
}
