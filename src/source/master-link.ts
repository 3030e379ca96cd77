/**
 * The main (control) connection to a Dragonfly master: handshake and the `DFLY` session commands.
 *
 * Upstream: Dragonfly src/server/protocol_client.cc (`ConnectAndAuth`), src/server/replica.cc
 * (`Replica::Greet`, `HandleCapaDflyResp`, `ConfigureDflyMaster`); reference §2.
 */
import type net from 'node:net';
import { ConnectionError, ReplicationError } from '../errors.js';
import { RespErrorReply, RespReader, type RespValue } from '../decode/resp/resp-reader.js';
import type { SourceEndpoint } from './dragonfly-url.js';
import { encodeCommand, openSourceSocket, type SourceSocketOptions } from './source-socket.js';
import { checkSupportedVersion, versionFromInfo, type DragonflyVersion } from './dragonfly-versions.js';

/** What the master told us in its reply to `REPLCONF capa dragonfly`. */
export interface MasterInfo {
  /** 40 lowercase hex chars; changes when the master restarts (then LSNs restart too). */
  replid: string;
  /** `SYNC<k>`: names this replication session in `DFLY FLOW/SYNC/STARTSTABLE`. */
  syncId: string;
  /** Number of shards = flows to open (1..1024). */
  numFlows: number;
  /** Dragonfly replication version (`DflyVersion` ordinal, 5 for v1.37+); undefined on ≤ v1.3. */
  version: number | undefined;
  /** Lineage id (v1.40+; = replid unless the master is a cascaded replica). */
  lineage: string | undefined;
  /**
   * The master's release from `INFO server` → `dragonfly_version` (see dragonfly-versions.ts for
   * what differs per version); undefined when INFO was refused or had no such line.
   */
  dragonflyVersion?: DragonflyVersion | undefined;
}

/** Handshake options. */
export interface HandshakeOptions extends SourceSocketOptions {
  /** Sent as `REPLCONF listening-port` (shown by the master's INFO/ROLE; we listen on nothing).
   *  @default the local port of the main connection */
  listeningPort?: number;
  /** Sent as `REPLCONF CLIENT-ID` (the Dragonfly replica sends its 40-hex node id and keeps it
   *  across reconnects). */
  clientId: string;
  /**
   * `REPLCONF CLIENT-VERSION` value, or null to send none. The v1.40.1 replica sends 5 (VER6), which
   * makes the master add per-flow `search-index` AUX records and, with `--serialize_hnsw_index`,
   * HNSW opcodes 222/223 — content a Redis target cannot use. 4 (VER5) switches those off and changes
   * nothing else in v1.40.1 (reference §2.3 recommendation). @default 4
   */
  clientVersion?: number | null;
  /**
   * Longest wait for the reply to one command (handshake, `DFLY SYNC`, `DFLY STARTSTABLE`, a
   * liveness `PING`); then the link fails with a ReplicationError naming the command. 0 = no limit.
   * @default {@link DEFAULT_SOURCE_TIMEOUT_MS}
   */
  replyTimeoutMs?: number;
}

/**
 * Default reply timeout of the master's commands: 30 s, the master's own `--replication_timeout`
 * (a master that has not answered in that time has given up on a stalled replica itself).
 */
export const DEFAULT_SOURCE_TIMEOUT_MS = 30_000;

/** Default `REPLCONF CLIENT-VERSION` (see {@link HandshakeOptions.clientVersion}). */
export const DEFAULT_CLIENT_VERSION = 4;

interface Pending {
  command: string;
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The main connection. Commands are request/response in order (a Promise per command is fine here:
 * a handful per session). `REPLCONF ACK` is never sent on it (the master would not answer, §3.5).
 */
export class MasterLink {
  readonly #socket: net.Socket;
  readonly #peer: string;
  readonly #pending: Pending[] = [];
  readonly #replyTimeoutMs: number;
  #closeError: Error | undefined;
  #onClose: ((err: Error) => void) | undefined;
  #info: MasterInfo | undefined;

  private constructor(socket: net.Socket, peer: string, replyTimeoutMs: number) {
    this.#socket = socket;
    this.#peer = peer;
    this.#replyTimeoutMs = replyTimeoutMs;
    const reader = new RespReader((v) => {
      const p = this.#pending.shift();
      if (p === undefined) {
        this.#fail(new ReplicationError(`unexpected reply on the main connection: ${describe(v)}`));
        return;
      }
      if (p.timer !== undefined) clearTimeout(p.timer);
      p.resolve(v);
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        this.#fail(err as Error);
      }
    });
    socket.on('error', (err) => this.#fail(new ConnectionError('source main', peer, err.message, { cause: err })));
    socket.on('close', () => this.#fail(new ConnectionError('source main', peer, 'closed by the master')));
  }

  /**
   * Connects and performs the replica handshake: `[AUTH]`, `PING`, `INFO server` (the master's
   * `dragonfly_version`; a master older than v1.27 is refused here), `REPLCONF listening-port`,
   * `REPLCONF capa eof capa psync2`, `REPLCONF capa dragonfly` (alone, reference pitfall 11),
   * `REPLCONF CLIENT-ID`, `REPLCONF CLIENT-VERSION` (only after capa dragonfly, pitfall 12).
   * @throws UnsupportedSourceVersionError (a ReplicationError) naming the master's version and the
   *   minimum; ConnectionError (network), ReplicationError naming the cause (NOAUTH, wrong password,
   *   missing ACL permission, the source is a replica, the source is not Dragonfly, bad reply).
   */
  static async connect(ep: SourceEndpoint, options: HandshakeOptions): Promise<MasterLink> {
    const socket = await openSourceSocket(ep, 'main', options);
    const link = new MasterLink(socket, `${ep.host}:${ep.port}`, options.replyTimeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS);
    try {
      await link.#greet(ep, options);
    } catch (err) {
      link.close();
      throw err;
    }
    return link;
  }

  /** The capa reply, after the handshake. */
  get info(): MasterInfo {
    if (this.#info === undefined) throw new ReplicationError('handshake not done');
    return this.#info;
  }

  /** Calls `cb` once when the connection fails or closes (not after {@link close}). */
  onClose(cb: (err: Error) => void): void {
    this.#onClose = cb;
  }

  /** A command was sent and its reply has not come yet. */
  get isAwaitingReply(): boolean {
    return this.#pending.length > 0;
  }

  /**
   * Sends one command and resolves with its reply (error replies resolve as RespErrorReply).
   * Without a reply within the link's reply timeout, the link fails (see {@link onClose}) with a
   * ReplicationError naming the command; every pending command rejects with it.
   */
  command(args: ReadonlyArray<string>): Promise<RespValue> {
    if (this.#closeError) return Promise.reject(this.#closeError);
    return new Promise((resolve, reject) => {
      // Never the arguments of AUTH in a message: they hold the password.
      const command = args[0]?.toUpperCase() === 'AUTH' ? 'AUTH' : args.slice(0, 2).join(' ');
      const ms = this.#replyTimeoutMs;
      const timer =
        ms > 0
          ? setTimeout(
              () => this.#fail(new ReplicationError(`no reply to ${command} from the master ${this.#peer} (main connection) within ${ms} ms (--source-timeout)`, undefined, { isTransient: true })),
              ms,
            )
          : undefined;
      this.#pending.push({ command, resolve, reject, timer });
      this.#socket.write(encodeCommand(args));
    });
  }

  /**
   * Sends a command that must answer `+OK`.
   * @throws ReplicationError with the cause named (see {@link handshakeError}).
   */
  async commandOk(args: ReadonlyArray<string>): Promise<void> {
    const reply = await this.command(args);
    if (reply === 'OK') return;
    throw handshakeError(args, reply);
  }

  /** `DFLY SYNC <syncId>`: starts the full sync on every flow (reference §3.2). */
  dflySync(): Promise<void> {
    return this.commandOk(['DFLY', 'SYNC', this.info.syncId]);
  }

  /** `DFLY STARTSTABLE <syncId>`: ends the full sync, starts the journal (reference §3.3). */
  dflyStartStable(): Promise<void> {
    return this.commandOk(['DFLY', 'STARTSTABLE', this.info.syncId]);
  }

  /** Closes the connection (the master then cancels the session, reference §7). */
  close(): void {
    this.#onClose = undefined;
    this.#fail(new ConnectionError('source main', this.#peer, 'closed'));
    this.#socket.destroy();
  }

  #fail(err: Error): void {
    if (this.#closeError) return;
    this.#closeError = err;
    this.#socket.destroy();
    for (const p of this.#pending.splice(0)) {
      if (p.timer !== undefined) clearTimeout(p.timer);
      p.reject(err);
    }
    const cb = this.#onClose;
    this.#onClose = undefined;
    cb?.(err);
  }

  async #greet(ep: SourceEndpoint, o: HandshakeOptions): Promise<void> {
    if (ep.password !== undefined) {
      await this.commandOk(ep.username !== undefined ? ['AUTH', ep.username, ep.password] : ['AUTH', ep.password]);
    }
    const pong = await this.command(['PING']);
    if (pong !== 'PONG') throw handshakeError(['PING'], pong);
    // The master's release, before anything creates a replication session on it (refused below the minimum).
    const infoReply = await this.command(['INFO', 'server']);
    const infoText = Buffer.isBuffer(infoReply) ? infoReply.toString('latin1') : typeof infoReply === 'string' ? infoReply : '';
    const dragonflyVersion = versionFromInfo(infoText);
    checkSupportedVersion(dragonflyVersion, this.#peer);
    await this.commandOk(['REPLCONF', 'listening-port', String(o.listeningPort ?? this.#socket.localPort ?? 0)]);
    await this.commandOk(['REPLCONF', 'capa', 'eof', 'capa', 'psync2']);
    this.#info = { ...parseCapaReply(await this.command(['REPLCONF', 'capa', 'dragonfly'])), dragonflyVersion };
    await this.commandOk(['REPLCONF', 'CLIENT-ID', o.clientId]);
    const version = o.clientVersion === undefined ? DEFAULT_CLIENT_VERSION : o.clientVersion;
    if (version !== null) await this.commandOk(['REPLCONF', 'CLIENT-VERSION', String(version)]);
  }
}

/**
 * Interprets the reply to `REPLCONF capa dragonfly` like `Replica::HandleCapaDflyResp`:
 * `+OK` → a Redis master (not supported yet); ≥ 3 elements → Dragonfly.
 * @throws ReplicationError
 */
export function parseCapaReply(reply: RespValue): MasterInfo {
  if (reply === 'OK') {
    throw new ReplicationError('source is not Dragonfly (REPLCONF capa dragonfly answered +OK): plain Redis sources are not supported yet');
  }
  if (reply instanceof RespErrorReply) throw handshakeError(['REPLCONF', 'capa', 'dragonfly'], reply);
  if (!Array.isArray(reply) || reply.length < 3) throw new ReplicationError(`bad reply to REPLCONF capa dragonfly: ${describe(reply)}`);
  const [replid, syncId, numFlows, version, lineage] = reply;
  if (typeof replid !== 'string' || !/^[0-9a-f]{40}$/i.test(replid)) throw new ReplicationError(`bad master replid in the capa reply: ${describe(replid)}`);
  if (typeof syncId !== 'string' || !/^SYNC\d+$/.test(syncId)) throw new ReplicationError(`bad sync id in the capa reply: ${describe(syncId)}`);
  if (typeof numFlows !== 'number' || !Number.isInteger(numFlows) || numFlows < 1 || numFlows > 1024) {
    throw new ReplicationError(`bad flow count in the capa reply: ${describe(numFlows)}`);
  }
  if (version !== undefined && typeof version !== 'number') throw new ReplicationError(`bad version in the capa reply: ${describe(version)}`);
  if (lineage !== undefined && typeof lineage !== 'string') throw new ReplicationError(`bad lineage in the capa reply: ${describe(lineage)}`);
  return { replid, syncId, numFlows, version, lineage };
}

/**
 * A ReplicationError for a refused handshake / session command, naming the likely cause:
 * authentication (NOAUTH, WRONGPASS), ACL (NOPERM), a replica as source, or the raw reply.
 */
export function handshakeError(args: ReadonlyArray<string>, reply: RespValue, flowId?: number): ReplicationError {
  const cmd = args[0] === 'AUTH' ? 'AUTH' : args.slice(0, 2).join(' ');
  if (!(reply instanceof RespErrorReply)) return new ReplicationError(`${cmd}: unexpected reply ${describe(reply)}`, flowId);
  const msg = reply.message;
  let why: string;
  if (/^NOAUTH/.test(msg)) why = 'the source requires a password: put it in the source URL (redis://:password@host:port)';
  else if (/^WRONGPASS|invalid password|invalid username/i.test(msg)) why = 'the source refused the credentials of the source URL';
  else if (/^NOPERM/.test(msg)) why = `the source user may not run ${cmd}: the replication user needs REPLCONF and DFLY (@admin), PING and AUTH`;
  else if (/Replicating a replica is unsupported/i.test(msg)) why = 'the source is itself a replica: point df2redis at its master';
  else why = `${cmd} was refused`;
  return new ReplicationError(`${why} (${msg})`, flowId);
}

/** Short printable form of a reply for messages. */
export function describe(v: RespValue | undefined): string {
  if (v instanceof RespErrorReply) return `-${v.message}`;
  if (Buffer.isBuffer(v)) return JSON.stringify(v.subarray(0, 80).toString('latin1'));
  if (Array.isArray(v)) return `[${v.slice(0, 6).map(describe).join(', ')}${v.length > 6 ? ', …' : ''}]`;
  if (typeof v === 'bigint') return `${v}`;
  return JSON.stringify(v) ?? String(v);
}
