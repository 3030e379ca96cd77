/**
 * A lean pipelined client for the consistency checker: one socket, commands encoded into one
 * buffer per batch, replies parsed by the project's RESP reader, and one Promise per batch (not
 * per command), so a batch of a thousand keys costs about what `redis-cli --pipe` costs.
 *
 * Error replies are returned in place as {@link RespErrorReply} values (a `WRONGTYPE` of one key
 * must not fail its batch); a lost connection rejects every pending batch with a
 * {@link ConnectionError}.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ConnectionError } from '../errors.js';
import { RespErrorReply, RespReader, type RespValue } from '../decode/resp/resp-reader.js';
import { RespEncoder, type CommandArg } from '../sink/resp-encoder.js';
import type { TargetEndpoint } from '../sink/target-url.js';

export { RespErrorReply };
export type { CommandArg, RespValue };

/** Stands for the key in a template of {@link BatchClient.batchPerKey}. */
export const KEY_ARG = '\u0000df2redis:key';

interface PendingBatch {
  replies: RespValue[];
  expected: number;
  resolve: (v: RespValue[]) => void;
  reject: (e: Error) => void;
}

/** Options of {@link BatchClient.connect}. */
export interface BatchClientOptions {
  /** Named in errors, e.g. `source`, `target node 10.0.0.2:7000`. */
  role: string;
  /** Accept any TLS certificate (`rediss://`). @default false */
  tlsInsecure?: boolean;
  /** Time limit for connect + AUTH. @default 10_000 */
  connectTimeoutMs?: number;
}

/** One pipelined connection; see the file comment. */
export class BatchClient {
  readonly peer: string;
  readonly role: string;
  readonly #socket: net.Socket;
  readonly #encoder = new RespEncoder();
  readonly #reader: RespReader;
  readonly #pending: PendingBatch[] = [];
  #head = 0;
  #failure: Error | undefined;
  /** Database the connection is in after every command sent so far. */
  db = 0;

  private constructor(socket: net.Socket, peer: string, role: string) {
    this.#socket = socket;
    this.peer = peer;
    this.role = role;
    this.#reader = new RespReader((v) => this.#onReply(v));
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#reader.push(chunk);
      } catch (err) {
        this.#fail(new ConnectionError(role, peer, `bad reply: ${(err as Error).message}`, { cause: err }));
      }
    });
    socket.on('error', (err) => this.#fail(new ConnectionError(role, peer, err.message, { cause: err })));
    socket.on('close', () => this.#fail(new ConnectionError(role, peer, 'connection closed')));
  }

  /**
   * Opens a connection to `ep`, authenticates and selects `ep.db`.
   * @throws ConnectionError when the server cannot be reached or refuses AUTH/SELECT.
   */
  static async connect(ep: TargetEndpoint, options: BatchClientOptions): Promise<BatchClient> {
    const peer = `${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}`;
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s: net.Socket = ep.tls
        ? tls.connect({ host: ep.host, port: ep.port, servername: net.isIP(ep.host) === 0 ? ep.host : undefined, rejectUnauthorized: options.tlsInsecure !== true })
        : net.connect({ host: ep.host, port: ep.port });
      const timer = setTimeout(() => s.destroy(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
      s.once(ep.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(new ConnectionError(options.role, peer, err.message, { cause: err }));
      });
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    const client = new BatchClient(socket, peer, options.role);
    const hello: CommandArg[][] = [];
    if (ep.password !== undefined) hello.push(ep.username !== undefined ? ['AUTH', ep.username, ep.password] : ['AUTH', ep.password]);
    if (ep.db !== 0) hello.push(['SELECT', ep.db]);
    if (hello.length > 0) {
      const replies = await client.batch(hello);
      const bad = replies.find((r) => r instanceof RespErrorReply) as RespErrorReply | undefined;
      if (bad !== undefined) {
        socket.destroy();
        throw new ConnectionError(options.role, peer, `${ep.password !== undefined && replies[0] === bad ? 'AUTH' : 'SELECT'} refused: ${bad.message}`);
      }
      client.db = ep.db;
    }
    return client;
  }

  /**
   * Sends every command in one write and resolves with their replies in order (error replies as
   * {@link RespErrorReply}). A `SELECT n` in the batch updates {@link db}.
   * @throws ConnectionError if the connection fails before every reply arrived.
   */
  batch(commands: ReadonlyArray<ReadonlyArray<CommandArg>>): Promise<RespValue[]> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (commands.length === 0) return Promise.resolve([]);
    for (const c of commands) {
      this.#encoder.encode(c);
      if (c.length === 2 && String(c[0]).toUpperCase() === 'SELECT') this.db = Number(c[1]);
    }
    const segments = this.#encoder.take();
    this.#socket.cork();
    for (const s of segments) this.#socket.write(s);
    this.#socket.uncork();
    return new Promise((resolve, reject) => this.#pending.push({ replies: [], expected: commands.length, resolve, reject }));
  }

  /**
   * The same commands for many keys, encoded without building an array per command: for every key
   * of `keys` (in order), every template of `templates` with the key in place of {@link KEY_ARG}, or
   * after it when it has none (`['TYPE']` → `TYPE <key>`, `['GETRANGE', KEY_ARG, 0, 9]`), after the
   * commands of `head` (e.g. a SELECT). Resolves with every reply, flat:
   * key i's template j is at `head.length + i * templates.length + j`.
   * @throws ConnectionError if the connection fails before every reply arrived.
   */
  batchPerKey(head: ReadonlyArray<ReadonlyArray<CommandArg>>, keys: readonly Buffer[], templates: ReadonlyArray<ReadonlyArray<CommandArg>>): Promise<RespValue[]> {
    if (this.#failure) return Promise.reject(this.#failure);
    const n = head.length + keys.length * templates.length;
    if (n === 0) return Promise.resolve([]);
    const enc = this.#encoder;
    for (const c of head) {
      enc.encode(c);
      if (c.length === 2 && String(c[0]).toUpperCase() === 'SELECT') this.db = Number(c[1]);
    }
    const hasSlot = templates.map((t) => t.includes(KEY_ARG));
    for (const k of keys) {
      for (let j = 0; j < templates.length; j++) {
        const t = templates[j]!;
        if (hasSlot[j]) {
          enc.begin(t.length);
          for (let i = 0; i < t.length; i++) enc.arg(t[i] === KEY_ARG ? k : t[i]!);
        } else {
          enc.begin(t.length + 1);
          for (let i = 0; i < t.length; i++) enc.arg(t[i]!);
          enc.arg(k);
        }
      }
    }
    const segments = enc.take();
    this.#socket.cork();
    for (const s of segments) this.#socket.write(s);
    this.#socket.uncork();
    return new Promise((resolve, reject) => this.#pending.push({ replies: [], expected: n, resolve, reject }));
  }

  /**
   * One command; an error reply is thrown.
   * @throws ConnectionError; Error carrying the server's error text.
   */
  async call(args: ReadonlyArray<CommandArg>): Promise<RespValue> {
    const [v] = await this.batch([args]);
    if (v instanceof RespErrorReply) throw new Error(`${String(args[0])} refused by ${this.role} ${this.peer}: ${v.message}`);
    return v!;
  }

  /** Closes the socket (pending batches are rejected). */
  close(): void {
    this.#failure ??= new ConnectionError(this.role, this.peer, 'connection closed by df2redis');
    this.#socket.destroy();
  }

  #onReply(v: RespValue): void {
    const p = this.#pending[this.#head];
    if (p === undefined) return;
    p.replies.push(v);
    if (p.replies.length === p.expected) {
      this.#pending[this.#head++] = undefined as unknown as PendingBatch;
      if (this.#head === this.#pending.length) {
        this.#pending.length = 0;
        this.#head = 0;
      }
      p.resolve(p.replies);
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (let i = this.#head; i < this.#pending.length; i++) this.#pending[i]!.reject(this.#failure);
    this.#pending.length = 0;
    this.#head = 0;
  }
}
