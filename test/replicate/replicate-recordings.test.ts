/**
 * `replicate` end to end on every recorded Dragonfly session: the replay master serves the real
 * master bytes, df2redis replicates into a real redis-server, and the final Redis state must equal
 * the master's (`expected.json.gz`) for every key Redis 7.0 can represent. The exceptions are the
 * documented ones, asserted explicitly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer } from '../helpers/redis-server.js';
import { compareState, describeKey, readState } from '../helpers/expected.js';
import { finalAckMismatches, replicateSession, unexplainedDiffs } from '../helpers/replicate-session.js';
import { loadRecordedSession, ReplayMaster } from '../helpers/replay-master.js';
import pino from 'pino';
import { Replicator, REPLICATE_DEFAULTS } from '../../src/pipeline/replicate.js';
import { until } from '../helpers/wait.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { redisCli } from '../helpers/redis-server.js';

for (const name of ['types', 'zstd', 'flushall-uncompressed', 'auth', 'big', 'big-untagged', 'during']) {
  test(`replicate ${name}: Redis equals the master's final state except the documented exceptions`, { timeout: 180_000 }, async () => {
    const redis = await startRedisServer();
    try {
      const { summary, master } = await replicateSession(name, redis.url);
      try {
        assert.deepEqual(master.violations, [], 'protocol violations seen by the replay master');
        const expected = master.expected();
        const actual = await readState(redis.port, Object.keys(expected).map(Number));
        const diffs = compareState(actual, expected, { ttlToleranceMs: 2000 });
        // The documented exceptions: module types and member/field TTL objects are missing, nothing else.
        const { unexplained, explainedKeys, knownCount } = unexplainedDiffs(diffs, expected);
        assert.deepEqual(unexplained, [], `${name}: unexplained differences`);
        assert.equal(diffs.length - knownCount, explainedKeys.length, `${name}: every documented exception is really missing: ${explainedKeys.map(describeKey).join(', ')}`);
        // The final ACK of every flow equals what the real Dragonfly replica acknowledged last.
        assert.deepEqual(finalAckMismatches(summary, master), []);
      } finally {
        await master.close();
      }
    } finally {
      await redis.stop();
    }
  });
}

test('replicate types shifted 20 years ahead of its recording day (past 2038): the same final state, every expiry exact', { timeout: 120_000 }, async () => {
  const redis = await startRedisServer();
  try {
    const probe = await ReplayMaster.start('types');
    const age = probe.timeShiftMs;
    await probe.close();
    const twentyYears = 7305 * 86_400_000;
    const { summary, master } = await replicateSession('types', redis.url, {}, { timeShift: age + twentyYears });
    try {
      const expected = master.expected();
      const actual = await readState(redis.port, Object.keys(expected).map(Number));
      const diffs = compareState(actual, expected, { ttlToleranceMs: 2000 });
      const { unexplained, explainedKeys, knownCount } = unexplainedDiffs(diffs, expected);
      assert.deepEqual(unexplained, []);
      assert.equal(diffs.length - knownCount, explainedKeys.length);
      assert.deepEqual(finalAckMismatches(summary, master), []);
      // The fixed absolute expiry of the workload (PEXPIREAT … 1900000000008, 2030) now lies in 2050.
      const expiries = Object.values(actual).flatMap((db) => Object.values(db)).map((k) => k.pexpireat).filter((t) => t > 0);
      assert.ok(expiries.some((t) => t > Date.parse('2046-01-01')), 'some expiries lie 20 years ahead');
      assert.equal(summary.flows.length, 4);
    } finally {
      await master.close();
    }
  } finally {
    await redis.stop();
  }
});

test('replicate types --dbs 1: only db 1 is written, and MOVE j:mv 1 out of db 0 (not copied) is read back from the master', { timeout: 120_000 }, async () => {
  const redis = await startRedisServer();
  try {
    const { master, replicator } = await replicateSession('types', redis.url, { dbs: [1] });
    try {
      const expected = master.expected();
      const actual = await readState(redis.port, [0, 1, 3, 5]);
      assert.deepEqual(Object.keys(actual['0'] ?? {}), [], 'db 0 is not copied');
      const diffs = compareState({ 1: actual['1']! }, { 1: expected['1']! }, { ttlToleranceMs: 2000 });
      assert.deepEqual(unexplainedDiffs(diffs, { 1: expected['1']! }).unexplained, [], 'db 1 equals the master (documented exceptions aside)');
      assert.ok(actual['1']![Buffer.from('j:mv').toString('base64')], 'j:mv arrived in db 1 by MOVE');
      assert.ok(replicator.status().skippedOtherDbs > 0);
    } finally {
      await master.close();
    }
  } finally {
    await redis.stop();
  }
});

test('replicate flushall-uncompressed with a tiny in-flight window (every write pauses the flow): every record is acknowledged, the target equals the master', { timeout: 120_000 }, async () => {
  const redis = await startRedisServer();
  try {
    const { summary, master } = await replicateSession('flushall-uncompressed', redis.url, { maxInflightBytes: 1 });
    try {
      assert.deepEqual(master.violations, []);
      const expected = master.expected();
      const actual = await readState(redis.port, Object.keys(expected).map(Number));
      assert.deepEqual(unexplainedDiffs(compareState(actual, expected, { ttlToleranceMs: 2000 }), expected).unexplained, []);
      assert.deepEqual(finalAckMismatches(summary, master), []);
    } finally {
      await master.close();
    }
  } finally {
    await redis.stop();
  }
});

test("replicate partial: after the first phase, a cut of every source connection is followed by a reconnect that resumes from the target's checkpoint with PARTIAL on every flow at the LSNs the real replica asked for, ending with the master's final state", { timeout: 120_000 }, async () => {
  const redis = await startRedisServer();
  const conns = loadRecordedSession('partial');
  const mainIdx = conns.findIndex((c, i) => i > 0 && c.flowId === undefined);
  const phase2 = conns.slice(mainIdx + 1);
  const asked = new Map(phase2.map((f) => [f.flowId!, f.requestedLsn!]));
  const master = await ReplayMaster.start('partial');
  const proxy = await FaultProxy.start({ port: Number(new URL(master.url).port) });
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: proxy.url, target: redis.url, unsupported: 'skip' }, pino({ level: 'silent' }));
  const running = r.run();
  running.catch(() => undefined);
  try {
    const done = [new Set<number>(), new Set<number>()];
    master.on('flow-done', (log: { flowId: number; phase: number }) => done[log.phase]?.add(log.flowId));
    // The first phase as the real replica saw it: every recorded byte served and applied up to the
    // LSN it then asked for, and the checkpoint stable.
    await until(() => {
      const s = r.status();
      return done[0]!.size === 4 && s.phase === 'stable-sync' && s.flows.length === 4 && s.flows.every((f) => f.lsn === asked.get(f.id));
    }, 'the first phase applied', 60_000);
    await until(async () => (await redisCli(redis.port, 'HGET', 'df2redis:checkpoint', 'phase')).trim() === 'stable', 'a stable checkpoint');
    for (const c of proxy.connections) c.cut();
    await until(() => {
      const s = r.status();
      return s.resyncs.partial === 1 && s.phase === 'stable-sync' && done[1]!.size === 4 && s.flows.every((f) => f.lsn === f.receivedLsn);
    }, 'the reconnect, the partial sync and its journal', 60_000);
    const s = r.status();
    assert.equal(s.reconnects, 1);
    assert.deepEqual(s.resyncs, { full: 1, partial: 1 });
    assert.deepEqual(s.resumedFrom, [0, 1, 2, 3].map((f) => String(asked.get(f))), 'the LSNs the real replica asked for');
    assert.deepEqual(master.violations, []);
    await r.stop();
    await running;
    const expected = master.expected();
    const diffs = compareState(await readState(redis.port, Object.keys(expected).map(Number)), expected, { ttlToleranceMs: 2000 });
    const { unexplained, explainedKeys, knownCount } = unexplainedDiffs(diffs, expected);
    assert.deepEqual(unexplained, []);
    assert.equal(diffs.length - knownCount, explainedKeys.length);
  } finally {
    await r.stop().catch(() => undefined);
    await proxy.close();
    await master.close();
    await redis.stop();
  }
});
