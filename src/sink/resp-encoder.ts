/**
 * RESP2 command encoder writing straight into a reused, growing slab (DESIGN.md "Hot-path rules").
 *
 * Commands are encoded as arrays of bulk strings (`*N\r\n$len\r\narg\r\n…`, Redis
 * src/networking.c `processMultibulkBuffer` is the reader on the other side). The pending batch is
 * the byte range `[#start, #pos)` of the current slab; {@link RespEncoder.take} hands it out as a
 * `subarray` (no copy) and the next batch continues in the same slab. Node keeps a reference to a
 * written slice until the kernel took it, so a slab is never rewritten: when it is full, a new slab
 * is allocated (the old one is collected once its slices were written) and only the not-yet-taken
 * bytes are copied over. Arguments of at least {@link LARGE_ARG_BYTES} are not copied at all: they
 * become their own segment of the batch (written with `cork()`/`uncork()` by the connection).
 * A user that knows when nothing it took is referenced any more (a connection whose every written
 * command was answered) calls {@link RespEncoder.recycle}: the full slabs left since are then
 * reused instead of allocated (no garbage Buffers, no fresh pages to fault in).
 */

/** One argument of a command: bytes, text (UTF-8) or an integer (decimal, e.g. a TTL in ms). */
export type CommandArg = Buffer | string | number;

/** Buffers at least this long are passed to the socket by reference instead of being copied. */
export const LARGE_ARG_BYTES = 64 * 1024;

/** Default slab size. Each slab is filled by many batches before a new one is needed. */
const SLAB_BYTES = 1024 * 1024;
/**
 * Full slabs kept for reuse while commands are in flight: a connection whose socket waits for
 * 'drain' while the target is the bottleneck takes batches of several MiB at once. With 2 spares
 * (and 2 retired slabs remembered) `migrate` of 1 M × 100-byte keys allocated ~120 fresh 1 MiB
 * slabs, one per MiB sent (page faults, garbage); now 14 (bench/README "Issue 12, seventh pass").
 */
const MAX_SPARE_SLABS = 16;
/** Spare slabs kept by {@link RespEncoder.recycle} (everything answered: the burst is over). */
const IDLE_SPARE_SLABS = 2;
/**
 * Left slabs remembered until recycled (older ones are left to the GC) by an encoder whose owner
 * recycles them as soon as they are written (`isRecycled`): as many as a pending batch may span
 * (the in-flight bound is 64 MiB); its segments reference them anyway. Other encoders remember 2.
 */
const MAX_RETIRED_SLABS = 256;

/** Encoded `$len\r\narg\r\n` of short constant strings (command names, keywords), built once. */
const bulkCache = new Map<string, Buffer>();
const BULK_CACHE_MAX_ENTRIES = 512;
const BULK_CACHE_MAX_CHARS = 32;

const CR = 13;
const LF = 10;

export class RespEncoder {
  #buf: Buffer;
  #start = 0;
  #pos = 0;
  /** Segments of the pending batch already closed (only when a large argument was referenced). */
  #segments: Buffer[] = [];
  #segmentBytes = 0;
  #lastString = '';
  #lastEncoded: Buffer | undefined;
  readonly #slabBytes: number;
  /** Slabs left (full) since the last {@link recycle}: their bytes may still be referenced. */
  #retired: Buffer[] = [];
  /** For each slab of `#retired`: how many {@link take} calls had handed out its bytes. */
  #retiredAtTake: number[] = [];
  /** Calls of {@link take} so far. */
  #takes = 0;
  /** Slabs free to be written again. */
  #spare: Buffer[] = [];

  /** Most slabs remembered in `#retired` (see MAX_RETIRED_SLABS). */
  readonly #maxRetired: number;

  /**
   * @param slabBytes size of each slab (a batch larger than a slab gets a slab of its own).
   * @param options.isRecycled the owner declares every taken batch written as soon as it is
   *   ({@link recycleTaken}, e.g. a target connection's socket callback): then up to
   *   MAX_RETIRED_SLABS slabs are remembered for reuse, else 2 (an encoder never recycled would
   *   keep that many slabs alive).
   */
  constructor(slabBytes = SLAB_BYTES, options: { isRecycled?: boolean } = {}) {
    this.#slabBytes = slabBytes;
    this.#maxRetired = options.isRecycled === true ? MAX_RETIRED_SLABS : IDLE_SPARE_SLABS;
    this.#buf = this.#newSlab(slabBytes);
  }

  /** Slabs allocated so far (the first one included): few when slabs are recycled. */
  get slabsAllocated(): number {
    return this.#slabsAllocated;
  }

  #slabsAllocated = 0;

  #newSlab(size: number): Buffer {
    this.#slabsAllocated++;
    return Buffer.allocUnsafe(size);
  }

  /** Bytes encoded and not yet taken. */
  get pendingBytes(): number {
    return this.#segmentBytes + (this.#pos - this.#start);
  }

  /**
   * Appends one command. Returns the number of bytes it encodes to.
   * Integers must be safe integers; non-integer numbers are written with `String(n)` (callers
   * format doubles themselves where the format matters, e.g. zset scores).
   */
  encode(args: ReadonlyArray<CommandArg>): number {
    const before = this.#segmentBytes - this.#start + this.#pos;
    this.#header(42 /* '*' */, args.length);
    for (let i = 0; i < args.length; i++) this.arg(args[i]!);
    return this.#segmentBytes - this.#start + this.#pos - before;
  }

  /** Starts a command of `argc` arguments; follow with exactly `argc` calls of {@link arg}. */
  begin(argc: number): void {
    this.#header(42, argc);
  }

  /** Appends one bulk-string argument (see {@link begin}). */
  arg(a: CommandArg): void {
    if (typeof a === 'string') {
      if (a.length <= BULK_CACHE_MAX_CHARS) {
        // The command name repeats from one command to the next: one compare instead of a Map lookup.
        let enc = a === this.#lastString ? this.#lastEncoded : bulkCache.get(a);
        if (enc === undefined) {
          const body = Buffer.from(a, 'utf8');
          enc = Buffer.concat([Buffer.from(`$${body.length}\r\n`, 'latin1'), body, Buffer.from('\r\n')]);
          if (bulkCache.size < BULK_CACHE_MAX_ENTRIES) bulkCache.set(a, enc);
        }
        this.#lastString = a;
        this.#lastEncoded = enc;
        this.#ensure(enc.length);
        this.#buf.set(enc, this.#pos);
        this.#pos += enc.length;
        return;
      }
      const n = Buffer.byteLength(a, 'utf8');
      this.#header(36 /* '$' */, n);
      this.#ensure(n + 2);
      this.#pos += this.#buf.write(a, this.#pos, 'utf8');
      this.#crlf();
      return;
    }
    if (typeof a === 'number') {
      if (Number.isSafeInteger(a)) {
        // Length of the decimal text, then the text itself, written digit by digit (no string).
        const neg = a < 0;
        let v = neg ? -a : a;
        let digits = 1;
        for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
        const len = digits + (neg ? 1 : 0);
        this.#header(36, len);
        this.#ensure(len + 2);
        const buf = this.#buf;
        if (neg) buf[this.#pos] = 45; /* '-' */
        let p = this.#pos + len - 1;
        do {
          buf[p--] = 48 + (v % 10);
          v = Math.floor(v / 10);
        } while (v > 0);
        this.#pos += len;
        this.#crlf();
        return;
      }
      this.arg(String(a));
      return;
    }
    const n = a.length;
    this.#header(36, n);
    if (n >= LARGE_ARG_BYTES) {
      this.#closeSegment();
      this.#segments.push(a);
      this.#segmentBytes += n;
      this.#ensure(2);
      this.#crlf();
      return;
    }
    this.#ensure(n + 2);
    // A byte loop beats TypedArray#set for the short keys and values that dominate.
    const buf = this.#buf;
    let p = this.#pos;
    if (n <= 48) {
      for (let i = 0; i < n; i++) buf[p++] = a[i]!;
    } else {
      buf.set(a, p);
      p += n;
    }
    buf[p] = CR;
    buf[p + 1] = LF;
    this.#pos = p + 2;
  }

  /**
   * Appends the bulk-string argument `buf[start, end)`: {@link arg} of those bytes without making
   * a `Buffer` view of them (the decoder's string fast path, `RdbHandler.onString`). Copied, never
   * referenced, whatever its length: `buf` may be reused once this returns.
   */
  argRange(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    this.#header(36, n);
    this.#ensure(n + 2);
    const out = this.#buf;
    let p = this.#pos;
    if (n <= 48) {
      for (let i = start; i < end; i++) out[p++] = buf[i]!;
    } else {
      // ~150–200 ns a call whichever way (Buffer#copy, TypedArray#set of a view): a view is made.
      buf.copy(out, p, start, end);
      p += n;
    }
    out[p] = CR;
    out[p + 1] = LF;
    this.#pos = p + 2;
  }

  /**
   * Starts a bulk-string argument of `len` bytes assembled from several parts: follow with
   * {@link raw} calls totalling exactly `len` bytes, then {@link endBulk}. Used for RESTORE
   * payloads (type byte + value + trailer) so they are never concatenated.
   */
  beginBulk(len: number): void {
    this.#header(36, len);
  }

  /**
   * Raw bytes (large ones by reference): inside a bulk opened with {@link beginBulk}, or whole
   * arguments encoded by another encoder (e.g. the key/value pairs of an MSET, after {@link begin}).
   */
  raw(b: Uint8Array): void {
    const n = b.length;
    if (n >= LARGE_ARG_BYTES) {
      this.#closeSegment();
      const seg = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      this.#segments.push(seg);
      this.#segmentBytes += n;
      return;
    }
    this.#ensure(n);
    this.#buf.set(b, this.#pos);
    this.#pos += n;
  }

  /**
   * {@link raw}, always copied whatever its length: for bytes whose memory is rewritten once this
   * returns (the WebAssembly string-run kernel's output area).
   */
  rawCopy(b: Uint8Array): void {
    const n = b.length;
    this.#ensure(n);
    this.#buf.set(b, this.#pos);
    this.#pos += n;
  }

  /** Closes a bulk opened with {@link beginBulk}. */
  endBulk(): void {
    this.#ensure(2);
    this.#crlf();
  }

  /**
   * Hands out the pending batch as segments to write in order (usually one `subarray` of the slab;
   * more when large arguments were referenced) and starts an empty batch. The returned array is
   * reused by the next call: consume it before encoding again.
   */
  take(): Buffer[] {
    this.#takes++;
    this.#closeSegment();
    const out = this.#segments;
    this.#segments = [];
    this.#segmentBytes = 0;
    return out;
  }

  #closeSegment(): void {
    if (this.#pos > this.#start) {
      const seg = this.#buf.subarray(this.#start, this.#pos);
      this.#segments.push(seg);
      this.#segmentBytes += seg.length;
      this.#start = this.#pos;
    }
  }

  /** `<prefix><n>\r\n` */
  #header(prefix: number, n: number): void {
    this.#ensure(24);
    const buf = this.#buf;
    let p = this.#pos;
    buf[p++] = prefix;
    if (n < 10) {
      buf[p++] = 48 + n;
    } else if (n < 100) {
      buf[p++] = 48 + ((n / 10) | 0);
      buf[p++] = 48 + (n % 10);
    } else if (n < 1000) {
      buf[p++] = 48 + ((n / 100) | 0);
      buf[p++] = 48 + (((n / 10) | 0) % 10);
      buf[p++] = 48 + (n % 10);
    } else {
      let digits = 1;
      for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
      let q = p + digits - 1;
      let v = n;
      do {
        buf[q--] = 48 + (v % 10);
        v = Math.floor(v / 10);
      } while (v > 0);
      p += digits;
    }
    buf[p] = CR;
    buf[p + 1] = LF;
    this.#pos = p + 2;
  }

  #crlf(): void {
    this.#buf[this.#pos] = CR;
    this.#buf[this.#pos + 1] = LF;
    this.#pos += 2;
  }

  /**
   * Declares that no Buffer handed out by {@link take} so far is referenced any more (written and
   * no longer needed): the slabs left since the previous call may be overwritten. Never call it
   * while a taken segment may still be read (a socket write in progress, a copy kept for a resend).
   */
  recycle(): void {
    // Slabs whose bytes were all taken; one holding a segment of the pending batch stays retired.
    this.recycleTaken(this.#takes);
    // Nothing in flight: the spares of a burst are left to the GC but a few.
    if (this.#spare.length > IDLE_SPARE_SLABS) this.#spare.length = IDLE_SPARE_SLABS;
    // A slab grown for one argument larger than a slab (copied: `argRange`, a long string) would
    // stay the current slab until filled again: back to a standard one while nothing is pending.
    if (this.#buf.length > this.#slabBytes && this.#pos === this.#start && this.#segments.length === 0) {
      this.#buf = this.#spare.pop() ?? this.#newSlab(this.#slabBytes);
      this.#start = this.#pos = 0;
    }
  }

  /**
   * Declares that the Buffers handed out by the first `takes` calls of {@link take} are no longer
   * referenced (a connection's socket wrote them and nothing keeps them: no resend copy): the
   * slabs left before those bytes were all taken may be overwritten. Lets a connection that is
   * never wholly answered (a sustained burst) reuse its slabs instead of allocating one per MiB.
   */
  recycleTaken(takes: number): void {
    const retired = this.#retired;
    const at = this.#retiredAtTake;
    let n = 0;
    while (n < retired.length && at[n]! <= takes) n++;
    if (n === 0) return;
    for (let i = 0; i < n; i++) if (this.#spare.length < MAX_SPARE_SLABS) this.#spare.push(retired[i]!);
    retired.splice(0, n);
    at.splice(0, n);
  }

  /**
   * Makes room for `n` more bytes: a fresh slab. The untaken bytes of this one become a segment of
   * the pending batch (not copied: a batch held while the socket waits for 'drain' grows to many
   * MiB, and carrying it from slab to slab copied it again at every turn).
   */
  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    this.#closeSegment();
    const size = Math.max(this.#slabBytes, n);
    const next = size === this.#slabBytes && this.#spare.length > 0 ? this.#spare.pop()! : this.#newSlab(size);
    if (this.#buf.length === this.#slabBytes) {
      // Remembered (at most #maxRetired, older ones are left to the GC) until recycled.
      if (this.#retired.length >= this.#maxRetired) {
        this.#retired.shift();
        this.#retiredAtTake.shift();
      }
      this.#retired.push(this.#buf);
      // Its bytes are handed out by the takes so far, and by the next one when a segment is pending.
      this.#retiredAtTake.push(this.#segments.length > 0 ? this.#takes + 1 : this.#takes);
    }
    this.#buf = next;
    this.#start = this.#pos = 0;
  }
}

/**
 * A copy of `buf[start, end)`: a key kept for routing and error messages after its bytes are
 * reused. Short keys are copied a byte at a time into a pooled `Buffer.allocUnsafe`: ~70 ns for 11
 * bytes against 570–750 ns for `Buffer.copyBytesFrom` (Node 20, on the 2-core development machine).
 */
export function copyRange(buf: Buffer, start: number, end: number): Buffer {
  const n = end - start;
  const out = Buffer.allocUnsafe(n);
  if (n <= 64) {
    for (let i = 0; i < n; i++) out[i] = buf[start + i]!;
  } else {
    buf.copy(out, 0, start, end);
  }
  return out;
}
