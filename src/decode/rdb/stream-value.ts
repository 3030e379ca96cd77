/**
 * Streams: RDB types 15, 19, 21 (STREAM_LISTPACKS, _2, _3). Upstream: Redis src/rdb.c
 * `rdbLoadObject` (stream case), node listpack layout from src/t_stream.c (`streamAppendItem`);
 * Dragonfly src/server/rdb_save.cc `SaveStreamObject`, `SaveStreamPEL`, `SaveStreamConsumers`.
 *
 * Units: node count; each node (16-byte master id RSTR + listpack RSTR, held whole); the fixed
 * metadata; each group header (+PEL size); each PEL entry; each consumer header (+PEL size); each
 * consumer PEL id. Entries are emitted in pieces; groups, PELs and consumers are kept until the
 * last piece, which carries `meta` (memory proportional to the PEL size — documented limitation).
 */
import { RDB_TYPE_STREAM_LISTPACKS_2, RDB_TYPE_STREAM_LISTPACKS_3 } from '../../entry/entry.js';
import type { StreamEntry, StreamGroup, StreamId } from '../../entry/entry.js';
import { parseBlob } from './blob-error.js';
import { BlobFormatError, ListpackIterator } from './listpack.js';
import { STREAM_ITEM_FLAG_DELETED, STREAM_ITEM_FLAG_SAMEFIELDS } from './rdb-constants.js';
import { PHASE_VALUE, type ObjectContext, type RdbObject } from './rdb-object.js';
import type { RdbReader } from './rdb-reader.js';

const PHASE_NODES = 2;
const PHASE_META = 3;
const PHASE_GROUP = 4;
const PHASE_GROUP_PEL = 5;
const PHASE_CONSUMERS = 6;
const PHASE_CONSUMER = 7;
const PHASE_CONSUMER_PEL = 8;

const U64_MAX = 0xffffffffffffffffn;

/** Decodes one unit of a stream value. */
export function stepStream(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  const type = o.rdbType;
  switch (o.phase) {
    case PHASE_VALUE:
      o.count = r.len();
      o.phase = o.count > 0 ? PHASE_NODES : PHASE_META;
      return;
    case PHASE_NODES: {
      const nodeKey = r.rstr();
      const lp = r.rstr();
      if (nodeKey.length !== 16) throw r.error('BAD_ENCODING', `stream node key of ${nodeKey.length} bytes`);
      if (!c.skipValues) {
        const master: StreamId = { ms: nodeKey.readBigUInt64BE(0), seq: nodeKey.readBigUInt64BE(8) };
        parseBlob(r, 'stream node listpack', () => readStreamNode(lp, master, (e, size) => {
          o.beginItem(r, c, size);
          o.streamEntries.push(e);
        }));
      }
      if (--o.count === 0) o.phase = PHASE_META;
      return;
    }
    case PHASE_META: {
      const length = r.lenBig();
      const lastMs = r.lenBig();
      const lastSeq = r.lenBig();
      let firstId: StreamId | undefined;
      let maxDeletedId: StreamId | undefined;
      let entriesAdded: bigint | undefined;
      if (type >= RDB_TYPE_STREAM_LISTPACKS_2) {
        const fms = r.lenBig();
        const fseq = r.lenBig();
        const dms = r.lenBig();
        const dseq = r.lenBig();
        entriesAdded = r.lenBig();
        firstId = { ms: fms, seq: fseq };
        maxDeletedId = { ms: dms, seq: dseq };
      }
      const groups = r.len();
      o.meta = { length, lastId: { ms: lastMs, seq: lastSeq }, firstId, maxDeletedId, entriesAdded, groups: [] };
      o.count = groups;
      if (groups === 0) o.emit(r, c, true);
      else o.phase = PHASE_GROUP;
      return;
    }
    case PHASE_GROUP: {
      const name = r.rstr();
      const ms = r.lenBig();
      const seq = r.lenBig();
      let entriesRead = -1n;
      if (type >= RDB_TYPE_STREAM_LISTPACKS_2) {
        const v = r.lenBig();
        entriesRead = v === U64_MAX ? -1n : v;
      }
      const pel = r.len();
      o.meta!.groups.push({ name, lastId: { ms, seq }, entriesRead, pending: [], consumers: [] });
      o.count2 = pel;
      o.phase = pel > 0 ? PHASE_GROUP_PEL : PHASE_CONSUMERS;
      return;
    }
    case PHASE_GROUP_PEL: {
      const raw = r.bytes(16);
      const deliveryTimeMs = r.le64();
      const deliveryCount = r.len();
      lastGroup(o).pending.push({ id: rawId(raw), deliveryTimeMs, deliveryCount });
      if (--o.count2 === 0) o.phase = PHASE_CONSUMERS;
      return;
    }
    case PHASE_CONSUMERS: {
      o.count3 = r.len();
      if (o.count3 > 0) o.phase = PHASE_CONSUMER;
      else endGroup(r, o, c);
      return;
    }
    case PHASE_CONSUMER: {
      const name = r.rstr();
      const seenTimeMs = r.le64();
      const activeTimeMs = type >= RDB_TYPE_STREAM_LISTPACKS_3 ? r.le64() : -1;
      const pel = r.len();
      lastGroup(o).consumers.push({ name, seenTimeMs, activeTimeMs, pending: [] });
      o.count4 = pel;
      if (pel > 0) o.phase = PHASE_CONSUMER_PEL;
      else endConsumer(r, o, c);
      return;
    }
    case PHASE_CONSUMER_PEL: {
      const raw = r.bytes(16);
      const g = lastGroup(o);
      g.consumers[g.consumers.length - 1]!.pending.push(rawId(raw));
      if (--o.count4 === 0) endConsumer(r, o, c);
      return;
    }
    default:
      throw r.error('BAD_ENCODING', `stream decoder in phase ${o.phase}`);
  }
}

function lastGroup(o: RdbObject): StreamGroup {
  const groups = o.meta!.groups;
  return groups[groups.length - 1]!;
}

function endConsumer(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  if (--o.count3 === 0) endGroup(r, o, c);
  else o.phase = PHASE_CONSUMER;
}

function endGroup(r: RdbReader, o: RdbObject, c: ObjectContext): void {
  if (--o.count === 0) o.emit(r, c, true);
  else o.phase = PHASE_GROUP;
}

function rawId(raw: Buffer): StreamId {
  return { ms: raw.readBigUInt64BE(0), seq: raw.readBigUInt64BE(8) };
}

/**
 * Walks one stream node listpack (Redis t_stream.c layout): master entry `count, deleted,
 * nfields, fields…, 0`, then per entry `flags, ms-delta, seq-delta, [nfields, (field, value)… |
 * values…], lp-count`. Calls `onEntry` for every live (not DELETED) entry with its byte size.
 */
export function readStreamNode(lp: Buffer, master: StreamId, onEntry: (e: StreamEntry, size: number) => void): void {
  const it = new ListpackIterator(lp);
  const next = (): void => {
    if (!it.next()) throw new BlobFormatError('stream node listpack ends early');
  };
  next();
  const count = it.integer();
  next();
  const deleted = it.integer();
  next();
  const nMaster = it.integer();
  const masterFields: Buffer[] = [];
  for (let i = 0; i < nMaster; i++) {
    next();
    masterFields.push(it.value());
  }
  next(); // master entry terminator
  const total = count + deleted;
  for (let n = 0; n < total; n++) {
    next();
    const flags = it.integer();
    next();
    const ms = master.ms + it.bigint();
    next();
    const seq = master.seq + it.bigint();
    const fields: Buffer[] = [];
    let size = 16;
    if (flags & STREAM_ITEM_FLAG_SAMEFIELDS) {
      for (let i = 0; i < nMaster; i++) {
        next();
        const v = it.value();
        fields.push(masterFields[i]!, v);
        size += masterFields[i]!.length + v.length;
      }
    } else {
      next();
      const nf = it.integer();
      for (let i = 0; i < nf; i++) {
        next();
        const f = it.value();
        next();
        const v = it.value();
        fields.push(f, v);
        size += f.length + v.length;
      }
    }
    next(); // lp-count
    if (!(flags & STREAM_ITEM_FLAG_DELETED)) onEntry({ id: { ms, seq }, fields }, size);
  }
}
