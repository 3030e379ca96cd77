/**
 * The source-side time limits as a user meets them: a Dragonfly master that never answers a step,
 * or stops sending in the middle of a full sync, ends `replicate` / `migrate` with exit 1 and a
 * one-line message naming the step or the flow (no hang, no stack trace).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dragonflyAux, FakeMaster, type FakeFlow, rdbHeader, rdbSelectDb, rdbString } from '../helpers/fake-master.js';
import { redisCli, startRedisServer } from '../helpers/redis-server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('replicate: a master that never answers DFLY SYNC → reconnects until --reconnect-timeout, then exit 1 naming the step (at once with 0)', { timeout: 30_000 }, async () => {
  const master = await FakeMaster.start({ numFlows: 2, isSilent: (a) => a[0] === 'DFLY' && a[1] === 'SYNC' });
  const target = await startRedisServer();
  try {
    const once = await run(['replicate', '--source', master.url, '--target', target.url, '--source-timeout', '500ms', '--reconnect-timeout', '0', '--progress', 'none', '--log-level', 'silent']);
    assert.equal(once.code, 1, once.stderr);
    assert.match(once.stderr, /^df2redis: no reply to DFLY SYNC from the master 127\.0\.0\.1:\d+ \(main connection\) within 500 ms \(--source-timeout\)\n$/);
    assert.equal(once.stdout, '');
    const syncs = master.syncCount;
    const retried = await run(['replicate', '--source', master.url, '--target', target.url, '--source-timeout', '500ms', '--reconnect-timeout', '3s', '--progress', 'none', '--log-level', 'silent']);
    assert.equal(retried.code, 1, retried.stderr);
    assert.match(
      retried.stderr,
      /^df2redis: no reply to DFLY SYNC from the master 127\.0\.0\.1:\d+ \(main connection\) within 500 ms \(--source-timeout\) \(gave up reconnecting after \d+ s: --reconnect-timeout 3000 ms\)\n$/,
    );
    assert.ok(master.syncCount - syncs >= 2, `tried again: ${master.syncCount - syncs} sessions`);
  } finally {
    await master.close();
    await target.stop();
  }
});

test('migrate --source <dragonfly>: a full sync that stalls mid-object → exit 1 naming the flow; nothing of the half object is written', { timeout: 30_000 }, async () => {
  const master = await FakeMaster.start({
    numFlows: 2,
    onSync: (m, reply) => {
      const [f0, f1] = m.flows as FakeFlow[];
      f0!.write(rdbHeader(dragonflyAux(0, 2)), rdbSelectDb(0), rdbString('whole', 'v'));
      f1!.write(rdbHeader(dragonflyAux(1, 2)), rdbSelectDb(0), rdbString('half', 'x'.repeat(100)).subarray(0, 40));
      reply();
    },
  });
  const target = await startRedisServer();
  try {
    const r = await run(['migrate', '--source', master.url, '--target', target.url, '--full-sync-stall-timeout', '1s', '--progress', 'none', '--log-level', 'silent']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^df2redis: full sync stalled: no byte from the master on any flow for \d+ ms \(--full-sync-stall-timeout 1000 ms\); waiting for flow 0 \(in its snapshot, \d+ bytes received\), flow 1 \(in its snapshot, \d+ bytes received\)\n$/);
    assert.equal((await redisCli(target.port, 'EXISTS', 'half')).trim(), '0');
  } finally {
    await master.close();
    await target.stop();
  }
});

test('replicate and migrate from a Dragonfly older than v1.27 → exit 1 naming its version and the minimum; nothing written, no replication session created', { timeout: 30_000 }, async () => {
  const master = await FakeMaster.start({ numFlows: 2, dragonflyVersion: 'df-v1.25.4' });
  const target = await startRedisServer();
  try {
    for (const job of ['replicate', 'migrate']) {
      const r = await run([job, '--source', master.url, '--target', target.url, '--progress', 'none', '--log-level', 'silent']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /^df2redis: the source 127\.0\.0\.1:\d+ runs Dragonfly df-v1\.25\.4, older than the oldest supported version v1\.27\.0: upgrade the master to v1\.27\.0 or later\n$/,
        job,
      );
    }
    assert.equal(master.mainCommands.filter((c) => c[0] === 'REPLCONF').length, 0, 'no REPLCONF reached the master');
    assert.equal((await redisCli(target.port, 'DBSIZE')).trim(), '0');
  } finally {
    await master.close();
    await target.stop();
  }
});
