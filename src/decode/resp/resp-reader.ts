/**
 * RESP reply reader: RESP2 and the basic RESP3 types, as a synchronous push parser.
 *
 * Upstream: the RESP specification (redis.io/docs/latest/develop/reference/protocol-spec), Redis
 * src/networking.c (`addReply*`), hiredis read.c (`processItem`) for the resumable, stack-based
 * approach: nested aggregates are parsed element by element, so an incomplete reply never causes
 * its complete elements to be parsed again.
 */
import { RespError } from '../../errors.js';

/** An error reply (`-ERR …`, or RESP3 blob error `!`). Not thrown: delivered as a value. */
export class RespErrorReply {
  constructor(readonly message: string) {}
  /** The error code: the first word (`ERR`, `NOAUTH`, `WRONGTYPE`, …). */
  get code(): string {
    const sp = this.message.indexOf(' ');
    return sp < 0 ? this.message : this.message.slice(0, sp);
  }
}

/**
 * A decoded reply.
 * - `+simple` → string (UTF-8); `$bulk` → Buffer (a view of the input, see {@link RespReader});
 * - `:int` → number, or bigint beyond ±2^53; `(bignum` → bigint; `,double` → number (±Infinity, NaN);
 * - `#t`/`#f` → 1 / 0; `_`, `$-1`, `*-1` → null;
 * - `*array`, `~set`, `>push` → array; `%map` → flat array `[k1, v1, k2, v2, …]` (as RESP2 HGETALL);
 * - `=verbatim` → Buffer without the `txt:` format prefix;
 * - `-error`, `!bloberror` → {@link RespErrorReply};
 * - `|attribute` maps are parsed and dropped (they annotate the reply that follows).
 */
export type RespValue = string | Buffer | number | bigint | null | RespValue[] | RespErrorReply;

/** Largest bulk string accepted: 512 MiB (Redis `proto-max-bulk-len` default). */
export const MAX_RESP_BULK_BYTES = 512 * 1024 * 1024;
/** Largest aggregate accepted (elements; maps count pairs twice). */
export const MAX_RESP_AGGREGATE_LEN = 2 ** 31;

/** An aggregate being filled: its values, how many are still missing, and its kind. */
interface Frame {
  values: RespValue[];
  remaining: number;
  /** true for `|` attributes: the aggregate is discarded when complete. */
  isAttribute: boolean;
}

const NEED_MORE = Symbol('need more');

/**
 * Push parser of RESP replies. `onReply` is called synchronously from {@link push}, once per
 * complete top-level reply, in order.
 *
 * Buffers: bulk strings are `subarray` views of the pushed chunk (or of the one buffer a straddling
 * element was reassembled into): a caller must not reuse a chunk after pushing it (socket buffers
 * are never reused; copy when keeping a small slice of a big chunk for long).
 *
 * {@link pause} inside `onReply` stops parsing after that reply; {@link takeRemainder} then hands
 * the unparsed bytes to whoever reads the rest of the stream (e.g. the RDB bytes after the reply to
 * `DFLY FLOW`).
 *
 * @throws RespError from push on malformed input (unknown type byte, bad length); the reader is
 *   then dead and rethrows. Errors thrown by `onReply` propagate and kill the reader too.
 */
export class RespReader {
  readonly #onReply: (v: RespValue) => void;
  #stack: Frame[] = [];
  #pending: Buffer[] = [];
  #pendingLen = 0;
  #need = 0;
  /** Stream offset of the start of the buffer being parsed. */
  #base = 0;
  #isPaused = false;
  #hasFailed = false;
  #failure: unknown;

  constructor(onReply: (v: RespValue) => void) {
    this.#onReply = onReply;
  }

  /** Bytes consumed so far (complete elements). */
  get bytesConsumed(): number {
    return this.#base;
  }

  /** Bytes held (an incomplete element, or everything after {@link pause}). */
  get bufferedBytes(): number {
    return this.#pendingLen;
  }

  /** True when no reply is partially parsed and nothing is buffered. */
  get isIdle(): boolean {
    return this.#pendingLen === 0 && this.#stack.length === 0;
  }

  /** Stops parsing after the current reply (call it from `onReply`); later bytes are buffered. */
  pause(): void {
    this.#isPaused = true;
  }

  /** Resumes parsing after {@link pause}, starting with the buffered bytes. */
  resume(): void {
    if (!this.#isPaused) return;
    this.#isPaused = false;
    if (this.#pendingLen === 0) return;
    const buf = this.#takePending();
    this.#need = 0;
    this.push(buf);
  }

  /**
   * Returns the bytes not parsed yet (after {@link pause}: everything after the last reply) and
   * forgets them. Throws if a reply is partially parsed.
   */
  takeRemainder(): Buffer {
    if (this.#stack.length !== 0) throw new RespError('takeRemainder inside a partially parsed aggregate', this.#base);
    const buf = this.#pendingLen === 0 ? Buffer.alloc(0) : this.#takePending();
    this.#base += buf.length;
    return buf;
  }

  /** Feeds bytes. @throws RespError */
  push(chunk: Buffer): void {
    if (this.#hasFailed) throw this.#failure;
    if (chunk.length === 0) return;
    if (this.#pendingLen !== 0 || this.#isPaused) {
      this.#pending.push(chunk);
      this.#pendingLen += chunk.length;
      if (this.#isPaused || this.#pendingLen < this.#need) return;
      chunk = this.#takePending();
    }
    let pos: number;
    try {
      pos = this.#parse(chunk);
    } catch (err) {
      this.#hasFailed = true;
      this.#failure = err;
      throw err;
    }
    this.#base += pos;
    if (pos < chunk.length) {
      const rest = chunk.subarray(pos);
      this.#pending.push(rest);
      this.#pendingLen = rest.length;
    }
  }

  #takePending(): Buffer {
    const buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingLen);
    this.#pending = [];
    this.#pendingLen = 0;
    return buf;
  }

  /** Parses elements from `b`; returns the position after the last complete element. */
  #parse(b: Buffer): number {
    let p = 0;
    this.#need = 0;
    const end = b.length;
    while (p < end && !this.#isPaused) {
      const start = p;
      const r = this.#element(b, p, end);
      if (r === NEED_MORE) return start;
      p = r.next;
      this.#deliver(r.value, r.isAggregateStart);
    }
    return p;
  }

  /**
   * Adds a parsed element to the innermost open aggregate (or delivers it), closing aggregates that
   * became complete. An aggregate start is pushed as a frame instead (unless empty).
   */
  #deliver(value: RespValue | Frame, isAggregateStart: boolean): void {
    let v: RespValue | undefined;
    if (isAggregateStart) {
      const frame = value as Frame;
      if (frame.remaining > 0) {
        this.#stack.push(frame);
        return;
      }
      if (frame.isAttribute) return;
      v = frame.values;
    } else {
      v = value as RespValue;
    }
    for (;;) {
      const top = this.#stack[this.#stack.length - 1];
      if (top === undefined) {
        this.#onReply(v);
        return;
      }
      top.values.push(v);
      if (--top.remaining > 0) return;
      this.#stack.pop();
      if (top.isAttribute) return; // an attribute annotates the next value; dropped
      v = top.values;
    }
  }

  /** One element at `p`: a scalar value, or the start of an aggregate (a fresh Frame). */
  #element(b: Buffer, p: number, end: number): { next: number; value: RespValue | Frame; isAggregateStart: boolean } | typeof NEED_MORE {
    // A byte search for CR (much cheaper than a string search), then its LF.
    let lineEnd = b.indexOf(0x0d, p + 1);
    while (lineEnd >= 0 && lineEnd + 1 < end && b[lineEnd + 1] !== 0x0a) lineEnd = b.indexOf(0x0d, lineEnd + 1);
    if (lineEnd < 0 || lineEnd + 2 > end) {
      if (end - p > MAX_RESP_BULK_BYTES) this.#fail('header line without CRLF', p);
      this.#need = end - p + 1;
      return NEED_MORE;
    }
    const type = b[p]!;
    const next = lineEnd + 2;
    switch (type) {
      case 0x2b: // '+'
        return { next, value: b.toString('utf8', p + 1, lineEnd), isAggregateStart: false };
      case 0x2d: // '-'
        return { next, value: new RespErrorReply(b.toString('utf8', p + 1, lineEnd)), isAggregateStart: false };
      case 0x3a: // ':'
        return { next, value: this.#integer(b, p, lineEnd), isAggregateStart: false };
      case 0x28: // '(' big number
        return { next, value: this.#bigint(b, p, lineEnd), isAggregateStart: false };
      case 0x2c: // ',' double
        return { next, value: this.#double(b, p, lineEnd), isAggregateStart: false };
      case 0x23: {
        // '#' boolean
        const t = lineEnd === p + 2 ? b[p + 1] : undefined;
        if (t !== 0x74 && t !== 0x66) this.#fail('bad boolean', p);
        return { next, value: t === 0x74 ? 1 : 0, isAggregateStart: false };
      }
      case 0x5f: // '_' null
        if (lineEnd !== p + 1) this.#fail('bad null', p);
        return { next, value: null, isAggregateStart: false };
      case 0x24: // '$' bulk
      case 0x21: // '!' blob error
      case 0x3d: {
        // '=' verbatim
        const len = this.#length(b, p, lineEnd, MAX_RESP_BULK_BYTES);
        if (len < 0) return { next, value: null, isAggregateStart: false };
        if (next + len + 2 > end) {
          this.#need = next + len + 2 - p;
          return NEED_MORE;
        }
        if (b[next + len] !== 0x0d || b[next + len + 1] !== 0x0a) this.#fail('bulk string not terminated by CRLF', p);
        const body = b.subarray(next, next + len);
        let value: RespValue;
        if (type === 0x24) value = body;
        else if (type === 0x21) value = new RespErrorReply(body.toString('utf8'));
        else value = len >= 4 && body[3] === 0x3a ? body.subarray(4) : body; // "txt:" prefix
        return { next: next + len + 2, value, isAggregateStart: false };
      }
      case 0x2a: // '*'
      case 0x7e: // '~' set
      case 0x3e: // '>' push
      case 0x25: // '%' map
      case 0x7c: {
        // '|' attribute
        let n = this.#length(b, p, lineEnd, MAX_RESP_AGGREGATE_LEN);
        if (n < 0) return { next, value: null, isAggregateStart: false };
        if (type === 0x25 || type === 0x7c) n *= 2;
        const frame: Frame = { values: [], remaining: n, isAttribute: type === 0x7c };
        return { next, value: frame, isAggregateStart: true };
      }
      default:
        this.#fail(`unknown reply type byte 0x${type.toString(16).padStart(2, '0')}`, p);
    }
  }

  /** Length of `$`/`*`-style headers: -1 (null) or 0..max. */
  #length(b: Buffer, p: number, lineEnd: number, max: number): number {
    // Digits read byte by byte: no string, no RegExp on the hot path.
    const digits = lineEnd - p - 1;
    if (digits >= 1 && digits <= 12) {
      let n = 0;
      let i = p + 1;
      for (; i < lineEnd; i++) {
        const c = b[i]! - 0x30;
        if (c < 0 || c > 9) break;
        n = n * 10 + c;
      }
      if (i === lineEnd) {
        if (n > max) this.#fail(`length ${n} above the limit ${max}`, p);
        return n;
      }
    }
    const s = b.toString('latin1', p + 1, lineEnd);
    if (s === '-1') return -1;
    if (!/^\d{1,12}$/.test(s)) this.#fail(`bad length ${JSON.stringify(s.slice(0, 20))}`, p);
    const n = Number(s);
    if (n > max) this.#fail(`length ${n} above the limit ${max}`, p);
    return n;
  }

  #integer(b: Buffer, p: number, lineEnd: number): number | bigint {
    // Up to 15 digits (always a safe integer) byte by byte; anything else through the string.
    let i = p + 1;
    const neg = b[i] === 0x2d;
    if (neg || b[i] === 0x2b) i++;
    if (lineEnd > i && lineEnd - i <= 15) {
      let n = 0;
      let j = i;
      for (; j < lineEnd; j++) {
        const c = b[j]! - 0x30;
        if (c < 0 || c > 9) break;
        n = n * 10 + c;
      }
      if (j === lineEnd) return neg ? -n : n;
    }
    const s = b.toString('latin1', p + 1, lineEnd);
    if (!/^[-+]?\d{1,20}$/.test(s)) this.#fail(`bad integer ${JSON.stringify(s.slice(0, 30))}`, p);
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : BigInt(s);
  }

  #bigint(b: Buffer, p: number, lineEnd: number): bigint {
    const s = b.toString('latin1', p + 1, lineEnd);
    if (!/^[-+]?\d+$/.test(s)) this.#fail(`bad big number ${JSON.stringify(s.slice(0, 30))}`, p);
    return BigInt(s);
  }

  #double(b: Buffer, p: number, lineEnd: number): number {
    const s = b.toString('latin1', p + 1, lineEnd).toLowerCase();
    if (s === 'inf' || s === '+inf') return Infinity;
    if (s === '-inf') return -Infinity;
    if (s === 'nan' || s === '-nan') return NaN;
    const n = Number(s);
    if (s.length === 0 || Number.isNaN(n)) this.#fail(`bad double ${JSON.stringify(s.slice(0, 30))}`, p);
    return n;
  }

  #fail(detail: string, at: number): never {
    throw new RespError(detail, this.#base + at);
  }
}
