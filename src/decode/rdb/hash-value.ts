/**
 * Hashes: RDB types 4 (hash table), 9 (zipmap), 13 (ziplist), 16 (listpack); Redis 7.4+ hashes
 * with field expiry 22 (HASH_METADATA_PRE_GA), 23 (HASH_LISTPACK_EX_PRE_GA), 24 (HASH_METADATA),
 * 25 (HASH_LISTPACK_EX); Dragonfly 31 (HASH_WITH_EXPIRY).
 *
 * Upstream: Redis 7.4 src/rdb.c `rdbLoadObject`:
 * - 24: LE64 minExpire, PUINT n, n × (PUINT ttl, RSTR field, RSTR value); ttl 0 = none, else
 *   expireAt = ttl + minExpire − 1 (ms). 22: same without minExpire, ttl absolute ms.
 * - 25: LE64 minExpire, then a listpack of (field, value, ttl) triplets; 23: without minExpire.
 *   ttl is absolute ms, 0 (`HASH_LP_NO_TTL`) = none.
 * Dragonfly src/server/rdb_load.cc `ReadHMap`: 31 = n × (field, value, expiry RSTR) with the
 * member-expiry epoch of {@link dragonflyExpiryMs}.
 */
import {
  RDB_TYPE_HASH,
  RDB_TYPE_HASH_METADATA,
  RDB_TYPE_HASH_METADATA_PRE_GA,
  RDB_TYPE_HASH_WITH_EXPIRY,
  RDB_TYPE_HASH_ZIPMAP,
} from '../../entry/entry.js';
import { parseBlob } from './blob-error.js';
import { stepContainerValue } from './container-value.js';
import { PHASE_VALUE, type ObjectContext, type RdbObject } from './rdb-object.js';
import type { RdbReader } from './rdb-reader.js';
import { dragonflyExpiryMs } from './set-value.js';
import { zipmapPairs } from './zipmap.js';

const PHASE_ITEMS = 2;

/** Decodes one unit of a hash value. */
export function stepHash(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  const type = o.rdbType;
  switch (type) {
    case RDB_TYPE_HASH:
    case RDB_TYPE_HASH_WITH_EXPIRY:
    case RDB_TYPE_HASH_METADATA:
    case RDB_TYPE_HASH_METADATA_PRE_GA:
      break;
    default:
      return stepHashBlob(r, o, c);
  }
  if (o.phase === PHASE_VALUE) {
    const minExpire = type === RDB_TYPE_HASH_METADATA ? r.le64() : 0;
    o.count = r.len();
    o.minExpireMs = minExpire;
    o.phase = PHASE_ITEMS;
    if (o.count === 0) o.emit(r, c, true);
    return;
  }
  let at = -1;
  if (type === RDB_TYPE_HASH_METADATA || type === RDB_TYPE_HASH_METADATA_PRE_GA) {
    const ttl = r.len();
    if (ttl !== 0) at = type === RDB_TYPE_HASH_METADATA ? ttl + o.minExpireMs - 1 : ttl;
  }
  const f = r.rstr();
  const v = r.rstr();
  if (type === RDB_TYPE_HASH_WITH_EXPIRY) {
    const exp = r.rstr();
    at = c.skipValues ? -1 : dragonflyExpiryMs(r, exp);
  }
  if (!c.skipValues) {
    o.beginItem(r, c, f.length + v.length);
    o.elems.push(f, v);
    if (type !== RDB_TYPE_HASH) o.nums.push(at);
  }
  if (--o.count === 0) o.emit(r, c, true);
}

function stepHashBlob(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  if (o.rdbType !== RDB_TYPE_HASH_ZIPMAP) return stepContainerValue(r, o, c);
  const blob = r.rstr();
  if (!c.skipValues) {
    const pairs = parseBlob(r, 'hash zipmap', () => zipmapPairs(blob));
    for (let i = 0; i < pairs.length; i += 2) {
      o.beginItem(r, c, pairs[i]!.length + pairs[i + 1]!.length);
      o.elems.push(pairs[i]!, pairs[i + 1]!);
    }
  }
  o.emit(r, c, true);
}
