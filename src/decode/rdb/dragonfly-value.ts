/**
 * Dragonfly probabilistic types, decoded into their parameters (an OpaquePiece) while the bulk
 * bytes (filters, counters) are skipped as they stream by; `rdbValue` keeps the raw value for
 * passthrough when small. Upstream: Dragonfly src/server/rdb_save.cc `SaveSBFObject`,
 * `SaveCMSObject`, `SaveTopKObject`, `SaveCuckooObject`; src/server/rdb_load.cc `ReadSBF`,
 * `ReadSBF2`, `ReadCMS`, `ReadTopK`, `ReadCuckoo` (layouts: reference §4.4).
 */
import { RDB_TYPE_CMS, RDB_TYPE_CUCKOO, RDB_TYPE_SBF, RDB_TYPE_SBF2, RDB_TYPE_TOPK } from '../../entry/entry.js';
import { PHASE_VALUE, type ObjectContext, type RdbObject } from './rdb-object.js';
import { NEED_MORE, type RdbReader } from './rdb-reader.js';

/** Phases after the header. */
const PHASE_FILTER = 2; // SBF / SBF2 / CUCKOO: next filter header
const PHASE_FILTER_CHUNK = 3; // SBF2 / CUCKOO: next chunk header of the current filter
const PHASE_TOPK_HEAP = 4;
const PHASE_SKIP = 6;
const PHASE_FINISH = 7;

/** Decodes one unit of a Dragonfly type 33–37 value. */
export function stepDragonfly(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  const type = o.rdbType;
  switch (o.phase) {
    case PHASE_VALUE:
      return header(r, o);
    case PHASE_FILTER: {
      if (o.count === 0) return o.emit(r, c, true);
      if (type === RDB_TYPE_SBF) {
        r.len(); // hash count
        const n = r.strHeader();
        o.count--;
        if (n > 0) skipThen(o, n, PHASE_FILTER);
        return;
      }
      if (type === RDB_TYPE_SBF2) r.len(); // hash count
      o.count2 = r.len(); // total bytes of this filter, sent in chunks
      o.count--;
      o.phase = PHASE_FILTER_CHUNK;
      return;
    }
    case PHASE_FILTER_CHUNK: {
      if (o.count2 === 0) {
        o.phase = PHASE_FILTER;
        return;
      }
      const n = r.len();
      if (n === 0 || n > o.count2) throw r.error('BAD_LENGTH', `filter chunk of ${n} bytes, ${o.count2} left`);
      o.count2 -= n;
      skipThen(o, n, PHASE_FILTER_CHUNK);
      return;
    }
    case PHASE_TOPK_HEAP: {
      if (o.count === 0) {
        const n = r.len(); // counter bytes
        skipThen(o, n, PHASE_FINISH);
        return;
      }
      r.skipRstr();
      r.len();
      o.count--;
      return;
    }
    case PHASE_SKIP: {
      const n = Math.min(o.skip, r.available);
      if (n === 0) throw NEED_MORE;
      r.pos += n;
      o.skip -= n;
      if (o.skip === 0) o.phase = o.afterSkip;
      return;
    }
    case PHASE_FINISH:
      return o.emit(r, c, true);
    default:
      throw r.error('BAD_ENCODING', `Dragonfly type ${type} decoder in phase ${o.phase}`);
  }
}

function skipThen(o: RdbObject, n: number, next: number): void {
  o.skip = n;
  o.afterSkip = next;
  o.phase = n > 0 ? PHASE_SKIP : next;
}

function header(r: RdbReader, o: RdbObject): void {
  const type = o.rdbType;
  if (type === RDB_TYPE_SBF || type === RDB_TYPE_SBF2) {
    const options = r.len();
    const growFactor = r.double();
    const fpProb = r.double();
    const prevSize = r.len();
    const currentSize = r.len();
    const maxCapacity = r.len();
    const filters = r.len();
    o.opaque = { options, growFactor, fpProb, prevSize, currentSize, maxCapacity, filters };
    o.count = filters;
    o.phase = PHASE_FILTER;
    return;
  }
  if (type === RDB_TYPE_CMS) {
    const width = r.len();
    const depth = r.len();
    const totalCount = r.len();
    o.opaque = { width, depth, totalCount };
    skipThen(o, width * depth * 8, PHASE_FINISH);
    return;
  }
  if (type === RDB_TYPE_TOPK) {
    const options = r.len();
    const k = r.len();
    const width = r.len();
    const depth = r.len();
    const decay = r.double();
    const heapSize = r.len();
    o.opaque = { options, k, width, depth, decay, heapSize };
    o.count = heapSize;
    o.phase = PHASE_TOPK_HEAP;
    return;
  }
  if (type === RDB_TYPE_CUCKOO) {
    const slotsPerBucket = r.len();
    const maxIterations = r.len();
    const expansion = r.len();
    const numBuckets = r.len();
    const numItems = r.len();
    const numDeletes = r.len();
    const filters = r.len();
    o.opaque = { slotsPerBucket, maxIterations, expansion, numBuckets, numItems, numDeletes, filters };
    o.count = filters;
    o.phase = PHASE_FILTER;
    return;
  }
  throw r.error('UNKNOWN_TYPE', `Dragonfly type ${type}`);
}

