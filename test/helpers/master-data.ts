/**
 * The data behind the fake master: a real `redis-server` holds the master's keys (so DUMP answers
 * real payloads of every type, streams included), and every write a test makes through
 * {@link MasterData.exec} is applied there first and then journaled on the key's flow with the
 * next LSN of that flow — the model and the journal it serves never disagree.
 *
 * The fake master (test/helpers/fake-master.ts, option `data`) answers the read-back commands
 * (`SELECT`, `MULTI`, `DUMP`, `PEXPIRETIME`, `PTTL`, `TYPE`, `EXEC`) from this server, over one model
 * connection per client connection (so MULTI state and the selected database are per client, as on
 * Dragonfly), in order, and `DFLY REPLICAOFFSET` from {@link lsns} at that point of the order.
 */
import { RedisConnection, type RespValue } from '../../src/sink/redis-connection.js';
import { RespErrorReply } from '../../src/decode/resp/resp-reader.js';
import { TargetCommandError } from '../../src/errors.js';
import { journalCommand, type FakeMaster } from './fake-master.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

/** Commands of a read-back forwarded to the model server. */
export const MODEL_READS = new Set([
  'SELECT', 'MULTI', 'DUMP', 'PEXPIRETIME', 'PTTL', 'TYPE', 'EXEC', 'DISCARD', 'EXISTS',
  // What `df2redis check` reads from a source.
  'SCAN', 'MEMORY', 'GET', 'STRLEN', 'GETRANGE', 'LRANGE', 'LLEN', 'SSCAN', 'SCARD', 'HSCAN', 'HLEN', 'ZRANGE', 'ZCARD', 'XRANGE', 'XLEN', 'XINFO', 'XPENDING',
]);

export class MasterData {
  readonly server: RedisServer;
  /** Next journal LSN of each flow (shard), as `DFLY REPLICAOFFSET` answers. */
  readonly lsns: bigint[];
  /** Runs in the master's order just before each read command `cmd` (upper case) is answered: a write racing the read. */
  beforeRead: ((cmd: string) => Promise<void>) | undefined;
  readonly #writer: RedisConnection;
  #master: FakeMaster | undefined;
  #db = 0;
  #held: Buffer[][] | undefined;

  private constructor(server: RedisServer, writer: RedisConnection, numFlows: number, journalOffset: bigint) {
    this.server = server;
    this.#writer = writer;
    this.lsns = Array.from({ length: numFlows }, () => journalOffset);
  }

  /** Starts the model server. `journalOffset` must be the fake master's (its default is 1). */
  static async start(numFlows: number, journalOffset = 1n): Promise<MasterData> {
    const server = await startRedisServer();
    const writer = await RedisConnection.connect({ host: '127.0.0.1', port: server.port, tls: false, db: 0 }, { role: 'master model' });
    return new MasterData(server, writer, numFlows, journalOffset);
  }

  /** Binds the fake master whose flows carry the journal. */
  attach(master: FakeMaster): void {
    this.#master = master;
  }

  /**
   * Runs `args` in `db` on the model, then journals `records` (each on its flow, with its own argv:
   * what the master journals, e.g. `SORT d` for a cross-shard `SORT s STORE d`), each taking the
   * flow's next LSN. Default: `args` itself on flow 0, txid 0. Resolves with the model's reply.
   */
  async exec(
    db: number,
    args: Array<string | Buffer>,
    records: Array<{ flow: number; args: Array<string | Buffer>; txid?: number }> = [{ flow: 0, args }],
  ): Promise<RespValue> {
    if (db !== this.#db) {
      await this.#writer.call(['SELECT', db]);
      this.#db = db;
    }
    const reply = await this.#writer.call(args);
    for (const r of records) {
      this.lsns[r.flow]!++;
      const bytes = journalCommand(r.args, { db, txid: r.txid ?? 0 });
      if (this.#held !== undefined) this.#held[r.flow]!.push(bytes);
      else this.#master!.flows[r.flow]!.write(bytes);
    }
    return reply;
  }

  /** From now on the journal records of {@link exec} are held (the master is ahead of its streams)… */
  hold(): void {
    this.#held ??= this.lsns.map(() => []);
  }

  /** … until this sends them, one write per flow. */
  release(): void {
    const held = this.#held;
    this.#held = undefined;
    held?.forEach((bufs, flow) => bufs.length > 0 && this.#master!.flows[flow]!.write(...bufs));
  }

  /** A model connection for one client connection of the fake master. */
  async connection(): Promise<RedisConnection> {
    return RedisConnection.connect({ host: '127.0.0.1', port: this.server.port, tls: false, db: 0 }, { role: 'master model' });
  }

  async stop(): Promise<void> {
    await this.#writer.close().catch(() => undefined);
    await this.server.stop();
  }
}

/** RESP2 bytes of a parsed reply (what the model answered, sent on to the client as is). */
export function encodeResp(v: RespValue): Buffer {
  if (v === null) return Buffer.from('$-1\r\n');
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')]);
  if (typeof v === 'number' || typeof v === 'bigint') return Buffer.from(`:${v}\r\n`);
  if (typeof v === 'string') return Buffer.from(`+${v}\r\n`);
  if (v instanceof RespErrorReply) return Buffer.from(`-${v.message}\r\n`);
  return Buffer.concat([Buffer.from(`*${v.length}\r\n`), ...v.map(encodeResp)]);
}

/** The model's reply to `args`, or its error reply, as RESP bytes. */
export async function forward(conn: RedisConnection, args: Buffer[]): Promise<Buffer> {
  try {
    return encodeResp(await conn.call(args));
  } catch (err) {
    if (err instanceof TargetCommandError) return Buffer.from(`-${err.reply}\r\n`);
    throw err;
  }
}
