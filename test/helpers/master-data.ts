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
 *
 * Like a v1.40 master it keeps every flow's last {@link backlogLen} journal records (reference §7,
 * `--shard_repl_backlog_len`, 8192 by default), also while no replica is connected, so the fake
 * master answers `DFLY FLOW … <lsn>` with PARTIAL or FULL by the master's rule and serves a
 * partial sync from them; a full sync serves a snapshot of the model ({@link snapshotRecords}).
 * Keys belong to the flow of the records that wrote them (flow 0 when none did).
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
  /** Records kept per flow for partial syncs: the last {@link backlogLen}, oldest first. */
  readonly backlog: Array<Array<{ lsn: bigint; bytes: Buffer }>>;
  /** Records a flow keeps (Dragonfly `--shard_repl_backlog_len`). */
  backlogLen: number;
  /** `db:key` (latin1) → the flow whose records wrote it. */
  readonly #keyFlow = new Map<string, number>();
  /** Serialises {@link exec} and {@link snapshotAll}. */
  #chain: Promise<void> = Promise.resolve();

  private constructor(server: RedisServer, writer: RedisConnection, numFlows: number, journalOffset: bigint, backlogLen: number) {
    this.server = server;
    this.#writer = writer;
    this.lsns = Array.from({ length: numFlows }, () => journalOffset);
    this.backlog = Array.from({ length: numFlows }, () => []);
    this.backlogLen = backlogLen;
  }

  /** Starts the model server. `journalOffset` must be the fake master's (its default is 1). */
  static async start(numFlows: number, journalOffset = 1n, backlogLen = 8192): Promise<MasterData> {
    const server = await startRedisServer();
    const writer = await RedisConnection.connect({ host: '127.0.0.1', port: server.port, tls: false, db: 0 }, { role: 'master model' });
    return new MasterData(server, writer, numFlows, journalOffset, backlogLen);
  }

  /**
   * Whether the master grants a partial sync to flow `flow` asking for `lsn` (Dragonfly
   * `DflyCmd::Flow`, reference §7): `lsn` is the next LSN, or within the records kept; LSN 0 never.
   */
  isPartialPossible(flow: number, lsn: bigint | undefined): boolean {
    if (lsn === undefined || lsn === 0n) return false;
    if (lsn === this.lsns[flow]) return true;
    const kept = this.backlog[flow]!;
    return kept.length > 0 && kept[0]!.lsn <= lsn && lsn <= kept[kept.length - 1]!.lsn;
  }

  /** The kept records of `flow` from `lsn` on, concatenated (a partial sync's stream, or the journal after a full sync's offset). */
  recordsFrom(flow: number, lsn: bigint): Buffer {
    return Buffer.concat(this.backlog[flow]!.filter((r) => r.lsn >= lsn).map((r) => r.bytes));
  }

  /**
   * The snapshot of flow `flow`: for every database of the model, `SELECTDB` and one RDB record per
   * key of that flow (`[EXPIRETIME_MS] type key value`, the value taken from the model's `DUMP`
   * payload: type byte + value + 2-byte RDB version + 8-byte CRC), as a Dragonfly flow sends them.
   */
  async snapshotRecords(flow: number): Promise<Buffer> {
    const conn = await this.connection();
    try {
      const parts: Buffer[] = [];
      const info = String(await conn.call(['INFO', 'keyspace']));
      for (const m of info.matchAll(/^db(\d+):keys=/gm)) {
        const db = Number(m[1]);
        await conn.call(['SELECT', db]);
        let cursor = '0';
        const records: Buffer[] = [];
        do {
          const [next, keys] = (await conn.call(['SCAN', cursor, 'COUNT', 500])) as [Buffer, Buffer[]];
          cursor = next.toString('latin1');
          for (const key of keys) {
            if ((this.#keyFlow.get(`${db}:${key.toString('latin1')}`) ?? 0) !== flow) continue;
            const [dump, at] = (await Promise.all([conn.call(['DUMP', key]), conn.call(['PEXPIRETIME', key])])) as [Buffer | null, number];
            if (dump === null) continue;
            if (Number(at) > 0) {
              const e = Buffer.alloc(9);
              e[0] = 0xfc;
              e.writeBigInt64LE(BigInt(at), 1);
              records.push(e);
            }
            records.push(dump.subarray(0, 1), rdbKey(key), dump.subarray(1, dump.length - 10));
          }
        } while (cursor !== '0');
        if (records.length > 0) parts.push(Buffer.from([0xfe, db]), ...records);
      }
      return Buffer.concat(parts);
    } finally {
      await conn.close();
    }
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
    const run = this.#chain.then(() => this.#exec(db, args, records));
    this.#chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * A point-in-time snapshot of every flow, as a real master's full sync is: no {@link exec} runs
   * meanwhile, so each flow's records are exactly the model at `offsets[flow]` (its JOURNAL_OFFSET).
   */
  snapshotAll(): Promise<{ offsets: bigint[]; records: Buffer[] }> {
    const run = this.#chain.then(async () => {
      const offsets = [...this.lsns];
      const records: Buffer[] = [];
      for (let f = 0; f < this.lsns.length; f++) records.push(await this.snapshotRecords(f));
      return { offsets, records };
    });
    this.#chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #exec(db: number, args: Array<string | Buffer>, records: Array<{ flow: number; args: Array<string | Buffer>; txid?: number }>): Promise<RespValue> {
    if (db !== this.#db) {
      await this.#writer.call(['SELECT', db]);
      this.#db = db;
    }
    const reply = await this.#writer.call(args);
    for (const r of records) {
      const lsn = this.lsns[r.flow]!;
      this.lsns[r.flow] = lsn + 1n;
      const bytes = journalCommand(r.args, { db, txid: r.txid ?? 0 });
      const kept = this.backlog[r.flow]!;
      kept.push({ lsn, bytes });
      if (kept.length > this.backlogLen) kept.shift();
      const key = r.args[1];
      if (key !== undefined) this.#keyFlow.set(`${db}:${Buffer.from(key).toString('latin1')}`, r.flow);
      if (this.#held !== undefined) this.#held[r.flow]!.push(bytes);
      else this.#master!.deliver(r.flow, bytes);
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
    held?.forEach((bufs, flow) => bufs.length > 0 && this.#master!.deliver(flow, Buffer.concat(bufs)));
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

/** An RDB string header + bytes for a key (reference §1.2, plain encoding). */
function rdbKey(key: Buffer): Buffer {
  const n = key.length;
  const head = n < 0x40 ? Buffer.of(n) : n < 0x4000 ? Buffer.of(0x40 | (n >> 8), n & 0xff) : Buffer.from([0x80, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  return Buffer.concat([head, key]);
}
