/**
 * Replay master: serves a recorded Dragonfly session (shared/fixtures/dragonfly) to a replica under
 * test (or to `df2redis demo`), byte for byte, over real TCP on 127.0.0.1.
 *
 * Main connection: answers PING, AUTH, REPLCONF … like the recorded master (the `capa dragonfly`
 * reply is the recorded `*5` bytes), `DFLY SYNC` → starts the flows' snapshot bytes, `+OK`;
 * `DFLY STARTSTABLE` → releases the flows' tails, `+OK`. `REPLCONF ACK` is never answered.
 *
 * Flow connections (`DFLY FLOW <replid> <syncid> <flowid> [lsn]`) get the master bytes that the
 * recording holds for that flow id, in the recorded chunking, in three segments that follow the
 * real master's causality:
 *  1. the FLOW reply, at once;
 *  2. after `DFLY SYNC` arrived: every recorded frame the proxy read before the replica's
 *     `DFLY STARTSTABLE` (header, snapshot, FULLSYNC_END, journal blobs);
 *  3. after `DFLY STARTSTABLE` arrived: the rest (JOURNAL_OFFSET, EOF, token, journal) — the real
 *     master writes them only while handling STARTSTABLE.
 * Segment 3 never starts before segment 2 was written. PARTIAL flows have an empty segment 2.
 *
 * Phases: the first main connection plays the session's first main connection and its flows; the
 * second one (a reconnect, `partial` only) plays the second main connection and its PARTIAL flows.
 */
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadExpectedDir, loadSessionDir, type ExpectedState, type RecordedConnection } from './recording.js';
import { CommandReader, respError, respSimple } from './command-reader.js';
import { recordedClockMs, shiftFlowStream, TIME_SHIFT_STEP_MS } from './time-shift.js';
import { replayRead } from './replay-reads.js';

/** Options of {@link ReplayMaster}. */
export interface ReplayMasterOptions {
  /** `fast`: write frames back to back (respecting socket backpressure); `recorded`: keep the
   *  recorded gaps between frames within a segment. @default 'fast' */
  speed?: 'fast' | 'recorded';
  /** Cut one flow: destroy its socket after `afterBytes` master bytes (counted from the FLOW reply). */
  dropFlow?: { flowId: number; afterBytes: number; phase?: number };
  /** Once every flow of a phase has sent its last byte, close the flows the recording says the
   *  master (or the proxy) closed; with `speed: 'recorded'`, not before the recorded time of each
   *  flow's last frame (either direction). @default false (flows stay open in stable sync) */
  closeAsRecorded?: boolean;
  /** Answer ordinary reads (SELECT, INFO keyspace, TYPE, PTTL, GET, LRANGE, SMEMBERS, HGETALL, ZRANGE … WITHSCORES)
   *  from the session's `expected.json.gz`, as the live master would have at the end of the
   *  recording (used by the replicator's read-back of keys the journal cannot carry). @default true */
  shouldServeReads?: boolean;
  /**
   * Milliseconds added to every absolute time of the recording (expiries in the snapshot and in
   * journal records, inside compressed blobs too; see src/demo/time-shift.ts), and to the expected
   * state ({@link ReplayMaster.expected}). A whole number of seconds. `'now'` shifts by the age of
   * the recording, so it replays as on the day it was made, whatever today's date; `0` serves the
   * recorded bytes unchanged. @default 'now'
   */
  timeShift?: 'now' | number;
}

/** One segment of a flow: its frames (payloads and recorded µs). */
interface Segment {
  frames: Array<{ payload: Buffer; timeUs: number }>;
}

/** A recorded phase: one main connection and the flows opened after it. */
interface Phase {
  main: RecordedConnection;
  flows: Map<number, { conn: RecordedConnection; reply: Segment; sync: Segment; stable: Segment }>;
  capaReply: Buffer;
  replid: string;
  syncId: string;
  auth: string[] | undefined;
  /** Every flow answered PARTIAL: no DFLY SYNC, nothing before STARTSTABLE. */
  isPartial: boolean;
}

/** What the replica sent on one connection. */
export interface ReplayConnectionLog {
  role: 'main' | 'flow' | 'unknown';
  phase: number;
  flowId: number | undefined;
  /** All bytes received from the replica. */
  received: Buffer[];
  /** Parsed commands (latin1 strings). */
  commands: string[][];
  /** REPLCONF ACK values (flows), with the time received (ms, performance.now()). */
  acks: Array<{ lsn: bigint; atMs: number }>;
  /** Master bytes written to this connection. */
  bytesSent: number;
  /** The connection is closed. */
  isClosed: boolean;
}

/**
 * Where the `DFLY FLOW` reply sits in a recorded flow's master bytes (after the `+OK` of an AUTH),
 * with its kind and EOF token.
 */
export function recordedFlowReply(masterBytes: Buffer): { start: number; end: number; kind: 'FULL' | 'PARTIAL'; token: string } {
  const m = /\*2\r\n\+(FULL|PARTIAL)\r\n\+([0-9a-f]{40})\r\n/.exec(masterBytes.subarray(0, 120).toString('latin1'));
  if (!m) throw new Error('no DFLY FLOW reply in the recorded flow');
  return { start: m.index, end: m.index + m[0].length, kind: m[1] as 'FULL' | 'PARTIAL', token: m[2]! };
}


/**
 * Splits a flow's master frames into the three segments (see the module comment). With a non-zero
 * `timeShiftMs`, the bytes after the FLOW reply are those of {@link shiftFlowStream}, cut at the
 * recorded read boundaries mapped onto the shifted stream.
 */
function segmentFlow(conn: RecordedConnection, startStableUs: number, timeShiftMs: number): { reply: Segment; sync: Segment; stable: Segment } {
  // Bytes before the FLOW reply answer AUTH: the replay master generates those replies itself.
  const fr = recordedFlowReply(conn.masterBytes);
  const reply: Segment = { frames: [] };
  const sync: Segment = { frames: [] };
  const stable: Segment = { frames: [] };
  const shifted = timeShiftMs === 0 ? undefined : shiftFlowStream(conn.masterBytes.subarray(fr.end), timeShiftMs);
  let at = 0; // position of the frame in masterBytes
  for (const f of conn.frames) {
    if (!f.fromMaster) continue;
    const start = at;
    const end = (at += f.payload.length);
    if (end <= fr.start) continue;
    const replyPart = f.payload.subarray(Math.max(0, fr.start - start), Math.max(0, Math.min(f.payload.length, fr.end - start)));
    if (replyPart.length > 0) reply.frames.push({ payload: replyPart, timeUs: f.timeUs });
    if (end <= fr.end) continue;
    const from = Math.max(start, fr.end) - fr.end;
    const to = end - fr.end;
    const payload = shifted === undefined ? f.payload.subarray(from + fr.end - start) : shifted.bytes.subarray(shifted.mapOffset(from), shifted.mapOffset(to));
    if (payload.length === 0) continue;
    (f.timeUs < startStableUs ? sync : stable).frames.push({ payload, timeUs: f.timeUs });
  }
  return { reply, sync, stable };
}

/**
 * The offset that makes a recording replay as on the day it was made: now minus the master's
 * clock at the start of the recorded full sync (`ctime` of the first full-sync flow), in whole
 * seconds; 0 when the recording has no full sync.
 */
function timeShiftToNow(conns: RecordedConnection[]): number {
  for (const c of conns) {
    if (c.flowId === undefined) continue;
    const fr = recordedFlowReply(c.masterBytes);
    const clock = fr.kind === 'FULL' ? recordedClockMs(c.masterBytes.subarray(fr.end)) : undefined;
    if (clock !== undefined) return Math.round((Date.now() - clock) / TIME_SHIFT_STEP_MS) * TIME_SHIFT_STEP_MS;
  }
  return 0;
}

/** `state` with every absolute expiry moved by `shiftMs` (a new object; -1 = none stays). */
export function shiftExpected(state: ExpectedState, shiftMs: number): ExpectedState {
  if (shiftMs === 0) return state;
  const out: ExpectedState = {};
  for (const [db, keys] of Object.entries(state)) {
    const moved: ExpectedState[string] = {};
    for (const [k, v] of Object.entries(keys)) moved[k] = v.pexpireat < 0 ? v : { ...v, pexpireat: v.pexpireat + shiftMs };
    out[db] = moved;
  }
  return out;
}

/** Reads a recorded session into phases. */
function loadPhases(dir: string, conns: RecordedConnection[], timeShiftMs: number): Phase[] {
  const name = path.basename(dir);
  const phases: Phase[] = [];
  let current: RecordedConnection[] = [];
  const groups: RecordedConnection[][] = [];
  for (const c of conns) {
    if (c.flowId === undefined && current.length > 0) {
      groups.push(current);
      current = [];
    }
    current.push(c);
  }
  if (current.length > 0) groups.push(current);
  for (const [main, ...flows] of groups) {
    if (main === undefined || main.flowId !== undefined) throw new Error(`${name}: a phase must start with a main connection`);
    const mainText = main.replicaBytes.toString('latin1');
    const masterText = main.masterBytes.toString('latin1');
    // 5 elements (v1.40+, with the lineage id) or 4 (v1.4–v1.39, reference §9).
    const capa = /\*[45]\r\n\+([0-9a-f]{40})\r\n\+(SYNC\d+)\r\n:\d+\r\n:\d+\r\n(?:\+[0-9a-f]{40}\r\n)?/.exec(masterText);
    if (!capa) throw new Error(`${name} ${main.file}: no capa reply`);
    // When the replica sent STARTSTABLE (proxy time): the split between segments 2 and 3.
    let startStableUs = Infinity;
    for (const f of main.frames) {
      if (!f.fromMaster && f.payload.toString('latin1').includes('DFLY STARTSTABLE')) {
        startStableUs = f.timeUs;
        break;
      }
    }
    const authLine = /^AUTH ([^\r]*)\r\n/.exec(mainText);
    const phase: Phase = {
      main,
      flows: new Map(),
      capaReply: Buffer.from(capa[0], 'latin1'),
      replid: capa[1]!,
      syncId: capa[2]!,
      auth: authLine ? authLine[1]!.split(' ') : undefined,
      isPartial: false,
    };
    for (const f of flows) phase.flows.set(f.flowId!, { conn: f, ...segmentFlow(f, startStableUs, timeShiftMs) });
    phase.isPartial = flows.length > 0 && flows.every((f) => recordedFlowReply(f.masterBytes).kind === 'PARTIAL');
    phases.push(phase);
  }
  return phases;
}

/**
 * Serves a recorded session on 127.0.0.1:<free port>. Events: `'connection'` (log),
 * `'command'` (log, args), `'ack'` (log, lsn), `'flow-done'` (log) when a flow's recorded bytes
 * were all written, `'violation'` (message).
 */
export class ReplayMaster extends EventEmitter {
  readonly name: string;
  readonly phases: Phase[];
  readonly log: ReplayConnectionLog[] = [];
  /** Protocol rules the replica broke (STARTSTABLE before SYNC, commands on flows, …). */
  readonly violations: string[] = [];
  readonly #options: ReplayMasterOptions;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #phaseIndex = -1;
  /** Per phase: flow sockets, whether SYNC / STARTSTABLE arrived. */
  #flowSockets = new Map<number, net.Socket>();
  #syncGate: Promise<void> = Promise.resolve();
  #openSyncGate: () => void = () => {};
  #stableGate: Promise<void> = Promise.resolve();
  #openStableGate: () => void = () => {};
  #hasSynced = false;
  #flowsDone = 0;

  readonly #dir: string;
  /** Milliseconds added to every absolute time of the recording (see {@link ReplayMasterOptions.timeShift}). */
  readonly timeShiftMs: number;

  private constructor(dir: string, options: ReplayMasterOptions) {
    super();
    this.name = path.basename(dir);
    this.#dir = dir;
    const conns = loadSessionDir(dir);
    const shift = options.timeShift ?? 'now';
    this.timeShiftMs = shift === 'now' ? timeShiftToNow(conns) : shift;
    this.phases = loadPhases(dir, conns, this.timeShiftMs);
    this.#options = options;
    this.#server = net.createServer((s) => this.#accept(s));
  }

  /** Loads the session in folder `dir` and listens on 127.0.0.1, on a free port. */
  static async start(dir: string, options: ReplayMasterOptions = {}): Promise<ReplayMaster> {
    const m = new ReplayMaster(dir, options);
    m.#server.listen(0, '127.0.0.1');
    await once(m.#server, 'listening');
    return m;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** `redis://[:password@]127.0.0.1:<port>` with the recording's password, if it used AUTH. */
  get url(): string {
    const auth = this.phases[0]!.auth;
    const cred = auth === undefined ? '' : auth.length === 1 ? `:${encodeURIComponent(auth[0]!)}@` : `${encodeURIComponent(auth[0]!)}:${encodeURIComponent(auth[1]!)}@`;
    return `redis://${cred}127.0.0.1:${this.port}`;
  }

  /** Log entries of flows (of `phase`, default all). */
  flowLogs(phase?: number): ReplayConnectionLog[] {
    return this.log.filter((l) => l.role === 'flow' && (phase === undefined || l.phase === phase));
  }

  /** Resolves with the event's arguments the next time `event` fires with `pred` true. */
  waitFor(event: string, pred: (...args: any[]) => boolean = () => true, timeoutMs = 10_000): Promise<any[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off(event, on);
        reject(new Error(`replay master: no '${event}' within ${timeoutMs} ms`));
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

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #violation(message: string): void {
    this.violations.push(message);
    this.emit('violation', message);
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    const log: ReplayConnectionLog = { role: 'unknown', phase: this.#phaseIndex, flowId: undefined, received: [], commands: [], acks: [], bytesSent: 0, isClosed: false };
    this.log.push(log);
    socket.on('close', () => {
      this.#sockets.delete(socket);
      log.isClosed = true;
      this.emit('close', log);
      // The master cancels the session when a flow goes (reference §7): close its other flows.
      if (log.role === 'flow' && log.phase === this.#phaseIndex) {
        for (const [id, s] of this.#flowSockets) if (id !== log.flowId) s.destroy();
      }
    });
    socket.on('error', () => {});
    this.emit('connection', log);
    let isAuthed = false;
    const reader = new CommandReader((raw) => {
      const args = raw.map((a) => a.toString('latin1'));
      log.commands.push(args);
      this.emit('command', log, args);
      const cmd = (args[0] ?? '').toUpperCase();
      const sub = (args[1] ?? '').toUpperCase();
      if (log.role === 'flow') {
        if (args.length === 3 && cmd === 'REPLCONF' && sub === 'ACK' && /^\d+$/.test(args[2]!)) {
          const lsn = BigInt(args[2]!);
          log.acks.push({ lsn, atMs: performance.now() });
          this.emit('ack', log, lsn);
        } else this.#violation(`flow ${log.flowId}: command after DFLY FLOW: ${args.join(' ')}`);
        return;
      }
      const phase = this.phases[Math.max(this.#phaseIndex, 0)]!;
      if (cmd === 'AUTH') {
        const ok = phase.auth !== undefined && args.slice(1).join(' ') === phase.auth.join(' ');
        isAuthed ||= ok;
        this.#write(socket, log, ok ? respSimple('OK') : respError('WRONGPASS invalid username-password pair or user is disabled.'));
        return;
      }
      if (phase.auth !== undefined && !isAuthed) return this.#write(socket, log, respError('NOAUTH Authentication required.'));
      if (cmd === 'DFLY' && sub === 'FLOW') return this.#startFlow(socket, log, args);
      if (log.role === 'unknown') log.role = 'main';
      this.#mainCommand(socket, log, args, cmd, sub);
    });
    socket.on('data', (chunk: Buffer) => {
      log.received.push(chunk);
      reader.push(chunk);
    });
  }

  #mainCommand(socket: net.Socket, log: ReplayConnectionLog, args: string[], cmd: string, sub: string): unknown {
    if (cmd === 'PING') return this.#write(socket, log, respSimple('PONG'));
    if (cmd === 'INFO' && args[1]?.toLowerCase() === 'server') return this.#write(socket, log, this.#infoServer());
    if (cmd === 'REPLCONF') {
      if (sub === 'ACK') return; // never answered
      if (sub === 'CAPA' && args.length === 3 && args[2]!.toLowerCase() === 'dragonfly') {
        this.#phaseIndex++;
        log.phase = this.#phaseIndex;
        const phase = this.phases[this.#phaseIndex];
        if (phase === undefined) return this.#write(socket, log, respError(`replay master: the recording has no phase ${this.#phaseIndex + 1}`));
        this.#flowSockets = new Map();
        this.#hasSynced = false;
        this.#flowsDone = 0;
        this.#syncGate = new Promise((r) => (this.#openSyncGate = r));
        this.#stableGate = new Promise((r) => (this.#openStableGate = r));
        return this.#write(socket, log, phase.capaReply);
      }
      if (sub === 'CAPA' && args.slice(2).some((a) => a.toLowerCase() === 'dragonfly')) this.#violation('capa dragonfly not alone');
      if (sub === 'CLIENT-VERSION' && this.#phaseIndex < 0) this.#violation('CLIENT-VERSION before capa dragonfly');
      return this.#write(socket, log, respSimple('OK'));
    }
    const phase = this.phases[this.#phaseIndex];
    if (cmd === 'DFLY' && (sub === 'SYNC' || sub === 'STARTSTABLE')) {
      if (phase === undefined || args[2] !== phase.syncId) return this.#write(socket, log, respError('syncid not found'));
      const connected = this.#flowSockets.size === phase.flows.size;
      if (sub === 'SYNC') {
        if (!connected || this.#isPartialPhase(phase) || this.#hasSynced) {
          this.#violation('DFLY SYNC in an invalid state');
          return this.#write(socket, log, respError('invalid state'));
        }
        this.#hasSynced = true;
        this.#openSyncGate();
        // The master writes the header before replying (§3.2); the flows' writers run meanwhile.
        return this.#write(socket, log, respSimple('OK'));
      }
      if (!connected || (!this.#isPartialPhase(phase) && !this.#hasSynced)) {
        this.#violation('DFLY STARTSTABLE in an invalid state');
        return this.#write(socket, log, respError('invalid state'));
      }
      this.#openStableGate();
      return this.#write(socket, log, respSimple('OK'));
    }
    if (this.#options.shouldServeReads !== false) {
      const reply = this.#readReply(log, args, cmd);
      if (reply !== undefined) return this.#write(socket, log, reply);
    }
    this.#write(socket, log, respError(`unknown command '${args[0]}'`));
  }

  /**
   * `INFO server` as the recorded master would answer it: the recordings never sent INFO, so its
   * `dragonfly_version` is the `df-ver` AUX field of the recording's RDB header (the same
   * `GetVersion()` text in Dragonfly), `redis_version` its `redis-ver` AUX field.
   */
  #infoServer(): Buffer {
    const flows = [...this.phases.flatMap((p) => [...p.flows.values()])];
    const aux = (name: string): string | undefined => {
      for (const f of flows) {
        const bytes = f.conn.masterBytes;
        const at = bytes.indexOf(Buffer.from([0xfa, name.length, ...Buffer.from(name, 'latin1')]));
        if (at < 0) continue;
        const lenAt = at + 2 + name.length;
        const len = bytes[lenAt]!;
        if (len < 64) return bytes.toString('latin1', lenAt + 1, lenAt + 1 + len);
      }
      return undefined;
    };
    const lines = ['# Server', `redis_version:${aux('redis-ver') ?? '6.2.11'}`];
    const dfVer = aux('df-ver');
    if (dfVer !== undefined) lines.push(`dragonfly_version:${dfVer}`);
    lines.push('redis_mode:standalone', 'arch_bits:64', '');
    const body = Buffer.from(lines.join('\r\n'), 'latin1');
    return Buffer.concat([Buffer.from(`$${body.length}\r\n`), body, Buffer.from('\r\n')]);
  }

  #expected: ExpectedState | undefined;

  /**
   * The master's final state (`expected.json.gz`) with every `pexpireat` moved by
   * {@link timeShiftMs}, as the time-shifted session leaves it. Loaded on first use.
   * @throws when the session folder has no `expected.json.gz`.
   */
  expected(): ExpectedState {
    this.#expected ??= shiftExpected(loadExpectedDir(this.#dir), this.timeShiftMs);
    return this.#expected;
  }

  #readDb = new Map<ReplayConnectionLog, string>();

  /** Reads served from the final state of the recording (see {@link ReplayMasterOptions.shouldServeReads}). */
  #readReply(log: ReplayConnectionLog, args: string[], cmd: string): Buffer | undefined {
    const expected = this.expected();
    if (cmd === 'SELECT') {
      this.#readDb.set(log, args[1] ?? '0');
      return respSimple('OK');
    }
    if (cmd === 'INFO' && args[1]?.toLowerCase() === 'keyspace') {
      // As Dragonfly's `INFO keyspace` would answer for the recording's final state.
      const lines = Object.entries(expected)
        .filter(([, keys]) => Object.keys(keys).length > 0)
        .map(([db, keys]) => `db${db}:keys=${Object.keys(keys).length},expires=${Object.values(keys).filter((k) => k.pexpireat >= 0).length},avg_ttl=0`);
      const body = Buffer.from(['# Keyspace', ...lines, ''].join('\r\n'));
      return Buffer.concat([Buffer.from(`$${body.length}\r\n`), body, Buffer.from('\r\n')]);
    }
    return replayRead(expected, args, this.#readDb.get(log) ?? '0', log, this.phases[this.#phaseIndex]?.flows.size ?? 1);
  }

  #isPartialPhase(phase: Phase): boolean {
    return phase.isPartial;
  }

  #startFlow(socket: net.Socket, log: ReplayConnectionLog, args: string[]): unknown {
    const phase = this.phases[this.#phaseIndex];
    log.role = 'flow';
    log.phase = this.#phaseIndex;
    if (phase === undefined) return this.#write(socket, log, respError('syncid not found'));
    if (args.length < 5 || args.length > 7) return this.#write(socket, log, respError('syntax error'));
    if (args[2] !== phase.replid) return this.#write(socket, log, respError('bad master id'));
    if (args[3] !== phase.syncId) return this.#write(socket, log, respError('bad sync id'));
    const flowId = Number(args[4]);
    const rec = phase.flows.get(flowId);
    if (rec === undefined) return this.#write(socket, log, respError('flow id out of range'));
    const lsn = args[5];
    if (rec.conn.requestedLsn !== undefined && lsn !== String(rec.conn.requestedLsn)) {
      return this.#write(socket, log, respError(`replay master: the recording's flow ${flowId} asked for LSN ${rec.conn.requestedLsn}, not ${lsn ?? 'none'}`));
    }
    log.flowId = flowId;
    this.#flowSockets.set(flowId, socket);
    this.#streamFlow(socket, log, rec, this.#phaseIndex).catch(() => socket.destroy());
  }

  async #streamFlow(socket: net.Socket, log: ReplayConnectionLog, rec: Phase['flows'] extends Map<number, infer V> ? V : never, phase: number): Promise<void> {
    // Not events.once: it rejects on 'error' (EPIPE when the replica closes first), which would be unhandled.
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const drop = this.#options.dropFlow;
    const dropAt = drop !== undefined && drop.flowId === log.flowId && (drop.phase ?? 0) === phase ? drop.afterBytes : Infinity;
    // When the segment being sent started, on this clock and on the recording's (`speed: 'recorded'`).
    let t0 = 0;
    let us0 = 0;
    const send = async (seg: Segment): Promise<boolean> => {
      t0 = performance.now();
      us0 = seg.frames[0]?.timeUs ?? 0;
      for (const f of seg.frames) {
        if (socket.destroyed) return false;
        if (this.#options.speed === 'recorded') {
          const wait = (f.timeUs - us0) / 1000 - (performance.now() - t0);
          if (wait > 1) await sleep(wait);
        }
        let payload = f.payload;
        if (log.bytesSent + payload.length >= dropAt) {
          payload = payload.subarray(0, dropAt - log.bytesSent);
          if (payload.length > 0) this.#write(socket, log, payload);
          socket.end();
          socket.destroySoon();
          setTimeout(() => socket.destroy(), 50).unref();
          return false;
        }
        if (!this.#write(socket, log, payload) && !socket.destroyed) {
          await Promise.race([new Promise<void>((resolve) => socket.once('drain', () => resolve())), closed]);
        }
      }
      return !socket.destroyed;
    };
    if (!(await send(rec.reply))) return;
    if (!this.phases[phase]!.isPartial) await Promise.race([this.#syncGate, closed]);
    if (!(await send(rec.sync))) return;
    await Promise.race([this.#stableGate, closed]);
    if (!(await send(rec.stable))) return;
    this.emit('flow-done', log);
    if (this.#options.closeAsRecorded && this.#options.speed === 'recorded') {
      // The recorded master closed its flows after the last frame of the connection (the replica's
      // ACKs included), not right after its own last write: closing earlier can reach the replica
      // before another flow's last record, and a replica stops every flow at the first close.
      const lastUs = rec.conn.frames.reduce((m, f) => Math.max(m, f.timeUs), us0);
      const wait = (lastUs - us0) / 1000 - (performance.now() - t0);
      if (wait > 1) await Promise.race([sleep(wait), closed]);
    }
    this.#flowsDone++;
    // At the end of the recording the master (or the proxy) closed its flows: once every flow of
    // the phase has sent everything, close those the recording says were not closed by the replica.
    if (this.#options.closeAsRecorded && this.#flowsDone === this.phases[phase]!.flows.size && phase === this.#phaseIndex) {
      for (const [id, s] of this.#flowSockets) if (this.phases[phase]!.flows.get(id)!.conn.closedBy !== 'client') s.destroy();
    }
  }

  #write(socket: net.Socket, log: ReplayConnectionLog, bytes: Buffer): boolean {
    if (socket.destroyed) return false;
    log.bytesSent += bytes.length;
    return socket.write(bytes);
  }
}
