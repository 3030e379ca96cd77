/**
 * Frame builders for Dragonfly's replication wire format (test-only), and the programmable fake
 * master built from them. The builders write exactly what a v1.40.1 master writes (checked against
 * the recordings in test/source/fake-master.test.ts); reference: shared/reference/dragonfly-replication.md.
 */
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { CommandReader, respError, respSimple } from '../../src/demo/command-reader.js';
import { rdbLength } from '../../src/decode/rdb/dump-payload.js';
import type { RedisConnection } from '../../src/sink/redis-connection.js';
import { forward, MODEL_READS, type MasterData } from './master-data.js';

export { CommandReader, respError, respSimple };
import {
  JOURNAL_OP_COMMAND,
  JOURNAL_OP_LSN,
  JOURNAL_OP_PING,
  JOURNAL_OP_SELECT,
} from '../../src/entry/entry.js';

/** PUINT (Dragonfly `WritePackedUInt`, src/server/serializer_commons.cc): shortest form. */
export const puint = rdbLength;

/** Journal SELECT record (`JournalWriter::Write`, src/server/journal/serializer.cc). */
export function journalSelect(db: number): Buffer {
  return Buffer.concat([puint(JOURNAL_OP_SELECT), puint(db)]);
}

/**
 * Journal COMMAND record as a v1.40.1 master writes it: `SELECT db` first (every command gets its
 * own SELECT, `JournalSlice::AddLogRecord` uses a fresh writer), then opcode, txid, shard_cnt 1,
 * argc, total_bytes, args. Pass `db: null` to omit the SELECT.
 */
export function journalCommand(args: ReadonlyArray<string | Buffer>, opts?: { db?: number | null; txid?: number | bigint }): Buffer {
  const bufs = args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a));
  const total = bufs.reduce((n, b) => n + b.length, 0);
  const parts: Buffer[] = [];
  const db = opts?.db === undefined ? 0 : opts.db;
  if (db !== null) parts.push(journalSelect(db));
  parts.push(puint(JOURNAL_OP_COMMAND), puint(opts?.txid ?? 0), puint(1), puint(bufs.length), puint(total));
  for (const b of bufs) parts.push(puint(b.length), b);
  return Buffer.concat(parts);
}

/** Journal PING record. */
export function journalPing(): Buffer {
  return puint(JOURNAL_OP_PING);
}

/** Journal LSN record. */
export function journalLsn(lsn: number | bigint): Buffer {
  return Buffer.concat([puint(JOURNAL_OP_LSN), puint(lsn)]);
}

// ---------------------------------------------------------------------------------------------
// RESP replies (what a master answers on the main connection and to DFLY FLOW)

/**
 * Reply to `REPLCONF capa dragonfly` (Dragonfly `ServerFamily::ReplConf`, v1.40.x):
 * `*5 +<replid> +SYNC<k> :<flows> :<version> +<lineage>`.
 */
export function capaDragonflyReply(o: { replid: string; syncId: string; numFlows: number; version?: number; lineage?: string }): Buffer {
  return Buffer.from(`*5\r\n+${o.replid}\r\n+${o.syncId}\r\n:${o.numFlows}\r\n:${o.version ?? 5}\r\n+${o.lineage ?? o.replid}\r\n`);
}

/** Reply to `DFLY FLOW` (`DflyCmd::Flow`): `*2 +FULL|+PARTIAL +<40-hex token>`. */
export function flowReply(kind: 'FULL' | 'PARTIAL', token: string): Buffer {
  return Buffer.from(`*2\r\n+${kind}\r\n+${token}\r\n`);
}

// ---------------------------------------------------------------------------------------------
// RDB records of a full-sync flow (Dragonfly src/server/rdb_save.cc)

/** RDB string (RSTR, `RdbSerializer::SaveString`): int-encoded when it round-trips through int32, else PUINT length + bytes. */
export function rstr(value: string | Buffer): Buffer {
  const s = typeof value === 'string' ? value : value.toString('latin1');
  if (s.length <= 11 && /^(0|-?[1-9]\d*)$/.test(s)) {
    const n = Number(s);
    if (n >= -128 && n <= 127) return Buffer.from([0xc0, n & 0xff]);
    if (n >= -32768 && n <= 32767) {
      const b = Buffer.alloc(3);
      b[0] = 0xc1;
      b.writeInt16LE(n, 1);
      return b;
    }
    if (n >= -(2 ** 31) && n <= 2 ** 31 - 1) {
      const b = Buffer.alloc(5);
      b[0] = 0xc2;
      b.writeInt32LE(n, 1);
      return b;
    }
  }
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  return Buffer.concat([puint(bytes.length), bytes]);
}

/** RSTR without the int encoding (binary payloads such as journal blobs). */
export function rstrRaw(bytes: Buffer): Buffer {
  return Buffer.concat([puint(bytes.length), bytes]);
}

/** `REDIS0009` + AUX records (`RdbSaver::SaveHeader`, `SaveAux`). Values are RSTRs (int-encoded when numeric). */
export function rdbHeader(aux: ReadonlyArray<[string, string]> = [], version = 9): Buffer {
  const parts: Buffer[] = [Buffer.from(`REDIS${String(version).padStart(4, '0')}`)];
  for (const [k, v] of aux) parts.push(Buffer.from([0xfa]), rstr(k), rstr(v));
  return Buffer.concat(parts);
}

/** The AUX fields a v1.40.1 master sends on flow `flowId` (reference §4.2, recorded order). */
export function dragonflyAux(flowId: number, numFlows: number, ctime = 1795218037): Array<[string, string]> {
  const aux: Array<[string, string]> = [
    ['redis-ver', '6.2.11'],
    ['df-ver', 'df-v1.40.1-offline'],
    ['redis-bits', '64'],
    ['ctime', String(ctime)],
    ['used-mem', '4000000'],
    ['aof-preamble', '0'],
  ];
  if (flowId === 0) aux.push(['shard-count', String(numFlows)], ['table-mem', '100000']);
  aux.push(['shard-id', String(flowId)]);
  return aux;
}

/** SELECTDB (254). */
export function rdbSelectDb(db: number): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), puint(db)]);
}

/** A string object (type 0) with an optional absolute expiry in ms (EXPIRETIME_MS, 252). */
export function rdbString(key: string | Buffer, value: string | Buffer, expireAtMs?: number): Buffer {
  const parts: Buffer[] = [];
  if (expireAtMs !== undefined) {
    const e = Buffer.alloc(9);
    e[0] = 0xfc;
    e.writeBigInt64LE(BigInt(expireAtMs), 1);
    parts.push(e);
  }
  parts.push(Buffer.from([0x00]), rstr(key), rstr(value));
  return Buffer.concat(parts);
}

/** FULLSYNC_END (200) + 8 zero bytes (`RdbSerializer::SendFullSyncCut`). */
export function fullSyncEnd(): Buffer {
  return Buffer.from([0xc8, 0, 0, 0, 0, 0, 0, 0, 0]);
}

/** JOURNAL_OFFSET (211) + LE64 (`RdbSerializer::SendJournalOffset`). */
export function journalOffset(lsn: number | bigint): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0xd3;
  b.writeBigUInt64LE(BigInt(lsn), 1);
  return b;
}

/** EOF (255) + 8-byte checksum, always 0 in replication (`SendEofAndChecksum`). */
export function rdbEof(): Buffer {
  return Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
}

/** JOURNAL_BLOB (210): PUINT count 1, RSTR with the journal record(s) (`WriteJournalEntry`). */
export function journalBlob(records: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xd2]), puint(1), rstrRaw(records)]);
}

/** What a FULL flow sends after STARTSTABLE: JOURNAL_OFFSET, EOF + checksum, the 40-byte token. */
export function flowTail(lsn: number | bigint, token: string): Buffer {
  return Buffer.concat([journalOffset(lsn), rdbEof(), Buffer.from(token, 'latin1')]);
}

/** 40 random lowercase hex chars (master replid, EOF token). */
export function randomHex40(): string {
  let s = '';
  for (let i = 0; i < 40; i++) s += '0123456789abcdef'[Math.floor(Math.random() * 16)];
  return s;
}

// ---------------------------------------------------------------------------------------------
// Commands from the replica: inline (`PING\r\n`) or RESP multibulk

// ---------------------------------------------------------------------------------------------
// The fake master

/** Options of {@link FakeMaster}. */
export interface FakeMasterOptions {
  /** Shards = flows. @default 2 */
  numFlows?: number;
  /** Master replid. @default random */
  replid?: string;
  /** Listen on this port (a master restarted on the address of an earlier one). @default a free port */
  port?: number;
  /** Require `AUTH [username] <password>` first on every connection. */
  password?: string;
  username?: string;
  /** Reply to `REPLCONF capa dragonfly`: the `*5` array, `+OK` like Redis, or an error line. @default 'dragonfly' */
  capa?: 'dragonfly' | 'redis' | { error: string };
  /** FULL or PARTIAL per flow (or an error message for the FLOW reply). @default FULL */
  flowKind?: (flowId: number, lsn: bigint | undefined) => 'FULL' | 'PARTIAL' | { error: string };
  /** On `DFLY SYNC`; `reply()` sends `+OK`. @default every flow: header + AUX + FULLSYNC_END, then reply */
  onSync?: (master: FakeMaster, reply: () => void) => void;
  /** `dragonfly_version` answered to `INFO server`, or null to answer it as an unknown command. @default 'df-v1.40.1' */
  dragonflyVersion?: string | null;
  /** Keys per database answered to `INFO keyspace` (e.g. `{ 0: 3 }`). @default INFO keyspace is an unknown command */
  keyspace?: Record<number, number>;
  /** On `DFLY STARTSTABLE`; `reply()` sends `+OK`. @default every FULL flow: {@link flowTail}, then reply */
  onStartStable?: (master: FakeMaster, reply: () => void) => void;
  /** JOURNAL_OFFSET of the default STARTSTABLE behaviour. @default 1 */
  journalOffset?: number | bigint;
  /** Commands (main connection or `DFLY FLOW`) that get no reply at all, as from a frozen master;
   *  they are still recorded in `mainCommands` and emitted as `'main-command'` / `'silent'`. */
  isSilent?: (args: string[]) => boolean;
  /**
   * The master's data: read-back commands (`MODEL_READS`) are answered from it and `DFLY
   * REPLICAOFFSET` from its LSNs, in each connection's order (see test/helpers/master-data.ts).
   * Unless `flowKind` / `onSync` / `onStartStable` say otherwise, it also decides PARTIAL or FULL
   * by the master's rule (its backlog), a full sync sends its snapshot, and STARTSTABLE sends each
   * flow its kept records from the flow's offset on, then the live journal.
   */
  data?: MasterData;
}

/** One flow connection of the fake master's current session. */
export class FakeFlow {
  readonly acks: bigint[] = [];
  /** Commands received after `DFLY FLOW` other than `REPLCONF ACK` (must stay empty). */
  readonly otherCommands: string[][] = [];
  /** After STARTSTABLE (with `data`): journal records are written as they are made. */
  isStreaming = false;
  /** With `data`: the next LSN when the snapshot was taken (the JOURNAL_OFFSET it will send). */
  syncOffset: bigint | undefined;
  #isClosed = false;
  constructor(
    readonly master: FakeMaster,
    readonly flowId: number,
    readonly kind: 'FULL' | 'PARTIAL',
    readonly token: string,
    readonly requestedLsn: bigint | undefined,
    readonly socket: net.Socket,
  ) {
    socket.once('close', () => (this.#isClosed = true));
  }
  get isClosed(): boolean {
    return this.#isClosed;
  }
  /** Writes bytes unless the socket is closed; returns false when the kernel buffer is full. */
  write(...bufs: Buffer[]): boolean {
    if (this.#isClosed || this.socket.destroyed) return false;
    return this.socket.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs));
  }
  /** Header + the recorded-style AUX fields of this flow. */
  sendHeader(): void {
    this.write(rdbHeader(dragonflyAux(this.flowId, this.master.numFlows)));
  }
  sendFullSyncEnd(): void {
    this.write(fullSyncEnd());
  }
  /** JOURNAL_OFFSET, EOF, token. */
  sendTail(lsn: number | bigint = 1): void {
    this.write(flowTail(lsn, this.token));
  }
  /** Closes the connection abruptly (as a cut network would). */
  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * A programmable Dragonfly master on 127.0.0.1 for fault and edge cases (the real bytes are served
 * by the replay master). It speaks the handshake (§2), `DFLY FLOW` / `SYNC` / `STARTSTABLE` (§3)
 * with the replies of v1.40.1, checks the replica's protocol rules (recorded in `violations`), and
 * lets the test decide what every flow sends and when, through `onSync` / `onStartStable` and the
 * {@link FakeFlow} objects.
 *
 * Events: `'main-command'` (args: string[]), `'flow'` (FakeFlow), `'sync'`, `'startstable'`,
 * `'ack'` (FakeFlow, bigint), `'flow-close'` (FakeFlow), `'connection'`.
 */
export class FakeMaster extends EventEmitter {
  readonly numFlows: number;
  readonly replid: string;
  readonly mainCommands: string[][] = [];
  /** Rules of the protocol the replica broke (reference §10), in order. */
  readonly violations: string[] = [];
  /** Flows of the current session by flow id. */
  flows: Array<FakeFlow | undefined> = [];
  /** Number of `capa dragonfly` sessions created (the `k` of `SYNC<k>`). */
  syncCount = 0;
  readonly #options: FakeMasterOptions;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #state: 'none' | 'preparation' | 'full-sync' | 'stable-sync' = 'none';

  /** With `data`: a journal record of `flow` (already kept in its backlog) goes out if that flow streams. */
  deliver(flow: number, bytes: Buffer): void {
    const f = this.flows[flow];
    if (f !== undefined && f.isStreaming) f.write(bytes);
  }

  private constructor(options: FakeMasterOptions) {
    super();
    this.#options = options;
    this.numFlows = options.numFlows ?? 2;
    this.replid = options.replid ?? randomHex40();
    this.#server = net.createServer((socket) => this.#accept(socket));
  }

  /** Starts listening on 127.0.0.1, on a free port. */
  static async start(options: FakeMasterOptions = {}): Promise<FakeMaster> {
    const m = new FakeMaster(options);
    m.#server.listen(options.port ?? 0, '127.0.0.1');
    await once(m.#server, 'listening');
    return m;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** `redis://[user:pass@]127.0.0.1:<port>` */
  get url(): string {
    const o = this.#options;
    const auth = o.password !== undefined ? `${encodeURIComponent(o.username ?? '')}:${encodeURIComponent(o.password)}@` : '';
    return `redis://${auth}127.0.0.1:${this.port}`;
  }

  get syncId(): string {
    return `SYNC${this.syncCount}`;
  }

  get state(): string {
    return this.#state;
  }

  /** Resolves with the event's arguments the next time `event` fires with `pred` true. */
  waitFor(event: string, pred: (...args: any[]) => boolean = () => true, timeoutMs = 5000): Promise<any[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off(event, on);
        reject(new Error(`fake master: no '${event}' within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (...args: any[]): void => {
        if (!pred(...args)) return;
        clearTimeout(timer);
        this.off(event, on);
        resolve(args);
      };
      this.on(event, on);
    });
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    this.emit('connection', socket);
    let isAuthed = this.#options.password === undefined;
    let flow: FakeFlow | undefined;
    let hasCapa = false;
    let model: Promise<RedisConnection> | undefined;
    let replies: Promise<unknown> = Promise.resolve();
    const data = this.#options.data;
    const reader = new CommandReader((raw) => {
      const args = raw.map((a) => a.toString('latin1'));
      if (flow !== undefined) {
        if (args.length === 3 && args[0]!.toUpperCase() === 'REPLCONF' && args[1]!.toUpperCase() === 'ACK' && /^\d+$/.test(args[2]!)) {
          const lsn = BigInt(args[2]!);
          flow.acks.push(lsn);
          this.emit('ack', flow, lsn);
        } else {
          flow.otherCommands.push(args);
          this.violations.push(`flow ${flow.flowId}: command after DFLY FLOW: ${args.join(' ')}`);
        }
        return;
      }
      const cmd = (args[0] ?? '').toUpperCase();
      const sub = (args[1] ?? '').toUpperCase();
      if (cmd === 'AUTH') {
        const pass = args[args.length - 1];
        const user = args.length === 3 ? args[1] : undefined;
        const ok = pass === this.#options.password && (user === undefined || user === (this.#options.username ?? 'default'));
        if (ok) isAuthed = true;
        socket.write(ok ? respSimple('OK') : respError('WRONGPASS invalid username-password pair or user is disabled.'));
        return;
      }
      if (!isAuthed) {
        socket.write(respError('NOAUTH Authentication required.'));
        return;
      }
      if (this.#options.isSilent?.(args)) {
        this.mainCommands.push(args);
        this.emit('silent', args);
        return;
      }
      if (cmd === 'DFLY' && sub === 'FLOW') {
        flow = this.#flow(socket, args);
        return;
      }
      this.mainCommands.push(args);
      this.emit('main-command', args);
      // CLIENT PAUSE/UNPAUSE reach the model too: its writer (MasterData.exec) then waits as a
      // client of a paused Dragonfly would, and nothing new is journaled meanwhile.
      const isPause = cmd === 'CLIENT' && (sub === 'PAUSE' || sub === 'UNPAUSE');
      if (data !== undefined && (MODEL_READS.has(cmd) || isPause || (cmd === 'DFLY' && sub === 'REPLICAOFFSET'))) {
        // In this connection's order, as the master runs a client's pipeline.
        replies = replies.then(async () => {
          if (cmd === 'DFLY') return void socket.write(`*${data.lsns.length}\r\n${data.lsns.map((l) => `:${l}\r\n`).join('')}`);
          if (data.beforeRead !== undefined && !isPause) await data.beforeRead(cmd);
          const conn = await (model ??= data.connection());
          socket.write(await forward(conn, raw));
        });
        replies.catch(() => socket.destroy());
        return;
      }
      if (cmd === 'PING') socket.write(respSimple('PONG'));
      else if (cmd === 'INFO' && args[1]?.toLowerCase() === 'server' && this.#options.dragonflyVersion !== null) {
        const text = `# Server\r\nredis_version:7.4.0\r\ndragonfly_version:${this.#options.dragonflyVersion ?? 'df-v1.40.1'}\r\nredis_mode:standalone\r\n`;
        socket.write(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
      } else if (cmd === 'INFO' && this.#options.keyspace !== undefined) {
        const lines = Object.entries(this.#options.keyspace).map(([db, n]) => `db${db}:keys=${n},expires=0,avg_ttl=0\r\n`);
        const text = `# Keyspace\r\n${lines.join('')}`;
        socket.write(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
      }
      else if (cmd === 'REPLCONF') {
        if (sub === 'CAPA' && args.length === 3 && args[2]!.toLowerCase() === 'dragonfly') {
          const capa = this.#options.capa ?? 'dragonfly';
          if (capa === 'redis') socket.write(respSimple('OK'));
          else if (typeof capa === 'object') socket.write(respError(capa.error));
          else {
            if (hasCapa) this.violations.push('capa dragonfly sent twice on one connection');
            hasCapa = true;
            this.syncCount++;
            this.flows = [];
            this.#state = 'preparation';
            socket.write(capaDragonflyReply({ replid: this.replid, syncId: this.syncId, numFlows: this.numFlows }));
          }
        } else if (sub === 'CAPA' && args.slice(2).some((a) => a.toLowerCase() === 'dragonfly')) {
          this.violations.push('capa dragonfly not alone');
          socket.write(respSimple('OK'));
        } else if (sub === 'CLIENT-VERSION' && !hasCapa) {
          this.violations.push('CLIENT-VERSION before capa dragonfly');
          socket.write(respSimple('OK'));
        } else if (sub === 'ACK') {
          // never answered (reference §3.5)
        } else socket.write(respSimple('OK'));
      } else if (cmd === 'DFLY' && sub === 'SYNC') {
        if (args[2] !== this.syncId) return void socket.write(respError('syncid not found'));
        const flows = this.flows;
        if (this.#state !== 'preparation' || flows.filter(Boolean).length !== this.numFlows || flows.some((f) => f?.kind === 'PARTIAL')) {
          this.violations.push('DFLY SYNC in an invalid state');
          return void socket.write(respError('invalid state'));
        }
        this.#state = 'full-sync';
        this.emit('sync');
        const reply = (): void => void socket.write(respSimple('OK'));
        const data = this.#options.data;
        if (this.#options.onSync) this.#options.onSync(this, reply);
        else if (data !== undefined) {
          // A snapshot of the model per flow, taken now; writes made meanwhile follow it in the journal.
          void (async () => {
            const snapshot = await data.snapshotAll();
            for (const f of flows) {
              f!.syncOffset = snapshot.offsets[f!.flowId];
              f!.write(rdbHeader(dragonflyAux(f!.flowId, this.numFlows)), snapshot.records[f!.flowId]!, fullSyncEnd());
            }
            reply();
          })().catch(() => socket.destroy());
        } else {
          for (const f of flows) {
            f!.sendHeader();
            f!.sendFullSyncEnd();
          }
          reply();
        }
      } else if (cmd === 'DFLY' && sub === 'STARTSTABLE') {
        if (args[2] !== this.syncId) return void socket.write(respError('syncid not found'));
        const anyFull = this.flows.some((f) => f?.kind === 'FULL');
        if (anyFull ? this.#state !== 'full-sync' : this.#state !== 'preparation') {
          this.violations.push('DFLY STARTSTABLE in an invalid state');
          return void socket.write(respError('invalid state'));
        }
        this.#state = 'stable-sync';
        this.emit('startstable');
        const reply = (): void => void socket.write(respSimple('OK'));
        const data = this.#options.data;
        if (this.#options.onStartStable) this.#options.onStartStable(this, reply);
        else if (data !== undefined) {
          for (const f of this.flows) {
            if (f === undefined) continue;
            const from = f.kind === 'FULL' ? f.syncOffset ?? data.lsns[f.flowId]! : f.requestedLsn!;
            if (f.kind === 'FULL') f.sendTail(from);
            f.write(data.recordsFrom(f.flowId, from));
            f.isStreaming = true;
          }
          reply();
        } else {
          for (const f of this.flows) if (f?.kind === 'FULL') f.sendTail(this.#options.journalOffset ?? 1);
          reply();
        }
      } else socket.write(respError(`unknown command '${args[0]}'`));
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('close', () => void model?.then((c) => c.close()).catch(() => undefined));
  }

  #flow(socket: net.Socket, args: string[]): FakeFlow | undefined {
    // DFLY FLOW <replid> <syncid> <flowid> [lsn]  (reference §3.1)
    if (args.length < 5 || args.length > 7) return void socket.write(respError('syntax error'));
    if (args[2] !== this.replid) return void socket.write(respError('bad master id'));
    const flowId = Number(args[4]);
    if (!Number.isInteger(flowId) || flowId < 0 || flowId >= this.numFlows) return void socket.write(respError('flow id out of range'));
    if (args[3] !== this.syncId) return void socket.write(respError('syncid not found'));
    if (this.#state !== 'preparation') return void socket.write(respError('invalid state'));
    const lsn = args[5] !== undefined ? BigInt(args[5]) : undefined;
    const data = this.#options.data;
    const kind = this.#options.flowKind?.(flowId, lsn) ?? (data?.isPartialPossible(flowId, lsn) === true ? 'PARTIAL' : 'FULL');
    if (typeof kind === 'object') return void socket.write(respError(kind.error));
    const flow = new FakeFlow(this, flowId, kind, randomHex40(), lsn, socket);
    this.flows[flowId] = flow;
    socket.once('close', () => {
      this.emit('flow-close', flow);
      // The master cancels the whole session when one flow goes (reference §7).
      if (this.flows[flowId] === flow) for (const f of this.flows) if (f !== undefined && f !== flow) f.destroy();
    });
    socket.write(flowReply(kind, flow.token));
    this.emit('flow', flow);
    return flow;
  }
}
