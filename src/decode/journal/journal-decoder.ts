/**
 * Journal decoder: Dragonfly's journal record format (stable sync, partial sync and the payload
 * of JOURNAL_BLOB records during full sync).
 *
 * Upstream: Dragonfly src/server/journal/serializer.cc (`JournalWriter::Write`,
 * `JournalReader::ReadEntry`, `JournalReader::ReadPackedUInt`), opcodes in
 * src/server/journal/types.h (v1.40.1). Wire layout, every integer a PUINT
 * (src/server/serializer_commons.cc `WritePackedUInt`):
 *
 * ```
 * SELECT(6)   dbid                               sets the db of the following COMMANDs
 * COMMAND(10) txid shard_cnt argc total_bytes argc × (len, len raw bytes)
 * EXPIRED(9)  same as COMMAND (never written by v1.40.1; decoded like COMMAND)
 * PING(13)                                        counts one LSN, asks for an immediate ACK
 * LSN(15)     lsn                                 LSN of the last record written (verification)
 * ```
 */
import type { JournalEntry } from '../../entry/entry.js';
import {
  JOURNAL_OP_COMMAND,
  JOURNAL_OP_EXPIRED,
  JOURNAL_OP_LSN,
  JOURNAL_OP_PING,
  JOURNAL_OP_SELECT,
} from '../../entry/entry.js';
import { JournalError } from '../../errors.js';
import { STITCH_HEAD_BYTES } from '../rdb/rdb-reader.js';
import { internCommandName } from './command-names.js';

/** Most arguments one COMMAND record may have; more means a corrupt stream (Redis caps at 2^20 too, `proto-max-multibulk-len` default 1M). */
export const MAX_JOURNAL_ARGC = 1 << 20;
/**
 * Largest `total_bytes` of one COMMAND record (the sum of its argument lengths): 256 MiB. A whole
 * record is buffered before it is decoded, so this bounds the memory a corrupt (or hostile) length
 * can claim, and a length beyond it fails at once instead of waiting for bytes that never come.
 * Why 256 MiB: a journal record is one client command; Dragonfly accepts arguments up to
 * `--max_bulk_len` (2 GiB, src/facade/dragonfly_connection.cc) but a Redis target refuses any
 * argument above `proto-max-bulk-len` (512 MB) and a request above `client-query-buffer-limit`
 * (1 GB), and real records are far smaller (the biggest in the recordings is a few KB: Dragonfly
 * itself splits big values of its own serializers into 64 KB pieces, `serialization_max_chunk_size`).
 * A record bigger than this stops the run with a JournalError naming the flow and offset (README
 * "Limitations").
 */
export const MAX_JOURNAL_RECORD_BYTES = 256 * 1024 * 1024;
/** Largest single argument accepted (= {@link MAX_JOURNAL_RECORD_BYTES}: an argument is part of a record). */
export const MAX_JOURNAL_ARG_BYTES = MAX_JOURNAL_RECORD_BYTES;
/**
 * Largest JOURNAL_BLOB payload (RDB opcode 210) accepted: one record of at most
 * {@link MAX_JOURNAL_RECORD_BYTES} plus its SELECT, header and per-argument lengths (≤ 9 bytes each).
 */
export const MAX_JOURNAL_BLOB_BYTES = MAX_JOURNAL_RECORD_BYTES + 16 * 1024 * 1024;
/** Largest db index accepted in a SELECT record (Dragonfly's `--dbnum` is far below this). */
export const MAX_JOURNAL_DBID = 2 ** 31 - 1;

/** Options of {@link JournalDecoder}. */
export interface JournalDecoderOptions {
  /** Name used in errors, e.g. `flow 2`. */
  source?: string;
  /** Added to byte offsets in errors, e.g. the offset of the first journal byte in the flow
   *  stream. @default 0 */
  baseOffset?: number;
}

/** Result codes of the internal PUINT reader (any value ≥ 0 is the position after the PUINT). */
const INCOMPLETE = -1;
const INVALID = -2;

/**
 * Push parser for a Dragonfly journal stream (stable or partial sync, after the EOF token).
 * Synchronous: `onEntry` is called once per COMMAND / EXPIRED / PING / LSN record, in stream order,
 * from inside {@link push}. SELECT records are folded into the `db` of the following commands (the
 * selected db persists, as in `JournalReader`; it starts at 0).
 *
 * Buffers: `args` of a command entry are `subarray` views of the pushed chunk (or, for a record that
 * straddled chunks, of one buffer holding that record and the rest of its chunk). Nothing is copied
 * on the common path, so a caller must not reuse or modify a chunk after pushing it. Node socket
 * `'data'` buffers are never reused, so passing them straight in is safe; a caller that recycles
 * buffers must copy first. A consumer that keeps an arg keeps its whole chunk alive.
 *
 * Incomplete records: the unparsed tail is kept (by reference) and re-parsed from the record start
 * once the stream has at least the bytes the record is known to need (for a COMMAND, the header plus
 * `total_bytes`), so a large record arriving in many chunks is concatenated once, not per chunk.
 *
 * Errors: {@link push} throws {@link JournalError} (unknown opcode, invalid PUINT, absurd or
 * inconsistent lengths) naming the stream offset of the offending record and the source. After an
 * error — including one thrown by `onEntry` — the decoder is dead: every later push rethrows it.
 */
export class JournalDecoder {
  readonly #onEntry: (e: JournalEntry) => void;
  readonly #source: string | undefined;
  /** Stream offset of the first byte of the buffer currently being parsed. */
  #base: number;
  #consumed = 0;
  #db = 0;
  /** Unparsed tail: chunks (the first starts at a record start) and their total length. */
  #pending: Buffer[] = [];
  #pendingLen = 0;
  /** Bytes (from the record start) known to be needed before re-parsing the pending tail. */
  #need = 0;
  #failure: unknown = undefined;
  #hasFailed = false;
  /** Scratch results of #puint: the value as a number and, for 9-byte forms, as a bigint. */
  #num = 0;
  #big: bigint | undefined = undefined;

  constructor(onEntry: (e: JournalEntry) => void, options?: JournalDecoderOptions) {
    this.#onEntry = onEntry;
    this.#source = options?.source;
    this.#base = options?.baseOffset ?? 0;
  }

  /** Total input bytes consumed, i.e. bytes of complete records (SELECT included). */
  get bytesConsumed(): number {
    return this.#consumed;
  }

  /** Bytes held for an incomplete record (0 when the input so far ends on a record boundary). */
  get bufferedBytes(): number {
    return this.#pendingLen;
  }

  /** Db selected by the last SELECT record (0 before any). */
  get db(): number {
    return this.#db;
  }

  /**
   * Feeds bytes; decodes every complete record and keeps the tail of an incomplete one.
   * @throws JournalError on corrupt input; rethrows whatever `onEntry` threw.
   */
  push(chunk: Buffer): void {
    if (this.#hasFailed) throw this.#failure;
    if (chunk.length === 0) return;
    let buf: Buffer;
    if (this.#pendingLen === 0) {
      buf = chunk;
    } else {
      const tailLen = this.#pendingLen;
      this.#pending.push(chunk);
      this.#pendingLen += chunk.length;
      if (this.#pendingLen < this.#need) return;
      // The record cut by the chunk boundary is completed from the chunk's head (copied behind the
      // tail), then the rest of the chunk is parsed in place: one small copy per chunk, not the
      // chunk (socket chunks of a burst hold a cut record almost every time).
      const head = Math.min(chunk.length, Math.max(this.#need - tailLen, STITCH_HEAD_BYTES));
      if (head < chunk.length) {
        this.#pending[this.#pending.length - 1] = chunk.subarray(0, head);
        const stitched = Buffer.concat(this.#pending, tailLen + head);
        const pos = this.#parseSome(stitched);
        if (pos >= tailLen) {
          this.#pending = [];
          this.#pendingLen = 0;
          this.#parseAll(chunk.subarray(pos - tailLen));
          return;
        }
        // Nothing decoded (the record is longer than its known lower bound): the whole chunk.
        this.#pending[this.#pending.length - 1] = chunk;
      }
      // One copy per record that straddles chunks (not per record): see the class comment.
      buf = Buffer.concat(this.#pending, this.#pendingLen);
      this.#pending = [];
      this.#pendingLen = 0;
    }
    this.#parseAll(buf);
  }

  /** Decodes the complete records of `buf` (a record start at 0); keeps the tail of an incomplete one. */
  #parseAll(buf: Buffer): void {
    const pos = this.#parseSome(buf);
    if (pos < buf.length) {
      const rest = pos === 0 ? buf : buf.subarray(pos);
      this.#pending.push(rest);
      this.#pendingLen = rest.length;
    }
  }

  /** Decodes the complete records of `buf` (a record start at 0); returns the end of the last one. */
  #parseSome(buf: Buffer): number {
    let pos: number;
    try {
      pos = this.#parse(buf);
    } catch (err) {
      this.#hasFailed = true;
      this.#failure = err;
      throw err;
    }
    this.#consumed += pos;
    this.#base += pos;
    return pos;
  }

  /**
   * Declares end of input (e.g. for a journal blob).
   * @throws JournalError if bytes of an incomplete record are buffered.
   */
  end(): void {
    if (this.#hasFailed) throw this.#failure;
    if (this.#pendingLen !== 0) {
      this.#fail(`truncated record: ${this.#pendingLen} byte(s) of an incomplete record at end of input`, 0);
    }
  }

  /** Parses complete records from `b`; returns the position after the last complete record. */
  #parse(b: Buffer): number {
    const end = b.length;
    let p = 0;
    this.#need = 0;
    while (p < end) {
      const start = p;
      let q = this.#puint(b, p, end);
      if (q < 0) return this.#stop(q, start, end);
      const op = this.#num;
      switch (op) {
        case JOURNAL_OP_SELECT: {
          q = this.#puint(b, q, end);
          if (q < 0) return this.#stop(q, start, end);
          if (this.#big !== undefined || this.#num > MAX_JOURNAL_DBID) this.#fail(`SELECT of an invalid db ${this.#bigOrNum()}`, start);
          this.#db = this.#num;
          p = q;
          break;
        }
        case JOURNAL_OP_COMMAND:
        case JOURNAL_OP_EXPIRED: {
          const r = this.#command(b, start, q, end);
          if (r < 0) return start;
          p = r;
          break;
        }
        case JOURNAL_OP_PING:
          p = q;
          this.#onEntry({ kind: 'journal', op: 'ping' });
          break;
        case JOURNAL_OP_LSN: {
          const r = this.#puint(b, q, end);
          if (r < 0) return this.#stop(r, start, end);
          const lsn = this.#big ?? BigInt(this.#num);
          p = r;
          this.#onEntry({ kind: 'journal', op: 'lsn', lsn });
          break;
        }
        default:
          this.#fail(`unknown opcode ${op} (0x${b[start]!.toString(16).padStart(2, '0')})`, start);
      }
    }
    return p;
  }

  /** COMMAND / EXPIRED after the opcode; returns the end position, or -1 if incomplete (#need set). */
  #command(b: Buffer, start: number, q: number, end: number): number {
    q = this.#puint(b, q, end);
    if (q < 0) return this.#incomplete(q, start, end);
    const txid = this.#big ?? BigInt(this.#num);
    q = this.#puint(b, q, end); // shard_cnt: always 1 since v1.38, ignored (as upstream)
    if (q < 0) return this.#incomplete(q, start, end);
    q = this.#puint(b, q, end);
    if (q < 0) return this.#incomplete(q, start, end);
    if (this.#big !== undefined || this.#num > MAX_JOURNAL_ARGC || this.#num === 0) {
      this.#fail(`command with an invalid argument count ${this.#bigOrNum()} (1..${MAX_JOURNAL_ARGC})`, start);
    }
    const argc = this.#num;
    q = this.#puint(b, q, end);
    if (q < 0) return this.#incomplete(q, start, end);
    if (this.#big !== undefined || this.#num > MAX_JOURNAL_RECORD_BYTES) {
      this.#fail(`command of ${this.#bigOrNum()} bytes exceeds the ${MAX_JOURNAL_RECORD_BYTES}-byte bound of one journal record`, start);
    }
    const total = this.#num;
    // Lower bound of the record size: header + one length byte per argument + the argument bytes.
    const minEnd = q + argc + total;
    if (minEnd > end) {
      this.#need = minEnd - start;
      return -1;
    }
    const args = new Array<Buffer>(argc);
    let sum = 0;
    for (let i = 0; i < argc; i++) {
      const argAt = q;
      q = this.#puint(b, q, end);
      if (q < 0) return this.#incomplete(q, start, end);
      if (this.#big !== undefined || this.#num > MAX_JOURNAL_ARG_BYTES) {
        this.#fail(`argument ${i} of an invalid length ${this.#bigOrNum()} (at byte ${this.#base + argAt})`, start);
      }
      const len = this.#num;
      sum += len;
      if (sum > total) this.#fail(`argument lengths exceed total_bytes ${total}`, start);
      if (q + len > end) {
        this.#need = q + len + (argc - i - 1) + (total - sum) - start;
        return -1;
      }
      // The command's name: one shared buffer per spelling (command-names.ts), not a view per record.
      args[i] = i === 0 ? internCommandName(b, q, len) : b.subarray(q, q + len);
      q += len;
    }
    if (sum !== total) this.#fail(`argument lengths sum to ${sum}, total_bytes says ${total}`, start);
    this.#onEntry({ kind: 'journal', op: 'command', db: this.#db, txid, args });
    return q;
  }

  #incomplete(code: number, start: number, end: number): number {
    this.#stop(code, start, end);
    return -1;
  }

  /**
   * Handles a failed PUINT read of the record at `start`: throws if invalid, else asks for at least
   * one more byte than the `end - start` available and returns `start`.
   */
  #stop(code: number, start: number, end: number): number {
    if (code === INVALID) this.#fail('invalid packed integer', start);
    this.#need = end - start + 1;
    return start;
  }

  /**
   * Reads a PUINT at `p` (Dragonfly `ReadPackedUInt`, src/server/serializer_commons.cc) into
   * #num / #big. Returns the position after it, INCOMPLETE, or INVALID (first byte 0x82..0xFF:
   * 0xC0.. are RDB string specials that the journal writer never produces — treated as corruption).
   */
  #puint(b: Buffer, p: number, end: number): number {
    if (p >= end) return INCOMPLETE;
    const first = b[p]!;
    this.#big = undefined;
    switch (first >> 6) {
      case 0:
        this.#num = first;
        return p + 1;
      case 1:
        if (p + 2 > end) return INCOMPLETE;
        this.#num = ((first & 0x3f) << 8) | b[p + 1]!;
        return p + 2;
      default:
        if (first === 0x80) {
          if (p + 5 > end) return INCOMPLETE;
          this.#num = b.readUInt32BE(p + 1);
          return p + 5;
        }
        if (first === 0x81) {
          if (p + 9 > end) return INCOMPLETE;
          const v = b.readBigUInt64BE(p + 1);
          if (v <= BigInt(Number.MAX_SAFE_INTEGER)) this.#num = Number(v);
          else {
            this.#num = Number.MAX_SAFE_INTEGER;
            this.#big = v;
          }
          return p + 9;
        }
        return INVALID;
    }
  }

  #bigOrNum(): string {
    return this.#big !== undefined ? this.#big.toString() : String(this.#num);
  }

  #fail(detail: string, at: number): never {
    throw new JournalError(detail, { offset: this.#base + at, source: this.#source });
  }
}

/**
 * Decodes the payload of one JOURNAL_BLOB (RDB opcode 210, Dragonfly `RdbLoaderBase::HandleJournalBlob`):
 * complete journal records (normally SELECT + COMMAND, or PING). The SELECT state starts at db 0
 * and is local to the blob (it never leaks into the RDB SELECTDB state, nor the reverse).
 * `args` are subarrays of `payload`.
 * @param offset stream offset of `payload`, used only in error messages.
 * @throws JournalError on a corrupt or truncated record.
 */
export function decodeJournalBlob(payload: Buffer, offset: number, source?: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  const decoder = new JournalDecoder((e) => out.push(e), { source, baseOffset: offset });
  decoder.push(payload);
  decoder.end();
  return out;
}
