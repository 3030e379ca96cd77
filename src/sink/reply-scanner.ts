import { ReplyTooLargeError, RespError } from '../errors.js';

/** Receives what {@link ReplyScanner} materialises. */
export interface ReplySink {
  /** A top-level error reply; `index` is the 0-based number of the reply since the stream started. */
  onErrorReply(index: number, message: string): void;
  /** The complete bytes of reply `index`, requested with {@link ReplyScanner.captureIndex}. */
  onCapturedReply(index: number, bytes: Buffer): void;
  /**
   * An error that is element `element` (0-based) of the top-level array reply `index`: a command's
   * error inside the reply of `EXEC` (Redis src/multi.c `execCommand` replies one element per queued
   * command). Errors nested deeper are not reported.
   */
  onNestedErrorReply?(index: number, element: number, message: string): void;
}

const S_TYPE = 0; // at the type byte of an element
const S_LINE = 1; // in a line-terminated element (+ - : _ , # ( ): skip to LF
const S_HEADER = 2; // reading the length of $ * ! = % ~
const S_HEADER_LF = 3; // saw CR after the length
const S_BULK = 4; // skipping `#bulkLeft` bytes of a bulk body plus its CRLF

/**
 * Counts complete RESP replies in a byte stream without building values (the hot path of
 * {@link RedisConnection}): only top-level error replies are materialised (as text), and replies
 * the connection asked for in full (`call()`) are captured as raw bytes.
 *
 * Handles RESP2 (`+ - : $ *`) and the RESP3 types a RESP2 connection never gets but which cost
 * nothing to skip (`_ , # ( ! = % ~`). Errors that are direct elements of a top-level array (the
 * results of `EXEC`) are reported with their element index; deeper ones are not. Follows the grammar of Redis src/networking.c `addReply*`.
 */
export class ReplyScanner {
  #sink: ReplySink;
  #state = S_TYPE;
  #type = 0;
  #num = 0;
  #neg = false;
  #bulkLeft = 0;
  /** Remaining children of each open aggregate, innermost last. */
  #stack: number[] = [];
  #replies = 0;
  #offset = 0;
  #errorParts: Buffer[] | undefined;
  /** Element index of the error being read inside a top-level array, or -1 for a top-level error. */
  #errorElement = -1;
  /** Children count of the open top-level aggregate (for element indexes). */
  #topChildren = 0;
  #isCapturing = false;
  #captureParts: Buffer[] = [];
  /**
   * Index of the next reply to capture whole (see {@link ReplySink.onCapturedReply}), or -1.
   * Set by the owner; read when a top-level reply starts.
   */
  captureIndex = -1;
  readonly #maxBulkBytes: number;

  /**
   * `maxBulkBytes`: a bulk string announcing more bytes than this (at any depth) throws
   * {@link ReplyTooLargeError} at its length header, before its body arrives. @default Infinity
   */
  constructor(sink: ReplySink, maxBulkBytes = Infinity) {
    this.#sink = sink;
    this.#maxBulkBytes = maxBulkBytes;
  }

  /** Complete top-level replies seen so far. */
  get replies(): number {
    return this.#replies;
  }

  /**
   * Scans one chunk; returns how many top-level replies it completed. Sink callbacks run during the
   * scan, in reply order. Throws {@link RespError} on a byte that cannot start or continue a reply.
   */
  scan(chunk: Buffer): number {
    const startReplies = this.#replies;
    const len = chunk.length;
    let i = 0;
    let captureFrom = 0;
    while (i < len) {
      switch (this.#state) {
        case S_TYPE: {
          const t = chunk[i]!;
          if (this.#stack.length === 0) {
            if (this.captureIndex === this.#replies) {
              this.#isCapturing = true;
              captureFrom = i;
            }
            if (t === 45 /* '-' */) {
              this.#errorParts = [];
              this.#errorElement = -1;
            }
          } else if (t === 45 && this.#stack.length === 1) {
            this.#errorParts = [];
            this.#errorElement = this.#topChildren - this.#stack[0]!;
          }
          this.#type = t;
          i++;
          switch (t) {
            case 43: // +
            case 45: // -
            case 58: // :
            case 95: // _
            case 44: // ,
            case 35: // #
            case 40: // (
              this.#state = S_LINE;
              break;
            case 36: // $
            case 42: // *
            case 33: // !
            case 61: // =
            case 37: // %
            case 126: // ~
              this.#state = S_HEADER;
              this.#num = 0;
              this.#neg = false;
              break;
            default:
              throw new RespError(`unexpected reply type byte 0x${t.toString(16)}`, this.#offset + i - 1);
          }
          break;
        }
        case S_LINE: {
          // Lines are short (+OK, :1, errors): a byte loop beats a native indexOf call here.
          let lf = i;
          while (lf < len && chunk[lf] !== LF) lf++;
          if (lf === len) {
            if (this.#errorParts !== undefined) this.#errorParts.push(Buffer.from(chunk.subarray(i)));
            i = len;
            break;
          }
          if (this.#errorParts !== undefined) {
            this.#errorParts.push(chunk.subarray(i, lf));
            const text = Buffer.concat(this.#errorParts).toString('utf8').replace(/\r$/, '');
            this.#errorParts = undefined;
            if (this.#errorElement < 0) this.#sink.onErrorReply(this.#replies, text);
            else this.#sink.onNestedErrorReply?.(this.#replies, this.#errorElement, text);
          }
          i = lf + 1;
          this.#state = S_TYPE;
          if (this.#complete()) i = this.#endReply(chunk, captureFrom, i);
          break;
        }
        case S_HEADER: {
          const c = chunk[i++]!;
          if (c >= 48 && c <= 57) this.#num = this.#num * 10 + (c - 48);
          else if (c === 45 /* '-' */) this.#neg = true;
          else if (c === CR) this.#state = S_HEADER_LF;
          else throw new RespError(`bad length byte 0x${c.toString(16)}`, this.#offset + i - 1);
          break;
        }
        case S_HEADER_LF: {
          if (chunk[i++] !== LF) throw new RespError('expected LF after length', this.#offset + i - 1);
          const n = this.#neg ? -this.#num : this.#num;
          const t = this.#type;
          if (t === 36 || t === 33 || t === 61) {
            if (n < 0) {
              this.#state = S_TYPE;
              if (this.#complete()) i = this.#endReply(chunk, captureFrom, i);
            } else {
              if (n > this.#maxBulkBytes) throw new ReplyTooLargeError(n, this.#maxBulkBytes, this.#offset + i);
              this.#bulkLeft = n + 2;
              this.#state = S_BULK;
            }
          } else {
            const children = t === 37 ? 2 * n : n;
            this.#state = S_TYPE;
            if (children > 0) {
              if (this.#stack.length === 0) this.#topChildren = children;
              this.#stack.push(children);
            }
            else if (this.#complete()) i = this.#endReply(chunk, captureFrom, i);
          }
          break;
        }
        case S_BULK: {
          const take = Math.min(this.#bulkLeft, len - i);
          this.#bulkLeft -= take;
          i += take;
          if (this.#bulkLeft === 0) {
            this.#state = S_TYPE;
            if (this.#complete()) i = this.#endReply(chunk, captureFrom, i);
          }
          break;
        }
      }
    }
    if (this.#isCapturing) this.#captureParts.push(Buffer.from(chunk.subarray(captureFrom)));
    this.#offset += len;
    return this.#replies - startReplies;
  }

  /** One element finished: pops finished aggregates; true when a top-level reply is complete. */
  #complete(): boolean {
    const stack = this.#stack;
    while (stack.length > 0) {
      const top = stack.length - 1;
      if (--stack[top]! > 0) return false;
      stack.pop();
    }
    return true;
  }

  /** Counts a finished top-level reply and delivers it if captured; returns the scan position. */
  #endReply(chunk: Buffer, captureFrom: number, i: number): number {
    const index = this.#replies++;
    if (this.#isCapturing) {
      this.#isCapturing = false;
      const parts = this.#captureParts;
      this.#captureParts = [];
      parts.push(chunk.subarray(captureFrom, i));
      this.#sink.onCapturedReply(index, parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts));
    }
    return i;
  }
}

const CR = 13;
const LF = 10;
