/**
 * Time shift for recorded Dragonfly sessions: rewrites every absolute time a flow's master bytes
 * carry by one offset, so that a recording replays today exactly as it did on the day it was made
 * (keys with a TTL keep the same remaining time, fixed absolute expiries keep their distance).
 * Used by the replay master (`df2redis demo` and the tests); nothing on the replication path uses it.
 *
 * What moves (reference document, shared/reference/dragonfly-replication.md):
 * - RDB (§4): `EXPIRETIME_MS` (252, LE64 ms) and `EXPIRETIME` (253, LE32 s) before an object, also
 *   inside LZ4/zstd blobs (§4.5) and at the start of a first TAGGED_CHUNK payload (§4.8); the
 *   `ctime` AUX field (Unix s); per-member expiries of HASH_WITH_EXPIRY (31) / SET_WITH_EXPIRY (32)
 *   (RSTR, seconds since 2023-02-01); stream PEL delivery times and consumers' seen/active times
 *   (LE64 ms) (§4.4.1). Objects split into tagged chunks are reassembled to find their fields.
 * - Journal (§5, §6.1), in stable/partial streams and in JOURNAL_BLOBs: `PEXPIREAT k <ms>`,
 *   `EXPIREAT k <s>`, `PXAT <ms>` / `EXAT <s>` options of `SET`, `GETEX`, `HSETEX`, `HGETEX`,
 *   `HPEXPIREAT`/`HEXPIREAT`, `RESTORE k <ms> … ABSTTL` (0 = none stays 0), `XCLAIM … TIME <ms>`.
 * What does not move: stream entry ids (they are data), relative TTLs (`PX`, `EX`, `HSETEX`'s ttl),
 * zero / negative sentinels, and times inside a client `RESTORE` payload (opaque DUMP bytes with a CRC).
 *
 * Every rewrite keeps the field's width where the encoding is fixed or decimal (13-digit ms and
 * 10-digit s values keep their width until the year 2286); a compressed blob that holds a rewritten
 * field is recompressed (LZ4: a standard LZ4 frame from `lz4-napi`; zstd: a standard zstd frame of
 * raw blocks with its content size), so its length changes and {@link ShiftedStream.mapOffset}
 * maps positions of the original stream (TCP read boundaries of the recording) onto the new one.
 */
import { compressFrameSync } from 'lz4-napi';
import { decompressLz4Frame, decompressZstdFrame } from '../decode/rdb/compressed-blob.js';
import { rdbLength } from '../decode/rdb/dump-payload.js';
import {
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
  RDB_OPCODE_IDLE,
  RDB_OPCODE_JOURNAL_BLOB,
  RDB_OPCODE_JOURNAL_OFFSET,
  RDB_OPCODE_RESIZEDB,
  RDB_OPCODE_SELECTDB,
  RDB_OPCODE_SLOT_INFO,
  RDB_OPCODE_TAGGED_CHUNK,
} from '../decode/rdb/rdb-constants.js';
import { NEED_MORE, RdbReader } from '../decode/rdb/rdb-reader.js';

/** Offsets are whole seconds, so second-resolution fields (`EXAT`, `EXPIREAT`, ctime) move exactly. */
export const TIME_SHIFT_STEP_MS = 1000;

/** The EOF token that follows EOF + checksum in a full-sync flow (reference §4.1). */
const EOF_TOKEN_BYTES = 40;
/** DF_MASK flag: a memcache-flags LE32 follows (Dragonfly `DF_MASK_FLAG_MC_FLAGS`). */
const DF_MASK_FLAG_MC_FLAGS = 2;
/** Largest zstd block (zstd format: `Block_Maximum_Size` = 128 KiB). */
const ZSTD_MAX_BLOCK = 128 * 1024;

/** A flow stream with its times moved. */
export interface ShiftedStream {
  /** The rewritten stream. */
  bytes: Buffer;
  /** Position in the rewritten stream of a position of the original one. A position inside a
   *  recompressed blob maps to the end of the new blob (the blob travels whole in the earlier read). */
  mapOffset(pos: number): number;
  /** Number of time fields rewritten. */
  fields: number;
}

/** Thrown when a stream cannot be shifted faithfully (unknown record, a width that would change). */
export class TimeShiftError extends Error {
  constructor(message: string) {
    super(`time shift: ${message}`);
    this.name = 'TimeShiftError';
  }
}

/** A byte range of the original stream replaced by other bytes. */
interface Replacement {
  start: number;
  end: number;
  bytes: Buffer;
}

/** A compressed blob of the main stream, decompressed for editing. */
interface Blob {
  start: number;
  end: number;
  op: number;
  data: Buffer;
  isDirty: boolean;
}

/** Where the bytes of a tagged chunk payload live. */
interface PayloadSegment {
  buf: Buffer;
  pos: number;
  len: number;
  blob: Blob | undefined;
}

/**
 * The Unix time (ms) of a recorded full-sync flow: its `ctime` AUX field (the master's clock, in
 * seconds, when the snapshot started; reference §4.2). Undefined for a stream without an RDB header
 * (a partial sync) or without `ctime`.
 */
export function recordedClockMs(stream: Buffer): number | undefined {
  if (stream.toString('latin1', 0, 5) !== 'REDIS') return undefined;
  const r = RdbReader.over(stream, 0, 'recording');
  r.pos = 9;
  try {
    while (r.pos < r.end && r.buf[r.pos] === RDB_OPCODE_AUX) {
      r.pos++;
      const k = r.rstr().toString('latin1');
      const v = r.rstr().toString('latin1');
      if (k === 'ctime') return Number(v) * 1000;
    }
  } catch (e) {
    if (e !== NEED_MORE) throw e;
  }
  return undefined;
}

/**
 * Moves every absolute time of one flow's master bytes (starting at `REDIS0009` for a full sync, or
 * at the first journal record for a partial sync; the `DFLY FLOW` reply excluded) by `offsetMs`, a
 * multiple of {@link TIME_SHIFT_STEP_MS}. A stream that ends in the middle of a record (a recorded
 * cut) is rewritten up to its last complete record. The input is not modified.
 * @throws TimeShiftError on an offset that is not whole seconds, a record this walker does not know,
 *   or a rewritten field whose width would change.
 */
export function shiftFlowStream(stream: Buffer, offsetMs: number): ShiftedStream {
  if (!Number.isInteger(offsetMs / TIME_SHIFT_STEP_MS)) throw new TimeShiftError(`offset ${offsetMs} ms is not a whole number of seconds`);
  const shifter = new StreamShifter(Buffer.from(stream), offsetMs);
  shifter.run();
  return shifter.result();
}

class StreamShifter {
  readonly #out: Buffer;
  readonly #offsetMs: number;
  readonly #offsetS: number;
  readonly #blobs: Blob[] = [];
  readonly #replacements: Replacement[] = [];
  /** Tagged objects by stream id: the payload segments seen so far. */
  readonly #tags = new Map<number, PayloadSegment[]>();
  #fields = 0;

  constructor(out: Buffer, offsetMs: number) {
    this.#out = out;
    this.#offsetMs = offsetMs;
    this.#offsetS = offsetMs / TIME_SHIFT_STEP_MS;
  }

  run(): void {
    const out = this.#out;
    if (out.toString('latin1', 0, 5) === 'REDIS') {
      const end = this.#walkRdb(out, 9, undefined);
      this.#finishTags();
      if (end >= 0) this.#walkJournal(out, end + EOF_TOKEN_BYTES, out.length, undefined);
    } else {
      this.#walkJournal(out, 0, out.length, undefined);
    }
  }

  result(): ShiftedStream {
    for (const b of this.#blobs) {
      if (!b.isDirty) continue;
      const packed = b.op === RDB_OPCODE_COMPRESSED_LZ4_BLOB_START ? compressFrameSync(b.data) : zstdRawFrame(b.data);
      this.#replacements.push({ start: b.start, end: b.end, bytes: Buffer.concat([Buffer.of(b.op), rdbLength(packed.length), packed]) });
    }
    const reps = this.#replacements.sort((a, b) => a.start - b.start);
    if (reps.length === 0) return { bytes: this.#out, mapOffset: (pos) => pos, fields: this.#fields };
    const parts: Buffer[] = [];
    /** Per replacement: its start in the new stream and the length delta after it. */
    const newStarts: number[] = [];
    const deltas: number[] = [];
    let at = 0;
    let delta = 0;
    for (const r of reps) {
      parts.push(this.#out.subarray(at, r.start), r.bytes);
      newStarts.push(r.start + delta);
      delta += r.bytes.length - (r.end - r.start);
      deltas.push(delta);
      at = r.end;
    }
    parts.push(this.#out.subarray(at));
    const mapOffset = (pos: number): number => {
      // Last replacement starting before pos.
      let lo = 0;
      let hi = reps.length - 1;
      let i = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (reps[mid]!.start < pos) {
          i = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (i < 0) return pos;
      const r = reps[i]!;
      if (pos < r.end) return newStarts[i]! + r.bytes.length;
      return pos + deltas[i]!;
    };
    return { bytes: Buffer.concat(parts), mapOffset, fields: this.#fields };
  }

  // ---- RDB ----

  /**
   * Walks top-level records of `buf` from `pos` (the main stream, or a decompressed blob when `blob`
   * is set). Returns the position after EOF + checksum, or -1 when the input ended first.
   */
  #walkRdb(buf: Buffer, pos: number, blob: Blob | undefined): number {
    const r = RdbReader.over(buf, 0, 'time shift');
    r.pos = pos;
    let recordStart = pos;
    try {
      for (;;) {
        if (r.pos >= r.end) return -1;
        recordStart = r.pos;
        const op = r.u8();
        if (op < RDB_OPCODE_FULLSYNC_END) {
          r.skipRstr(); // key
          this.#skipValue(r, op, blob);
          continue;
        }
        switch (op) {
          case RDB_OPCODE_EXPIRETIME_MS:
            this.#shiftLe64Ms(buf, r.pos, blob);
            r.skip(8);
            break;
          case RDB_OPCODE_EXPIRETIME:
            this.#shiftLe32S(buf, r.pos, blob);
            r.skip(4);
            break;
          case RDB_OPCODE_SELECTDB:
          case RDB_OPCODE_IDLE:
            r.len();
            break;
          case RDB_OPCODE_RESIZEDB:
            r.len();
            r.len();
            break;
          case RDB_OPCODE_SLOT_INFO:
            r.len();
            r.len();
            r.len();
            break;
          case RDB_OPCODE_FREQ:
            r.skip(1);
            break;
          case RDB_OPCODE_AUX: {
            const k = r.rstr().toString('latin1');
            if (k === 'ctime') this.#shiftAuxSeconds(r, blob);
            else r.skipRstr();
            break;
          }
          case RDB_OPCODE_DF_MASK: {
            const flags = r.le32();
            if (flags & DF_MASK_FLAG_MC_FLAGS) r.le32();
            break;
          }
          case RDB_OPCODE_FULLSYNC_END:
            r.skip(8);
            break;
          case RDB_OPCODE_JOURNAL_OFFSET:
            r.skip(8);
            break;
          case RDB_OPCODE_COMPRESSED_BLOB_END:
            break;
          case RDB_OPCODE_JOURNAL_BLOB: {
            r.len();
            if (buf[r.pos]! >= 0xc0) throw new TimeShiftError(`an encoded (LZF) JOURNAL_BLOB at ${recordStart} is not supported`);
            const n = r.strLen();
            r.skip(n);
            this.#walkJournal(buf, r.pos - n, r.pos, blob);
            break;
          }
          case RDB_OPCODE_COMPRESSED_LZ4_BLOB_START:
          case RDB_OPCODE_COMPRESSED_ZSTD_BLOB_START: {
            if (blob !== undefined) throw new TimeShiftError('a compressed blob inside a compressed blob');
            const n = r.strLen();
            const data = r.bytes(n);
            const plain = Buffer.from(op === RDB_OPCODE_COMPRESSED_LZ4_BLOB_START ? decompressLz4Frame(data) : decompressZstdFrame(data));
            const b: Blob = { start: recordStart, end: r.pos, op, data: plain, isDirty: false };
            this.#blobs.push(b);
            if (this.#walkRdb(plain, 0, b) >= 0) throw new TimeShiftError('EOF inside a compressed blob');
            break;
          }
          case RDB_OPCODE_TAGGED_CHUNK: {
            const id = r.le32();
            const len = r.le32();
            r.skip(len);
            let segs = this.#tags.get(id);
            if (segs === undefined) this.#tags.set(id, (segs = []));
            segs.push({ buf, pos: r.pos - len, len, blob });
            break;
          }
          case RDB_OPCODE_EOF:
            if (blob !== undefined) throw new TimeShiftError('EOF inside a compressed blob');
            r.skip(8);
            return r.pos;
          default:
            throw new TimeShiftError(`unknown RDB opcode ${op} at ${recordStart}`);
        }
      }
    } catch (e) {
      if (e !== NEED_MORE) throw e;
      if (blob !== undefined) throw new TimeShiftError(`a record crosses the end of a compressed blob at ${recordStart}`);
      return -1; // the recording was cut here
    }
  }

  /**
   * Reassembles each tagged object from its payloads (reference §4.8), rewrites its time fields,
   * and copies the payload bytes back where they came from.
   */
  #finishTags(): void {
    for (const segs of this.#tags.values()) {
      const whole = Buffer.concat(segs.map((s) => s.buf.subarray(s.pos, s.pos + s.len)));
      const before = this.#fields;
      const r = RdbReader.over(whole, 0, 'time shift (tagged chunk)');
      try {
        let type = r.u8();
        if (type === RDB_OPCODE_EXPIRETIME_MS) {
          this.#shiftLe64Ms(whole, r.pos, undefined);
          r.skip(8);
          type = r.u8();
        }
        if (type === RDB_OPCODE_DF_MASK) {
          if (r.le32() & DF_MASK_FLAG_MC_FLAGS) r.le32();
          type = r.u8();
        }
        r.skipRstr();
        this.#skipValue(r, type, undefined);
      } catch (e) {
        if (e !== NEED_MORE) throw e; // a cut recording: the object never completed
      }
      if (this.#fields === before) continue;
      let at = 0;
      for (const s of segs) {
        whole.copy(s.buf, s.pos, at, at + s.len);
        at += s.len;
        if (s.blob !== undefined) s.blob.isDirty = true;
      }
    }
    this.#tags.clear();
  }

  /** Skips one object value of RDB type `type` (Dragonfly's and Redis's layouts), rewriting its times. */
  #skipValue(r: RdbReader, type: number, blob: Blob | undefined): void {
    const buf = r.buf;
    switch (type) {
      case 0: // STRING
      case 9: // HASH_ZIPMAP
      case 10: // LIST_ZIPLIST
      case 11: // SET_INTSET
      case 12: // ZSET_ZIPLIST
      case 13: // HASH_ZIPLIST
      case 16: // HASH_LISTPACK
      case 17: // ZSET_LISTPACK
      case 20: // SET_LISTPACK (JSON in Dragonfly files < RDB 10)
      case 30: // JSON
        r.skipRstr();
        return;
      case 1: // LIST
      case 2: // SET
      case 14: // LIST_QUICKLIST
        for (let n = r.len(); n > 0; n--) r.skipRstr();
        return;
      case 4: // HASH
        for (let n = r.len(); n > 0; n--) {
          r.skipRstr();
          r.skipRstr();
        }
        return;
      case 3: // ZSET (scores as text)
        for (let n = r.len(); n > 0; n--) {
          r.skipRstr();
          const l = r.u8();
          if (l < 253) r.skip(l);
        }
        return;
      case 5: // ZSET_2
        for (let n = r.len(); n > 0; n--) {
          r.skipRstr();
          r.skip(8);
        }
        return;
      case 18: // LIST_QUICKLIST_2
        for (let n = r.len(); n > 0; n--) {
          r.len();
          r.skipRstr();
        }
        return;
      case 15:
      case 19:
      case 21:
        return this.#skipStream(r, type, blob);
      case 31: // HASH_WITH_EXPIRY: field, value, expiry
        for (let n = r.len(); n > 0; n--) {
          r.skipRstr();
          r.skipRstr();
          this.#shiftRstrSeconds(r, blob);
        }
        return;
      case 32: // SET_WITH_EXPIRY: member, expiry
        for (let n = r.len(); n > 0; n--) {
          r.skipRstr();
          this.#shiftRstrSeconds(r, blob);
        }
        return;
      case 33: // SBF
      case 34: // SBF2
        r.len();
        r.skip(16);
        r.len();
        r.len();
        r.len();
        for (let filters = r.len(); filters > 0; filters--) {
          r.len(); // hash count
          if (type === 33) r.skipRstr();
          else skipChunks(r);
        }
        return;
      case 35: {
        // CMS
        const width = r.len();
        const depth = r.len();
        r.len();
        r.skip(width * depth * 8);
        return;
      }
      case 36: // TOPK
        r.len();
        r.len();
        r.len();
        r.len();
        r.skip(8);
        for (let n = r.len(); n > 0; n--) {
          r.skipRstr();
          r.len();
        }
        r.skip(r.len());
        return;
      case 37: // CUCKOO
        for (let i = 0; i < 6; i++) r.len();
        for (let filters = r.len(); filters > 0; filters--) skipChunks(r);
        return;
      default:
        void buf;
        throw new TimeShiftError(`RDB type ${type} at ${r.pos - 1} is not supported`);
    }
  }

  /** Stream value (reference §4.4.1): PEL delivery times and consumer seen/active times move. */
  #skipStream(r: RdbReader, type: number, blob: Blob | undefined): void {
    for (let n = r.len(); n > 0; n--) {
      r.skipRstr();
      r.skipRstr();
    }
    for (let i = type >= 19 ? 8 : 3; i > 0; i--) r.lenBig(); // length, last id, [first id, max deleted id, entries added]
    for (let groups = r.len(); groups > 0; groups--) {
      r.skipRstr();
      for (let i = type >= 19 ? 3 : 2; i > 0; i--) r.lenBig(); // last id, [entries read: 2^64-1 = unknown]
      for (let pel = r.len(); pel > 0; pel--) {
        r.skip(16);
        this.#shiftLe64Ms(r.buf, r.pos, blob);
        r.skip(8);
        r.len();
      }
      for (let consumers = r.len(); consumers > 0; consumers--) {
        r.skipRstr();
        this.#shiftLe64Ms(r.buf, r.pos, blob);
        r.skip(8);
        if (type >= 21) {
          this.#shiftLe64Ms(r.buf, r.pos, blob);
          r.skip(8);
        }
        r.skip(16 * r.len());
      }
    }
  }

  // ---- journal ----

  /** Walks journal records in `buf[pos, end)` (reference §5.1, older opcodes of §9 included). */
  #walkJournal(buf: Buffer, pos: number, end: number, blob: Blob | undefined): void {
    const r = RdbReader.over(buf.subarray(0, end), 0, 'time shift (journal)');
    r.pos = pos;
    const args: Array<[number, number]> = [];
    try {
      while (r.pos < r.end) {
        const recordStart = r.pos;
        const op = r.len();
        switch (op) {
          case 0: // NOOP (≤ v1.30)
          case 13: // PING
          case 14: // FIN (v1.15–v1.28)
            break;
          case 6: // SELECT
          case 15: // LSN
            r.len();
            break;
          case 12: // EXEC (≤ v1.23): txid, shard_cnt
            r.len();
            r.len();
            break;
          case 9: // EXPIRED
          case 10: // COMMAND
          case 11: {
            // MULTI_COMMAND (≤ v1.23)
            r.len();
            r.len();
            const argc = r.len();
            r.len();
            args.length = 0;
            for (let i = 0; i < argc; i++) {
              const n = r.len();
              r.skip(n);
              args.push([r.pos - n, n]);
            }
            this.#shiftCommand(buf, args, blob);
            break;
          }
          default:
            throw new TimeShiftError(`unknown journal opcode ${op} at ${recordStart}`);
        }
      }
    } catch (e) {
      if (e !== NEED_MORE) throw e; // a cut recording: the last record is incomplete
    }
  }

  /** Rewrites the absolute times among one journal command's arguments (`[pos, len]` each). */
  #shiftCommand(buf: Buffer, args: Array<[number, number]>, blob: Blob | undefined): void {
    const text = (i: number): string => buf.toString('latin1', args[i]![0], args[i]![0] + args[i]![1]).toUpperCase();
    const at = (i: number, unit: 'ms' | 's'): void => {
      if (i < args.length) this.#shiftDecimal(buf, args[i]![0], args[i]![1], unit === 'ms' ? this.#offsetMs : this.#offsetS, blob);
    };
    /** `PXAT <ms>` / `EXAT <s>` options from argument `from` on, up to a `FIELDS` keyword. */
    const options = (from: number): void => {
      for (let i = from; i < args.length - 1; i++) {
        const t = text(i);
        if (t === 'FIELDS') return;
        if (t === 'PXAT') at(++i, 'ms');
        else if (t === 'EXAT') at(++i, 's');
      }
    };
    switch (text(0)) {
      case 'PEXPIREAT':
      case 'HPEXPIREAT':
        return at(2, 'ms');
      case 'EXPIREAT':
      case 'HEXPIREAT':
        return at(2, 's');
      case 'SET':
        return options(3);
      case 'GETEX':
      case 'HSETEX':
      case 'HGETEX':
        return options(2);
      case 'RESTORE':
        for (let i = 4; i < args.length; i++) if (text(i) === 'ABSTTL') return at(2, 'ms');
        return;
      case 'XCLAIM':
        for (let i = 5; i < args.length - 1; i++) if (text(i) === 'TIME') return at(i + 1, 'ms');
        return;
      default:
        return;
    }
  }

  // ---- field rewriters ----

  #touch(blob: Blob | undefined): void {
    this.#fields++;
    if (blob !== undefined) blob.isDirty = true;
  }

  /** An LE64 ms time; 0 and negative values are sentinels and stay. */
  #shiftLe64Ms(buf: Buffer, pos: number, blob: Blob | undefined): void {
    if (pos + 8 > buf.length) throw NEED_MORE;
    const v = buf.readBigInt64LE(pos);
    if (v <= 0n) return;
    buf.writeBigInt64LE(v + BigInt(this.#offsetMs), pos);
    this.#touch(blob);
  }

  /** An LE32 seconds time (opcode 253). */
  #shiftLe32S(buf: Buffer, pos: number, blob: Blob | undefined): void {
    if (pos + 4 > buf.length) throw NEED_MORE;
    const v = buf.readUInt32LE(pos);
    if (v === 0) return;
    const n = v + this.#offsetS;
    if (n < 0 || n > 0xffffffff) throw new TimeShiftError(`EXPIRETIME ${v} s + ${this.#offsetS} s does not fit 32 bits`);
    buf.writeUInt32LE(n, pos);
    this.#touch(blob);
  }

  /** A decimal ASCII time argument of the same width after the shift; anything else stays. */
  #shiftDecimal(buf: Buffer, pos: number, len: number, delta: number, blob: Blob | undefined): void {
    const s = buf.toString('latin1', pos, pos + len);
    if (!/^[1-9]\d*$/.test(s)) return;
    const next = String(BigInt(s) + BigInt(delta));
    if (next.length !== len) throw new TimeShiftError(`time ${s} shifted by ${delta} becomes ${next}, a different width`);
    buf.write(next, pos, 'latin1');
    this.#touch(blob);
  }

  /** A member expiry RSTR (seconds; -1 = none), int-encoded or decimal, rewritten in its own width. */
  #shiftRstrSeconds(r: RdbReader, blob: Blob | undefined): void {
    const buf = r.buf;
    const p = r.pos;
    if (p >= r.end) throw NEED_MORE;
    const b = buf[p]!;
    if (b < 0x40) {
      r.skipRstr();
      return this.#shiftDecimal(buf, p + 1, b, this.#offsetS, blob);
    }
    r.skipRstr();
    const enc = b & 0x3f;
    if (b < 0xc0 || enc > 2) throw new TimeShiftError(`member expiry at ${p} has an unexpected encoding`);
    const width = 1 << enc;
    const v = buf.readIntLE(p + 1, width);
    if (v < 0) return;
    const n = v + this.#offsetS;
    if (n >= 2 ** (8 * width - 1)) throw new TimeShiftError(`member expiry ${v} + ${this.#offsetS} s does not fit its ${width}-byte encoding`);
    buf.writeIntLE(n, p + 1, width);
    this.#touch(blob);
  }

  /** The `ctime` AUX value (int-encoded or decimal seconds); a wider result replaces the RSTR. */
  #shiftAuxSeconds(r: RdbReader, blob: Blob | undefined): void {
    const start = r.pos;
    const v = Number(r.rstr().toString('latin1'));
    const n = v + this.#offsetS;
    const fits = this.#out[start] === 0xc2 && n < 2 ** 31 && n >= 0;
    if (fits) this.#out.writeInt32LE(n, start + 1);
    else if (blob === undefined) {
      const text = Buffer.from(String(n), 'latin1');
      this.#replacements.push({ start, end: r.pos, bytes: Buffer.concat([rdbLength(text.length), text]) });
    } else throw new TimeShiftError('ctime inside a compressed blob');
    this.#touch(blob);
  }
}

/** Skips SBF2 / cuckoo filter data: PUINT total, then chunks of PUINT length + bytes. */
function skipChunks(r: RdbReader): void {
  for (let left = r.len(); left > 0; ) {
    const n = r.len();
    if (n === 0 || n > left) throw new TimeShiftError(`filter chunk of ${n} bytes, ${left} left`);
    r.skip(n);
    left -= n;
  }
}

/**
 * One zstd frame (RFC 8878) holding `data` in raw blocks: single segment, 4-byte content size, no
 * checksum. Any zstd decoder reads it; Dragonfly's needs the content size, which it has.
 */
export function zstdRawFrame(data: Buffer): Buffer {
  const blocks = Math.max(1, Math.ceil(data.length / ZSTD_MAX_BLOCK));
  const out = Buffer.alloc(4 + 1 + 4 + blocks * 3 + data.length);
  out.writeUInt32LE(0xfd2fb528, 0);
  out[4] = (2 << 6) | (1 << 5); // Frame_Content_Size_flag = 2 (4 bytes), Single_Segment_flag
  out.writeUInt32LE(data.length, 5);
  let pos = 9;
  for (let i = 0; i < blocks; i++) {
    const chunk = data.subarray(i * ZSTD_MAX_BLOCK, (i + 1) * ZSTD_MAX_BLOCK);
    const header = (chunk.length << 3) | (0 << 1) | (i === blocks - 1 ? 1 : 0); // Raw_Block
    out.writeUIntLE(header, pos, 3);
    pos += 3;
    chunk.copy(out, pos);
    pos += chunk.length;
  }
  return out;
}
