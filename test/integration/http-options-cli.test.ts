/**
 * The HTTP options on the command line (issue 11 §1-2): `migrate` from a Dragonfly master serves
 * `/metrics` while it runs; a non-loopback `--http-bind` without a token, `--http-bind` without
 * `--status-port`, and `--status-port` for a file migration are usage errors (exit 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FakeMaster } from '../helpers/fake-master.js';
import { freePort, startRedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function df2redis(...args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  return df2redisWithEnv({ DF2REDIS_HTTP_TOKEN: '' }, ...args);
}

function df2redisWithEnv(env: Record<string, string>, ...args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
}

test('migrate --source redis://… --status-port serves /metrics during its full sync', { timeout: 60_000 }, async () => {
  let release: () => void = () => undefined;
  const master = await FakeMaster.start({
    numFlows: 2,
    onSync: (m, reply) => {
      for (const f of m.flows) f!.sendHeader();
      reply();
      release = () => {
        for (const f of m.flows) f!.sendFullSyncEnd();
      };
    },
  });
  const target = await startRedisServer();
  const port = await freePort();
  const run = df2redis('migrate', '--source', master.url, '--target', target.url, '--status-port', String(port), '--progress', 'none', '--log-level', 'silent');
  try {
    let text = '';
    await until(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      text = r?.status === 200 ? await r.text() : '';
      return text.includes('df2redis_phase{phase="full-sync"} 1');
    }, 'migrate in full sync on /metrics');
    assert.match(text, /# HELP df2redis_flow_snapshot_keys_total /);
    assert.match(text, /\ndf2redis_flow_phase\{flow="1",phase="full-sync"\} 1\n/);
    release();
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^migrated 0 of 0 keys/);
  } finally {
    run.child.kill('SIGKILL');
    await master.close();
    await target.stop();
  }
});

test('HTTP options: non-loopback bind without a token, a bind without --status-port, --status-port with a file: exit 2', { timeout: 60_000 }, async () => {
  const master = await FakeMaster.start({ numFlows: 1 });
  const target = await startRedisServer();
  try {
    const open = await df2redis('replicate', '--source', master.url, '--target', target.url, '--status-port', '0', '--http-bind', '0.0.0.0', '--log-level', 'silent').done;
    assert.equal(open.code, 2, open.stderr);
    assert.equal(open.stderr, 'df2redis: --http-bind 0.0.0.0 is not a loopback address: set a token with --http-token or DF2REDIS_HTTP_TOKEN, or keep the default 127.0.0.1\n');
    const noPort = await df2redis('replicate', '--source', master.url, '--target', target.url, '--http-bind', '0.0.0.0', '--http-token', 'x').done;
    assert.equal(noPort.code, 2);
    assert.match(noPort.stderr, /--http-bind configures the HTTP endpoint: give --status-port too/);
    // A token left in the environment without an endpoint configures nothing and stops nothing.
    const demo = fileURLToPath(new URL('../../../assets/demo.rdb', import.meta.url));
    const tokenOnly = await df2redisWithEnv({ DF2REDIS_HTTP_TOKEN: 'abc' }, 'migrate', '--source', demo, '--target', target.url, '--progress', 'none', '--log-level', 'silent').done;
    assert.equal(tokenOnly.code, 0, tokenOnly.stderr);
    const file = await df2redis('migrate', '--source', 'dump.rdb', '--target', target.url, '--status-port', '0').done;
    assert.equal(file.code, 2);
    assert.match(file.stderr, /--status-port serves a migration from a Dragonfly master/);
  } finally {
    await master.close();
    await target.stop();
  }
});
