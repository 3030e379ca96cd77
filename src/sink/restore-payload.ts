import { Crc64 } from '../decode/rdb/crc64.js';
import {
  RDB_TYPE_HASH,
  RDB_TYPE_HASH_LISTPACK,
  RDB_TYPE_HASH_LISTPACK_EX,
  RDB_TYPE_HASH_LISTPACK_EX_PRE_GA,
  RDB_TYPE_HASH_METADATA,
  RDB_TYPE_HASH_METADATA_PRE_GA,
  RDB_TYPE_HASH_ZIPLIST,
  RDB_TYPE_HASH_ZIPMAP,
  RDB_TYPE_LIST,
  RDB_TYPE_LIST_QUICKLIST,
  RDB_TYPE_LIST_QUICKLIST_2,
  RDB_TYPE_LIST_ZIPLIST,
  RDB_TYPE_MODULE_2,
  RDB_TYPE_SET,
  RDB_TYPE_SET_INTSET,
  RDB_TYPE_SET_LISTPACK,
  RDB_TYPE_STREAM_LISTPACKS,
  RDB_TYPE_STREAM_LISTPACKS_2,
  RDB_TYPE_STREAM_LISTPACKS_3,
  RDB_TYPE_STRING,
  RDB_TYPE_ZSET,
  RDB_TYPE_ZSET_2,
  RDB_TYPE_ZSET_LISTPACK,
  RDB_TYPE_ZSET_ZIPLIST,
} from '../entry/entry.js';
import type { CommandSink } from './redis-connection.js';

/**
 * Oldest RDB version that can load each Redis object type id (the version in which Redis introduced
 * the encoding; Redis src/rdb.h `RDB_VERSION` history: 6.2 → 9, 7.0 → 10, 7.2 → 11, 7.4 → 12).
 * A RESTORE payload is stamped with the target's own RDB version, which the target accepts
 * (Redis src/cluster.c `verifyDumpPayload`: version ≤ RDB_VERSION, CRC64 matches) and which can
 * load the type when it is listed here with a version ≤ it. Types absent here (Dragonfly 30–37)
 * are never restored.
 */
export const RDB_TYPE_MIN_VERSION: ReadonlyMap<number, number> = new Map([
  [RDB_TYPE_STRING, 1],
  [RDB_TYPE_LIST, 1],
  [RDB_TYPE_SET, 1],
  [RDB_TYPE_ZSET, 1],
  [RDB_TYPE_HASH, 1],
  [RDB_TYPE_ZSET_2, 8],
  [RDB_TYPE_MODULE_2, 9],
  [RDB_TYPE_HASH_ZIPMAP, 2],
  [RDB_TYPE_LIST_ZIPLIST, 4],
  [RDB_TYPE_SET_INTSET, 4],
  [RDB_TYPE_ZSET_ZIPLIST, 4],
  [RDB_TYPE_HASH_ZIPLIST, 4],
  [RDB_TYPE_LIST_QUICKLIST, 7],
  [RDB_TYPE_STREAM_LISTPACKS, 9],
  [RDB_TYPE_HASH_LISTPACK, 10],
  [RDB_TYPE_ZSET_LISTPACK, 10],
  [RDB_TYPE_LIST_QUICKLIST_2, 10],
  [RDB_TYPE_STREAM_LISTPACKS_2, 10],
  [RDB_TYPE_SET_LISTPACK, 11],
  [RDB_TYPE_STREAM_LISTPACKS_3, 11],
  [RDB_TYPE_HASH_METADATA_PRE_GA, 12],
  [RDB_TYPE_HASH_LISTPACK_EX_PRE_GA, 12],
  [RDB_TYPE_HASH_METADATA, 12],
  [RDB_TYPE_HASH_LISTPACK_EX, 12],
]);

/**
 * The RDB version to stamp on a RESTORE payload of type `rdbType` for a target whose RDB version
 * is `targetRdbVersion`, or undefined when the target cannot load that encoding.
 */
export function restoreVersionFor(rdbType: number, targetRdbVersion: number): number | undefined {
  const min = RDB_TYPE_MIN_VERSION.get(rdbType);
  return min !== undefined && min <= targetRdbVersion ? targetRdbVersion : undefined;
}

/** Bytes of a RESTORE payload for a value of `valueBytes`: type byte + value + LE16 + LE64. */
export function restorePayloadLength(valueBytes: number): number {
  return 1 + valueBytes + 10;
}

const trailer = Buffer.alloc(10);
const typeByte = Buffer.alloc(1);
/** Reused: reset before each payload (its state is two public uint32 halves). */
const crc = new Crc64();

/**
 * Writes the DUMP/RESTORE payload `type byte + rdbValue + LE16 rdbVersion + LE64 CRC64-Jones(all
 * before)` as ONE bulk argument of the command currently open on `conn` (after `conn.begin`), without
 * concatenating the value (Redis src/cluster.c `createDumpPayload`).
 */
export function writeRestorePayload(conn: CommandSink, rdbType: number, rdbValue: Buffer, rdbVersion: number): void {
  typeByte[0] = rdbType;
  trailer.writeUInt16LE(rdbVersion, 0);
  crc.lo = 0;
  crc.hi = 0;
  crc.update(typeByte).update(rdbValue).update(trailer, 0, 2).writeLE(trailer, 2);
  conn.beginBulk(restorePayloadLength(rdbValue.length));
  conn.raw(typeByte);
  conn.raw(rdbValue);
  conn.raw(trailer);
  conn.endBulk();
}

/** The same payload as a standalone Buffer (tests, and `RESTORE` issued outside the hot path). */
export function buildRestorePayload(rdbType: number, rdbValue: Buffer, rdbVersion: number): Buffer {
  const out = Buffer.allocUnsafe(restorePayloadLength(rdbValue.length));
  out[0] = rdbType;
  rdbValue.copy(out, 1);
  out.writeUInt16LE(rdbVersion, 1 + rdbValue.length);
  new Crc64().update(out, 0, out.length - 8).writeLE(out, out.length - 8);
  return out;
}
