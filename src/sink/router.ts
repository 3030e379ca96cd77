import { type ConnectOptions, RedisConnection } from './redis-connection.js';
import type { TargetEndpoint } from './target-url.js';

/**
 * Where a key's commands go. Standalone: one connection. Cluster (later): the connection of the
 * node owning the key's slot. Either way the returned connection is positioned at `db`.
 */
export interface Router {
  /**
   * The connection that must carry commands for `key` in database `db`; emits `SELECT db` on it
   * first when its current database differs (so call it before each key's commands).
   */
  connectionFor(key: Buffer, db: number): RedisConnection;
  /** Every connection (for flush, backpressure, close). */
  all(): RedisConnection[];
  /** True if any connection is above its in-flight bound. */
  readonly isBackpressured: boolean;
  /** Calls `cb` once no connection is backpressured (synchronously if none is). */
  onceDrained(cb: () => void): void;
  /** Resolves once every connection acknowledged everything; rejects with the first error. */
  flush(): Promise<void>;
  /** Closes every connection after its commands were acknowledged. */
  close(): Promise<void>;
}

/** A standalone Redis target: every key on one pipelined connection (per-key order trivially kept). */
export class StandaloneRouter implements Router {
  readonly #conn: RedisConnection;
  readonly #all: RedisConnection[];

  constructor(conn: RedisConnection) {
    this.#conn = conn;
    this.#all = [conn];
  }

  /** Connects to `ep` (AUTH, SELECT ep.db). @throws ConnectionError */
  static async connect(ep: TargetEndpoint, options?: ConnectOptions): Promise<StandaloneRouter> {
    return new StandaloneRouter(await RedisConnection.connect(ep, options));
  }

  connectionFor(_key: Buffer, db: number): RedisConnection {
    const conn = this.#conn;
    if (conn.db !== db) conn.selectDb(db);
    return conn;
  }

  all(): RedisConnection[] {
    return this.#all;
  }

  get isBackpressured(): boolean {
    return this.#conn.isBackpressured;
  }

  onceDrained(cb: () => void): void {
    if (!this.#conn.isBackpressured) cb();
    else this.#conn.once('drain', cb);
  }

  flush(): Promise<void> {
    return this.#conn.flush();
  }

  close(): Promise<void> {
    return this.#conn.close();
  }
}
