/**
 * The fake master with a live data model (test/helpers/master-data.ts) behaves like a v1.40 master
 * towards a returning replica (reference §7, `DflyCmd::Flow`): it keeps each flow's last records
 * (`--shard_repl_backlog_len`), grants PARTIAL by the master's rule and serves the journal from the
 * asked LSN; anything else gets FULL, with a snapshot of the model that replicates to an equal
 * target. This is the master side that resume tests build on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { DragonflySession, type DragonflySessionHandler } from '../../src/source/dragonfly-session.js';
import { Replicator, REPLICATE_DEFAULTS } from '../../src/pipeline/replicate.js';
import { compareState, readState } from '../helpers/expected.js';
import { FakeMaster } from '../helpers/fake-master.js';
import { MasterData } from '../helpers/master-data.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

async function master(numFlows: number, backlogLen = 8192): Promise<{ data: MasterData; m: FakeMaster; close(): Promise<void> }> {
  const data = await MasterData.start(numFlows, 1n, backlogLen);
  const m = await FakeMaster.start({ numFlows, data });
  data.attach(m);
  return {
    data,
    m,
    async close() {
      await m.close();
      await data.stop();
    },
  };
}

/** A session handler that keeps the stable journal (command text and LSN) per flow. */
function journalOf(numFlows: number): { handler: DragonflySessionHandler; stable: string[][]; fullSyncs: string[]; errors: Error[] } {
  const stable: string[][] = Array.from({ length: numFlows }, () => []);
  const fullSyncs: string[] = [];
  const errors: Error[] = [];
  return {
    stable,
    fullSyncs,
    errors,
    handler: {
      onSnapshotEntry: () => undefined,
      onJournal: (f, e, lsn) => {
        if (lsn !== undefined && e.op === 'command') stable[f]!.push(`${lsn} ${e.args.map((a) => a.toString()).join(' ')}`);
      },
      onFullSync: (reason) => void fullSyncs.push(reason),
      onError: (err) => void errors.push(err),
    },
  };
}

test('fake master backlog: the master\'s rule for PARTIAL (next LSN, or within the kept records; never 0, never ahead)', async () => {
  const t = await master(1, 4);
  try {
    for (let i = 0; i < 10; i++) await t.data.exec(0, ['INCR', 'n']);
    // LSNs 1..10 journaled, 7..10 kept, next is 11.
    assert.deepEqual(t.data.backlog[0]!.map((r) => r.lsn), [7n, 8n, 9n, 10n]);
    assert.equal(t.data.isPartialPossible(0, 11n), true, 'the next LSN');
    assert.equal(t.data.isPartialPossible(0, 7n), true, 'the oldest kept');
    assert.equal(t.data.isPartialPossible(0, 6n), false, 'overrun');
    assert.equal(t.data.isPartialPossible(0, 12n), false, 'ahead of the master');
    assert.equal(t.data.isPartialPossible(0, 0n), false, 'LSN 0');
    assert.equal(t.data.isPartialPossible(0, undefined), false, 'no LSN');
  } finally {
    await t.close();
  }
});

test('fake master backlog: a replica returning within the backlog gets PARTIAL on every flow and exactly the records from its LSN', async () => {
  const t = await master(2);
  try {
    await t.data.exec(0, ['SET', 'a', '1']);
    await t.data.exec(0, ['RPUSH', 'l', 'x'], [{ flow: 1, args: ['RPUSH', 'l', 'x'] }]);
    // Written while no replica is connected: kept, served on return.
    await t.data.exec(0, ['SET', 'a', '2']);
    await t.data.exec(0, ['RPUSH', 'l', 'y'], [{ flow: 1, args: ['RPUSH', 'l', 'y'] }]);
    const j = journalOf(2);
    const s = new DragonflySession({ source: t.m.url, handler: j.handler, resume: { replid: t.m.replid, nextLsn: [2n, 3n] }, ackIntervalMs: 0 });
    try {
      await s.start();
      assert.equal(s.syncKind, 'partial');
      assert.deepEqual(j.fullSyncs, []);
      await until(() => j.stable[0]!.length === 1 && j.stable[1]!.length === 0, 'the backlog from the asked LSNs');
      assert.deepEqual(j.stable, [['2 SET a 2'], []]);
      // Live records follow on the same streams.
      await t.data.exec(0, ['RPUSH', 'l', 'z'], [{ flow: 1, args: ['RPUSH', 'l', 'z'] }]);
      await until(() => j.stable[1]!.length === 1, 'a live record');
      assert.deepEqual(j.stable[1], ['3 RPUSH l z']);
      assert.deepEqual(t.m.violations, []);
    } finally {
      await s.stop();
    }
  } finally {
    await t.close();
  }
});

test('fake master backlog: an overrun backlog answers FULL for that flow; the replica then does a full sync of the model', async () => {
  const t = await master(2, 3);
  try {
    for (let i = 0; i < 8; i++) await t.data.exec(0, ['INCR', 'n']);
    const j = journalOf(2);
    const s = new DragonflySession({ source: t.m.url, handler: j.handler, resume: { replid: t.m.replid, nextLsn: [2n, 1n] }, ackIntervalMs: 0 });
    try {
      await s.start();
      assert.equal(s.syncKind, 'full');
      assert.ok(j.fullSyncs.some((r) => /refused a partial sync on flow\(s\) 0/.test(r)), j.fullSyncs.join('; '));
    } finally {
      await s.stop();
    }
  } finally {
    await t.close();
  }
});

test('fake master backlog: a full sync serves a snapshot of the model (every type, expiries, databases) that replicates to an equal target', { timeout: 60_000 }, async () => {
  const t = await master(2);
  const redis = await startRedisServer();
  const at = String(Date.now() + 3_600_000);
  try {
    await t.data.exec(0, ['SET', 's', 'v']);
    await t.data.exec(0, ['SET', 'ttl', 'v', 'PXAT', at], [{ flow: 1, args: ['SET', 'ttl', 'v', 'PXAT', at] }]);
    await t.data.exec(0, ['HSET', 'h', 'f', '1', 'g', '2']);
    await t.data.exec(0, ['RPUSH', 'l', 'a', 'b', 'c'], [{ flow: 1, args: ['RPUSH', 'l', 'a', 'b', 'c'] }]);
    await t.data.exec(0, ['SADD', 'st', '1', '2', 'x']);
    await t.data.exec(0, ['ZADD', 'z', '1.5', 'm', '-2', 'n'], [{ flow: 1, args: ['ZADD', 'z', '1.5', 'm', '-2', 'n'] }]);
    await t.data.exec(0, ['XADD', 'x', '1-1', 'f', 'v']);
    await t.data.exec(0, ['XGROUP', 'CREATE', 'x', 'g', '0']);
    await t.data.exec(3, ['SET', 'in3', 'v'], [{ flow: 1, args: ['SET', 'in3', 'v'] }]);
    const r = new Replicator({ ...REPLICATE_DEFAULTS, source: t.m.url, target: redis.url }, pino({ level: 'silent' }));
    const running = r.run();
    running.catch(() => undefined);
    try {
      await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync' && f.lsn === t.data.lsns[f.id]), 'full sync acknowledged');
      assert.equal(r.status().flows.reduce((n, f) => n + f.snapshotKeys, 0), 8, 'every key came in the snapshot');
      // A write after the snapshot arrives by the journal.
      await t.data.exec(0, ['SET', 's', 'after']);
      await until(() => r.status().flows[0]!.lsn === t.data.lsns[0], 'the live write');
      const [actual, expected] = await Promise.all([readState(redis.port, [0, 3]), readState(t.data.server.port, [0, 3])]);
      assert.deepEqual(compareState(actual, expected, { ttlToleranceMs: 50 }), []);
    } finally {
      await r.stop().catch(() => undefined);
    }
  } finally {
    await redis.stop();
    await t.close();
  }
});
