/**
 * `kill -9` at random instants (issue "Resume and reconnect" §5): the `df2redis replicate` process
 * is killed 20 times — during the full sync, in stable sync, around FLUSHALL barriers — while a
 * non-idempotent workload (INCR, LPUSH, APPEND, HINCRBY, ZINCRBY, XADD, SETRANGE, DEL) runs on the
 * master, and started again each time. At the end the target must equal the master key by key,
 * and once a run reached stable sync every later start must have resumed (partial sync: no DFLY SYNC).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readClusterState } from '../helpers/cluster.js';
import { compareState, readState, type ExpectedState } from '../helpers/expected.js';
import { startCluster, startRedisServer } from '../helpers/redis-server.js';
import { delay, until } from '../helpers/wait.js';
import { modelMaster, workload } from '../helpers/resume-workload.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const KILLS = 20;
const FLOWS = 2;

/** The messages of a run's JSON log, for a failure message. */
function logLines(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => {
      try {
        const j = JSON.parse(l) as { msg: string; err?: string; reason?: string };
        return `${j.msg}${j.reason ? ` (${j.reason})` : ''}${j.err ? ` [${j.err}]` : ''}`;
      } catch {
        return '';
      }
    })
    .filter(Boolean)
    .join(' | ');
}

/** A deterministic pseudo-random sequence (the kill points), so a failure can be replayed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test(`kill -9 at ${KILLS} random points under a non-idempotent workload: after restarts the target equals the master, every record applied once`, { timeout: 180_000 }, async () => {
  const target = await startRedisServer();
  try {
    await killNineRuns(target.url, async () => readState(target.port));
  } finally {
    await target.stop();
  }
});

test(`the same into a 3-master Redis Cluster (per-slot checkpoints in batch scripts): every record applied once`, { timeout: 180_000 }, async () => {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
  try {
    await killNineRuns(cluster.seedUrl, async () => readClusterState(cluster));
  } finally {
    await cluster.stop();
  }
});

/**
 * Starts `df2redis replicate` into `targetUrl` {@link KILLS} times, killing it at a random instant
 * each time while the workload runs, then once more to the end; asserts the target (read by
 * `readTarget`) equals the model master and that every start after the first stable one resumed.
 */
async function killNineRuns(targetUrl: string, readTarget: () => Promise<ExpectedState>): Promise<void> {
  const t = await modelMaster(FLOWS);
  const seed = Number(process.env.DF2REDIS_KILL_SEED ?? Date.now() % 100_000);
  const random = lcg(seed);
  const syncs: number[] = [];
  t.m.on('sync', () => syncs.push(runs.length));
  const runs: Array<{ stderr: string; stable: boolean; resumed: boolean; attached: boolean }> = [];
  const state = { seq: 0 };
  let isWriting = true;
  let txid = 1000;
  // The workload: bursts of writes, a FLUSHALL on every flow now and then.
  const writer = (async () => {
    await workload(t.data, FLOWS, 200, state);
    while (isWriting) {
      await workload(t.data, FLOWS, 20 + Math.floor(random() * 60), state);
      if (random() < 0.08) {
        const id = txid++;
        await t.data.exec(0, ['FLUSHALL'], Array.from({ length: FLOWS }, (_, flow) => ({ flow, args: ['FLUSHALL'], txid: id })));
      }
      await delay(random() * 20);
    }
  })();
  const start = (): { exited: Promise<void>; kill: () => void; out: () => string; stop: () => void } => {
    const child = spawn(process.execPath, [MAIN, 'replicate', '--source', t.m.url, '--target', targetUrl, '--progress', 'none', '--log-format', 'json'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    return { exited, kill: () => child.kill('SIGKILL'), stop: () => child.kill('SIGTERM'), out: () => stderr };
  };
  try {
    for (let i = 0; i < KILLS; i++) {
      const run = start();
      // Counted from the handshake (process start-up time varies with the machine's load): the
      // first kills land in the full sync, later ones anywhere in stable sync.
      await until(() => /attached to dragonfly master/.test(run.out()), 'the handshake', 30_000);
      await delay(i < 3 ? random() * 150 : 50 + random() * 600);
      run.kill();
      await run.exited;
      const stderr = run.out();
      runs.push({ stderr, stable: /every flow is in stable sync/.test(stderr), resumed: /resuming from LSN/.test(stderr), attached: /attached to dragonfly master/.test(stderr) });
    }
    isWriting = false;
    await writer;
    const final = start();
    try {
      // Compared only once the last start is attached: the last killed run may already have
      // applied everything, and a run stopped before its handshake would say nothing about resume.
      await until(() => /attached to dragonfly master/.test(final.out()), 'the last start\'s handshake', 30_000);
      let diffs: string[] = ['not compared yet'];
      for (let tries = 0; tries < 150 && diffs.length > 0; tries++) {
        await delay(200);
        const expected = await readState(t.data.server.port);
        diffs = compareState({ 0: (await readTarget())['0'] ?? {} }, { 0: expected['0'] ?? {} });
      }
      assert.deepEqual(diffs, [], `the target equals the master (seed ${seed})`);
    } finally {
      final.stop();
      await final.exited;
    }
    runs.push({ stderr: final.out(), stable: true, resumed: /resuming from LSN/.test(final.out()), attached: true });
    // Once a run wrote a stable checkpoint, every later start that got as far as the handshake
    // resumed (a run killed earlier may have logged nothing), and the master ran no full sync.
    const firstStable = runs.findIndex((r) => r.stable);
    assert.ok(firstStable >= 0 && firstStable < KILLS, `some run reached stable sync (seed ${seed})`);
    for (let i = firstStable + 1; i < runs.length; i++) {
      if (runs[i]!.attached) assert.ok(runs[i]!.resumed, `run ${i} resumed (seed ${seed}):\n${runs[i]!.stderr.slice(0, 3000)}`);
    }
    assert.ok(syncs.every((run) => run <= firstStable), `full syncs only up to run ${firstStable}: ${syncs.join(',')} (seed ${seed})\n${runs.map((r, i) => `run ${i}: ${logLines(r.stderr)}`).join('\n')}`);
    assert.ok(t.data.lsns.every((l) => l > 100n), 'the workload ran on every flow');
  } finally {
    isWriting = false;
    await writer.catch(() => undefined);
    await t.close();
  }
}
