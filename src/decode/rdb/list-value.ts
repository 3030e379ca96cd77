/**
 * Lists: RDB types 1 (linked list), 10 (ziplist), 14 (quicklist of ziplists), 18 (quicklist 2:
 * PLAIN = one element, PACKED = listpack). Upstream: Redis src/rdb.c `rdbLoadObject`
 * (RDB_TYPE_LIST, RDB_TYPE_LIST_ZIPLIST, RDB_TYPE_LIST_QUICKLIST, RDB_TYPE_LIST_QUICKLIST_2),
 * Dragonfly src/server/rdb_load.cc `ReadListQuicklist`.
 *
 * One unit = one element (type 1) or one node (types 14/18): a node up to `maxBlobBytes` is read
 * whole (≈ 8 KiB with default settings), a larger plain PACKED node is parsed element by element
 * (container-value.ts); a PLAIN node is one element, held whole.
 */
import {
  RDB_TYPE_LIST,
  RDB_TYPE_LIST_QUICKLIST_2,
  RDB_TYPE_LIST_ZIPLIST,
} from '../../entry/entry.js';
import { addWholeBlob, blobFormatOf, startBlobStream, stepBlobStream, stepContainerValue } from './container-value.js';
import { QUICKLIST_NODE_CONTAINER_PACKED, QUICKLIST_NODE_CONTAINER_PLAIN } from './rdb-constants.js';
import { PHASE_VALUE, type ObjectContext, type RdbObject } from './rdb-object.js';
import type { RdbReader } from './rdb-reader.js';

const PHASE_ITEMS = 2;
/** A large PACKED node being parsed element by element. */
const PHASE_NODE_STREAM = 3;

/** Decodes one unit of a list value. */
export function stepList(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  const type = o.rdbType;
  if (type === RDB_TYPE_LIST_ZIPLIST) return stepContainerValue(r, o, c);
  if (o.phase === PHASE_VALUE) {
    o.count = r.len();
    o.phase = PHASE_ITEMS;
    if (o.count === 0) o.emit(r, c, true);
    return;
  }
  if (o.phase === PHASE_NODE_STREAM) {
    if (stepBlobStream(r, o, c)) endNode(r, o, c);
    return;
  }
  if (type === RDB_TYPE_LIST) {
    const v = r.rstr();
    if (!c.skipValues) {
      o.beginItem(r, c, v.length);
      o.elems.push(v);
    }
  } else {
    let container = QUICKLIST_NODE_CONTAINER_PACKED;
    if (type === RDB_TYPE_LIST_QUICKLIST_2) {
      container = r.len();
      if (container !== QUICKLIST_NODE_CONTAINER_PLAIN && container !== QUICKLIST_NODE_CONTAINER_PACKED) {
        throw r.error('BAD_ENCODING', `quicklist node container ${container}`);
      }
    }
    if (c.skipValues) {
      r.skipRstr(); // a compressed node is skipped, not decompressed
      return endNode(r, o, c);
    }
    const n = r.strHeader();
    if (container === QUICKLIST_NODE_CONTAINER_PACKED && n > c.maxBlobBytes) {
      startBlobStream(r, o, blobFormatOf(type), n);
      o.phase = PHASE_NODE_STREAM;
      return;
    }
    const blob = n < 0 ? r.special : r.bytes(n); // a PLAIN node is one element, held whole
    if (container === QUICKLIST_NODE_CONTAINER_PLAIN) {
      o.beginItem(r, c, blob.length);
      o.elems.push(blob);
    } else {
      addWholeBlob(r, o, c, blob, blobFormatOf(type));
    }
  }
  endNode(r, o, c);
}

function endNode(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  o.phase = PHASE_ITEMS;
  if (--o.count === 0) o.emit(r, c, true);
}
