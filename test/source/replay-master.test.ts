/**
 * The replay master serves every recorded session byte for byte: a client that replays the
 * recorded replica's own bytes receives exactly the recorded master bytes on every connection, and
 * the tail of each FULL flow (JOURNAL_OFFSET, EOF, token) is only sent after STARTSTABLE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { ReplayMaster, loadRecordedSession, recordedFlowReply } from '../helpers/replay-master.js';
import { DECODE_SESSIONS, type RecordedConnection } from '../helpers/recording.js';

/** A raw client connection collecting everything it receives. */
class RawClient {
  readonly socket: net.Socket;
  chunks: Buffer[] = [];
  length = 0;
  #waiters: Array<{ n: number; resolve: () => void }> = [];
  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.length += c.length;
      this.#waiters = this.#waiters.filter((w) => (this.length >= w.n ? (w.resolve(), false) : true));
    });
    this.socket.on('error', () => {});
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  /** Resolves once at least n bytes arrived (rejects after timeoutMs). */
  until(n: number, timeoutMs = 10_000): Promise<void> {
    if (this.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`got ${this.length} of ${n} bytes`)), timeoutMs);
      this.#waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
    });
  }
}

/** Replica bytes of a connection up to (excluding) the first frame containing `marker`. */
function replicaBefore(conn: RecordedConnection, marker: RegExp): { bytes: Buffer; rest: Buffer[] } {
  const before: Buffer[] = [];
  const rest: Buffer[] = [];
  let hit = false;
  for (const f of conn.frames) {
    if (f.fromMaster) continue;
    if (!hit && marker.test(f.payload.toString('latin1'))) hit = true;
    (hit ? rest : before).push(f.payload);
  }
  return { bytes: Buffer.concat(before), rest };
}

/** Master bytes of the main connection before the reply to the first replica frame matching marker. */
function masterBeforeReplica(conn: RecordedConnection, marker: RegExp): number {
  const at = conn.frames.find((f) => !f.fromMaster && marker.test(f.payload.toString('latin1')))?.timeUs ?? Infinity;
  let n = 0;
  for (const f of conn.frames) if (f.fromMaster && f.timeUs < at) n += f.payload.length;
  return n;
}

async function playPhase(master: ReplayMaster, conns: RecordedConnection[]): Promise<void> {
  const [main, ...flows] = conns;
  const m = new RawClient(master.port);
  await once(m.socket, 'connect');
  const hs = replicaBefore(main!, /DFLY (SYNC|STARTSTABLE)/);
  m.socket.write(hs.bytes);
  await m.until(masterBeforeReplica(main!, /DFLY (SYNC|STARTSTABLE)/));
  const clients: RawClient[] = [];
  for (const f of flows) {
    const c = new RawClient(master.port);
    clients.push(c);
    await once(c.socket, 'connect');
    c.socket.write(replicaBefore(f, /REPLCONF ACK/).bytes);
  }
  for (const [i, f] of flows.entries()) await clients[i]!.until(recordedFlowReply(f.masterBytes).end);
  // Nothing but the FLOW reply before DFLY SYNC.
  await new Promise((r) => setTimeout(r, 20));
  for (const [i, f] of flows.entries()) assert.equal(clients[i]!.length, recordedFlowReply(f.masterBytes).end);
  const sync = hs.rest.find((b) => /DFLY SYNC/.test(b.toString('latin1')));
  if (sync) {
    m.socket.write(sync);
    // Every flow gets its snapshot but never the EOF + token before STARTSTABLE.
    await new Promise((r) => setTimeout(r, 30));
    for (const [i, f] of flows.entries()) {
      const token = recordedFlowReply(f.masterBytes).token;
      assert.ok(!clients[i]!.bytes.includes(Buffer.concat([Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(token)])), `${f.file}: EOF before STARTSTABLE`);
    }
  }
  const stable = hs.rest.find((b) => /DFLY STARTSTABLE/.test(b.toString('latin1')));
  assert.ok(stable);
  m.socket.write(stable);
  await m.until(main!.masterBytes.length);
  for (const [i, f] of flows.entries()) {
    await clients[i]!.until(f.masterBytes.length);
    assert.ok(clients[i]!.bytes.equals(f.masterBytes), `${f.file}: flow bytes equal the recording`);
  }
  assert.ok(m.bytes.equals(main!.masterBytes), `${main!.file}: main bytes equal the recording`);
  m.socket.destroy();
  for (const c of clients) c.socket.destroy();
}

for (const name of DECODE_SESSIONS) {
  test(`replay master serves '${name}' byte for byte to the recorded replica bytes (no time shift)`, async () => {
    const master = await ReplayMaster.start(name, { timeShift: 0 });
    try {
      const conns = loadRecordedSession(name);
      const phases: RecordedConnection[][] = [];
      for (const c of conns) (c.flowId === undefined ? phases.push([c]) : phases[phases.length - 1]!.push(c));
      for (const p of phases) await playPhase(master, p);
      assert.deepEqual(master.violations, []);
    } finally {
      await master.close();
    }
  });
}

test('replay master: the FULL flows tail is in the post-STARTSTABLE segment for every session', async () => {
  for (const name of DECODE_SESSIONS) {
    const master = await ReplayMaster.start(name);
    for (const phase of master.phases) {
      for (const [id, f] of phase.flows) {
        const sync = Buffer.concat(f.sync.frames.map((x) => x.payload));
        const token = recordedFlowReply(f.conn.masterBytes).token;
        assert.ok(!sync.includes(Buffer.from(token)), `${name} flow ${id}: token before STARTSTABLE`);
        if (!phase.isPartial) assert.ok(sync.length > 0, `${name} flow ${id}: snapshot segment`);
        else assert.equal(sync.length, 0);
      }
    }
    await master.close();
  }
});

test('replay master: AUTH is required when the recording used it', async () => {
  const master = await ReplayMaster.start('auth');
  try {
    assert.match(master.url, /^redis:\/\/:s3cret@127\.0\.0\.1:\d+$/);
    const c = new RawClient(master.port);
    await once(c.socket, 'connect');
    c.socket.write('PING\r\nAUTH wrong\r\nAUTH s3cret\r\nPING\r\n');
    await c.until(5);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(c.bytes.toString(), '-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n+PONG\r\n');
    c.socket.destroy();
  } finally {
    await master.close();
  }
});

test('replay master: recorded timing keeps the recorded gaps; closeAsRecorded closes flows the master closed', async () => {
  const { DragonflySession } = await import('../../src/source/dragonfly-session.js');
  const master = await ReplayMaster.start('auth', { speed: 'recorded', closeAsRecorded: true });
  try {
    const times: number[] = [];
    const errors: Error[] = [];
    let stableAt = 0;
    const s = new DragonflySession({
      source: master.url,
      ackIntervalMs: 0,
      handler: {
        onSnapshotEntry: () => {},
        onStable: () => void (stableAt ||= performance.now()),
        onJournal: (_f, _e, lsn) => void (lsn !== undefined && times.push(performance.now())),
        onError: (e) => void errors.push(e),
      },
    });
    await s.start();
    const deadline = Date.now() + 8000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // `SET b 2` came ≈ 2.46 s after the flow's tail in the recording.
    assert.equal(times.length, 1);
    assert.ok(times[0]! - stableAt > 2000, `gap ${times[0]! - stableAt} ms`);
    // The recording's master closed the flows at the end: the session reports it, naming a flow.
    assert.match(errors[0]!.message, /^source flow \d connection to 127\.0\.0\.1:\d+: closed by the master/);
  } finally {
    await master.close();
  }
});
