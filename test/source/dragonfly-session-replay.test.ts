/**
 * DragonflySession against the replay master, for every recorded session: the replica bytes it
 * sends equal the recorded replica's (modulo listening-port, CLIENT-ID and CLIENT-VERSION), every
 * snapshot entry and journal record of every flow comes out in order with the right LSNs, and
 * every FULL flow's EOF token is verified (its journal starts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DragonflySession, type DragonflySessionHandler } from '../../src/source/dragonfly-session.js';
import { RdbDecoder } from '../../src/decode/rdb/rdb-decoder.js';
import { JournalDecoder } from '../../src/decode/journal/journal-decoder.js';
import type { JournalEntry } from '../../src/entry/entry.js';
import { ReplayMaster, loadRecordedSession, recordedFlowReply } from '../helpers/replay-master.js';
import { SESSIONS, type RecordedConnection } from '../helpers/recording.js';

interface FlowExpectation {
  snapshotPieces: number;
  blobCommands: string[];
  stableCommands: string[];
  journalOffset: bigint;
}

const EOF = Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
const cmdText = (e: JournalEntry): string => (e.op === 'command' ? `${e.db} ${e.txid} ${e.args.map((a) => a.toString('latin1')).join(' ')}` : e.op);

/** What a flow must yield, decoded straight from the recording (independently of the session). */
function expectFlow(conn: RecordedConnection): FlowExpectation {
  const fr = recordedFlowReply(conn.masterBytes);
  const out: FlowExpectation = { snapshotPieces: 0, blobCommands: [], stableCommands: [], journalOffset: conn.requestedLsn ?? 0n };
  let journalStart = fr.end;
  if (fr.kind === 'FULL') {
    const rdb = new RdbDecoder({
      onEntry: () => void out.snapshotPieces++,
      onJournal: (e) => void (e.op === 'command' && out.blobCommands.push(cmdText(e))),
      onJournalOffset: (lsn) => void (out.journalOffset = lsn),
    });
    const n = rdb.push(conn.masterBytes.subarray(fr.end));
    assert.ok(rdb.isDone);
    journalStart = fr.end + n + 40;
    assert.equal(conn.masterBytes.indexOf(Buffer.concat([EOF, Buffer.from(fr.token)]), fr.end), journalStart - 49);
  }
  new JournalDecoder((e) => void (e.op !== 'lsn' && out.stableCommands.push(cmdText(e)))).push(conn.masterBytes.subarray(journalStart));
  return out;
}

/**
 * Replica main-connection bytes with the values that legitimately differ normalized, and without the
 * `INFO server` df2redis sends right after PING (it reads the master's version; the real replica does not).
 */
function normalizeHandshake(b: Buffer): string {
  return b
    .toString('latin1')
    .replace(/^((?:AUTH [^\r]*\r\n)?PING\r\n)INFO server\r\n/, '$1')
    .replace(/REPLCONF listening-port \d+/, 'REPLCONF listening-port <port>')
    .replace(/REPLCONF CLIENT-ID [0-9a-f]{40}/, 'REPLCONF CLIENT-ID <id>')
    .replace(/REPLCONF CLIENT-VERSION \d+/, 'REPLCONF CLIENT-VERSION <v>');
}

interface Collected {
  pieces: number[];
  blobs: string[][];
  stable: string[][];
  lsns: bigint[][];
  stableAt: Array<bigint | undefined>;
  errors: Error[];
}

function collector(numFlows: number, onEntry?: (flowId: number) => void): { c: Collected; handler: DragonflySessionHandler } {
  const c: Collected = {
    pieces: Array(numFlows).fill(0),
    blobs: Array.from({ length: numFlows }, () => []),
    stable: Array.from({ length: numFlows }, () => []),
    lsns: Array.from({ length: numFlows }, () => []),
    stableAt: Array(numFlows).fill(undefined),
    errors: [],
  };
  const handler: DragonflySessionHandler = {
    onSnapshotEntry: (f) => {
      assert.equal(c.stableAt[f], undefined, 'snapshot entry after the journal started');
      c.pieces[f]!++;
      onEntry?.(f);
    },
    onJournal: (f, e, lsn) => {
      if (lsn === undefined) c.blobs[f]!.push(cmdText(e));
      else {
        c.stable[f]!.push(cmdText(e));
        c.lsns[f]!.push(lsn);
      }
    },
    onStable: (f, offset) => void (c.stableAt[f] = offset),
    onError: (err) => void c.errors.push(err),
  };
  return { c, handler };
}

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

for (const name of SESSIONS) {
  test(`session replicates the recorded '${name}' session (phase 1)`, async () => {
    const conns = loadRecordedSession(name);
    const mainIdx = conns.findIndex((c, i) => i > 0 && c.flowId === undefined);
    const phase1 = mainIdx < 0 ? conns : conns.slice(0, mainIdx);
    const [main, ...flows] = phase1;
    const numFlows = flows.length;
    const want = new Map(flows.map((f) => [f.flowId!, expectFlow(f)]));
    const master = await ReplayMaster.start(name, { timeShift: 0 });
    const { c, handler } = collector(numFlows);
    const session = new DragonflySession({ source: master.url, handler, ackIntervalMs: 0 });
    try {
      await session.start();
      assert.equal(session.state, 'stable-sync');
      assert.equal(session.syncKind, 'full');
      for (const [id, w] of want) {
        await waitUntil(() => c.stableAt[id] !== undefined && c.stable[id]!.length >= w.stableCommands.length, `flow ${id} journal`);
        assert.equal(c.pieces[id], w.snapshotPieces, `flow ${id} snapshot pieces`);
        assert.deepEqual(c.blobs[id], w.blobCommands, `flow ${id} journal blobs`);
        assert.deepEqual(c.stable[id], w.stableCommands, `flow ${id} stable journal`);
        assert.equal(c.stableAt[id], w.journalOffset, `flow ${id} JOURNAL_OFFSET (token verified)`);
        assert.deepEqual(c.lsns[id], w.stableCommands.map((_, i) => w.journalOffset + BigInt(i)), `flow ${id} LSNs`);
        assert.equal(session.flow(id).nextLsn, w.journalOffset + BigInt(w.stableCommands.length));
      }
      assert.deepEqual(c.errors, []);
      // Handshake bytes equal the recorded replica's main-connection bytes.
      const mainLog = master.log.find((l) => l.role === 'main')!;
      // …plus `INFO server` right after PING (df2redis reads the master's version; the real replica does not).
      const ours = Buffer.concat(mainLog.received).toString('latin1');
      assert.match(ours, /^(AUTH [^\r]*\r\n)?PING\r\nINFO server\r\nREPLCONF listening-port /);
      assert.equal(normalizeHandshake(Buffer.from(ours, 'latin1')), normalizeHandshake(main!.replicaBytes));
      assert.match(Buffer.concat(mainLog.received).toString('latin1'), /REPLCONF CLIENT-VERSION 4\r\n/);
      // Flow bytes: AUTH + DFLY FLOW exactly as recorded; then ACKs only when we ack.
      for (const f of flows) {
        const log = master.flowLogs(0).find((l) => l.flowId === f.flowId)!;
        const recordedHead = f.replicaBytes.toString('latin1').replace(/REPLCONF ACK \d+\r\n/g, '');
        assert.equal(Buffer.concat(log.received).toString('latin1'), recordedHead, `${f.file}: flow handshake bytes`);
      }
      // ACKs go out as the consumer decides, inline, exactly as the real replica writes them.
      for (const f of flows) session.ack(f.flowId!, session.flow(f.flowId!).nextLsn);
      await waitUntil(() => master.flowLogs(0).every((l) => l.acks.length === 1), 'acks');
      for (const f of flows) {
        const log = master.flowLogs(0).find((l) => l.flowId === f.flowId)!;
        assert.equal(log.acks[0]!.lsn, session.flow(f.flowId!).nextLsn);
        if (f.closedBy !== 'proxy-kill') {
          const recordedAcks = [...f.replicaBytes.toString('latin1').matchAll(/REPLCONF ACK (\d+)/g)];
          assert.equal(log.acks[0]!.lsn, BigInt(recordedAcks[recordedAcks.length - 1]![1]!), `${f.file}: final ACK equals the real replica's`);
        }
      }
      assert.deepEqual(master.violations, []);
    } finally {
      await session.stop();
      await master.close();
    }
  });
}

test("session: 'partial' — a cut flow stops the session naming it; resuming with the saved LSNs gets a partial sync", async () => {
  const conns = loadRecordedSession('partial');
  const mainIdx = conns.findIndex((c, i) => i > 0 && c.flowId === undefined);
  const cut = conns.find((c) => c.closedBy === 'proxy-kill')!;
  const phase2 = conns.slice(mainIdx + 1);
  const master = await ReplayMaster.start('partial', { dropFlow: { flowId: cut.flowId!, afterBytes: cut.masterBytes.length }, timeShift: 0 });
  try {
    const first = collector(4);
    const s1 = new DragonflySession({ source: master.url, handler: first.handler, ackIntervalMs: 0 });
    await s1.start();
    await waitUntil(() => first.c.errors.length > 0, 'the cut');
    assert.equal(s1.state, 'stopped');
    assert.match(first.c.errors[0]!.message, new RegExp(`flow ${cut.flowId}`));
    // Resume with what a checkpoint would hold: the LSNs the real replica asked for.
    const nextLsn: bigint[] = [];
    for (const f of phase2) nextLsn[f.flowId!] = f.requestedLsn!;
    const second = collector(4);
    const fullSyncs: string[] = [];
    const s2 = new DragonflySession({
      source: master.url,
      handler: { ...second.handler, onFullSync: (r) => void fullSyncs.push(r) },
      resume: { replid: s1.master!.replid, nextLsn },
      clientId: s1.clientId,
      ackIntervalMs: 0,
    });
    await s2.start();
    assert.equal(s2.syncKind, 'partial');
    assert.deepEqual(fullSyncs, []);
    for (const f of phase2) {
      const w = expectFlow(f);
      await waitUntil(() => second.c.stable[f.flowId!]!.length >= w.stableCommands.length, `flow ${f.flowId} journal`);
      assert.deepEqual(second.c.stable[f.flowId!], w.stableCommands);
      assert.equal(second.c.stableAt[f.flowId!], f.requestedLsn);
      assert.deepEqual(second.c.lsns[f.flowId!], w.stableCommands.map((_, i) => f.requestedLsn! + BigInt(i)));
      assert.equal(second.c.pieces[f.flowId!], 0);
    }
    // The second handshake: same bytes as the recorded reconnect (no DFLY SYNC, STARTSTABLE SYNC2).
    const mainLog = master.log.filter((l) => l.role === 'main')[1]!;
    assert.equal(normalizeHandshake(Buffer.concat(mainLog.received)), normalizeHandshake(conns[mainIdx]!.replicaBytes));
    for (const f of phase2) {
      const log = master.flowLogs(1).find((l) => l.flowId === f.flowId)!;
      assert.equal(Buffer.concat(log.received).toString('latin1'), f.replicaBytes.toString('latin1').replace(/REPLCONF ACK \d+\r\n/g, ''));
    }
    assert.deepEqual(second.c.errors, []);
    await s2.stop();
  } finally {
    await master.close();
  }
});
