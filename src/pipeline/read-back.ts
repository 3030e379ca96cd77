/**
 * Reading a key back from the Dragonfly master, for the records whose value the journal does not
 * carry (a cross-shard `SORT … STORE`, a `MOVE`/`COPY` into a copied database from one not copied).
 *
 * One read is one pipelined group of commands on the read-back connection, issued synchronously
 * so that reads of different flows never interleave (each carries its own `SELECT`):
 *
 *   SELECT db                      (only when the connection is in another database)
 *   DFLY REPLICAOFFSET             → every shard's next journal LSN, just before the read
 *   MULTI, DUMP key, PEXPIRETIME key, EXEC  → the value and its absolute expiry, atomically
 *   DFLY REPLICAOFFSET             → every shard's next journal LSN, just after
 *
 * `DFLY REPLICAOFFSET` cannot go inside the MULTI: an admin command turns Dragonfly's transaction
 * non-atomic (`main_service.cc`, `DetermineMultiMode`: `contains_admin_cmd` → NON_ATOMIC). So the
 * read is fenced by two offsets instead of one: the value contains the effect of every record of
 * the key's shard below `lsnBefore`, of none at or above `lsnAfter`, and of some unknown part of
 * the records in between (the window; see {@link FlowApplier}).
 *
 * Upstream: Dragonfly `DflyCmd::ReplicaOffset` (src/server/dflycmd.cc: per shard `journal::GetLsn()`,
 * the next LSN, read on the shard's thread), `GenericFamily::Dump` / `PExpireTime`
 * (src/server/generic_family.cc; DUMP = `RdbSerializer::DumpValue`, reference §6.2).
 */
import { ConnectionError, Df2RedisError, ReplicationError, ReplyTooLargeError, printableKey } from '../errors.js';
import type { RedisConnection, RespValue } from '../sink/redis-connection.js';

/** Largest DUMP payload read back, in bytes (one value, held whole while it is decoded). */
export const DEFAULT_READ_BACK_MAX_BYTES = 256 * 1024 * 1024;

/** One key as read from the master. */
export interface ReadBackValue {
  /** The DUMP payload (type byte + value + LE16 RDB version + LE64 CRC64); undefined: no such key. */
  payload: Buffer | undefined;
  /** Absolute expiry in Unix ms, -1 for none (PEXPIRETIME). */
  expireAtMs: number;
  /** Next journal LSN of the key's shard just before the read: every record below it is in the value. */
  lsnBefore: bigint;
  /** Next journal LSN of the key's shard just after the read: no record at or above it is in the value. */
  lsnAfter: bigint;
}

/**
 * Reads keys back over one connection to the master (the 'source read-back' connection), which it
 * owns from then on: nothing else may send on it, since it tracks the selected database.
 */
export class SourceReader {
  readonly #conn: RedisConnection;
  readonly #maxPayloadBytes: number;
  /** Database the connection is in for the next command issued. */
  #db: number;

  /**
   * `conn` must have been opened with `maxReplyBulkBytes: maxPayloadBytes` so an oversized payload
   * is refused at its length header (nothing else bounds it).
   */
  constructor(conn: RedisConnection, maxPayloadBytes: number) {
    this.#conn = conn;
    this.#maxPayloadBytes = maxPayloadBytes;
    this.#db = conn.db;
  }

  /** One command that does not depend on the selected database (e.g. `DFLY REPLICAOFFSET`). */
  call(args: ReadonlyArray<string>): Promise<RespValue> {
    return this.#conn.call(args);
  }

  /**
   * Reads `key` of database `db`, living on shard `shard` (= flow id), atomically with its expiry,
   * between two journal offsets of that shard.
   * @throws ReplicationError naming the flow, key and database: the master refused a command, the
   *   payload is larger than the bound, or the connection failed (its error is the `cause`).
   */
  async read(key: Buffer, db: number, shard: number): Promise<ReadBackValue> {
    const conn = this.#conn;
    const replies: Array<Promise<RespValue>> = [];
    // All issued before any await: a concurrent read of another flow queues behind this one whole.
    if (db !== this.#db) {
      replies.push(conn.call(['SELECT', db]));
      this.#db = db;
    }
    replies.push(
      conn.call(['DFLY', 'REPLICAOFFSET']),
      conn.call(['MULTI']),
      conn.call(['DUMP', key]),
      conn.call(['PEXPIRETIME', key]),
      conn.call(['EXEC']),
      conn.call(['DFLY', 'REPLICAOFFSET']),
    );
    const where = `key ${JSON.stringify(printableKey(key))} (db ${db})`;
    try {
      const values = await Promise.all(replies);
      const n = values.length;
      const [offsetsBefore, result, offsetsAfter] = [values[n - 6]!, values[n - 2]!, values[n - 1]!];
      if (!Array.isArray(result) || result.length !== 2) throw new Error(`EXEC answered ${describe(result)} (the transaction was discarded)`);
      const [payload, expireAt] = result;
      return {
        payload: Buffer.isBuffer(payload) ? payload : undefined,
        expireAtMs: typeof expireAt === 'number' && expireAt >= 0 ? expireAt : -1,
        lsnBefore: shardOffset(offsetsBefore, shard),
        lsnAfter: shardOffset(offsetsAfter, shard),
      };
    } catch (err) {
      const tooLarge = findCause(err, ReplyTooLargeError);
      if (tooLarge !== undefined) {
        throw new ReplicationError(
          `cannot read ${where} back from the master: its DUMP payload is ${tooLarge.bytes} bytes, above the read-back bound ` +
            `of ${this.#maxPayloadBytes} bytes; the key is not copied and the run stops`,
          shard,
          { cause: err },
        );
      }
      const detail = err instanceof ConnectionError || err instanceof Df2RedisError ? err.message : String((err as Error).message ?? err);
      throw new ReplicationError(`reading ${where} back from the master failed: ${detail}`, shard, { cause: err });
    }
  }
}

/**
 * The master's next journal LSN of every shard (`DFLY REPLICAOFFSET`, one integer per shard), on the
 * read-back connection: one command needs no database, so it never breaks a read's group.
 * Upstream: `DflyCmd::ReplicaOffset` (src/server/dflycmd.cc).
 * @throws TargetCommandError when the master refuses it; ConnectionError when the connection failed.
 */
export async function masterOffsets(reader: SourceReader): Promise<bigint[]> {
  const v = await reader.call(['DFLY', 'REPLICAOFFSET']);
  if (!Array.isArray(v)) throw new Error(`DFLY REPLICAOFFSET answered ${describe(v)}`);
  return v.map((_x, i) => shardOffset(v, i));
}

/** `DFLY REPLICAOFFSET` answers one integer per shard (`SendLongArr`). */
function shardOffset(v: RespValue, shard: number): bigint {
  const x = Array.isArray(v) ? v[shard] : undefined;
  if (typeof x === 'number' || typeof x === 'bigint') return BigInt(x);
  throw new Error(`DFLY REPLICAOFFSET answered ${describe(v)}, with no offset for shard ${shard}`);
}

function describe(v: RespValue): string {
  return Array.isArray(v) ? `an array of ${v.length}` : Buffer.isBuffer(v) ? `"${v.toString('utf8', 0, 64)}"` : String(v);
}

function findCause<T>(err: unknown, cls: abstract new (...args: never[]) => T): T | undefined {
  for (let e = err, i = 0; e !== undefined && e !== null && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof cls) return e;
  }
  return undefined;
}
