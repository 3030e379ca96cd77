/**
 * The cut-over (src/pipeline/cutover.ts) against the fake master (its data in a real redis-server
 * that `CLIENT PAUSE … WRITE` really pauses) and a running replicate into a real redis-server, while
 * writes continue: success with a hold, a target that never catches up, a planted difference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { ReplicationError } from '../../src/errors.js';
import { runCutover, type CutoverCheck, type CutoverOptions } from '../../src/pipeline/cutover.js';
import { Replicator, REPLICATE_DEFAULTS } from '../../src/pipeline/replicate.js';
import { compareState, readState } from '../helpers/expected.js';
import { FakeMaster } from '../helpers/fake-master.js';
import { MasterData } from '../helpers/master-data.js';
import { freePort, redisCli, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { delay, until } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Setup {
  data: MasterData;
  m: FakeMaster;
  redis: RedisServer;
  r: Replicator;
  statusUrl: string;
  /** Writes on the master until stopped (INCR on flow 0, RPUSH on flow 1), counting what returned. */
  writer: { stop(): Promise<void>; done: () => number };
  /** The test's check: the whole target equals the model of the master (type, value, expiry). */
  check(): Promise<CutoverCheck>;
  options(extra?: Partial<CutoverOptions>): CutoverOptions;
  close(): Promise<void>;
}

async function setup(): Promise<Setup> {
  const data = await MasterData.start(2);
  const m = await FakeMaster.start({ numFlows: 2, data });
  data.attach(m);
  const redis = await startRedisServer();
  const statusPort = await freePort();
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: redis.url, statusPort }, silent);
  r.run().catch(() => undefined);
  await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync');
  let isRunning = true;
  let done = 0;
  const loop = (async () => {
    for (let i = 0; isRunning; i++) {
      await data.exec(0, ['INCR', 'c']);
      await data.exec(0, ['RPUSH', 'l', String(i)], [{ flow: 1, args: ['RPUSH', 'l', String(i)] }]);
      done++;
      await delay(2);
    }
  })();
  await until(() => done > 20, 'writes flowing');
  return {
    data,
    m,
    redis,
    r,
    statusUrl: `http://127.0.0.1:${statusPort}`,
    writer: {
      stop: async () => {
        isRunning = false;
        await loop;
      },
      done: () => done,
    },
    async check() {
      const [actual, expected] = await Promise.all([readState(redis.port, [0]), readState(data.server.port, [0])]);
      const diffs = compareState(actual, expected, { ttlToleranceMs: 1000 });
      return { differences: diffs.length, summary: diffs.join('\n') || 'equal' };
    },
    options: (extra = {}) => ({ source: m.url, statusUrl: `http://127.0.0.1:${statusPort}`, timeoutMs: 10_000, holdMs: 0, checkTimeoutMs: 20_000, ...extra }),
    async close() {
      isRunning = false;
      await redisCli(data.server.port, 'CLIENT', 'UNPAUSE').catch(() => undefined);
      await r.stop().catch(() => undefined);
      await m.close();
      await redis.stop();
      await data.stop();
    },
  };
}

test('cutover: pauses the master, waits until the target holds every journaled write, verifies, holds, then unpauses; writes go on after', { timeout: 60_000 }, async () => {
  const t = await setup();
  try {
    const lines: string[] = [];
    let lsnsAtVerdict: bigint[] = [];
    const res = await runCutover(t.options({ holdMs: 400 }), {
      check: async () => {
        const c = await t.check();
        lsnsAtVerdict = [...t.data.lsns];
        return c;
      },
      say: (l) => lines.push(l),
    });
    assert.equal(res.ok, true, res.reason);
    assert.equal(res.check?.differences, 0);
    assert.deepEqual(res.offsets, lsnsAtVerdict, 'nothing was journaled between the pause and the verdict');
    assert.deepEqual(res.acked.map((a, i) => a >= res.offsets[i]!), [true, true]);
    assert.ok(res.writePauseMs >= 400 && res.writePauseMs >= res.pauseToVerdictMs, `pause ${res.writePauseMs} ms`);
    assert.ok(lines.some((l) => /switch the application now/.test(l)));
    // The pause is lifted: the writer goes on and its writes reach the target.
    const after = t.writer.done();
    await until(() => t.writer.done() > after + 5, 'writes after the cut-over');
    await t.writer.stop();
    await until(() => t.r.status().flows.every((f) => f.lsn === t.data.lsns[f.id]), 'caught up again');
    assert.equal((await t.check()).differences, 0);
  } finally {
    await t.close();
  }
});

test('cutover: a target that never catches up → not ok, the master is unpaused at once', { timeout: 60_000 }, async () => {
  const t = await setup();
  try {
    await redisCli(t.redis.port, 'CLIENT', 'PAUSE', '20000', 'WRITE'); // the target stops applying
    // A write journaled after the pause: the target cannot hold it.
    const lsnsAtPause = [...t.data.lsns];
    await until(() => t.data.lsns.some((l, i) => l > lsnsAtPause[i]!), 'a write journaled after the target paused');
    const res = await runCutover(t.options({ timeoutMs: 600 }), { check: () => t.check(), say: () => undefined });
    assert.equal(res.ok, false);
    assert.match(res.reason!, /did not catch up within 600 ms \(flow \d at \d+ of \d+/);
    assert.equal(res.check, undefined, 'no check without a caught-up target');
    const after = t.writer.done();
    await until(() => t.writer.done() > after + 3, 'the master takes writes again');
  } finally {
    await redisCli(t.redis.port, 'CLIENT', 'UNPAUSE');
    await t.close();
  }
});

test('cutover: a difference planted on the target → not ok, named by the check, the master is unpaused', { timeout: 60_000 }, async () => {
  const t = await setup();
  try {
    await redisCli(t.redis.port, 'SET', 'planted', 'x');
    const res = await runCutover(t.options(), { check: () => t.check(), say: () => undefined });
    assert.equal(res.ok, false);
    assert.match(res.reason!, /found 1 differing key/);
    assert.match(res.check!.summary, /planted/);
    const after = t.writer.done();
    await until(() => t.writer.done() > after + 3, 'the master takes writes again');
  } finally {
    await t.close();
  }
});

test('cutover: a replication not in stable sync (or not reachable) is refused before anything is paused', async () => {
  await assert.rejects(
    runCutover({ source: 'redis://127.0.0.1:1', statusUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 100, holdMs: 0, checkTimeoutMs: 100 }, { check: async () => ({ differences: 0, summary: '' }), say: () => undefined }),
    (err: unknown) => err instanceof ReplicationError && /cannot reach the replicator's status/.test(err.message),
  );
});

test("df2redis cutover (the binary): verified with the real check against the paused master, exit 0, by /status and, without --status-url, by the replicator's checkpoint on the target; no --target: exit 2", { timeout: 90_000 }, async () => {
  const t = await setup();
  try {
    const run = (...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [MAIN, 'cutover', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr })); // not 'exit': the output may still be open
      });
    const usage = await run('--source', t.m.url, '--status-url', t.statusUrl);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /--target is required/);
    const ok = await run('--source', t.m.url, '--target', t.redis.url, '--status-url', t.statusUrl, '--hold', '300ms');
    assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}`);
    assert.match(ok.stdout, /^equal: \d+ keys compared/m);
    assert.match(ok.stdout, /^cutover verified: the target equals the source at master offsets \d+, \d+ \(flow 0: \d+, flow 1: \d+\); writes were paused \d+ ms until the verdict and \d+ ms in all \(hold 300 ms\)$/m);
    assert.match(ok.stderr, /switch the application now/);
    // Without --status-url: the progress is read from the checkpoint the replicator keeps on the target.
    const byCheckpoint = await run('--source', t.m.url, '--target', t.redis.url, '--no-hold');
    assert.equal(byCheckpoint.code, 0, `${byCheckpoint.stdout}\n${byCheckpoint.stderr}`);
    assert.match(byCheckpoint.stdout, /^cutover verified: the target equals the source at master offsets (\d+), (\d+) \(flow 0: \1, flow 1: \2\)/m);
  } finally {
    await t.close();
  }
});
