import { EventEmitter } from 'node:events';
import type { TargetCommandError } from '../errors.js';
import { type CommandArg, type CommandSink, type ConnectOptions, RedisConnection, type RespValue } from './redis-connection.js';
import type { TargetEndpoint } from './target-url.js';

/**
 * Where a key's commands go. Standalone: one connection. Cluster ({@link ClusterRouter}): the
 * connection of the master owning the key's slot, or a holding queue while redirections are being
 * resolved. Either way, commands sent for one key are applied in the order they were sent.
 *
 * Events: `'error'` (a fatal error: a refused command the error policy did not tolerate, a lost
 * connection that cannot be recovered; emitted only when a listener is attached, the same error
 * rejects {@link flush}), `'drain'` (no longer backpressured).
 */
export interface Router extends EventEmitter {
  /** True for a Redis Cluster target. */
  readonly isCluster: boolean;
  /**
   * The sink that must carry the commands of `key` in database `db`, to be used at once for that
   * key's commands (synchronously: do not keep it). Standalone emits `SELECT db` first when needed.
   * @throws ClusterError on a cluster when `db` is not 0.
   */
  connectionFor(key: Buffer, db: number): CommandSink;
  /**
   * {@link connectionFor} of a key of database 0 whose cluster slot (0–16383, Redis src/cluster.c
   * `keyHashSlot`) the caller computed already (the string runs' `slots` kernel, `SlotStage`).
   * Standalone: the one connection, in database 0.
   */
  connectionForSlot(slot: number): CommandSink;
  /**
   * Sends a keyless command to every master (FLUSHALL, FUNCTION LOAD, SCRIPT LOAD), in order with
   * the rest, in database `db` (standalone; a cluster only has 0).
   */
  sendToAll(args: ReadonlyArray<CommandArg>, db?: number): void;
  /**
   * Request/response for a command on `key`'s node (DUMP, PTTL…), in order after everything sent
   * before for that node; a cluster follows redirections.
   * @throws TargetCommandError, ConnectionError, ClusterError
   */
  call(key: Buffer, args: ReadonlyArray<CommandArg>): Promise<RespValue>;
  /** Every live connection (one per master), e.g. for INFO. */
  all(): RedisConnection[];
  /**
   * Adds one writer's error policy, applied on every connection, present and future: an error reply
   * is tolerated (not fatal, counted in {@link RedisConnection.toleratedErrors}) when one of the
   * policies returns true for it. Each writer sharing the router adds its own and claims only the
   * errors its own commands can cause, so one writer's policy never replaces another's.
   */
  addErrorPolicy(fn: ErrorPolicy): void;
  /**
   * Calls `cb` once every command sent through the router before this call was applied: replied to
   * with anything but a redirection (resent commands count once their resend was replied to).
   * Never fires after a fatal error.
   */
  whenAcked(cb: () => void): void;
  /**
   * The first fatal error (the one `'error'` carried and {@link flush} rejects with), or undefined;
   * sticky, for a caller that starts listening to `'error'` after the router was opened.
   */
  readonly failure: Error | undefined;
  /** True if any connection (or the holding queue) is above its in-flight bound. */
  readonly isBackpressured: boolean;
  /** Calls `cb` once no longer backpressured (synchronously if not). */
  onceDrained(cb: () => void): void;
  /**
   * Changes the in-flight bound of each of its connections (and of a cluster's holding queue),
   * bytes: the replicator's full sync runs with a smaller window than its stable sync.
   */
  setMaxInflightBytes(bytes: number): void;
  /** Resolves once everything sent was applied (see {@link whenAcked}); rejects with the first fatal error. */
  flush(): Promise<void>;
  /** Closes every connection after its commands were acknowledged. */
  close(): Promise<void>;
  /** Closes every connection at once (commands in flight are lost); no error follows. For a reconnect. */
  destroy(): void;
}

const EMPTY = Buffer.alloc(0);

/** Decides on one error reply of a sent command: true = tolerated (see {@link Router.addErrorPolicy}). */
export type ErrorPolicy = (err: TargetCommandError) => boolean;

/**
 * The error policies of the writers sharing one router, consulted in the order they were added;
 * {@link decide} is what the router installs on each of its connections. Only error replies reach
 * it (never the common path).
 */
export class ErrorPolicies {
  readonly #fns: ErrorPolicy[] = [];

  add(fn: ErrorPolicy): void {
    this.#fns.push(fn);
  }

  /** True when some policy tolerates `err`. */
  readonly decide = (err: TargetCommandError): boolean => {
    const fns = this.#fns;
    for (let i = 0; i < fns.length; i++) if (fns[i]!(err)) return true;
    return false;
  };
}

/** A standalone Redis target: every key on one pipelined connection (per-key order trivially kept). */
export class StandaloneRouter extends EventEmitter implements Router {
  readonly isCluster = false;
  readonly #conn: RedisConnection;
  readonly #all: RedisConnection[];
  #targetDb: number | undefined;
  readonly #policies = new ErrorPolicies();

  constructor(conn: RedisConnection) {
    super();
    this.#conn = conn;
    this.#all = [conn];
    conn.setErrorPolicy(this.#policies.decide);
    conn.on('error', (err: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
    conn.on('drain', () => this.emit('drain'));
  }

  /** Connects to `ep` (AUTH, SELECT ep.db). @throws ConnectionError */
  static async connect(ep: TargetEndpoint, options?: ConnectOptions): Promise<StandaloneRouter> {
    return new StandaloneRouter(await RedisConnection.connect(ep, options));
  }

  /**
   * From now on every command goes to database `db`, whatever database it is sent for (a target
   * URL's `/db` receiving the one source database copied; see `targetDbPlan`).
   */
  useDatabase(db: number): void {
    this.#targetDb = db;
  }

  connectionFor(_key: Buffer, db: number): RedisConnection {
    const conn = this.#conn;
    const to = this.#targetDb ?? db;
    if (conn.db !== to) conn.selectDb(to);
    return conn;
  }

  connectionForSlot(_slot: number): RedisConnection {
    return this.connectionFor(EMPTY, 0);
  }

  sendToAll(args: ReadonlyArray<CommandArg>, db = 0): void {
    this.connectionFor(EMPTY, db).send(args);
  }

  call(_key: Buffer, args: ReadonlyArray<CommandArg>): Promise<RespValue> {
    return this.#conn.call(args);
  }

  all(): RedisConnection[] {
    return this.#all;
  }

  addErrorPolicy(fn: ErrorPolicy): void {
    this.#policies.add(fn);
  }

  whenAcked(cb: () => void): void {
    this.#conn.whenAcked(cb);
  }

  get failure(): Error | undefined {
    return this.#conn.failure;
  }

  get isBackpressured(): boolean {
    return this.#conn.isBackpressured;
  }

  onceDrained(cb: () => void): void {
    if (!this.#conn.isBackpressured) cb();
    else this.#conn.once('drain', cb);
  }

  setMaxInflightBytes(bytes: number): void {
    this.#conn.setMaxInflightBytes(bytes);
  }

  flush(): Promise<void> {
    return this.#conn.flush();
  }

  close(): Promise<void> {
    return this.#conn.close();
  }

  destroy(): void {
    this.#conn.destroy();
  }
}
