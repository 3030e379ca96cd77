/**
 * DragonflySession edge and fault cases against the programmable fake master.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DragonflySession, type DragonflySessionHandler, type SessionState } from '../../src/source/dragonfly-session.js';
import { ConnectionError, JournalError, RdbError, ReplicationError } from '../../src/errors.js';
import { UnsupportedSourceVersionError } from '../../src/source/dragonfly-versions.js';
import type { JournalEntry } from '../../src/entry/entry.js';
import {
  FakeMaster,
  type FakeFlow,
  type FakeMasterOptions,
  fullSyncEnd,
  journalBlob,
  journalCommand,
  journalLsn,
  journalPing,
  rdbHeader,
  dragonflyAux,
  rdbSelectDb,
  rdbString,
  flowTail,
} from '../helpers/fake-master.js';

interface Seen {
  events: string[];
  errors: Error[];
  states: SessionState[];
  journal: Array<{ flowId: number; entry: JournalEntry; lsn: bigint | undefined }>;
}

function recorder(extra: Partial<DragonflySessionHandler> = {}): { seen: Seen; handler: DragonflySessionHandler } {
  const seen: Seen = { events: [], errors: [], states: [], journal: [] };
  const handler: DragonflySessionHandler = {
    onSnapshotEntry: (f, e) => void seen.events.push(`${f} snap ${e.key.toString()}`),
    onJournal: (f, e, lsn) => {
      seen.journal.push({ flowId: f, entry: e, lsn });
      seen.events.push(`${f} journal ${e.op === 'command' ? e.args.map(String).join(' ') : e.op}${lsn === undefined ? '' : ` @${lsn}`}`);
    },
    onFullSyncEnd: (f) => void seen.events.push(`${f} fullsync-end`),
    onStable: (f, o) => void seen.events.push(`${f} stable ${o}`),
    onStateChange: (s) => void seen.states.push(s),
    onError: (e) => void seen.errors.push(e),
    ...extra,
  };
  return { seen, handler };
}

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function withMaster(options: FakeMasterOptions, body: (m: FakeMaster) => Promise<void>): Promise<void> {
  const m = await FakeMaster.start(options);
  try {
    await body(m);
  } finally {
    await m.close();
  }
}

function header(f: FakeFlow): Buffer {
  return rdbHeader(dragonflyAux(f.flowId, f.master.numFlows));
}

test('handshake refusals are named: not Dragonfly, a replica, NOAUTH, WRONGPASS', async () => {
  await withMaster({ capa: 'redis' }, async (m) => {
    const s = new DragonflySession({ source: m.url, handler: recorder().handler });
    await assert.rejects(s.start(), (e: unknown) => e instanceof ReplicationError && /not Dragonfly.*plain Redis sources are not supported yet/.test(e.message));
    assert.equal(s.state, 'stopped');
  });
  await withMaster({ capa: { error: 'ERR Replicating a replica is unsupported' } }, async (m) => {
    const s = new DragonflySession({ source: m.url, handler: recorder().handler });
    await assert.rejects(s.start(), /source is itself a replica.*Replicating a replica is unsupported/);
  });
  await withMaster({ password: 'pw' }, async (m) => {
    const s = new DragonflySession({ source: `redis://127.0.0.1:${m.port}`, handler: recorder().handler });
    await assert.rejects(s.start(), /requires a password.*NOAUTH/);
    const s2 = new DragonflySession({ source: `redis://:nope@127.0.0.1:${m.port}`, handler: recorder().handler });
    await assert.rejects(s2.start(), /refused the credentials.*WRONGPASS/);
  });
});

test('a master older than v1.27 is refused at the handshake, before any REPLCONF, naming its version and the minimum; the version is reported', async () => {
  await withMaster({ dragonflyVersion: 'df-v1.26.2' }, async (m) => {
    const s = new DragonflySession({ source: m.url, handler: recorder().handler });
    await assert.rejects(
      s.start(),
      (e: unknown) => e instanceof UnsupportedSourceVersionError && /runs Dragonfly df-v1\.26\.2, older than the oldest supported version v1\.27\.0/.test(e.message),
    );
    assert.equal(s.state, 'stopped');
    assert.deepEqual(m.mainCommands.map((c) => c.join(' ')), ['PING', 'INFO server'], 'no replication session was created on the master');
  });
  let seenVersion: string | undefined;
  await withMaster({ dragonflyVersion: 'df-v1.27.0' }, async (m) => {
    const s = new DragonflySession({ source: m.url, handler: recorder({ onMaster: (info) => void (seenVersion = info.dragonflyVersion?.text) }).handler });
    await s.start();
    assert.notEqual(s.state, 'stopped');
    await s.stop();
  });
  assert.equal(seenVersion, 'df-v1.27.0');
});

test('AUTH on the main connection and on every flow; protocol rules kept', async () => {
  await withMaster({ password: 'p w"x', username: 'repl', numFlows: 3 }, async (m) => {
    const { seen, handler } = recorder();
    const s = new DragonflySession({ source: m.url, handler });
    await s.start();
    await waitUntil(() => seen.events.filter((e) => / stable 1$/.test(e)).length === 3, 'stable');
    assert.deepEqual(m.violations, []);
    assert.deepEqual(m.mainCommands.map((c) => c.slice(0, 2).join(' ')), [
      'PING', 'INFO server', 'REPLCONF listening-port', 'REPLCONF capa', 'REPLCONF capa', 'REPLCONF CLIENT-ID', 'REPLCONF CLIENT-VERSION', 'DFLY SYNC', 'DFLY STARTSTABLE',
    ]);
    assert.deepEqual(m.mainCommands[4], ['REPLCONF', 'capa', 'dragonfly']);
    assert.deepEqual(seen.states, ['greeting', 'full-sync', 'stable-sync']);
    await s.stop();
    assert.equal(s.state, 'stopped');
    assert.deepEqual(seen.errors, []);
  });
});

test('STARTSTABLE waits for +OK of DFLY SYNC and every FULLSYNC_END, in any order, while reading every flow', async () => {
  let replySync: () => void = () => {};
  await withMaster(
    {
      numFlows: 3,
      onSync: (m, reply) => {
        // Flow 0 is empty and done before +OK; flow 1 finishes after +OK; flow 2 is slow.
        const [f0, f1, f2] = m.flows as FakeFlow[];
        f0!.write(header(f0!), fullSyncEnd());
        f1!.write(header(f1!), rdbSelectDb(0), rdbString('a', '1'));
        f2!.write(header(f2!));
        replySync = reply;
      },
    },
    async (m) => {
      const { seen, handler } = recorder();
      const s = new DragonflySession({ source: m.url, handler });
      const started = s.start();
      await m.waitFor('sync');
      await waitUntil(() => seen.events.includes('0 fullsync-end') && seen.events.includes('1 snap a'), 'flow 0 end');
      replySync();
      await delay(30);
      const [, f1, f2] = m.flows as FakeFlow[];
      f1!.write(rdbString('b', '2'), fullSyncEnd());
      // Flow 2 sends its snapshot a byte at a time: the other flows are still read meanwhile.
      const big = Buffer.concat([rdbSelectDb(0), rdbString('slow', 'x'.repeat(300))]);
      for (let i = 0; i < big.length; i += 37) {
        f2!.write(big.subarray(i, i + 37));
        await delay(1);
      }
      assert.ok(!m.mainCommands.some((c) => c[1] === 'STARTSTABLE'), 'STARTSTABLE before flow 2 ended');
      f2!.write(fullSyncEnd());
      await m.waitFor('startstable');
      await started;
      assert.deepEqual(seen.events.filter((e) => /snap|fullsync-end/.test(e)).sort(), [
        '0 fullsync-end', '1 fullsync-end', '1 snap a', '1 snap b', '2 fullsync-end', '2 snap slow',
      ]);
      await waitUntil(() => seen.events.filter((e) => / stable 1$/.test(e)).length === 3, 'stable');
      assert.deepEqual(m.violations, []);
      await s.stop();
    },
  );
});

test('journal blobs during full sync keep their place among snapshot entries; stable journal carries LSNs', async () => {
  await withMaster(
    {
      numFlows: 1,
      journalOffset: 7,
      onSync: (m, reply) => {
        const f = m.flows[0]!;
        f.write(
          header(f),
          rdbSelectDb(0),
          rdbString('k1', 'v1'),
          journalBlob(journalCommand(['SET', 'k1', 'v2'], { db: 0 })),
          journalBlob(journalPing()),
          rdbString('k2', 'v'),
          fullSyncEnd(),
          journalBlob(journalCommand(['DEL', 'k2'], { db: 3 })),
        );
        reply();
      },
      onStartStable: (m, reply) => {
        const f = m.flows[0]!;
        f.write(flowTail(7, f.token), journalCommand(['INCR', 'c'], { db: 1 }), journalLsn(7), journalPing(), journalCommand(['INCR', 'c'], { db: 1, txid: 9 }));
        reply();
      },
    },
    async (m) => {
      const { seen, handler } = recorder();
      const s = new DragonflySession({ source: m.url, handler });
      await s.start();
      await waitUntil(() => seen.journal.length === 5, 'journal');
      assert.deepEqual(seen.events, [
        '0 snap k1',
        '0 journal SET k1 v2',
        '0 snap k2',
        '0 fullsync-end',
        '0 journal DEL k2',
        '0 stable 7',
        '0 journal INCR c @7',
        '0 journal ping @8',
        '0 journal INCR c @9',
      ]);
      const last = seen.journal[4]!.entry;
      assert.ok(last.op === 'command' && last.db === 1 && last.txid === 9n);
      const blob = seen.journal[1]!.entry;
      assert.ok(blob.op === 'command' && blob.db === 3);
      assert.equal(s.flow(0).nextLsn, 10n);
      await s.stop();
    },
  );
});

test('a journal PING gets an immediate REPLCONF ACK from a consumer that acks on PING; ACKs are resent periodically', async () => {
  await withMaster({ numFlows: 2 }, async (m) => {
    let session: DragonflySession | undefined;
    const { seen, handler } = recorder({
      onJournal: (f, e, lsn) => {
        seen.journal.push({ flowId: f, entry: e, lsn });
        if (e.op === 'ping') session!.ack(f, lsn! + 1n);
      },
    });
    session = new DragonflySession({ source: m.url, handler, ackIntervalMs: 40 });
    await session.start();
    await waitUntil(() => session!.flows.every((f) => f.phase === 'journal'), 'journal phase');
    const f1 = m.flows[1]!;
    const t0 = performance.now();
    f1.write(journalCommand(['SET', 'x', '1']), journalLsn(1), journalPing());
    const [, lsn] = await m.waitFor('ack', (f: FakeFlow) => f.flowId === 1);
    assert.equal(lsn, 3n);
    // No ACK goes out on a flow before the consumer's first (asserted below), so this one is the
    // consumer's own; the bound only catches a stall, with room for a loaded machine.
    assert.ok(performance.now() - t0 < 1000, `ACK after ${Math.round(performance.now() - t0)} ms`);
    // Then resent every 40 ms with the same value (the master's lag view depends on it).
    await waitUntil(() => f1.acks.length >= 3, 'periodic acks', 2000);
    assert.deepEqual(f1.acks.slice(0, 3), [3n, 3n, 3n]);
    assert.equal(m.flows[0]!.acks.length, 0, 'no ACK before the consumer set one');
    assert.deepEqual(m.violations, []);
    await session.stop();
  });
});

test('FLUSHALL while flows are at different positions: each flow delivers it in its own order with its LSN', async () => {
  await withMaster({ numFlows: 2 }, async (m) => {
    const { seen, handler } = recorder();
    const s = new DragonflySession({ source: m.url, handler });
    await s.start();
    await waitUntil(() => s.flows.every((f) => f.phase === 'journal'), 'journal phase');
    const [f0, f1] = m.flows as FakeFlow[];
    f0!.write(journalCommand(['SET', 'a', '1']), journalCommand(['FLUSHALL'], { txid: 5 }));
    await waitUntil(() => seen.journal.length === 2, 'flow 0');
    f1!.write(journalCommand(['SET', 'b', '1']), journalCommand(['SET', 'c', '1']), journalCommand(['FLUSHALL'], { txid: 5 }));
    f0!.write(journalCommand(['SET', 'a', '2']));
    await waitUntil(() => seen.journal.length === 6, 'all');
    const per = (id: number): string[] => seen.journal.filter((j) => j.flowId === id).map((j) => `${j.entry.op === 'command' ? j.entry.args.join(' ') : ''}@${j.lsn}`);
    assert.deepEqual(per(0), ['SET a 1@1', 'FLUSHALL@2', 'SET a 2@3']);
    assert.deepEqual(per(1), ['SET b 1@1', 'SET c 1@2', 'FLUSHALL@3']);
    const flushes = seen.journal.filter((j) => j.entry.op === 'command' && j.entry.args[0]!.toString() === 'FLUSHALL');
    assert.deepEqual(flushes.map((j) => (j.entry.op === 'command' ? j.entry.txid : 0n)), [5n, 5n]);
    await s.stop();
  });
});

test('a flow dropped mid-snapshot stops the session with an error naming the flow', async () => {
  await withMaster(
    {
      numFlows: 2,
      onSync: (m, reply) => {
        const [f0, f1] = m.flows as FakeFlow[];
        f0!.write(header(f0!), fullSyncEnd());
        f1!.write(header(f1!), rdbSelectDb(0), rdbString('k', 'v'.repeat(100)).subarray(0, 50));
        reply();
        setTimeout(() => f1!.destroy(), 20);
      },
    },
    async (m) => {
      const { seen, handler } = recorder();
      const s = new DragonflySession({ source: m.url, handler });
      await assert.rejects(s.start(), (e: unknown) => e instanceof ConnectionError && /flow 1/.test(e.message) && /snapshot/.test(e.message));
      assert.equal(seen.errors.length, 1);
      assert.equal(s.state, 'stopped');
      assert.ok(s.error instanceof ConnectionError);
      assert.ok(!m.mainCommands.some((c) => c[1] === 'STARTSTABLE'));
    },
  );
});

test('an unknown journal opcode stops the session with a JournalError naming the flow and offset', async () => {
  await withMaster({ numFlows: 2 }, async (m) => {
    const { seen, handler } = recorder();
    const s = new DragonflySession({ source: m.url, handler });
    await s.start();
    await waitUntil(() => s.flows.every((f) => f.phase === 'journal'), 'journal phase');
    const good = journalCommand(['SET', 'a', '1']);
    m.flows[1]!.write(good, Buffer.from([0x0b, 0x01]));
    await waitUntil(() => seen.errors.length === 1, 'error');
    const err = seen.errors[0]!;
    assert.ok(err instanceof JournalError);
    assert.equal(err.source, 'flow 1');
    assert.equal(err.offset, good.length);
    assert.match(err.message, /unknown opcode 11/);
    assert.equal(s.state, 'stopped');
    await waitUntil(() => m.flows.every((f) => f!.isClosed), 'connections closed');
  });
});

test('a JOURNAL_BLOB declaring 3 GiB fails the session at once with an RdbError naming the flow and offset (FULLSYNC_END after it is not swallowed)', async () => {
  let blobAt = 0;
  await withMaster(
    {
      numFlows: 2,
      onSync: (m, reply) => {
        const [f0, f1] = m.flows as FakeFlow[];
        f0!.write(header(f0!), fullSyncEnd());
        const lead = Buffer.concat([header(f1!), rdbSelectDb(0), rdbString('k', 'v')]);
        blobAt = lead.length;
        // opcode 210, count 1, RSTR length 3 GiB (32-bit form), then a few bytes and FULLSYNC_END.
        f1!.write(lead, Buffer.from([0xd2, 0x01, 0x80, 0xc0, 0, 0, 0]), Buffer.from('SELECT'), fullSyncEnd());
        reply();
      },
    },
    async (m) => {
      const { seen, handler } = recorder();
      const s = new DragonflySession({ source: m.url, handler });
      await assert.rejects(s.start(), (e: unknown) => e instanceof RdbError && e.code === 'BAD_LENGTH' && e.source === 'flow 1');
      const err = seen.errors[0] as RdbError;
      assert.equal(seen.errors.length, 1);
      assert.match(err.message, /journal blob of 3221225472 bytes exceeds the \d+-byte bound, at byte \d+, in flow 1/);
      assert.ok(err.offset >= blobAt && err.offset <= blobAt + 3, `offset ${err.offset} is the blob's (${blobAt})`);
      assert.equal(s.state, 'stopped');
      assert.ok(!m.mainCommands.some((c) => c[1] === 'STARTSTABLE'));
    },
  );
});

test('a wrong EOF token, a missing JOURNAL_OFFSET and a wrong LSN record are replication errors', async () => {
  const cases: Array<[string, (f: FakeFlow) => Buffer, RegExp]> = [
    ['token', (f) => flowTail(1, 'f'.repeat(40) === f.token ? 'e'.repeat(40) : 'f'.repeat(40)), /flow 0: EOF token mismatch/],
    ['offset', (f) => Buffer.concat([Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(f.token)]), /flow 0: no JOURNAL_OFFSET before EOF/],
    ['lsn', (f) => Buffer.concat([flowTail(1, f.token), journalCommand(['SET', 'a', '1']), journalLsn(5)]), /flow 0: journal LSN record says 5, but the last record received was LSN 1/],
  ];
  for (const [, tail, re] of cases) {
    await withMaster(
      {
        numFlows: 1,
        onStartStable: (m, reply) => {
          m.flows[0]!.write(tail(m.flows[0]!));
          reply();
        },
      },
      async (m) => {
        const { seen, handler } = recorder();
        const s = new DragonflySession({ source: m.url, handler });
        await s.start().catch(() => {});
        await waitUntil(() => seen.errors.length === 1, 'error');
        assert.ok(seen.errors[0] instanceof ReplicationError);
        assert.match(seen.errors[0]!.message, re);
      },
    );
  }
});

test('resume: all PARTIAL → no DFLY SYNC, journal from the saved LSNs; mixed → full sync restart', async () => {
  await withMaster(
    {
      numFlows: 2,
      replid: 'a'.repeat(40),
      flowKind: (_id, lsn) => (lsn !== undefined ? 'PARTIAL' : 'FULL'),
      onStartStable: (m, reply) => {
        m.flows[0]!.write(journalCommand(['SET', 'p', '1']), journalLsn(50));
        reply();
      },
    },
    async (m) => {
      const { seen, handler } = recorder();
      const s = new DragonflySession({ source: m.url, handler, resume: { replid: 'a'.repeat(40), nextLsn: [50n, 19n] } });
      await s.start();
      assert.equal(s.syncKind, 'partial');
      assert.deepEqual(seen.states, ['greeting', 'stable-sync']);
      await waitUntil(() => seen.journal.length === 1, 'journal');
      assert.deepEqual(seen.events, ['0 stable 50', '1 stable 19', '0 journal SET p 1 @50']);
      assert.ok(!m.mainCommands.some((c) => c[1] === 'SYNC'));
      assert.deepEqual(m.violations, []);
      await s.stop();
    },
  );
  await withMaster({ numFlows: 2, replid: 'b'.repeat(40), flowKind: (id, lsn) => (lsn !== undefined && id === 0 ? 'PARTIAL' : 'FULL') }, async (m) => {
    const reasons: string[] = [];
    const flowCommands: string[] = [];
    m.on('flow', (f: FakeFlow) => flowCommands.push(`${f.flowId} ${f.requestedLsn ?? '-'}`));
    const { seen, handler } = recorder({ onFullSync: (r) => void reasons.push(r) });
    const s = new DragonflySession({ source: m.url, handler, resume: { replid: 'b'.repeat(40), nextLsn: [3n, 4n] } });
    await s.start();
    assert.equal(s.syncKind, 'full');
    assert.equal(m.syncCount, 2);
    assert.deepEqual(flowCommands.sort(), ['0 -', '0 3', '1 -', '1 4']);
    assert.equal(reasons.length, 1);
    assert.match(reasons[0]!, /refused a partial sync on flow\(s\) 1/);
    assert.deepEqual(seen.errors, []);
    await s.stop();
  });
  await withMaster({ numFlows: 1 }, async (m) => {
    const reasons: string[] = [];
    const { handler } = recorder({ onFullSync: (r) => void reasons.push(r) });
    const s = new DragonflySession({ source: m.url, handler, resume: { replid: 'c'.repeat(40), nextLsn: [3n] } });
    await s.start();
    assert.match(reasons[0]!, /replid changed/);
    await s.stop();
  });
});

test('pause() stops reading a flow and resume() restarts it', async () => {
  await withMaster({ numFlows: 1 }, async (m) => {
    const { seen, handler } = recorder();
    const s = new DragonflySession({ source: m.url, handler });
    await s.start();
    await waitUntil(() => s.flow(0).phase === 'journal', 'journal phase');
    s.flow(0).pause();
    m.flows[0]!.write(journalCommand(['SET', 'a', '1']));
    await delay(50);
    assert.equal(seen.journal.length, 0);
    assert.ok(s.flow(0).isPaused && s.flow(0).pausedForMs >= 40);
    s.flow(0).resume();
    assert.equal(s.flow(0).pausedForMs, 0);
    await waitUntil(() => seen.journal.length === 1, 'resumed');
    await s.stop();
  });
});

test('stop() during the handshake rejects start() and closes everything', async () => {
  await withMaster({ numFlows: 2, onSync: () => {} }, async (m) => {
    const { seen, handler } = recorder();
    const s = new DragonflySession({ source: m.url, handler });
    const started = s.start();
    await m.waitFor('sync');
    await s.stop();
    await assert.rejects(started, /session stopped/);
    assert.deepEqual(seen.errors, []);
    await waitUntil(() => m.flows.every((f) => f!.isClosed), 'closed');
  });
});

test('FLUSHALL in a journal blob during full sync restarts the full sync (as Dragonfly does)', async () => {
  let attempt = 0;
  await withMaster(
    {
      numFlows: 2,
      onSync: (m, reply) => {
        attempt++;
        const [f0, f1] = m.flows as FakeFlow[];
        f0!.write(header(f0!), rdbSelectDb(0), rdbString('a', '1'), fullSyncEnd());
        if (attempt === 1) {
          // Flow 1 sees the flush between two objects; nothing after it may be delivered.
          f1!.write(header(f1!), rdbSelectDb(0), rdbString('b', '1'), journalBlob(journalCommand(['FLUSHALL'], { txid: 3 })), rdbString('c', '1'), fullSyncEnd());
        } else f1!.write(header(f1!), rdbSelectDb(0), rdbString('c', '1'), fullSyncEnd());
        reply();
      },
    },
    async (m) => {
      const reasons: string[] = [];
      const { seen, handler } = recorder({ onFullSync: (r) => void reasons.push(r) });
      const s = new DragonflySession({ source: m.url, handler });
      await s.start();
      assert.equal(m.syncCount, 2);
      assert.deepEqual(reasons, ['no saved state', 'FLUSHALL in a journal blob of flow 1 during full sync']);
      const snaps = seen.events.filter((e) => / snap /.test(e));
      assert.equal(snaps.filter((e) => e === '1 snap c').length, 1, 'nothing after the flush in attempt 1');
      assert.ok(snaps.indexOf('1 snap b') < snaps.indexOf('1 snap c'));
      assert.deepEqual(snaps.slice(-2).sort(), ['0 snap a', '1 snap c']);
      assert.ok(!seen.events.some((e) => /FLUSHALL/.test(e)));
      assert.deepEqual(seen.errors, []);
      assert.deepEqual(m.violations, []);
      await s.stop();
    },
  );
});

test('a master that never answers a step fails the session with an error naming the step (handshake, DFLY FLOW, DFLY SYNC, DFLY STARTSTABLE)', async () => {
  const cases: Array<[string, (a: string[]) => boolean, RegExp]> = [
    ['capa', (a) => a[0] === 'REPLCONF' && a[2] === 'dragonfly', /^no reply to REPLCONF capa from the master 127\.0\.0\.1:\d+ \(main connection\) within 1500 ms \(--source-timeout\)$/],
    ['flow', (a) => a[1] === 'FLOW' && a[4] === '1', /^flow 1: no reply to DFLY FLOW from the master 127\.0\.0\.1:\d+ within 1500 ms/],
    ['sync', (a) => a[1] === 'SYNC', /^no reply to DFLY SYNC from the master .* within 1500 ms/],
    ['startstable', (a) => a[1] === 'STARTSTABLE', /^no reply to DFLY STARTSTABLE from the master .* within 1500 ms/],
  ];
  // 1.5 s, not less: the fake master runs in this process, and a stalled event loop must not time
  // out a step it did answer (the earlier steps of every case are answered).
  for (const [name, isSilent, re] of cases) {
    await withMaster({ numFlows: 2, isSilent }, async (m) => {
      const { seen, handler } = recorder();
      const s = new DragonflySession({ source: m.url, handler, replyTimeoutMs: 1500, fullSyncStallTimeoutMs: 0 });
      await assert.rejects(s.start(), (e: unknown) => e instanceof ReplicationError && re.test(e.message), name);
      assert.equal(seen.errors.length, 1, name);
      assert.equal(s.state, 'stopped', name);
      await waitUntil(() => m.flows.every((f) => f === undefined || f.isClosed), `${name}: flows closed`);
    });
  }
});

test('a full sync that stops moving fails with an error naming the flows still in their snapshot; a paused flow is not a stall', async () => {
  await withMaster(
    {
      numFlows: 2,
      onSync: (m, reply) => {
        const [f0, f1] = m.flows as FakeFlow[];
        f0!.write(header(f0!), fullSyncEnd());
        // Flow 1 sends half an object, then the master freezes (sockets stay open).
        f1!.write(header(f1!), rdbSelectDb(0), rdbString('k', 'v'.repeat(100)).subarray(0, 50));
        reply();
      },
    },
    async (m) => {
      const { seen, handler } = recorder();
      // 1 s: the pause below must land before the stall timer could fire, on a loaded machine too.
      const s = new DragonflySession({ source: m.url, handler, fullSyncStallTimeoutMs: 1000 });
      const started = s.start();
      started.catch(() => undefined);
      await waitUntil(() => s.flows.length === 2 && s.flow(1).bytesReceived > 0, 'flow 1 data');
      // Paused by the consumer: the silence is ours, not the master's (twice the stall timeout).
      s.flow(1).pause();
      await delay(2000);
      assert.equal(seen.errors.length, 0, 'no stall while a flow is paused');
      s.flow(1).resume();
      await assert.rejects(started, (e: unknown) => e instanceof ReplicationError && /^full sync stalled: no byte from the master on any flow for \d+ ms \(--full-sync-stall-timeout 1000 ms\); waiting for flow 0 \(snapshot done, waiting for its EOF, \d+ bytes received\), flow 1 \(in its snapshot, \d+ bytes received\)$/.test(e.message));
      assert.equal(s.state, 'stopped');
      assert.ok(!m.mainCommands.some((c) => c[1] === 'STARTSTABLE'));
      await waitUntil(() => m.flows.every((f) => f!.isClosed), 'connections closed');
    },
  );
});

test('in stable sync a master that stops answering PING on the main connection fails the session (half-open / frozen master)', async () => {
  let isFrozen = false;
  await withMaster({ numFlows: 1, isSilent: (a) => isFrozen && a[0] === 'PING' }, async (m) => {
    const { seen, handler } = recorder();
    // 1.5 s: an answered PING must not time out while this process (which runs the master) stalls.
    const s = new DragonflySession({ source: m.url, handler, replyTimeoutMs: 1500, livenessIntervalMs: 100 });
    await s.start();
    await m.waitFor('main-command', (a: string[]) => a[0] === 'PING' && m.mainCommands.filter((c) => c[0] === 'PING').length >= 3);
    assert.equal(seen.errors.length, 0, 'answered PINGs keep the session');
    isFrozen = true;
    await waitUntil(() => seen.errors.length === 1, 'liveness failure');
    assert.match(seen.errors[0]!.message, /^no reply to PING from the master .* \(main connection\) within 1500 ms/);
    assert.equal(s.state, 'stopped');
  });
});
