/**
 * The per-object decoding state: one {@link RdbObject} per object in flight (one for the plain
 * stream, one per pending TAGGED_CHUNK stream id). Value decoders advance it one atomic unit at a
 * time (a length, an element, a node, a header); the piece under construction is flushed to the
 * handler whenever it reaches `maxPieceElements` items or would exceed `maxPieceBytes`.
 */
import type { RdbHandler } from './rdb-handler.js';
import type { OpaquePiece, SnapshotEntry, StreamEntry, StreamMeta, ValueKind } from '../../entry/entry.js';
import type { RdbReader } from './rdb-reader.js';
import { newBlobElement, type BlobElement } from './listpack.js';
import type { LzfStreamDecoder } from './lzf.js';

/** Options and output shared by every object of one decoder. */
export interface ObjectContext {
  readonly handler: RdbHandler;
  readonly maxPieceBytes: number;
  readonly maxPieceElements: number;
  readonly maxRestorePayloadBytes: number;
  readonly skipValues: boolean;
  readonly rdbVersion: number;
  /** Container blobs (listpack, ziplist, intset) up to this size are read whole; larger plain ones stream. */
  readonly maxBlobBytes: number;
}

/** Phase numbers shared by all types; value decoders use 1 and above. */
export const PHASE_PREFIX = -1;
export const PHASE_KEY = 0;
export const PHASE_VALUE = 1;

const EMPTY = Buffer.alloc(0);

/** Mutable state of one object being decoded. Reused for consecutive plain-stream objects. */
export class RdbObject {
  rdbType = 0;
  kind: ValueKind = 'string';
  db = 0;
  key: Buffer = EMPTY;
  expireAtMs = -1;
  phase = PHASE_KEY;
  isDone = false;
  /** Items left at the current level (elements, nodes, groups, filters…). */
  count = 0;
  /** Nested counters (PEL entries, consumers, consumer PEL, bytes left in a chunked filter). */
  count2 = 0;
  count3 = 0;
  count4 = 0;
  /** Bytes left to skip in the SKIP phase, and the phase to return to. */
  skip = 0;
  afterSkip = 0;
  /** Absolute reader offset of the first value byte; `isCapturing` while rdbValue may still be taken. */
  valueStart = 0;
  isCapturing = false;
  piecesEmitted = 0;
  /** The piece under construction. */
  elems: Buffer[] = [];
  nums: number[] = [];
  streamEntries: StreamEntry[] = [];
  str: Buffer = EMPTY;
  items = 0;
  bytes = 0;
  /** Type-specific scratch. */
  minExpireMs = 0;
  /** Container streaming (container-value.ts): format, absolute end offset, header state, intset width. */
  blobFormat = 0;
  blobEnd = 0;
  isBlobHeaderRead = false;
  intWidth = 0;
  /** Parts of the tuple being assembled (member, field, value) and how many were seen. */
  tupleFill = 0;
  pending: Buffer = EMPTY;
  pending2: Buffer = EMPTY;
  readonly elem: BlobElement = newBlobElement();
  /** Incremental LZF state of a big LZF string (string-value.ts). */
  lzf: LzfStreamDecoder | undefined;
  meta: StreamMeta | undefined;
  opaque: Record<string, unknown> | undefined;

  /** Starts a new object whose type byte was read. */
  start(rdbType: number, kind: ValueKind, db: number, expireAtMs: number): void {
    this.rdbType = rdbType;
    this.kind = kind;
    this.db = db;
    this.expireAtMs = expireAtMs;
    this.key = EMPTY;
    this.phase = PHASE_KEY;
    this.isDone = false;
    this.count = this.count2 = this.count3 = this.count4 = this.skip = 0;
    this.isCapturing = false;
    this.piecesEmitted = 0;
    this.items = this.bytes = 0;
    this.meta = undefined;
    this.opaque = undefined;
    this.lzf = undefined;
  }

  /** Starts a tagged-chunk object: type, key and `[EXPIRETIME_MS][DF_MASK]` come from the payload. */
  startPrefixed(db: number): void {
    this.start(0, 'string', db, -1);
    this.phase = PHASE_PREFIX;
  }

  /**
   * Makes room for one item of `size` bytes: flushes the current piece first when it is full.
   * Call before pushing the item's parts.
   */
  beginItem(r: RdbReader, c: ObjectContext, size: number): void {
    if (this.items > 0 && (this.items >= c.maxPieceElements || this.bytes + size > c.maxPieceBytes)) {
      this.emit(r, c, false);
    }
    this.items++;
    this.bytes += size;
  }

  /** Emits the current piece (or, for skipValues, the single empty entry at the end). */
  emit(r: RdbReader, c: ObjectContext, isLast: boolean): void {
    let rdbValue: Buffer | undefined;
    if (isLast && this.piecesEmitted === 0 && this.isCapturing) {
      const start = this.valueStart - r.base;
      const end = r.pos;
      if (start >= 0 && end - start <= c.maxRestorePayloadBytes) rdbValue = r.buf.subarray(start, end);
    }
    if (!isLast) {
      this.isCapturing = false;
      r.retainFrom = -1;
    }
    const entry = {
      kind: 'snapshot',
      db: this.db,
      key: this.key,
      rdbType: this.rdbType,
      expireAtMs: this.expireAtMs,
      isFirst: this.piecesEmitted === 0,
      isLast,
      rdbValue,
      rdbVersion: c.rdbVersion,
      valueKind: this.kind,
      value: this.#takeValue(isLast),
    } as SnapshotEntry;
    this.piecesEmitted++;
    this.items = this.bytes = 0;
    if (isLast) {
      this.isDone = true;
      if (this.isCapturing) r.retainFrom = -1;
    }
    c.handler.onEntry(entry);
  }

  #takeValue(isLast: boolean): SnapshotEntry['value'] {
    switch (this.kind) {
      case 'string':
      case 'json': {
        const v = this.str;
        this.str = EMPTY;
        return v;
      }
      case 'list':
      case 'set':
      case 'hash': {
        const v = this.elems;
        this.elems = [];
        return v;
      }
      case 'zset': {
        const v = { members: this.elems, scores: this.nums };
        this.elems = [];
        this.nums = [];
        return v;
      }
      case 'hash-ttl': {
        const v = { fields: this.elems, expireAtMs: this.nums };
        this.elems = [];
        this.nums = [];
        return v;
      }
      case 'set-ttl': {
        const v = { members: this.elems, expireAtMs: this.nums };
        this.elems = [];
        this.nums = [];
        return v;
      }
      case 'stream': {
        const v = { entries: this.streamEntries, meta: isLast ? this.meta : undefined };
        this.streamEntries = [];
        return v;
      }
      default: {
        const v: OpaquePiece = { description: OPAQUE_DESCRIPTIONS[this.rdbType] ?? `rdb type ${this.rdbType}`, fields: this.opaque };
        return v;
      }
    }
  }
}

const OPAQUE_DESCRIPTIONS: Record<number, string> = {
  33: 'Dragonfly scalable bloom filter (SBF)',
  34: 'Dragonfly scalable bloom filter (SBF2)',
  35: 'Dragonfly count-min sketch',
  36: 'Dragonfly top-k',
  37: 'Dragonfly cuckoo filter',
};
