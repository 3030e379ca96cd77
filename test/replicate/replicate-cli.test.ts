/**
 * `df2redis replicate` as a user runs it: `/status` while it runs, SIGINT → in-flight writes
 * finished, final acknowledged LSN per flow printed, exit 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FakeMaster, rdbString } from '../helpers/fake-master.js';
import { ReplayMaster } from '../helpers/replay-master.js';
import { freePort, redisCli, startRedisServer } from '../helpers/redis-server.js';
import { recordedFinalAcks } from '../helpers/replicate-session.js';
import { until } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('replicate serves /status while running, and on SIGINT finishes, prints the acknowledged LSN of every flow and exits 0', { timeout: 60_000 }, async () => {
  const master = await ReplayMaster.start('types');
  const target = await startRedisServer();
  const statusPort = await freePort();
  try {
    const child = spawn(
      process.execPath,
      [MAIN, 'replicate', '--source', master.url, '--target', target.url, '--unsupported', 'skip', '--status-port', String(statusPort), '--progress', 'none', '--log-level', 'silent'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // 'close', not 'exit': stdout is read afterwards and may still be open at 'exit'.
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

    // Poll /status until every flow is in stable sync and has applied the whole recorded journal:
    // its LSN is the last one the real replica acknowledged in the recording (lsn === receivedLsn
    // alone can hold while part of the stable segment is still unread).
    const finalAcks = recordedFinalAcks(master);
    type Status = { phase: string; flows: Array<{ id: number; phase: string; lsn: number; receivedLsn: number; snapshotKeys: number; snapshotBytes: number }>; dropped: Record<string, number> };
    let status: Status | undefined;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`no caught-up /status; last: ${JSON.stringify(status)}; stderr: ${stderr}`);
      try {
        status = (await (await fetch(`http://127.0.0.1:${statusPort}/status`)).json()) as Status;
        if (status.phase === 'stable-sync' && status.flows.length === 4 && status.flows.every((f) => f.lsn === f.receivedLsn && BigInt(f.lsn) === finalAcks.get(f.id))) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(status.flows.map((f) => f.id), [0, 1, 2, 3]);
    assert.ok(status.flows.every((f) => f.phase === "stable-sync" && f.snapshotKeys > 0 && f.snapshotBytes > 0), JSON.stringify(status));
    assert.equal(status.dropped['JSON.SET'], 1, 'drops are counted per command');

    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    for (const f of status.flows) assert.match(stdout, new RegExp(`^flow ${f.id}: acknowledged lsn ${f.lsn} `, 'm'));
    // What the real Dragonfly replica acknowledged last on each flow of this recording.
    assert.match(stdout, /^flow 0: acknowledged lsn 51 /m);
    assert.match(stdout, /^flow 2: acknowledged lsn 19 /m);
    assert.ok(Number((await redisCli(target.port, 'DBSIZE')).trim()) > 100, 'db 0 holds the snapshot');
  } finally {
    await master.close();
    await target.stop();
  }
});

for (const mode of ['reconnect', 'no-reconnect'] as const) {
  const title =
    mode === 'no-reconnect'
      ? 'replicate --reconnect-timeout 0 exits 1 naming the connection when an idle target connection is killed in stable sync'
      : 'replicate reconnects when its target connections are killed in stable sync, resumes, and reports the reconnect (SIGTERM: exit 0)';
  test(title, { timeout: 60_000 }, async () => {
    const master = await FakeMaster.start({ numFlows: 2 });
    const target = await startRedisServer();
    let stopChild = (): void => undefined;
    try {
      const extra = mode === 'no-reconnect' ? ['--reconnect-timeout', '0'] : [];
      const child = spawn(process.execPath, [MAIN, 'replicate', '--source', master.url, '--target', target.url, '--progress', 'none', '--log-level', 'warn', '--log-format', 'json', ...extra], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      stopChild = () => child.kill('SIGKILL');
      // Every flow acknowledged its journal offset: stable sync, nothing in flight.
      const acked = new Set<number>();
      await new Promise<void>((resolve) =>
        master.on('ack', (f: { flowId: number }) => {
          acked.add(f.flowId);
          if (acked.size === 2) resolve();
        }),
      );
      const syncs = master.syncCount;
      const killed = Number((await redisCli(target.port, 'CLIENT', 'KILL', 'TYPE', 'normal')).trim());
      assert.ok(killed >= 2, `killed ${killed}`);
      if (mode === 'no-reconnect') {
        assert.equal(await exited, 1, stderr);
        assert.match(stderr, /df2redis: target \((flow [01]|checkpoint)\) connection to 127\.0\.0\.1:\d+: connection closed while idle/);
        return;
      }
      await until(() => /connection lost: reconnecting/.test(stderr), 'the reconnect logged');
      // Back in stable sync on new connections (a new handshake with the master): every flow of the
      // new session acknowledged (a periodic ACK of the old session must not count).
      await until(
        () => master.syncCount > syncs && master.flows.length === 2 && master.flows.every((f) => f !== undefined && f.acks.length > 0),
        'a new session, every flow acknowledging again',
        20_000,
      );
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.match(stdout, /^reconnects: 1, full syncs: \d+, partial syncs: \d+$/m);
    } finally {
      stopChild(); // a failed assertion must not leave it reconnecting
      await master.close();
      await target.stop();
    }
  });
}

test('replicate --on-existing fail exits 1 naming the key that already exists on the target', { timeout: 60_000 }, async () => {
  const master = await FakeMaster.start({
    numFlows: 1,
    onSync: (m, reply) => {
      const f = m.flows[0]!;
      f.sendHeader();
      f.write(rdbString('fresh', 'source'), rdbString('taken', 'source'));
      f.sendFullSyncEnd();
      reply();
    },
  });
  const target = await startRedisServer();
  try {
    await redisCli(target.port, 'SET', 'taken', 'target');
    const child = spawn(
      process.execPath,
      [MAIN, 'replicate', '--source', master.url, '--target', target.url, '--on-existing', 'fail', '--progress', 'none', '--log-level', 'silent'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /^df2redis: target refused RESTORE for key "taken": BUSYKEY/m);
    assert.equal((await redisCli(target.port, 'GET', 'taken')).trim(), 'target');
  } finally {
    await master.close();
    await target.stop();
  }
});
