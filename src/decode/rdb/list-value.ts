/**
 * Lists: RDB types 1 (linked list), 10 (ziplist), 14 (quicklist of ziplists), 18 (quicklist 2:
 * PLAIN = one element, PACKED = listpack). Upstream: Redis src/rdb.c `rdbLoadObject`
 * (RDB_TYPE_LIST, RDB_TYPE_LIST_ZIPLIST, RDB_TYPE_LIST_QUICKLIST, RDB_TYPE_LIST_QUICKLIST_2),
 * Dragonfly src/server/rdb_load.cc `ReadListQuicklist`.
 *
 * One unit = one element (type 1) or one whole node (types 14/18): a node's RSTR is held whole
 * (≈ 8 KiB with default settings; a PLAIN node holds one element).
 */
import {
  RDB_TYPE_LIST,
  RDB_TYPE_LIST_QUICKLIST,
  RDB_TYPE_LIST_QUICKLIST_2,
  RDB_TYPE_LIST_ZIPLIST,
} from '../../entry/entry.js';
import { parseBlob } from './blob-error.js';
import { ListpackIterator } from './listpack.js';
import { QUICKLIST_NODE_CONTAINER_PACKED, QUICKLIST_NODE_CONTAINER_PLAIN } from './rdb-constants.js';
import { PHASE_VALUE, type ObjectContext, type RdbObject } from './rdb-object.js';
import type { RdbReader } from './rdb-reader.js';
import { ZiplistIterator } from './ziplist.js';

const PHASE_ITEMS = 2;

/** Decodes one unit of a list value. */
export function stepList(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  const type = o.rdbType;
  if (type === RDB_TYPE_LIST_ZIPLIST) {
    const blob = r.rstr();
    if (!c.skipValues) addZiplist(r, o, c, blob);
    return o.emit(r, c, true);
  }
  if (o.phase === PHASE_VALUE) {
    o.count = r.len();
    o.phase = PHASE_ITEMS;
    if (o.count === 0) o.emit(r, c, true);
    return;
  }
  if (type === RDB_TYPE_LIST) {
    const v = r.rstr();
    if (!c.skipValues) {
      o.beginItem(r, c, v.length);
      o.elems.push(v);
    }
  } else if (type === RDB_TYPE_LIST_QUICKLIST) {
    const blob = r.rstr();
    if (!c.skipValues) addZiplist(r, o, c, blob);
  } else if (type === RDB_TYPE_LIST_QUICKLIST_2) {
    const container = r.len();
    if (container !== QUICKLIST_NODE_CONTAINER_PLAIN && container !== QUICKLIST_NODE_CONTAINER_PACKED) {
      throw r.error('BAD_ENCODING', `quicklist node container ${container}`);
    }
    const blob = r.rstr();
    if (!c.skipValues) {
      if (container === QUICKLIST_NODE_CONTAINER_PLAIN) {
        o.beginItem(r, c, blob.length);
        o.elems.push(blob);
      } else {
        parseBlob(r, 'quicklist listpack node', () => {
          const it = new ListpackIterator(blob);
          while (it.next()) {
            const v = it.value();
            o.beginItem(r, c, v.length);
            o.elems.push(v);
          }
        });
      }
    }
  }
  if (--o.count === 0) o.emit(r, c, true);
}

function addZiplist(r: RdbReader, o: RdbObject, c: ObjectContext, blob: Buffer): void {
  parseBlob(r, 'list ziplist', () => {
    const it = new ZiplistIterator(blob);
    while (it.next()) {
      const v = it.value();
      o.beginItem(r, c, v.length);
      o.elems.push(v);
    }
  });
}
