/**
 * The one record that crosses stage boundaries (DESIGN.md "Data path"): the decoders produce
 * Entries, everything downstream (translate, route, write) sees only Entries.
 *
 * - A {@link SnapshotEntry} is one bounded piece of one snapshot object (RDB record). Small objects
 *   are one entry with `isFirst && isLast`; big objects arrive as several entries: the first
 *   replaces the key on the target, later ones append, the last one carries the end of the value.
 * - A {@link JournalEntry} is one journal record (Dragonfly src/server/journal/types.h).
 */

/** RDB object type ids. Upstream: Redis src/rdb.h (`RDB_TYPE_*`), Dragonfly src/server/rdb_extensions.h. */
export const RDB_TYPE_STRING = 0;
export const RDB_TYPE_LIST = 1;
export const RDB_TYPE_SET = 2;
export const RDB_TYPE_ZSET = 3;
export const RDB_TYPE_HASH = 4;
export const RDB_TYPE_ZSET_2 = 5;
export const RDB_TYPE_MODULE_PRE_GA = 6;
export const RDB_TYPE_MODULE_2 = 7;
export const RDB_TYPE_HASH_ZIPMAP = 9;
export const RDB_TYPE_LIST_ZIPLIST = 10;
export const RDB_TYPE_SET_INTSET = 11;
export const RDB_TYPE_ZSET_ZIPLIST = 12;
export const RDB_TYPE_HASH_ZIPLIST = 13;
export const RDB_TYPE_LIST_QUICKLIST = 14;
export const RDB_TYPE_STREAM_LISTPACKS = 15;
export const RDB_TYPE_HASH_LISTPACK = 16;
export const RDB_TYPE_ZSET_LISTPACK = 17;
export const RDB_TYPE_LIST_QUICKLIST_2 = 18;
export const RDB_TYPE_STREAM_LISTPACKS_2 = 19;
export const RDB_TYPE_SET_LISTPACK = 20;
export const RDB_TYPE_STREAM_LISTPACKS_3 = 21;
export const RDB_TYPE_HASH_METADATA_PRE_GA = 22;
export const RDB_TYPE_HASH_LISTPACK_EX_PRE_GA = 23;
export const RDB_TYPE_HASH_METADATA = 24;
export const RDB_TYPE_HASH_LISTPACK_EX = 25;
/** Dragonfly extensions (src/server/rdb_extensions.h). */
export const RDB_TYPE_JSON = 30;
export const RDB_TYPE_HASH_WITH_EXPIRY = 31;
export const RDB_TYPE_SET_WITH_EXPIRY = 32;
export const RDB_TYPE_SBF = 33;
export const RDB_TYPE_SBF2 = 34;
export const RDB_TYPE_CMS = 35;
export const RDB_TYPE_TOPK = 36;
export const RDB_TYPE_CUCKOO = 37;

/**
 * The logical kind of a value, independent of its RDB encoding. Names follow the Redis `TYPE` reply
 * where one exists; `hash-ttl` / `set-ttl` are hashes / sets with per-field / per-member expiry;
 * `sbf`, `cms`, `topk`, `cuckoo` are Dragonfly's probabilistic types; `module` a Redis module value.
 */
export type ValueKind =
  | 'string'
  | 'list'
  | 'set'
  | 'zset'
  | 'hash'
  | 'stream'
  | 'json'
  | 'hash-ttl'
  | 'set-ttl'
  | 'sbf'
  | 'cms'
  | 'topk'
  | 'cuckoo'
  | 'module';

/** Stream entry id: milliseconds and sequence, both unsigned 64-bit. */
export interface StreamId {
  ms: bigint;
  seq: bigint;
}

/** One stream entry (Redis src/t_stream.c), deleted (tombstoned) entries are never emitted. */
export interface StreamEntry {
  id: StreamId;
  /** Flat `[field, value, field, value, …]`. */
  fields: Buffer[];
}

/** A pending entry of a consumer group (Redis `streamNACK`). */
export interface StreamPendingEntry {
  id: StreamId;
  /** Last delivery time, Unix ms. */
  deliveryTimeMs: number;
  deliveryCount: number;
}

/** A consumer of a group with the ids of its pending entries. */
export interface StreamConsumer {
  name: Buffer;
  /** Unix ms; -1 when the RDB version does not carry it. */
  seenTimeMs: number;
  /** Unix ms; -1 when the RDB version does not carry it (type < 21). */
  activeTimeMs: number;
  pending: StreamId[];
}

/** A consumer group. `entriesRead` is -1 when unknown/invalid (SCG_INVALID_ENTRIES_READ). */
export interface StreamGroup {
  name: Buffer;
  lastId: StreamId;
  entriesRead: bigint;
  pending: StreamPendingEntry[];
  consumers: StreamConsumer[];
}

/** Stream metadata that follows the entries (Redis `rdbSaveObject`, stream case); in the last piece. */
export interface StreamMeta {
  length: bigint;
  lastId: StreamId;
  /** Type ≥ 19 only; otherwise undefined. */
  firstId?: StreamId;
  maxDeletedId?: StreamId;
  entriesAdded?: bigint;
  groups: StreamGroup[];
}

/** Piece of a stream value: some entries; the last piece also carries `meta`. */
export interface StreamPiece {
  entries: StreamEntry[];
  meta?: StreamMeta;
}

/** Piece of a zset: members with their scores (same index). Scores are doubles, ±Infinity allowed. */
export interface ZsetPiece {
  members: Buffer[];
  scores: number[];
}

/** Piece of a hash with field expiry: flat field/value pairs and one absolute expiry (ms, -1 = none) per field. */
export interface HashTtlPiece {
  fields: Buffer[];
  expireAtMs: number[];
}

/** Piece of a set with member expiry: members and one absolute expiry (ms, -1 = none) per member. */
export interface SetTtlPiece {
  members: Buffer[];
  expireAtMs: number[];
}

/**
 * A value the target can only take through a module command or RESTORE (Dragonfly SBF/CMS/TOPK/
 * CUCKOO, Redis module types). `fields` holds the decoded parameters for diagnostics; `rdbPayload`
 * on the entry (when captured) allows passthrough.
 */
export interface OpaquePiece {
  description: string;
  fields?: Record<string, unknown>;
}

/** Base of every snapshot piece. */
interface SnapshotEntryBase {
  readonly kind: 'snapshot';
  /** Database index (SELECTDB in effect for the object). */
  db: number;
  key: Buffer;
  /** RDB type byte of the object as it appeared in the stream. */
  rdbType: number;
  /** Absolute expiry, Unix ms; -1 = no expiry. Never a relative TTL (DESIGN invariant 5). */
  expireAtMs: number;
  /** This is the first piece of the object: the writer replaces the key. */
  isFirst: boolean;
  /** This is the last piece of the object: the writer applies the expiry and counts the key. */
  isLast: boolean;
  /**
   * The exact RDB bytes of the whole value (after the type byte, before any following record),
   * present only when `isFirst && isLast` and the value was at most the decoder's
   * `maxRestorePayloadBytes`. Used to build a `RESTORE` payload without re-encoding.
   */
  rdbValue?: Buffer;
  /** RDB version of the stream the object came from (Dragonfly: 9). */
  rdbVersion: number;
}

/** One piece of a snapshot object, discriminated by `valueKind`. */
export type SnapshotEntry =
  | (SnapshotEntryBase & { valueKind: 'string'; value: Buffer })
  | (SnapshotEntryBase & { valueKind: 'list'; value: Buffer[] })
  | (SnapshotEntryBase & { valueKind: 'set'; value: Buffer[] })
  | (SnapshotEntryBase & { valueKind: 'zset'; value: ZsetPiece })
  | (SnapshotEntryBase & { valueKind: 'hash'; value: Buffer[] })
  | (SnapshotEntryBase & { valueKind: 'stream'; value: StreamPiece })
  | (SnapshotEntryBase & { valueKind: 'json'; value: Buffer })
  | (SnapshotEntryBase & { valueKind: 'hash-ttl'; value: HashTtlPiece })
  | (SnapshotEntryBase & { valueKind: 'set-ttl'; value: SetTtlPiece })
  | (SnapshotEntryBase & { valueKind: 'sbf' | 'cms' | 'topk' | 'cuckoo' | 'module'; value: OpaquePiece });

/** Journal opcodes, Dragonfly src/server/journal/types.h (v1.40.1). */
export const JOURNAL_OP_SELECT = 6;
export const JOURNAL_OP_EXPIRED = 9;
export const JOURNAL_OP_COMMAND = 10;
export const JOURNAL_OP_PING = 13;
export const JOURNAL_OP_LSN = 15;

/**
 * One journal record (SELECT is folded into `db` of the following COMMAND).
 * - `command`: `args[0]` is the command name as sent (may be mixed case); `txid` 0 = single-shard.
 * - `ping`: counts as one LSN, asks for an immediate ACK.
 * - `lsn`: the master's LSN of the last record written (verification only, counts nothing).
 */
export type JournalEntry =
  | { readonly kind: 'journal'; op: 'command'; db: number; txid: bigint; args: Buffer[] }
  | { readonly kind: 'journal'; op: 'ping' }
  | { readonly kind: 'journal'; op: 'lsn'; lsn: bigint };

export type Entry = SnapshotEntry | JournalEntry;
