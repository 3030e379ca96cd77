import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { ConnectionError, TargetCommandError } from '../errors.js';
import { type CommandArg, RespEncoder } from './resp-encoder.js';
import { ReplyScanner, type ReplySink } from './reply-scanner.js';
import { RespReader, type RespValue } from '../decode/resp/resp-reader.js';
import type { TargetEndpoint } from './target-url.js';

export type { CommandArg } from './resp-encoder.js';
export type { RespValue } from '../decode/resp/resp-reader.js';

/** Options of {@link RedisConnection.connect}. */
export interface ConnectOptions {
  /** Skip TLS certificate verification (`rediss://` only). @default false */
  tlsInsecure?: boolean;
  /** PEM CA certificate(s) to trust instead of Node's default store (`rediss://` only). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** PEM client certificate chain for mutual TLS (`rediss://` only; with {@link ConnectOptions.key}). */
  cert?: string | Buffer;
  /** PEM private key of {@link ConnectOptions.cert}. */
  key?: string | Buffer;
  /** What the connection is for, named in errors (e.g. `target`, `target node 10.0.0.2:7000`). @default 'target' */
  role?: string;
  /** Time limit for TCP (+TLS) connect, AUTH and SELECT. @default 10_000 */
  connectTimeoutMs?: number;
  /**
   * TCP keepalive on the socket: idle time in ms before the first probe (Node `setKeepAlive`), so
   * a target that vanished without closing (host down, a NAT or proxy dropping the flow) is noticed
   * and reported instead of holding the run forever. 0 disables it. @default 15_000
   */
  keepAliveMs?: number;
  /** Encoded-but-unacknowledged bytes above which {@link RedisConnection.isBackpressured} is true. @default 8 MiB */
  maxInflightBytes?: number;
  /** A batch is written once it holds this many bytes, even while another batch is in flight. @default 256 KiB */
  maxBatchBytes?: number;
  /** … or this many commands. @default 4096 */
  maxBatchCommands?: number;
  /**
   * Keep the encoded bytes of every command until it is acknowledged, so {@link RedisConnection.commandAt}
   * and {@link RedisConnection.takeUnacked} can hand them back for a resend (cluster redirections and
   * failover). No copy: written batches are slab slices that are never rewritten. @default false
   */
  retainUnacked?: boolean;
  /**
   * Sees every error reply of a sent command (not of {@link RedisConnection.call}) before the error
   * policy, with the command's sequence number: return true when it took care of it (a cluster
   * redirection), which makes it neither fatal nor counted.
   */
  interceptErrorReply?: (seq: number, message: string) => boolean;
  /**
   * Names the command behind error element `element` of the array reply to command `seq` when that
   * command is not an `EXEC` of {@link RedisConnection.beginTransaction} (a cluster batch script,
   * src/sink/slot-batch.ts); undefined: not such a reply, the element is ignored.
   */
  nameNestedError?: (seq: number, element: number) => { name: CommandArg | undefined; key: Buffer | undefined } | undefined;
  /**
   * Sees every error element of an array reply to a sent command before it is named and judged:
   * return true when it took care of it (a cluster batch script's group to resend), which makes it
   * neither fatal nor counted.
   */
  interceptNestedErrorReply?: (seq: number, element: number, message: string) => boolean;
  /**
   * Largest bulk string a reply may hold, in bytes: a longer one closes the connection with a
   * {@link ConnectionError} caused by a `ReplyTooLargeError`, before its body is buffered.
   * @default Infinity (the RESP reader's own 512 MiB bound applies to `call()` replies)
   */
  maxReplyBulkBytes?: number;
  /** Ask the server for this connection's `CLIENT ID` while connecting ({@link RedisConnection.clientId}). @default false */
  fetchClientId?: boolean;
}

/**
 * One encoded command handed back for a resend: its exact RESP bytes (slab slices, no copy), the
 * name and key it was sent with (for errors), the routing tag (cluster slot, -1 none) and how many
 * times it was already redirected or retried.
 */
export interface EncodedCommand {
  parts: Buffer[];
  bytes: number;
  name: CommandArg | undefined;
  key: Buffer | undefined;
  tag: number;
  attempts: number;
}

/**
 * The command-writing surface shared by a {@link RedisConnection} and a router's holding queue:
 * what the writers (snapshot writer, command rewriter, journal applier) call per command.
 */
export interface CommandSink {
  /** Encodes one command (`key` names it in errors). */
  send(args: ReadonlyArray<CommandArg>, key?: Buffer): void;
  /** Allocation-free form: `begin(argc)`, `argc` × {@link arg} (or bulk parts), {@link end}. */
  begin(argc: number): void;
  arg(a: CommandArg): void;
  beginBulk(len: number): void;
  raw(b: Uint8Array): void;
  endBulk(): void;
  end(name: string, key?: Buffer): void;
}

const DEFAULTS = {
  role: 'target',
  connectTimeoutMs: 10_000,
  keepAliveMs: 15_000,
  maxInflightBytes: 8 * 1024 * 1024,
  maxBatchBytes: 256 * 1024,
  maxBatchCommands: 4096,
} as const;

const MULTI_ARGS = ['MULTI'];
const EXEC_ARGS = ['EXEC'];

/** Initial per-command metadata ring size; doubles when more commands are in flight. */
const INITIAL_RING = 4096;
/** A ring larger than this is reset to {@link INITIAL_RING} slots once every command in it was answered. */
const SHRINK_RING_ABOVE = 65536;

interface PendingCall {
  seq: number;
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
}

/**
 * One pipelined connection to a Redis node (DESIGN.md "Hot-path rules").
 *
 * - {@link send} encodes a command into the pending batch ({@link RespEncoder}) and returns; no
 *   Promise, no per-command object. Per-command metadata (name, key, size) lives in ring arrays
 *   indexed by the command's sequence number, only read to name an error reply.
 * - A batch is written (one `socket.write`, or a corked group when large values are passed by
 *   reference) when it reaches `maxBatchBytes`/`maxBatchCommands`, or as soon as the connection is
 *   idle: if nothing is in flight the batch leaves at the end of the current tick (one microtask
 *   per batch); while a batch is in flight, commands accumulate and leave when its replies are in.
 *   When the socket buffer is full (`writableNeedDrain`) writing pauses until the socket's 'drain'.
 * - Replies are counted by {@link ReplyScanner}; only error replies are materialised, mapped back
 *   to command and key via the rings.
 * - `inflightBytes` counts encoded, unacknowledged bytes (pending + written). Above
 *   `maxInflightBytes`, {@link isBackpressured} is true; 'drain' is emitted once it falls back.
 *
 * Events: 'drain' (below the in-flight bound again), 'error' (a fatal {@link TargetCommandError} or
 * {@link ConnectionError}; emitted only when a listener is attached — the same error also rejects
 * {@link flush}), 'close'. A close that {@link close} or {@link destroy} did not ask for is a fatal
 * {@link ConnectionError} even with nothing in flight (an idle connection closed by the server's
 * `timeout`, a proxy, `CLIENT KILL` or a restart): later writes would otherwise go nowhere.
 */
export class RedisConnection extends EventEmitter implements ReplySink, CommandSink {
  readonly peer: string;
  readonly role: string;
  /**
   * Routing tag recorded with every command sent from now on (a cluster router sets the key's slot
   * before the key's commands); -1 = none. Read back with {@link commandAt} / {@link takeUnacked}.
   */
  tag = -1;
  #socket: net.Socket;
  #encoder: RespEncoder;
  #scanner: ReplyScanner;
  #maxInflightBytes: number;
  #maxBatchBytes: number;
  #maxBatchCommands: number;

  /** Commands encoded (sequence number of the next one). */
  #sentSeq = 0;
  /** Commands handed to the socket. */
  #writtenSeq = 0;
  /** Commands replied to. */
  #ackedSeq = 0;
  #inflightBytes = 0;
  /** Encoded bytes of every command sent (a counter for `/metrics`). */
  #bytesSent = 0;
  /** Error replies by their first word (`ERR`, `MOVED`, `WRONGTYPE`…), tolerated or not. */
  #errorReplies = new Map<string, number>();
  #isAboveBound = false;
  #isFlushScheduled = false;
  #isWaitingSocketDrain = false;

  #ringMask = INITIAL_RING - 1;
  #names: Array<CommandArg | undefined> = new Array(INITIAL_RING);
  #keys: Array<Buffer | undefined> = new Array(INITIAL_RING);
  #sizes = new Float64Array(INITIAL_RING);
  #tags = new Int32Array(INITIAL_RING);
  #attempts = new Uint8Array(INITIAL_RING);
  /** Attempts recorded with the next command ({@link sendEncoded}). */
  #nextAttempts = 0;
  readonly #isRetaining: boolean;
  readonly #intercept: ((seq: number, message: string) => boolean) | undefined;
  readonly #nameNested: ConnectOptions['nameNestedError'];
  readonly #interceptNested: ConnectOptions['interceptNestedErrorReply'];
  /** Written, not fully acknowledged batches (retainUnacked): commands [start, end) and their bytes. */
  #retained: Array<{ start: number; end: number; segs: Buffer[] }> = [];
  #retainedHead = 0;
  /** Cursor of {@link commandAt}: batch index, sequence number and byte offset inside the batch. */
  #cursor = { batch: -1, seq: 0, offset: 0 };

  /** whenAcked markers: fire when `#ackedSeq >= seq`. Parallel arrays consumed from `#markerHead`. */
  #markerSeqs: number[] = [];
  #markerCbs: Array<() => void> = [];
  #markerHead = 0;
  #calls: PendingCall[] = [];
  /** flush() promises, rejected if the connection fails (markers never fire then). */
  #flushWaiters = new Set<{ resolve: () => void; reject: (e: Error) => void }>();
  #callHead = 0;

  #db = 0;
  /** Open transaction: sequence number of its MULTI, or -1. */
  #multiSeq = -1;
  /** EXEC sequence number → its MULTI's, for transactions whose EXEC is not yet replied to. */
  #execs = new Map<number, number>();
  /**
   * Ring slots below this sequence number have had their name and key dropped (see
   * {@link #releaseSlots}): a key is a view of the source's read chunk and would keep it alive.
   */
  #releasedSeq = 0;
  /** `CLIENT ID` of this connection on the server, when asked for ({@link ConnectOptions.fetchClientId}). */
  #clientId: number | undefined;
  #errorPolicy: ((err: TargetCommandError) => boolean) | undefined;
  #firstError: Error | undefined;
  #isCallbackFailing = false;
  #closedError: ConnectionError | undefined;
  /** {@link close} or {@link destroy} was called: the socket's close is expected. */
  #isClosing = false;
  #toleratedErrors = 0;
  /** Pending bytes when the open `begin()` command started. */
  #beginPending = 0;
  readonly #flushTask = (): void => {
    this.#isFlushScheduled = false;
    if (this.#ackedSeq === this.#writtenSeq) this.#writeBatch();
  };

  private constructor(socket: net.Socket, peer: string, role: string, options: ConnectOptions) {
    super();
    this.#socket = socket;
    this.peer = peer;
    this.role = role;
    this.#maxInflightBytes = options.maxInflightBytes ?? DEFAULTS.maxInflightBytes;
    this.#maxBatchBytes = options.maxBatchBytes ?? DEFAULTS.maxBatchBytes;
    this.#maxBatchCommands = options.maxBatchCommands ?? DEFAULTS.maxBatchCommands;
    this.#isRetaining = options.retainUnacked === true;
    // A connection that is not retaining recycles its slabs once written (#onBatchWritten), so
    // they may all be remembered until then; a retaining one recycles none (they are lent for
    // resends): remembering more would only keep garbage alive.
    this.#encoder = new RespEncoder(undefined, { isRecycled: !this.#isRetaining });
    this.#intercept = options.interceptErrorReply;
    this.#nameNested = options.nameNestedError;
    this.#interceptNested = options.interceptNestedErrorReply;
    this.#scanner = new ReplyScanner(this, options.maxReplyBulkBytes);
    // Socket callbacks run consumer code (acknowledgement markers, 'drain', 'close', 'error'
    // listeners): whatever it throws stops this connection through #callbackFailed, so it
    // reaches the job's error path ('error' listeners) instead of escaping as an uncaught exception.
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#onData(chunk);
      } catch (err) {
        this.#callbackFailed(err);
      }
    });
    socket.on('drain', () => {
      this.#isWaitingSocketDrain = false;
      try {
        this.#writeBatch();
      } catch (err) {
        this.#callbackFailed(err);
      }
    });
    socket.on('error', (err) => {
      try {
        this.#fail(err.message, err);
      } catch (thrown) {
        this.#callbackFailed(thrown);
      }
    });
    socket.on('close', () => {
      try {
        this.#fail('connection closed');
        this.emit('close');
      } catch (err) {
        this.#callbackFailed(err);
      }
    });
  }

  /**
   * Connects (TCP, or TLS for `rediss://` with certificate verification unless `tlsInsecure`),
   * authenticates (`AUTH [user] password`) and selects `ep.db`.
   * @throws ConnectionError on connect failure, timeout, TLS verification failure or refused AUTH/SELECT.
   */
  static async connect(ep: TargetEndpoint, options: ConnectOptions = {}): Promise<RedisConnection> {
    const role = options.role ?? DEFAULTS.role;
    const peer = `${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}`;
    const timeoutMs = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      let s: net.Socket;
      const onError = (err: Error): void => {
        clearTimeout(timer);
        s.destroy();
        reject(new ConnectionError(role, peer, err.message, { cause: err }));
      };
      const timer = setTimeout(() => onError(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
      const onConnect = (): void => {
        clearTimeout(timer);
        s.off('error', onError);
        resolve(s);
      };
      if (ep.tls) {
        s = tls.connect({
          host: ep.host,
          port: ep.port,
          servername: net.isIP(ep.host) === 0 ? ep.host : undefined,
          rejectUnauthorized: options.tlsInsecure !== true,
          ca: options.ca,
          cert: options.cert,
          key: options.key,
        });
        s.once('secureConnect', onConnect);
      } else {
        s = net.connect({ host: ep.host, port: ep.port });
        s.once('connect', onConnect);
      }
      s.once('error', onError);
    });
    socket.setNoDelay(true);
    const keepAliveMs = options.keepAliveMs ?? DEFAULTS.keepAliveMs;
    if (keepAliveMs > 0) socket.setKeepAlive(true, keepAliveMs);
    const conn = new RedisConnection(socket, peer, role, options);
    const timer = setTimeout(() => socket.destroy(new Error(`AUTH/SELECT timed out after ${timeoutMs} ms`)), timeoutMs);
    try {
      if (ep.password !== undefined) {
        const args = ep.username !== undefined ? ['AUTH', ep.username, ep.password] : ['AUTH', ep.password];
        await conn.call(args).catch((err: unknown) => {
          throw err instanceof TargetCommandError ? new ConnectionError(role, peer, `AUTH refused: ${err.reply}`) : err;
        });
      }
      if (ep.db !== 0) {
        await conn.call(['SELECT', ep.db]).catch((err: unknown) => {
          throw err instanceof TargetCommandError ? new ConnectionError(role, peer, `SELECT ${ep.db} refused: ${err.reply}`) : err;
        });
        conn.#db = ep.db;
      }
      if (options.fetchClientId === true) {
        const id = await conn.call(['CLIENT', 'ID']).catch(() => undefined);
        if (typeof id === 'number' || typeof id === 'bigint') conn.#clientId = Number(id);
      }
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return conn;
  }

  /** Slabs the command encoder allocated so far (RespEncoder.slabsAllocated). */
  get slabsAllocated(): number {
    return this.#encoder.slabsAllocated;
  }

  /** Encoded commands not yet acknowledged, in bytes (pending batch + written). */
  get inflightBytes(): number {
    return this.#inflightBytes;
  }

  /**
   * Changes the in-flight bound (`ConnectOptions.maxInflightBytes`), bytes. Raised above what is in
   * flight, a backpressured connection emits 'drain' at once.
   */
  setMaxInflightBytes(bytes: number): void {
    this.#maxInflightBytes = bytes;
    if (this.#isAboveBound && this.#inflightBytes <= bytes) {
      this.#isAboveBound = false;
      this.emit('drain');
    }
  }

  /** True while {@link inflightBytes} exceeds `maxInflightBytes`: pause the producer until 'drain'. */
  get isBackpressured(): boolean {
    return this.#inflightBytes > this.#maxInflightBytes;
  }

  /** Commands sent and not yet replied to. */
  get inflightCommands(): number {
    return this.#sentSeq - this.#ackedSeq;
  }

  /** Commands encoded for this connection so far (sent or about to be written). */
  get commandsSent(): number {
    return this.#sentSeq;
  }

  /** Replies received so far (an error reply counts). */
  get repliesReceived(): number {
    return this.#ackedSeq;
  }

  /** Encoded bytes of every command sent so far. */
  get bytesSent(): number {
    return this.#bytesSent;
  }

  /** Error replies received so far by their first word (`MOVED`, `ERR`, `WRONGTYPE`…); a copy. */
  get errorRepliesByPrefix(): Record<string, number> {
    return Object.fromEntries(this.#errorReplies);
  }

  /** Error replies tolerated by the error policy so far. */
  get toleratedErrors(): number {
    return this.#toleratedErrors;
  }

  /** The database the commands sent next run in (tracked from {@link selectDb}). */
  get db(): number {
    return this.#db;
  }

  /** The server's `CLIENT ID` of this connection (with {@link ConnectOptions.fetchClientId}), or undefined. */
  get clientId(): number | undefined {
    return this.#clientId;
  }

  /** True between {@link beginTransaction} and {@link commitTransaction}. */
  get isInTransaction(): boolean {
    return this.#multiSeq >= 0;
  }

  /**
   * Opens a transaction: sends `MULTI`. Every command sent until {@link commitTransaction} is
   * queued by the server and applied at once with the `EXEC`, or not at all when the connection
   * dies before (Redis src/multi.c; a client freed in MULTI state discards its queue). Commands of
   * {@link call} must not be sent meanwhile (their reply would be `QUEUED`).
   * @throws Error if a transaction is already open.
   */
  beginTransaction(): void {
    if (this.#multiSeq >= 0) throw new Error(`transaction already open on ${this.peer}`);
    this.#multiSeq = this.#sentSeq;
    this.send(MULTI_ARGS);
  }

  /**
   * Closes the open transaction with `EXEC`. A command refused inside it (an error element of the
   * EXEC reply) goes through the error policy like any error reply, named after that command; a
   * command refused while queued (`-OOM`, a wrong arity) makes the server discard the whole
   * transaction (`EXECABORT`), which is fatal. No-op without an open transaction.
   */
  commitTransaction(): void {
    const multi = this.#multiSeq;
    if (multi < 0) return;
    this.#multiSeq = -1;
    this.#execs.set(this.#sentSeq, multi);
    this.send(EXEC_ARGS);
  }

  /** Emits `SELECT db` only when `db` differs from the connection's current database. */
  selectDb(db: number): void {
    if (db === this.#db) return;
    this.send(['SELECT', db]);
    this.#db = db;
  }

  /**
   * Encodes one command into the pending batch; never awaits. `key` only names the command in an
   * error. Sending while backpressured is allowed (the bound is advisory for the producer).
   */
  send(args: ReadonlyArray<CommandArg>, key?: Buffer): void {
    const bytes = this.#encoder.encode(args);
    this.#commit(args[0], key, bytes);
  }

  /**
   * Allocation-free form of {@link send} for commands with many arguments: `begin(argc)`, then
   * exactly `argc` × {@link arg}, then {@link end}. `name` and `key` name the command in errors.
   */
  begin(argc: number): void {
    this.#beginPending = this.#encoder.pendingBytes;
    this.#encoder.begin(argc);
  }

  /** One argument of the command opened by {@link begin}. */
  arg(a: CommandArg): void {
    this.#encoder.arg(a);
  }

  /** A bulk argument assembled from parts (see {@link RespEncoder.beginBulk}). */
  beginBulk(len: number): void {
    this.#encoder.beginBulk(len);
  }

  /** Raw bytes of the bulk opened with {@link beginBulk}, or whole pre-encoded arguments. */
  raw(b: Uint8Array): void {
    this.#encoder.raw(b);
  }

  /** Closes the bulk opened with {@link beginBulk}. */
  endBulk(): void {
    this.#encoder.endBulk();
  }

  /** Closes the command opened by {@link begin}. */
  end(name: string, key?: Buffer): void {
    this.#commit(name, key, this.#encoder.pendingBytes - this.#beginPending);
  }

  /**
   * Sends a command encoded earlier (by this or another connection, see {@link takeUnacked}) as is,
   * recording its name, key, tag and attempt count. Large parts are passed by reference.
   */
  sendEncoded(cmd: EncodedCommand): void {
    const before = this.#encoder.pendingBytes;
    for (const p of cmd.parts) this.#encoder.raw(p);
    const savedTag = this.tag;
    this.tag = cmd.tag;
    this.#nextAttempts = Math.min(cmd.attempts, 255);
    this.#commit(cmd.name, cmd.key, this.#encoder.pendingBytes - before);
    this.tag = savedTag;
  }

  /**
   * The command with sequence number `seq`, written or pending and not yet acknowledged
   * (`retainUnacked` only; meant for an error reply's command, from {@link ConnectOptions.interceptErrorReply}).
   * @throws Error if the command is not retained (acknowledged already, or retention off).
   */
  commandAt(seq: number): EncodedCommand {
    if (!this.#isRetaining || seq < this.#ackedSeq || seq >= this.#writtenSeq) {
      throw new Error(`command #${seq} is not retained on ${this.peer}`);
    }
    const batches = this.#retained;
    const c = this.#cursor;
    if (c.batch < this.#retainedHead || c.batch >= batches.length || seq < c.seq || seq >= batches[c.batch]!.end) {
      let b = this.#retainedHead;
      while (batches[b]!.end <= seq) b++;
      c.batch = b;
      c.seq = batches[b]!.start;
      c.offset = 0;
    }
    const mask = this.#ringMask;
    for (; c.seq < seq; c.seq++) c.offset += this.#sizes[c.seq & mask]!;
    return this.#encodedAt(seq, sliceParts(batches[c.batch]!.segs, c.offset, this.#sizes[seq & mask]!));
  }

  /**
   * After the connection failed: every command not acknowledged, written or still pending, in
   * order, for a resend elsewhere (`retainUnacked` only). Empties the connection's queue.
   */
  takeUnacked(): EncodedCommand[] {
    const out: EncodedCommand[] = [];
    if (!this.#isRetaining) return out;
    const mask = this.#ringMask;
    const collect = (segs: Buffer[], start: number, end: number, from: number): void => {
      let offset = 0;
      for (let s = start; s < end; s++) {
        const size = this.#sizes[s & mask]!;
        if (s >= from) out.push(this.#encodedAt(s, sliceParts(segs, offset, size)));
        offset += size;
      }
    };
    for (let b = this.#retainedHead; b < this.#retained.length; b++) {
      const batch = this.#retained[b]!;
      collect(batch.segs, batch.start, batch.end, this.#ackedSeq);
    }
    if (this.#sentSeq > this.#writtenSeq) collect(this.#encoder.take(), this.#writtenSeq, this.#sentSeq, this.#writtenSeq);
    this.#retained = [];
    this.#retainedHead = 0;
    this.#ackedSeq = this.#writtenSeq = this.#sentSeq;
    this.#inflightBytes = 0;
    return out;
  }

  #encodedAt(seq: number, parts: Buffer[]): EncodedCommand {
    const slot = seq & this.#ringMask;
    return {
      parts,
      bytes: this.#sizes[slot]!,
      name: this.#names[slot],
      key: this.#keys[slot],
      tag: this.#tags[slot]!,
      attempts: this.#attempts[slot]!,
    };
  }

  #commit(name: CommandArg | undefined, key: Buffer | undefined, bytes: number): void {
    if (this.#sentSeq - this.#ackedSeq > this.#ringMask) this.#growRing();
    const slot = this.#sentSeq & this.#ringMask;
    this.#names[slot] = name;
    this.#keys[slot] = key;
    this.#sizes[slot] = bytes;
    this.#tags[slot] = this.tag;
    this.#attempts[slot] = this.#nextAttempts;
    this.#nextAttempts = 0;
    this.#sentSeq++;
    this.#bytesSent += bytes;
    this.#inflightBytes += bytes;
    if (this.#inflightBytes > this.#maxInflightBytes) this.#isAboveBound = true;
    const pendingCount = this.#sentSeq - this.#writtenSeq;
    if (this.#encoder.pendingBytes >= this.#maxBatchBytes || pendingCount >= this.#maxBatchCommands) {
      this.#writeBatch();
    } else if (!this.#isFlushScheduled && this.#ackedSeq === this.#writtenSeq) {
      this.#isFlushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /**
   * Calls `cb` once every command sent before this call has been replied to (an error reply counts
   * as a reply). Runs `cb` synchronously when nothing is in flight. Markers never fire after the
   * connection failed.
   */
  whenAcked(cb: () => void): void {
    if (this.#ackedSeq === this.#sentSeq) {
      cb();
      return;
    }
    this.#markerSeqs.push(this.#sentSeq);
    this.#markerCbs.push(cb);
  }

  /**
   * Writes the pending batch now and resolves once every command sent so far is acknowledged.
   * A fatal error stays with the connection: once one happened, every later flush rejects with it.
   * @throws the first fatal {@link TargetCommandError} (an error reply the policy did not tolerate)
   *   or {@link ConnectionError} of this connection.
   */
  flush(): Promise<void> {
    if (this.#closedError) return Promise.reject(this.#firstError ?? this.#closedError);
    this.#writeBatch();
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.#flushWaiters.add(waiter);
      this.whenAcked(() => {
        this.#flushWaiters.delete(waiter);
        if (this.#firstError) reject(this.#firstError);
        else resolve();
      });
    });
  }

  /**
   * Request/response for control commands (INFO, COMMAND, DUMP, SCAN…): pipelined in order with
   * the hot traffic, the reply parsed whole. Runs in the connection's current database.
   * @throws TargetCommandError on an error reply; ConnectionError if the connection fails first.
   */
  call(args: ReadonlyArray<CommandArg>): Promise<RespValue> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => {
      const seq = this.#sentSeq;
      this.#calls.push({ seq, resolve, reject });
      if (this.#calls.length - this.#callHead === 1) this.#scanner.captureIndex = seq;
      this.send(args);
      this.#writeBatch();
    });
  }

  /**
   * Decides per error reply: return true to tolerate it (counted in {@link toleratedErrors}, not
   * fatal). Default: none tolerated. Errors of {@link call} never reach the policy.
   */
  setErrorPolicy(fn: (err: TargetCommandError) => boolean): void {
    this.#errorPolicy = fn;
  }

  /**
   * The first fatal error of this connection (an untolerated error reply, or a close that
   * {@link close}/{@link destroy} did not ask for), or undefined. Sticky: lets a caller that starts
   * listening to 'error' late see what happened before.
   */
  get failure(): Error | undefined {
    return this.#firstError;
  }

  /** Waits for every command to be acknowledged (errors ignored), then closes the socket. */
  async close(): Promise<void> {
    if (this.#closedError) return;
    this.#isClosing = true;
    await this.flush().catch(() => undefined);
    if (this.#closedError) return;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end();
    });
  }

  /** Closes the socket at once; commands in flight are lost. */
  destroy(): void {
    this.#isClosing = true;
    this.#socket.destroy();
  }

  /** ReplySink: an error reply of command `index`. */
  onErrorReply(index: number, message: string): void {
    // Not the common path: counted for `/metrics` before anything decides on the error.
    const space = message.indexOf(' ');
    const prefix = (space < 0 ? message : message.slice(0, space)).slice(0, 32);
    this.#errorReplies.set(prefix, (this.#errorReplies.get(prefix) ?? 0) + 1);
    const calls = this.#calls;
    if (this.#callHead < calls.length && calls[this.#callHead]!.seq === index) return; // delivered via capture
    if (this.#intercept?.(index, message) === true) return;
    const slot = index & this.#ringMask;
    const name = this.#names[slot];
    const cmd = name === undefined ? '?' : Buffer.isBuffer(name) ? name.toString('utf8') : String(name);
    this.#decideError(new TargetCommandError(cmd.toUpperCase(), this.#keys[slot], message, this.peer, this.role));
  }

  /** An error reply of a sent command: tolerated by the policy, or this connection's fatal error. */
  #decideError(err: TargetCommandError): void {
    if (this.#errorPolicy?.(err) === true) {
      this.#toleratedErrors++;
      return;
    }
    if (this.#firstError === undefined) {
      this.#firstError = err;
      if (this.listenerCount('error') > 0) this.emit('error', err);
    }
  }

  /** ReplySink: error element `element` of array reply `index`: a command refused inside a transaction. */
  onNestedErrorReply(index: number, element: number, message: string): void {
    const calls = this.#calls;
    if (this.#callHead < calls.length && calls[this.#callHead]!.seq === index) return; // a call's own reply
    if (this.#interceptNested?.(index, element, message) === true) return;
    const multi = this.#execs.get(index);
    if (multi === undefined) {
      const named = this.#nameNested?.(index, element);
      if (named === undefined) return; // not the EXEC of a transaction of ours, nor a batch script
      const cmd = named.name === undefined ? '? (inside a batch script)' : Buffer.isBuffer(named.name) ? named.name.toString('utf8') : String(named.name);
      this.#decideError(new TargetCommandError(cmd.toUpperCase(), named.key, message, this.peer, this.role));
      return;
    }
    const seq = multi + 1 + element;
    // The queued command's name and key, while its ring slot was not reused by a later command.
    const slot = seq & this.#ringMask;
    const isKnown = seq < index && this.#sentSeq - seq <= this.#ringMask;
    const name = isKnown ? this.#names[slot] : undefined;
    const cmd = name === undefined ? '? (inside MULTI/EXEC)' : Buffer.isBuffer(name) ? name.toString('utf8') : String(name);
    this.#decideError(new TargetCommandError(cmd.toUpperCase(), isKnown ? this.#keys[slot] : undefined, message, this.peer, this.role));
  }

  /** ReplySink: the full reply of a {@link call}. */
  onCapturedReply(index: number, bytes: Buffer): void {
    const call = this.#calls[this.#callHead]!;
    this.#calls[this.#callHead++] = undefined as unknown as PendingCall;
    if (this.#callHead === this.#calls.length) {
      this.#calls.length = 0;
      this.#callHead = 0;
    }
    this.#scanner.captureIndex = this.#callHead < this.#calls.length ? this.#calls[this.#callHead]!.seq : -1;
    let value: RespValue = null;
    try {
      // The scanner found the reply's end: the reader gets exactly one complete reply.
      new RespReader((v) => (value = v)).push(bytes);
    } catch (err) {
      call.reject(err as Error);
      return;
    }
    if (bytes[0] === 45 /* '-' */) {
      const name = this.#names[index & this.#ringMask];
      call.reject(new TargetCommandError(String(name ?? '?').toUpperCase(), undefined, bytes.toString('utf8', 1).trimEnd(), this.peer, this.role));
    } else {
      call.resolve(value);
    }
  }

  #onData(chunk: Buffer): void {
    let n: number;
    try {
      n = this.#scanner.scan(chunk);
    } catch (err) {
      this.#socket.destroy(err as Error);
      return;
    }
    if (n === 0) return;
    const sizes = this.#sizes;
    const mask = this.#ringMask;
    let freed = 0;
    const end = this.#ackedSeq + n;
    for (let s = this.#ackedSeq; s < end; s++) freed += sizes[s & mask]!;
    this.#ackedSeq = end;
    this.#inflightBytes -= freed;
    if (this.#execs.size > 0) for (const exec of this.#execs.keys()) if (exec < end) this.#execs.delete(exec);
    this.#releaseSlots();
    if (this.#isRetaining) this.#releaseRetained();
    // Every written command answered: nothing references the encoder's slabs any more (a
    // retaining connection may have lent slices of them to another connection for a resend).
    else if (this.#ackedSeq === this.#writtenSeq) this.#encoder.recycle();

    if (this.#markerHead < this.#markerSeqs.length) this.#fireMarkers();
    if (this.#ackedSeq === this.#writtenSeq && this.#sentSeq > this.#writtenSeq) this.#writeBatch();
    if (this.#isAboveBound && this.#inflightBytes <= this.#maxInflightBytes) {
      this.#isAboveBound = false;
      this.emit('drain');
    }
  }

  /**
   * Drops the name and key of every acknowledged command from the ring, except those of a
   * transaction whose `EXEC` is not answered yet (its error elements are named after them). Keys
   * are views of the source's read chunks (64 KiB each): left in the ring, the slots of a burst
   * kept those chunks alive until the slots were reused, i.e. for good once the ring had grown.
   */
  #releaseSlots(): void {
    let limit = this.#ackedSeq;
    if (this.#multiSeq >= 0 && this.#multiSeq < limit) limit = this.#multiSeq;
    if (this.#execs.size > 0) {
      const oldestMulti = this.#execs.values().next().value!;
      if (oldestMulti < limit) limit = oldestMulti;
    }
    const mask = this.#ringMask;
    const names = this.#names;
    const keys = this.#keys;
    let s = Math.max(this.#releasedSeq, limit - mask - 1);
    for (; s < limit; s++) {
      names[s & mask] = undefined;
      keys[s & mask] = undefined;
    }
    if (limit > this.#releasedSeq) this.#releasedSeq = limit;
    // Every command answered after a burst grew the ring far: back to its first size (the burst's
    // ring is ~20 bytes per command it held, 10 MB for a 64 MiB window of small commands).
    if (limit === this.#sentSeq && mask >= SHRINK_RING_ABOVE) this.#resetRing();
  }

  #resetRing(): void {
    this.#ringMask = INITIAL_RING - 1;
    this.#names = new Array(INITIAL_RING);
    this.#keys = new Array(INITIAL_RING);
    this.#sizes = new Float64Array(INITIAL_RING);
    this.#tags = new Int32Array(INITIAL_RING);
    this.#attempts = new Uint8Array(INITIAL_RING);
  }

  #releaseRetained(): void {
    const batches = this.#retained;
    while (this.#retainedHead < batches.length && batches[this.#retainedHead]!.end <= this.#ackedSeq) {
      batches[this.#retainedHead++] = undefined as unknown as { start: number; end: number; segs: Buffer[] };
    }
    if (this.#retainedHead === batches.length) {
      batches.length = 0;
      this.#retainedHead = 0;
      this.#cursor.batch = -1;
    } else if (this.#retainedHead > 64 && this.#retainedHead * 2 > batches.length) {
      batches.splice(0, this.#retainedHead);
      this.#retainedHead = 0;
      this.#cursor.batch = -1;
    }
  }

  #fireMarkers(): void {
    const seqs = this.#markerSeqs;
    const cbs = this.#markerCbs;
    while (this.#markerHead < seqs.length && seqs[this.#markerHead]! <= this.#ackedSeq) {
      const cb = cbs[this.#markerHead]!;
      cbs[this.#markerHead] = undefined as unknown as () => void;
      this.#markerHead++;
      cb();
    }
    if (this.#markerHead === seqs.length) {
      seqs.length = 0;
      cbs.length = 0;
      this.#markerHead = 0;
    } else if (this.#markerHead > 1024 && this.#markerHead * 2 > seqs.length) {
      seqs.splice(0, this.#markerHead);
      cbs.splice(0, this.#markerHead);
      this.#markerHead = 0;
    }
  }

  /** Hands the pending batch to the socket unless it is waiting for 'drain'. */
  #writeBatch(): void {
    if (this.#sentSeq === this.#writtenSeq || this.#isWaitingSocketDrain || this.#closedError) return;
    const socket = this.#socket;
    const segments = this.#encoder.take();
    if (this.#isRetaining) this.#retained.push({ start: this.#writtenSeq, end: this.#sentSeq, segs: segments });
    this.#writtenSeq = this.#sentSeq;
    // Written in order: once this batch is written, so are the encoder's earlier takes.
    const onWritten = this.#isRetaining ? undefined : this.#onBatchWritten;
    if (segments.length === 1) {
      socket.write(segments[0]!, onWritten);
    } else {
      socket.cork();
      for (let i = 0; i < segments.length - 1; i++) socket.write(segments[i]!);
      socket.write(segments[segments.length - 1]!, onWritten);
      socket.uncork();
    }
    if (socket.writableNeedDrain) this.#isWaitingSocketDrain = true;
  }

  /** Batches whose socket write completed (non-retaining connections). */
  #batchesWritten = 0;

  /** A batch was handed to the kernel: its slabs may be reused (RespEncoder.recycleTaken). */
  readonly #onBatchWritten = (err?: Error | null): void => {
    if (err) return;
    this.#encoder.recycleTaken(++this.#batchesWritten);
  };

  #growRing(): void {
    const oldSize = this.#ringMask + 1;
    const size = oldSize * 2;
    const names: Array<CommandArg | undefined> = new Array(size);
    const keys: Array<Buffer | undefined> = new Array(size);
    const sizes = new Float64Array(size);
    const tags = new Int32Array(size);
    const attempts = new Uint8Array(size);
    for (let s = this.#ackedSeq; s < this.#sentSeq; s++) {
      const from = s & this.#ringMask;
      const to = s & (size - 1);
      names[to] = this.#names[from];
      keys[to] = this.#keys[from];
      sizes[to] = this.#sizes[from]!;
      tags[to] = this.#tags[from]!;
      attempts[to] = this.#attempts[from]!;
    }
    this.#names = names;
    this.#keys = keys;
    this.#sizes = sizes;
    this.#tags = tags;
    this.#attempts = attempts;
    this.#ringMask = size - 1;
  }

  /**
   * A consumer callback run from a socket event threw: that error becomes this connection's
   * first error (so every flush rejects with it), 'error' listeners get it once, and the
   * connection closes. A listener that throws again is not called a second time.
   */
  #callbackFailed(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.#isCallbackFailing) return;
    this.#isCallbackFailing = true;
    const isFirst = this.#firstError === undefined;
    if (isFirst) this.#firstError = e;
    try {
      if (isFirst && this.listenerCount('error') > 0) this.emit('error', e);
    } finally {
      this.#fail(`stopped after an error in a callback: ${e.message}`, e);
    }
  }

  #fail(detail: string, cause?: Error): void {
    if (this.#closedError) return;
    const lost = this.#sentSeq - this.#ackedSeq;
    const isUnexpected = !this.#isClosing;
    const final = new ConnectionError(
      this.role,
      this.peer,
      lost > 0
        ? `${detail} with ${lost} command(s) unacknowledged`
        : isUnexpected
          ? `${detail} while idle (by the server's timeout, a proxy, CLIENT KILL or a restart)`
          : detail,
      { cause },
    );
    this.#closedError = final;
    if ((lost > 0 || isUnexpected) && this.#firstError === undefined) {
      this.#firstError = final;
      if (this.listenerCount('error') > 0) this.emit('error', final);
    }
    const calls = this.#calls.slice(this.#callHead);
    this.#calls.length = 0;
    this.#callHead = 0;
    for (const c of calls) c.reject(final);
    const waiters = [...this.#flushWaiters];
    this.#flushWaiters.clear();
    for (const w of waiters) w.reject(this.#firstError ?? final);
    this.#socket.destroy();
  }
}

/** The bytes `[offset, offset + length)` of the concatenation of `segs`, as slices (no copy). */
function sliceParts(segs: Buffer[], offset: number, length: number): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (offset >= segs[i]!.length) offset -= segs[i++]!.length;
  while (length > 0) {
    const seg = segs[i++]!;
    const n = Math.min(length, seg.length - offset);
    out.push(seg.subarray(offset, offset + n));
    length -= n;
    offset = 0;
  }
  return out;
}
