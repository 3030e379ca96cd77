/**
 * Streaming RDB decoder: Redis RDB versions 1–12 and Dragonfly's replication/snapshot extensions.
 * Pure: bytes in (any chunk sizes), {@link SnapshotEntry} pieces and callbacks out, synchronously.
 *
 * Upstream: Redis src/rdb.c `rdbLoadRioWithLoadingCtx` (top-level opcodes) and `rdbLoadObject`
 * (values); Dragonfly src/server/rdb_load.cc `RdbLoader::Load` (extensions: FULLSYNC_END,
 * compressed blobs, JOURNAL_BLOB, JOURNAL_OFFSET, DF_MASK, TAGGED_CHUNK) — reference document §4.
 *
 * How it resumes: every read happens inside a *unit* (an opcode record, a key, one element, one
 * node…). A unit either completes, then the object state advances and the reader's `mark` moves,
 * or the reader throws the singleton NEED_MORE and the cursor rewinds to `mark`. Nothing is emitted
 * twice. Memory: the unconsumed tail, the piece under construction (≤ maxPieceBytes, plus one
 * element), and the raw value while it may still become `rdbValue` (≤ maxRestorePayloadBytes).
 * Held whole (documented limits): one element (a set member, a PLAIN quicklist node…); an LZF
 * string; a container blob ≤ maxBlobBytes or LZF-compressed (larger plain listpacks, ziplists and
 * intsets are parsed element by element from the stream); a zipmap; a stream node listpack; a
 * compressed blob (≤ 1 MiB by Dragonfly's writer); a stream's consumer groups and PELs.
 */
import { Df2RedisError, JournalError, RdbError } from '../../errors.js';
import {
  type SnapshotEntry,
  type ValueKind,
  RDB_TYPE_STRING,
  RDB_TYPE_MODULE_2,
  RDB_TYPE_MODULE_PRE_GA,
  RDB_TYPE_SET_LISTPACK,
} from '../../entry/entry.js';
import { decodeJournalBlob, MAX_JOURNAL_BLOB_BYTES } from '../journal/journal-decoder.js';
import { decompressLz4Frame, decompressZstdFrame } from './compressed-blob.js';
import { Crc64 } from './crc64.js';
import { stepDragonfly } from './dragonfly-value.js';
import { stepHash } from './hash-value.js';
import { stepList } from './list-value.js';
import {
  RDB_ENC_LZF,
  DF_MASK_FLAG_MC_FLAGS,
  MAX_COMPRESSED_BLOB_BYTES,
  RDB_MODULE_OPCODE_DOUBLE,
  RDB_MODULE_OPCODE_EOF,
  RDB_MODULE_OPCODE_FLOAT,
  RDB_MODULE_OPCODE_SINT,
  RDB_MODULE_OPCODE_STRING,
  RDB_MODULE_OPCODE_UINT,
  RDB_OPCODE_AUX,
  RDB_OPCODE_COMPRESSED_BLOB_END,
  RDB_OPCODE_COMPRESSED_LZ4_BLOB_START,
  RDB_OPCODE_COMPRESSED_ZSTD_BLOB_START,
  RDB_OPCODE_DF_MASK,
  RDB_OPCODE_EOF,
  RDB_OPCODE_EXPIRETIME,
  RDB_OPCODE_EXPIRETIME_MS,
  RDB_OPCODE_FREQ,
  RDB_OPCODE_FULLSYNC_END,
  RDB_OPCODE_FUNCTION2,
  RDB_OPCODE_FUNCTION_PRE_GA,
  RDB_OPCODE_IDLE,
  RDB_OPCODE_JOURNAL_BLOB,
  RDB_OPCODE_JOURNAL_OFFSET,
  RDB_OPCODE_MODULE_AUX,
  RDB_OPCODE_RESIZEDB,
  RDB_OPCODE_SELECTDB,
  RDB_OPCODE_SHARD_DOC_INDEX,
  RDB_OPCODE_SLOT_INFO,
  RDB_OPCODE_TAGGED_CHUNK,
  RDB_OPCODE_VECTOR_INDEX,
  RDB_VERSION_MAX,
} from './rdb-constants.js';
import type { RdbHandler } from './rdb-handler.js';
import { PHASE_KEY, PHASE_PREFIX, PHASE_VALUE, RdbObject, type ObjectContext } from './rdb-object.js';
import { NEED_MORE, RdbReader, shortLength } from './rdb-reader.js';
import { stepSet } from './set-value.js';
import { stepStream } from './stream-value.js';
import { stepString } from './string-value.js';
import { stepZset } from './zset-value.js';
import { lzfDecompressInto } from './lzf.js';

export interface RdbDecoderOptions {
  /** Name for errors, e.g. a file path or `flow 2`. */
  source?: string;
  /** Max bytes of value data per SnapshotEntry piece. @default 1_048_576 */
  maxPieceBytes?: number;
  /** Max elements per piece (a hash field+value pair, a zset member+score, a stream entry count as one). @default 1024 */
  maxPieceElements?: number;
  /** Capture `rdbValue` (raw value bytes) for objects whose encoded value is ≤ this. 0 = never. @default 512*1024 */
  maxRestorePayloadBytes?: number;
  /** Parse values without materializing them: one entry per object, isFirst&&isLast, value empty
   *  (string: empty Buffer, arrays empty). For a fast pre-scan of types/keys. @default false */
  skipValues?: boolean;
  /** Container blobs (listpack, ziplist, intset) up to this many bytes are read whole; larger plain
   *  (non-LZF) ones are parsed element by element from the stream, keeping memory bounded. @default 65536 */
  maxBlobBytes?: number;
  /** Verify the CRC64 of the EOF record when it is non-zero (RDB version ≥ 5). Not computed for
   *  Dragonfly streams (AUX `df-ver`), whose checksum is always zero. @default true */
  verifyChecksum?: boolean;
  /** Capture `rdbValue` of strings too (see `maxRestorePayloadBytes`); false when the consumer writes
   *  strings with SET and never reads it: one Buffer view less per string. @default true */
  captureStrings?: boolean;
}

/** Defaults of {@link RdbDecoderOptions}. */
export const RDB_DECODER_DEFAULTS = {
  maxPieceBytes: 1_048_576,
  maxPieceElements: 1024,
  maxRestorePayloadBytes: 512 * 1024,
  skipValues: false,
  maxBlobBytes: 65_536,
  verifyChecksum: true,
  captureStrings: true,
} as const;

/** RDB type byte → logical kind; undefined for ids that are not object types. */
function kindOfType(type: number, rdbVersion: number): ValueKind | undefined {
  switch (type) {
    case 0:
      return 'string';
    case 1:
    case 10:
    case 14:
    case 18:
      return 'list';
    case 2:
    case 11:
      return 'set';
    case RDB_TYPE_SET_LISTPACK:
      // Dragonfly reads id 20 as JSON in files older than RDB 10 (rdb_load.cc `ReadObj`).
      return rdbVersion < 10 ? 'json' : 'set';
    case 3:
    case 5:
    case 12:
    case 17:
      return 'zset';
    case 4:
    case 9:
    case 13:
    case 16:
      return 'hash';
    case 15:
    case 19:
    case 21:
      return 'stream';
    case 22:
    case 23:
    case 24:
    case 25:
    case 31:
      return 'hash-ttl';
    case 30:
      return 'json';
    case 32:
      return 'set-ttl';
    case 33:
    case 34:
      return 'sbf';
    case 35:
      return 'cms';
    case 36:
      return 'topk';
    case 37:
      return 'cuckoo';
    case RDB_TYPE_MODULE_PRE_GA:
    case RDB_TYPE_MODULE_2:
      return 'module';
    default:
      return undefined;
  }
}

/** A top-level parse context: the plain stream, or one decompressed blob. */
interface Frame {
  r: RdbReader;
  isBlob: boolean;
  /** The untagged object in progress on this frame. */
  obj: RdbObject;
  isInObject: boolean;
  /** Tagged chunk whose payload is being routed (`tagLeft` bytes still to come). */
  tag: TaggedObject | undefined;
  tagId: number;
  tagLeft: number;
}

/** A TAGGED_CHUNK object in flight: its state and the reader holding its partial unit. */
interface TaggedObject {
  obj: RdbObject;
  r: RdbReader;
}

const HEADER_BYTES = 9;

const EMPTY = Buffer.alloc(0);

/**
 * Streaming RDB decoder (contract: /tmp/contracts.md). Feed bytes with {@link push}; entries and
 * callbacks reach the handler synchronously, in stream order.
 */
export class RdbDecoder implements ObjectContext {
  readonly handler: RdbHandler;
  readonly maxPieceBytes: number;
  readonly maxPieceElements: number;
  readonly maxRestorePayloadBytes: number;
  readonly skipValues: boolean;
  readonly maxBlobBytes: number;
  #rdbVersion = 0;
  readonly #source: string | undefined;
  readonly #verifyChecksum: boolean;
  readonly #captureStrings: boolean;
  /** The handler has `onStringRun` and strings' payloads are not captured. */
  readonly #isRunOffered: boolean;
  readonly #main: Frame;
  #blobFrame: Frame | undefined;
  readonly #tags = new Map<number, TaggedObject>();
  #isHeaderRead = false;
  #isDone = false;
  #error: unknown;
  #consumed = 0;
  #db = 0;
  #pendingExpireMs = -1;
  /** Reused output of {@link #lzfStringAtOnce}: the key, then the decompressed value. */
  #lzfScratch = Buffer.allocUnsafe(0);
  readonly #crc = new Crc64();
  #isCrcOn = false;

  constructor(handler: RdbHandler, options: RdbDecoderOptions = {}) {
    this.handler = handler;
    this.#source = options.source;
    this.maxPieceBytes = Math.max(1, options.maxPieceBytes ?? RDB_DECODER_DEFAULTS.maxPieceBytes);
    this.maxPieceElements = Math.max(1, options.maxPieceElements ?? RDB_DECODER_DEFAULTS.maxPieceElements);
    this.skipValues = options.skipValues ?? RDB_DECODER_DEFAULTS.skipValues;
    this.maxRestorePayloadBytes = this.skipValues
      ? 0
      : Math.max(0, options.maxRestorePayloadBytes ?? RDB_DECODER_DEFAULTS.maxRestorePayloadBytes);
    this.maxBlobBytes = Math.max(0, options.maxBlobBytes ?? RDB_DECODER_DEFAULTS.maxBlobBytes);
    this.#verifyChecksum = options.verifyChecksum ?? RDB_DECODER_DEFAULTS.verifyChecksum;
    this.#captureStrings = options.captureStrings ?? RDB_DECODER_DEFAULTS.captureStrings;
    this.#isRunOffered = handler.onStringRun !== undefined && (!this.#captureStrings || this.maxRestorePayloadBytes === 0);
    this.#main = this.#newFrame(new RdbReader(this.#source), false);
  }

  /** RDB version from the header (Dragonfly: 9); 0 before the header was read. */
  get rdbVersion(): number {
    return this.#rdbVersion;
  }

  /** Total input bytes consumed (bytes after EOF+checksum are not). */
  get bytesConsumed(): number {
    return this.#consumed;
  }

  /** EOF (and its checksum) was read. */
  get isDone(): boolean {
    return this.#isDone;
  }

  /**
   * True when the decoder references nothing of its input but the last chunk pushed: the header is
   * read, the object in progress (if any: its key, held elements, a field awaiting its value) began
   * in that last push, and no tagged object (Dragonfly TAGGED_CHUNK) is in flight. The unconsumed
   * and not yet checksummed bytes are then in that chunk or in the reader's own copies
   * (`RdbReader.append`, `appendStitched`), so a caller may overwrite the chunk pushed before it
   * (the pre-scan of src/pipeline/migrate-file.ts reads into two buffers in turn this way).
   */
  get holdsOnlyLastChunk(): boolean {
    const f = this.#main;
    return this.#isHeaderRead && (!f.isInObject || this.#objectPush === this.#pushes) && f.tag === undefined && this.#tags.size === 0;
  }

  /** Chunks pushed so far. */
  #pushes = 0;
  /** {@link #pushes} when the main frame's object in progress began. */
  #objectPush = 0;

  /**
   * Feeds bytes; returns how many bytes of `chunk` were consumed: all of them unless EOF was
   * reached in this chunk (the bytes after EOF+checksum are left, e.g. a Dragonfly EOF token).
   * `chunk` must not be modified afterwards (entries may reference it), unless
   * {@link holdsOnlyLastChunk} said so after a later push.
   * @throws RdbError; after an error the decoder is dead and every later call throws it again.
   */
  push(chunk: Buffer): number {
    if (this.#error !== undefined) throw this.#error;
    if (this.#isDone) return 0;
    this.#pushes++;
    const r = this.#main.r;
    r.appendStitched(chunk);
    do {
      try {
        if (!this.#isHeaderRead) this.#readHeader(r);
        this.#parseFrame(this.#main);
      } catch (e) {
        if (e !== NEED_MORE) throw this.#fail(e, r);
        r.pos = r.mark;
      }
    } while (!this.#isDone && r.resumeStitch());
    const consumed = this.#isDone ? chunk.length - (r.end - r.pos) - r.stitchedLeft : chunk.length;
    this.#consumed += consumed;
    return consumed;
  }

  /** Declares the end of input. @throws RdbError TRUNCATED if EOF was not reached. */
  end(): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#isDone) return;
    const r = this.#main.r;
    const what = !this.#isHeaderRead ? 'in the header' : this.#main.isInObject ? 'inside an object' : 'before the EOF opcode';
    const err = new RdbError('TRUNCATED', `input ended ${what}`, {
      offset: r.base + r.mark,
      key: this.#main.isInObject ? this.#main.obj.key : undefined,
      source: this.#source,
    });
    this.#error = err;
    throw err;
  }

  #fail(e: unknown, r: RdbReader): unknown {
    let err = e;
    if (e instanceof JournalError) {
      err = new RdbError('BAD_ENCODING', `journal blob: ${e.message}`, { offset: r.base + r.mark, source: this.#source }, { cause: e });
    } else if (e instanceof RangeError || (e instanceof Error && !(e instanceof Df2RedisError) && isCodecError(e))) {
      err = r.error('BAD_ENCODING', e.message);
    }
    this.#error = err;
    return err;
  }

  #newFrame(r: RdbReader, isBlob: boolean): Frame {
    return { r, isBlob, obj: new RdbObject(), isInObject: false, tag: undefined, tagId: 0, tagLeft: 0 };
  }

  #readHeader(r: RdbReader): void {
    const h = r.bytes(HEADER_BYTES);
    if (h.toString('latin1', 0, 5) !== 'REDIS' || !/^\d{4}$/.test(h.toString('latin1', 5, 9))) {
      throw r.error('BAD_HEADER', `not an RDB stream (starts with ${JSON.stringify(h.toString('latin1'))})`);
    }
    const version = Number(h.toString('latin1', 5, 9));
    if (version < 1 || version > RDB_VERSION_MAX) throw r.error('BAD_HEADER', `unsupported RDB version ${version}`);
    this.#rdbVersion = version;
    this.#isHeaderRead = true;
    r.mark = r.pos;
    if (version >= 5 && this.#verifyChecksum) {
      this.#isCrcOn = true;
      const crc = this.#crc;
      r.onDiscard = (buf, start, end) => {
        crc.update(buf, start, end);
      };
    }
    this.handler.onHeader?.(version);
  }

  /** Parses top-level records until the frame's input runs out (NEED_MORE) or EOF. */
  #parseFrame(f: Frame): void {
    const r = f.r;
    for (;;) {
      if (f.isInObject) {
        this.#runObject(r, f.obj);
        f.isInObject = false;
      }
      if (f.tagLeft > 0) {
        this.#feedTag(f);
        continue;
      }
      if (this.#isDone) return;
      if (r.pos >= r.end) {
        if (f.isBlob) return;
        throw NEED_MORE;
      }
      const opStart = r.pos;
      const op = r.buf[r.pos++]!;
      if ((op === RDB_TYPE_STRING || op === RDB_OPCODE_EXPIRETIME_MS) && this.#isRunOffered && this.#pendingExpireMs === -1) {
        const n = this.handler.onStringRun!(this.#db, r.buf, opStart, r.end, this.maxPieceBytes);
        if (n > 0) {
          r.pos = r.mark = opStart + n;
          continue;
        }
      }
      if (op === RDB_TYPE_STRING) {
        if (this.#oneStringAtOnce(r)) {
          r.mark = r.pos;
          continue;
        }
      }
      if (op < RDB_OPCODE_FULLSYNC_END) {
        const kind = kindOfType(op, this.rdbVersion);
        if (kind === undefined) {
          r.pos = opStart;
          throw r.error('UNKNOWN_TYPE', `unknown object type ${op}`);
        }
        f.obj.start(op, kind, this.#db, this.#pendingExpireMs);
        this.#pendingExpireMs = -1;
        f.isInObject = true;
        if (f === this.#main) this.#objectPush = this.#pushes;
        r.mark = r.pos;
        continue;
      }
      this.#readOpcode(f, op, opStart);
      r.mark = r.pos;
    }
  }

  /**
   * The common case in one step: a string object (type byte read) whose key and value are plain
   * strings with 6- or 14-bit lengths, wholly in the buffer and at most `maxPieceBytes`. Emits the
   * same entry as the object state machine (RdbObject, stepString) without its per-unit steps.
   * Returns false, with `r.pos` untouched, for anything else (encoded or long lengths, LZF, bytes
   * still to come): the state machine takes it.
   */
  #oneStringAtOnce(r: RdbReader): boolean {
    const buf = r.buf;
    const end = r.end;
    let p = r.pos;
    if (p >= end) return false;
    // The key's and the value's 6/14-bit lengths are read inline, twice: a shared helper returning a
    // packed length measured 10–35 % slower on `npm run bench -- decode` (no CRC check).
    let b = buf[p]!;
    let keyLen: number;
    if (b < 0x40) {
      keyLen = b;
      p += 1;
    } else if (b < 0x80 && p + 1 < end) {
      keyLen = ((b & 0x3f) << 8) | buf[p + 1]!;
      p += 2;
    } else {
      return false;
    }
    const keyStart = p;
    p += keyLen;
    if (p >= end) return false;
    const valueStart = p;
    b = buf[p]!;
    let valueLen: number;
    if (b < 0x40) {
      valueLen = b;
      p += 1;
    } else if (b < 0x80 && p + 1 < end) {
      valueLen = ((b & 0x3f) << 8) | buf[p + 1]!;
      p += 2;
    } else if (b === 0xc0 + RDB_ENC_LZF) {
      return this.#lzfStringAtOnce(r, keyStart, keyLen, valueStart);
    } else {
      return false;
    }
    if (p + valueLen > end || valueLen > this.maxPieceBytes) return false;
    const valueEnd = p + valueLen;
    const isCaptured = this.maxRestorePayloadBytes >= valueEnd - valueStart && this.#captureStrings;
    const onString = this.handler.onString;
    if (onString !== undefined && !isCaptured) {
      const expireAtMs = this.#pendingExpireMs;
      if (onString.call(this.handler, this.#db, buf, keyStart, keyStart + keyLen, p, valueEnd, expireAtMs)) {
        this.#pendingExpireMs = -1;
        r.pos = valueEnd;
        return true;
      }
    }
    const expireAtMs = this.#pendingExpireMs;
    this.#pendingExpireMs = -1;
    r.pos = valueEnd;
    this.#emitWholeString(
      buf.subarray(keyStart, keyStart + keyLen),
      this.skipValues ? EMPTY : buf.subarray(p, valueEnd),
      isCaptured ? buf.subarray(valueStart, valueEnd) : undefined,
      expireAtMs,
    );
    return true;
  }

  /** A one-piece string as an entry to `onEntry`. */
  #emitWholeString(key: Buffer, value: Buffer, rdbValue: Buffer | undefined, expireAtMs: number): void {
    // Same fields in the same order as RdbObject.emit: one object shape downstream.
    const entry = {
      kind: 'snapshot',
      db: this.#db,
      key,
      rdbType: RDB_TYPE_STRING,
      expireAtMs,
      isFirst: true,
      isLast: true,
      rdbValue,
      rdbVersion: this.#rdbVersion,
      valueKind: 'string',
      value,
    } as SnapshotEntry;
    this.handler.onEntry(entry);
  }

  /**
   * {@link #oneStringAtOnce} of an LZF-compressed value (`0xC3 <clen> <ulen> <data>`, Redis
   * `rdbLoadLzfStringObject`) when the handler has `onString`: decompressed into a reused buffer
   * after a copy of the key, handed as ranges of it; refused by the handler, the same string goes
   * as an entry (decompressed once). Values are not decompressed with `skipValues` (false: the
   * object path skips them by length).
   * @returns false when the record is not whole in the chunk or not in this form (nothing consumed).
   * @throws RdbError DECOMPRESS on corrupt LZF data.
   */
  #lzfStringAtOnce(r: RdbReader, keyStart: number, keyLen: number, valueStart: number): boolean {
    const onString = this.handler.onString;
    if (onString === undefined || this.skipValues) return false;
    const buf = r.buf;
    const end = r.end;
    const c = shortLength(buf, valueStart + 1, end);
    if (c < 0) return false;
    const u = shortLength(buf, valueStart + 1 + (c & 3), end);
    if (u < 0) return false;
    const clen = c >>> 2;
    const ulen = u >>> 2;
    const p = valueStart + 1 + (c & 3) + (u & 3);
    const dataEnd = p + clen;
    if (dataEnd > end || ulen > this.maxPieceBytes) return false;
    if (this.#captureStrings && this.maxRestorePayloadBytes >= dataEnd - valueStart) return false;
    let scratch = this.#lzfScratch;
    if (scratch.length < keyLen + ulen) scratch = this.#lzfScratch = Buffer.allocUnsafe(Math.max(keyLen + ulen, 2 * scratch.length, 4096));
    if (!lzfDecompressInto(buf, p, dataEnd, scratch, keyLen, ulen)) {
      throw r.error('DECOMPRESS', `corrupt LZF string (${clen} → ${ulen} bytes)`);
    }
    for (let i = 0; i < keyLen; i++) scratch[i] = buf[keyStart + i]!;
    const expireAtMs = this.#pendingExpireMs;
    this.#pendingExpireMs = -1;
    r.pos = dataEnd;
    if (onString.call(this.handler, this.#db, scratch, 0, keyLen, keyLen, keyLen + ulen, expireAtMs)) return true;
    this.#emitWholeString(buf.subarray(keyStart, keyStart + keyLen), Buffer.from(scratch.subarray(keyLen, keyLen + ulen)), undefined, expireAtMs);
    return true;
  }

  /** One non-object top-level record (opcode byte already read). */
  #readOpcode(f: Frame, op: number, opStart: number): void {
    const r = f.r;
    const h = this.handler;
    switch (op) {
      case RDB_OPCODE_SELECTDB:
        this.#db = r.len();
        return;
      case RDB_OPCODE_EXPIRETIME_MS:
        this.#pendingExpireMs = r.le64();
        return;
      case RDB_OPCODE_EXPIRETIME:
        this.#pendingExpireMs = r.le32() * 1000;
        return;
      case RDB_OPCODE_RESIZEDB:
        r.len();
        r.len();
        return;
      case RDB_OPCODE_AUX: {
        const k = r.rstr();
        const v = r.rstr();
        // Dragonfly writes a zero checksum (rdb_save.cc `SaveEpilog`), so computing it is wasted work.
        if (this.#isCrcOn && k.length === 6 && k.toString('latin1') === 'df-ver') {
          this.#isCrcOn = false;
          this.#main.r.onDiscard = undefined;
        }
        h.onAux?.(k, v);
        return;
      }
      case RDB_OPCODE_IDLE:
        r.len();
        return;
      case RDB_OPCODE_FREQ:
        r.skip(1);
        return;
      case RDB_OPCODE_SLOT_INFO:
        r.len();
        r.len();
        r.len();
        return;
      case RDB_OPCODE_FUNCTION2: {
        const code = r.rstr();
        h.onFunction?.(code);
        return;
      }
      case RDB_OPCODE_FUNCTION_PRE_GA:
        r.pos = opStart;
        throw r.error('UNSUPPORTED_TYPE', 'pre-GA FUNCTION opcode 246 (Redis 7.0 release candidates) is not supported');
      case RDB_OPCODE_MODULE_AUX: {
        const id = r.lenBig();
        const start = r.pos;
        const whenOpcode = r.len();
        r.len();
        if (whenOpcode !== RDB_MODULE_OPCODE_UINT) throw r.error('BAD_ENCODING', `module aux when-opcode ${whenOpcode}`);
        skipModuleValue(r);
        h.onModuleAux?.(id, r.buf.subarray(start, r.pos));
        return;
      }
      case RDB_OPCODE_DF_MASK: {
        const flags = r.le32();
        if (flags & DF_MASK_FLAG_MC_FLAGS) r.le32();
        return;
      }
      case RDB_OPCODE_FULLSYNC_END:
        r.skip(8);
        h.onFullSyncEnd?.();
        return;
      case RDB_OPCODE_JOURNAL_OFFSET: {
        const lsn = r.le64Big();
        h.onJournalOffset?.(lsn);
        return;
      }
      case RDB_OPCODE_JOURNAL_BLOB: {
        r.len(); // record count (always 1 in practice); the payload holds them all
        const payload = r.rstrAtMost(MAX_JOURNAL_BLOB_BYTES, 'journal blob');
        const offset = f.isBlob ? r.fixedErrorOffset : r.base + opStart;
        const entries = decodeJournalBlob(payload, offset, this.#source);
        if (h.onJournal !== undefined) for (const e of entries) h.onJournal(e);
        return;
      }
      case RDB_OPCODE_COMPRESSED_ZSTD_BLOB_START:
      case RDB_OPCODE_COMPRESSED_LZ4_BLOB_START: {
        const n = r.strLen();
        if (n > MAX_COMPRESSED_BLOB_BYTES) throw r.error('BAD_LENGTH', `compressed blob of ${n} bytes exceeds the ${MAX_COMPRESSED_BLOB_BYTES}-byte bound`);
        const data = r.bytes(n);
        const offset = f.isBlob ? r.fixedErrorOffset : r.base + opStart;
        if (f.isBlob) throw r.error('BAD_ENCODING', 'compressed blob inside a compressed blob');
        this.#parseBlob(op, data, offset);
        return;
      }
      case RDB_OPCODE_COMPRESSED_BLOB_END:
        return;
      case RDB_OPCODE_TAGGED_CHUNK: {
        const id = r.le32();
        const len = r.le32();
        if (id === 0 || len === 0) throw r.error('BAD_CHUNK', `tagged chunk with stream id ${id} and payload length ${len}`);
        let t = this.#tags.get(id);
        if (t === undefined) {
          t = { obj: new RdbObject(), r: new RdbReader(this.#source) };
          t.obj.startPrefixed(this.#db);
          this.#tags.set(id, t);
        }
        t.r.fixedErrorOffset = f.isBlob ? r.fixedErrorOffset : r.base + opStart;
        f.tag = t;
        f.tagId = id;
        f.tagLeft = len;
        return;
      }
      case RDB_OPCODE_SHARD_DOC_INDEX: {
        r.len();
        r.skipRstr();
        for (let n = r.len(); n > 0; n--) {
          r.skipRstr();
          r.len();
        }
        return;
      }
      case RDB_OPCODE_VECTOR_INDEX:
        r.pos = opStart;
        throw r.error('UNSUPPORTED_TYPE', 'Dragonfly VECTOR_INDEX (HNSW graph) records are not supported');
      case RDB_OPCODE_EOF: {
        if (f.isBlob) throw r.error('BAD_ENCODING', 'EOF inside a compressed blob');
        const hasChecksum = this.rdbVersion >= 5;
        const stored = hasChecksum ? r.le64Big() : 0n;
        if (this.#tags.size > 0) {
          throw r.error('BAD_CHUNK', `EOF with ${this.#tags.size} tagged object(s) incomplete (stream ids ${[...this.#tags.keys()].join(', ')})`);
        }
        if (this.#isCrcOn && stored !== 0n) {
          const actual = this.#crc.update(r.buf, 0, opStart + 1).value;
          if (actual !== stored) {
            r.pos = opStart;
            throw r.error('BAD_CRC', `checksum 0x${stored.toString(16)} stored, 0x${actual.toString(16)} computed`);
          }
        }
        r.onDiscard = undefined;
        this.#isDone = true;
        h.onEof?.();
        return;
      }
      default:
        r.pos = opStart;
        throw r.error('UNKNOWN_OPCODE', `unknown opcode ${op}`);
    }
  }

  /** Decompresses a blob and parses its records with the same loop (they are complete records). */
  #parseBlob(op: number, data: Buffer, offset: number): void {
    let out: Buffer;
    try {
      out = op === RDB_OPCODE_COMPRESSED_LZ4_BLOB_START ? decompressLz4Frame(data) : decompressZstdFrame(data);
    } catch (e) {
      const what = op === RDB_OPCODE_COMPRESSED_LZ4_BLOB_START ? 'LZ4' : 'zstd';
      throw new RdbError('DECOMPRESS', `${what} blob of ${data.length} bytes: ${(e as Error).message}`, { offset, source: this.#source }, { cause: e });
    }
    let f = this.#blobFrame;
    if (f === undefined) f = this.#blobFrame = this.#newFrame(RdbReader.over(out, offset, this.#source), true);
    const r = f.r;
    r.buf = out;
    r.pos = r.mark = 0;
    r.end = out.length;
    r.base = 0;
    r.fixedErrorOffset = offset;
    f.isInObject = false;
    f.tagLeft = 0;
    try {
      this.#parseFrame(f);
    } catch (e) {
      if (e !== NEED_MORE) throw e;
      throw new RdbError('BAD_ENCODING', 'a record crosses the end of a compressed blob', { offset, key: r.key, source: this.#source });
    }
    if (f.isInObject) throw new RdbError('BAD_ENCODING', 'an object crosses the end of a compressed blob', { offset, key: f.obj.key, source: this.#source });
  }

  /** Routes available payload bytes of the current tagged chunk to its object. */
  #feedTag(f: Frame): void {
    const r = f.r;
    const t = f.tag!;
    const n = Math.min(f.tagLeft, r.end - r.pos);
    if (n === 0) throw NEED_MORE;
    const slice = r.buf.subarray(r.pos, r.pos + n);
    r.pos += n;
    r.mark = r.pos;
    f.tagLeft -= n;
    t.r.append(slice);
    try {
      this.#runObject(t.r, t.obj);
    } catch (e) {
      if (e !== NEED_MORE) throw e;
      t.r.pos = t.r.mark;
    }
    if (t.obj.isDone) {
      const extra = f.tagLeft + t.r.available;
      if (extra > 0) throw t.r.error('BAD_CHUNK', `object ended ${extra} byte(s) before the end of its chunk payload (stream id ${f.tagId})`);
      this.#tags.delete(f.tagId);
      f.tagLeft = 0;
    }
    if (f.tagLeft === 0) f.tag = undefined;
  }

  /** Advances an object unit by unit until it is complete; NEED_MORE propagates. */
  #runObject(r: RdbReader, o: RdbObject): void {
    for (;;) {
      this.#stepObject(r, o);
      r.mark = r.pos;
      if (o.isDone) {
        r.key = undefined;
        r.retainFrom = -1;
        return;
      }
      if (o.isCapturing && r.base + r.pos - o.valueStart > this.maxRestorePayloadBytes) {
        o.isCapturing = false;
        r.retainFrom = -1;
      }
    }
  }

  /** Exactly one unit of an object. */
  #stepObject(r: RdbReader, o: RdbObject): void {
    switch (o.phase) {
      case PHASE_KEY: {
        const key = r.rstr();
        o.key = key;
        r.key = key;
        o.phase = PHASE_VALUE;
        o.valueStart = r.base + r.pos;
        if (o.kind === 'module') {
          throw r.error('UNSUPPORTED_TYPE', `unsupported type ${o.rdbType} for key ${JSON.stringify(key.toString('latin1'))} (a Redis module value cannot be read without its module)`);
        }
        if (this.maxRestorePayloadBytes > 0 && (o.kind !== 'string' || this.#captureStrings)) {
          o.isCapturing = true;
          r.retainFrom = o.valueStart;
        }
        return;
      }
      case PHASE_PREFIX: {
        const op = r.u8();
        if (op === RDB_OPCODE_EXPIRETIME_MS) {
          o.expireAtMs = r.le64();
          return;
        }
        if (op === RDB_OPCODE_DF_MASK) {
          const flags = r.le32();
          if (flags & DF_MASK_FLAG_MC_FLAGS) r.le32();
          return;
        }
        const kind = op < RDB_OPCODE_FULLSYNC_END ? kindOfType(op, this.rdbVersion) : undefined;
        if (kind === undefined) throw r.error('BAD_CHUNK', `first tagged chunk starts with byte ${op}, not an object`);
        o.rdbType = op;
        o.kind = kind;
        o.phase = PHASE_KEY;
        return;
      }
    }
    switch (o.kind) {
      case 'string':
      case 'json':
        return stepString(r, o, this);
      case 'list':
        return stepList(r, o, this);
      case 'set':
      case 'set-ttl':
        return stepSet(r, o, this);
      case 'zset':
        return stepZset(r, o, this);
      case 'hash':
      case 'hash-ttl':
        return stepHash(r, o, this);
      case 'stream':
        return stepStream(r, o, this);
      default:
        return stepDragonfly(r, o, this);
    }
  }
}

/** Skips a module value in the opcode encoding (Redis src/rdb.c `rdbLoadCheckModuleValue`). */
function skipModuleValue(r: RdbReader): void {
  for (;;) {
    const op = r.len();
    switch (op) {
      case RDB_MODULE_OPCODE_EOF:
        return;
      case RDB_MODULE_OPCODE_SINT:
      case RDB_MODULE_OPCODE_UINT:
        r.lenBig();
        break;
      case RDB_MODULE_OPCODE_FLOAT:
        r.skip(4);
        break;
      case RDB_MODULE_OPCODE_DOUBLE:
        r.skip(8);
        break;
      case RDB_MODULE_OPCODE_STRING:
        r.skipRstr();
        break;
      default:
        throw r.error('BAD_ENCODING', `unknown module value opcode ${op}`);
    }
  }
}

function isCodecError(e: Error): boolean {
  return (e as { code?: unknown }).code === 'ERR_OUT_OF_RANGE' || (e as { code?: unknown }).code === 'ERR_BUFFER_OUT_OF_BOUNDS';
}
