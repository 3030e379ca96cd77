/**
 * Resume and reconnect, exactly once (issue "Resume and reconnect"): the checkpoint on the target,
 * a restart that resumes by partial sync, full resyncs that converge (backlog overrun, new replid),
 * a target that is not ours refused, reconnects within a run after a cut source or target
 * connection, `--on-full-resync fail`. Against the fake master with a live data model (its backlog
 * answers PARTIAL or FULL by the master's rule) and a real redis-server; the target is compared
 * with the model key by key after every scenario, with non-idempotent commands in the workload.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ConfigError } from '../../src/errors.js';
import { Replicator, REPLICATE_DEFAULTS, type ReplicateOptions, type ReplicateSummary } from '../../src/pipeline/replicate.js';
import type { FakeMaster } from '../helpers/fake-master.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { assertEqualToModel, caughtUp, modelMaster, workload } from '../helpers/resume-workload.js';
import { redisCli, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });

function replicator(source: string, target: string, extra: Partial<ReplicateOptions> = {}): { r: Replicator; running: Promise<ReplicateSummary> } {
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source, target, ...extra }, silent);
  const running = r.run();
  running.catch(() => undefined);
  return { r, running };
}

async function checkpointOf(target: RedisServer): Promise<Record<string, string>> {
  const lines = (await redisCli(target.port, 'HGETALL', 'df2redis:checkpoint')).trim().split('\n');
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) out[lines[i]!] = lines[i + 1]!;
  return out;
}

test('the checkpoint on the target names the source, replid, flows, databases, phase and the next LSN of every flow', { timeout: 60_000 }, async () => {
  const t = await modelMaster(2);
  const target = await startRedisServer();
  try {
    const state = { seq: 0 };
    await workload(t.data, 2, 20, state);
    const { r, running } = replicator(t.m.url, target.url);
    await caughtUp(r, t.data, 'the first run caught up');
    await workload(t.data, 2, 30, state);
    await caughtUp(r, t.data, 'the journal applied');
    await r.stop();
    await running;
    const cp = await checkpointOf(target);
    assert.deepEqual(
      { ...cp },
      { version: '1', source: `127.0.0.1:${t.m.url.split(':').pop()}`, replid: t.m.replid, flows: '2', dbs: 'all', phase: 'stable', 'lsn:0': String(t.data.lsns[0]), 'lsn:1': String(t.data.lsns[1]) },
    );
    assert.equal(r.status().delivery, 'exactly-once');
    await assertEqualToModel(target, t.data);
  } finally {
    await t.close();
    await target.stop();
  }
});

test('a restart resumes from the checkpoint with a partial sync on every flow (no DFLY SYNC), applying each record once', { timeout: 60_000 }, async () => {
  const t = await modelMaster(2);
  const target = await startRedisServer();
  try {
    const state = { seq: 0 };
    await workload(t.data, 2, 40, state);
    const first = replicator(t.m.url, target.url);
    await caughtUp(first.r, t.data, 'the first run caught up');
    await first.r.stop();
    await first.running;
    const syncs = t.m.listenerCount('sync') >= 0 ? countEvents(t.m, 'sync') : undefined;
    // Written while df2redis is down: kept in the master's backlog.
    await workload(t.data, 2, 200, state);
    const before = await checkpointOf(target);
    const second = replicator(t.m.url, target.url);
    await caughtUp(second.r, t.data, 'the second run caught up');
    const s = second.r.status();
    assert.deepEqual(s.resumedFrom, [before['lsn:0'], before['lsn:1']]);
    assert.deepEqual(s.resyncs, { full: 0, partial: 1 });
    assert.equal(syncs!.count, 0, 'no DFLY SYNC: no full sync on the master');
    await workload(t.data, 2, 50, state);
    await caughtUp(second.r, t.data, 'the live journal applied');
    await second.r.stop();
    const summary = await second.running;
    assert.deepEqual(summary.resyncs, { full: 0, partial: 1 });
    await assertEqualToModel(target, t.data);
  } finally {
    await t.close();
    await target.stop();
  }
});

function countEvents(emitter: FakeMaster, name: string): { count: number } {
  const c = { count: 0 };
  emitter.on(name, () => c.count++);
  return c;
}

test('a backlog overrun: the full resync flushes the copied databases first, so keys the master deleted meanwhile are gone', { timeout: 60_000 }, async () => {
  const t = await modelMaster(2, 16);
  const target = await startRedisServer();
  try {
    const state = { seq: 0 };
    await workload(t.data, 2, 30, state);
    await t.data.exec(0, ['SET', 'doomed', '1'], [{ flow: 0, args: ['SET', 'doomed', '1'] }]);
    const first = replicator(t.m.url, target.url);
    await caughtUp(first.r, t.data, 'the first run caught up');
    await first.r.stop();
    await first.running;
    assert.equal((await redisCli(target.port, 'EXISTS', 'doomed')).trim(), '1');
    // Deleted, then 100 more writes: flow 0's backlog (16 records) no longer holds the DEL.
    await t.data.exec(0, ['DEL', 'doomed'], [{ flow: 0, args: ['DEL', 'doomed'] }]);
    await workload(t.data, 2, 100, state);
    const syncs = countEvents(t.m, 'sync');
    const second = replicator(t.m.url, target.url);
    await caughtUp(second.r, t.data, 'the second run caught up');
    assert.equal(syncs.count, 1, 'one full sync');
    assert.equal(second.r.status().resyncs.full, 1);
    assert.equal((await redisCli(target.port, 'EXISTS', 'doomed')).trim(), '0', 'the key deleted meanwhile is gone');
    await second.r.stop();
    await second.running;
    await assertEqualToModel(target, t.data);
    assert.equal((await checkpointOf(target)).phase, 'stable');
  } finally {
    await t.close();
    await target.stop();
  }
});

test('a master restarted with a new replid on the same address: full resync with flush, the target converges', { timeout: 60_000 }, async () => {
  const t = await modelMaster(2);
  const target = await startRedisServer();
  let t2: Awaited<ReturnType<typeof modelMaster>> | undefined;
  try {
    const state = { seq: 0 };
    await workload(t.data, 2, 30, state);
    await t.data.exec(0, ['SET', 'gone-after-restart', '1'], [{ flow: 0, args: ['SET', 'gone-after-restart', '1'] }]);
    const first = replicator(t.m.url, target.url);
    await caughtUp(first.r, t.data, 'the first run caught up');
    await first.r.stop();
    await first.running;
    const port = Number(t.m.url.split(':').pop());
    await t.close();
    // The master restarts empty of that key, with a new replid, on the same address.
    t2 = await modelMaster(2, 8192, { port });
    await workload(t2.data, 2, 30, state);
    const second = replicator(t2.m.url, target.url);
    await caughtUp(second.r, t2.data, 'the second run caught up');
    assert.equal(second.r.status().resyncs.full, 1);
    await second.r.stop();
    await second.running;
    assert.equal((await checkpointOf(target)).replid, t2.m.replid);
    await assertEqualToModel(target, t2.data);
  } finally {
    await t2?.close();
    await target.stop();
  }
});

test('a target holding the checkpoint of another replication is refused before anything is written; --on-full-resync fail refuses a full resync', { timeout: 60_000 }, async () => {
  const t = await modelMaster(1, 4);
  const target = await startRedisServer();
  try {
    await redisCli(target.port, 'HSET', 'df2redis:checkpoint', 'version', '1', 'source', '10.9.9.9:6379', 'replid', 'x'.repeat(40), 'flows', '1', 'dbs', 'all', 'phase', 'stable', 'lsn:0', '5');
    await t.data.exec(0, ['SET', 'a', '1']);
    const refused = replicator(t.m.url, target.url);
    await assert.rejects(refused.running, (err: unknown) => err instanceof ConfigError && /checkpoint of another replication .*source 10\.9\.9\.9:6379.*df2redis reset/s.test((err as Error).message));
    assert.equal((await redisCli(target.port, 'EXISTS', 'a')).trim(), '0', 'nothing written');
    await redisCli(target.port, 'DEL', 'df2redis:checkpoint');

    const first = replicator(t.m.url, target.url);
    await caughtUp(first.r, t.data, 'caught up');
    await first.r.stop();
    await first.running;
    for (let i = 0; i < 10; i++) await t.data.exec(0, ['INCR', 'n']); // past the 4-record backlog
    const failing = replicator(t.m.url, target.url, { onFullResync: 'fail' });
    await assert.rejects(failing.running, (err: unknown) => err instanceof ConfigError && /full resync is needed .*--on-full-resync is fail/s.test((err as Error).message));
    assert.equal((await redisCli(target.port, 'GET', 'a')).trim(), '1', 'the target kept what it held');
  } finally {
    await t.close();
    await target.stop();
  }
});

test('reconnect within a run: a cut source flow and killed target connections are followed by partial syncs, every record applied once', { timeout: 90_000 }, async () => {
  const t = await modelMaster(2);
  const target = await startRedisServer();
  const proxy = await FaultProxy.start({ port: Number(t.m.url.split(':').pop()) });
  try {
    const state = { seq: 0 };
    await workload(t.data, 2, 30, state);
    const { r, running } = replicator(proxy.url, target.url);
    await caughtUp(r, t.data, 'caught up');
    // Source side: every connection through the proxy (main and flows) is cut now.
    for (const c of proxy.connections) c.cut();
    await workload(t.data, 2, 100, state);
    await caughtUp(r, t.data, 'caught up after the source cut');
    assert.ok(r.status().reconnects >= 1, 'reconnected');
    // Target side: every client connection killed while writes flow.
    const lsnsBefore = new Map(r.status().flows.map((f) => [f.id, f.lsn]));
    const writes = workload(t.data, 2, 300, state);
    // Some of these writes applied (the LSNs before them were already past any fixed value).
    await until(() => r.status().flows.some((f) => f.lsn >= lsnsBefore.get(f.id)! + 20n), 'some of the new writes applied');
    await redisCli(target.port, 'CLIENT', 'KILL', 'TYPE', 'normal');
    await writes;
    await caughtUp(r, t.data, 'caught up after the target kill');
    const s = r.status();
    assert.ok(s.reconnects >= 2, `reconnects ${s.reconnects}`);
    assert.equal(s.resyncs.full, 1, 'only the first full sync');
    assert.ok(s.resyncs.partial >= 2, `partial syncs ${s.resyncs.partial}`);
    await r.stop();
    await running;
    await assertEqualToModel(target, t.data);
  } finally {
    await proxy.close();
    await t.close();
    await target.stop();
  }
});

for (const delivery of ['exactly-once', 'at-least-once'] as const) {
  const outcome = delivery === 'exactly-once' ? 'resumed without applying any record twice' : 'resumed, the records since the checkpoint applied again (the documented difference)';
  test(`${delivery}: a target connection cut while a batch's replies are on the way (fault proxy) is ${outcome}`, { timeout: 60_000 }, async () => {
    const t = await modelMaster(1);
    const target = await startRedisServer();
    const proxy = await FaultProxy.start({ port: target.port });
    try {
      await t.data.exec(0, ['SET', 'warm', '1']);
      const { r, running } = replicator(t.m.url, proxy.url, { delivery });
      await caughtUp(r, t.data, 'caught up');
      // The checkpoint's phase is written on another connection: done before the probe below.
      await until(async () => (await checkpointOf(target)).phase === 'stable', 'the checkpoint stable');
      const before = proxy.connections.map((c) => c.forwarded.up);
      await t.data.exec(0, ['INCR', 'probe']);
      await caughtUp(r, t.data, 'the probe applied');
      const flowConn = proxy.connections.find((c, i) => c.forwarded.up > (before[i] ?? 0))!;
      // The target applies the next batch, but its replies are cut after 2 bytes: df2redis cannot
      // know what was applied, reconnects, and must learn it from the checkpoint.
      proxy.arm({ connection: flowConn.index, direction: 'down', afterBytes: flowConn.forwarded.down + 2, action: 'cut' });
      t.data.hold();
      for (let i = 0; i < 50; i++) await t.data.exec(0, ['INCR', 'n']);
      t.data.release();
      await until(() => flowConn.fault === 'cut', 'the cut');
      await caughtUp(r, t.data, 'caught up after the reconnect');
      assert.ok(r.status().reconnects >= 1);
      const n = Number((await redisCli(target.port, 'GET', 'n')).trim());
      await r.stop();
      await running;
      if (delivery === 'at-least-once') {
        // Redis ran the whole batch before its first reply byte: all of it is applied again.
        assert.ok(n > 50, `INCR n applied again after the reconnect: ${n}`);
        return;
      }
      assert.equal(n, 50, 'each INCR applied once');
      await assertEqualToModel(target, t.data);
    } finally {
      await proxy.close();
      await t.close();
      await target.stop();
    }
  });
}

test('df2redis reset removes the checkpoint (and says what it held); the next replicate starts with a full sync and does not flush', { timeout: 60_000 }, async () => {
  const t = await modelMaster(1);
  const target = await startRedisServer();
  try {
    await t.data.exec(0, ['SET', 'a', '1']);
    const first = replicator(t.m.url, target.url);
    await caughtUp(first.r, t.data, 'caught up');
    await first.r.stop();
    await first.running;
    await redisCli(target.port, 'SET', 'users-own-key', 'kept');
    const r = await runCli(['reset', '--target', target.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^removed the checkpoint df2redis:checkpoint from 127\\.0\\.0\\.1:${target.port} \\(source 127\\.0\\.0\\.1:\\d+, replid ${t.m.replid}, stable, next LSN per flow ${t.data.lsns[0]}\\)\\n$`));
    assert.equal((await redisCli(target.port, 'EXISTS', 'df2redis:checkpoint')).trim(), '0');
    const again = await runCli(['reset', '--target', target.url]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^no checkpoint df2redis:checkpoint on 127\.0\.0\.1:\d+: nothing to do\n$/);
    // Not ours any more: a full sync, without a flush (the key the target had stays).
    const second = replicator(t.m.url, target.url);
    await caughtUp(second.r, t.data, 'caught up');
    assert.deepEqual(second.r.status().resyncs, { full: 1, partial: 0 });
    await second.r.stop();
    await second.running;
    assert.equal((await redisCli(target.port, 'GET', 'users-own-key')).trim(), 'kept');
  } finally {
    await t.close();
    await target.stop();
  }
});

async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const main = new URL('../../src/cli/main.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout, stderr };
}

test('a stop while reconnecting ends the run normally (the target holds what its checkpoint says), not as an unfinished full sync', { timeout: 60_000 }, async () => {
  const t = await modelMaster(2);
  const target = await startRedisServer();
  const proxy = await FaultProxy.start({ port: Number(t.m.url.split(':').pop()) });
  try {
    const state = { seq: 0 };
    await workload(t.data, 2, 20, state);
    const { r, running } = replicator(proxy.url, target.url);
    await caughtUp(r, t.data, 'caught up');
    for (const c of proxy.connections) c.cut();
    await until(() => r.status().phase === 'reconnecting', 'reconnecting');
    await r.stop('SIGTERM');
    const summary = await running;
    assert.equal(summary.reconnects, 1);
    await assertEqualToModel(target, t.data);
  } finally {
    await proxy.close();
    await t.close();
    await target.stop();
  }
});
