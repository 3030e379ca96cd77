/**
 * Passwords in URLs as a user types them (`%`, `@`, `:`, comma lists, rediss://) work and are never
 * printed; `--status-port` already in use is a usage error (exit 2), not an internal one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { FakeMaster } from '../helpers/fake-master.js';
import { freePort, redisCli, startRedisServer } from '../helpers/redis-server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const DEMO_RDB = fileURLToPath(new URL('../../../assets/demo.rdb', import.meta.url));

function df2redis(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const SECRET = 's3cr%t@x:y';

test('a target password with %, @ and : is used as typed (no URIError, exit 0)', { timeout: 60_000 }, async () => {
  const target = await startRedisServer();
  await redisCli(target.port, 'CONFIG', 'SET', 'requirepass', SECRET);
  try {
    const r = await df2redis('migrate', '--source', DEMO_RDB, '--target', `redis://:${SECRET}@127.0.0.1:${target.port}`, '--unsupported', 'skip', '--progress', 'none', '--log-level', 'info');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stderr.includes('s3cr'), `the password is not logged:\n${r.stderr}`);
    assert.ok(Number((await redisCli(target.port, '-a', SECRET, '--no-auth-warning', 'DBSIZE')).trim()) > 0);
  } finally {
    await redisCli(target.port, '-a', SECRET, '--no-auth-warning', 'CONFIG', 'SET', 'requirepass', '');
    await target.stop();
  }
});

test('invalid URLs of every shape: exit 2, and the message never shows the password', async () => {
  const shapes = [
    `redis://user:${SECRET}@127.0.0.1:0`,
    `redis://:${SECRET}@127.0.0.1:0`,
    `redis://s3cr%t@x@127.0.0.1:0`, // a lone user part is the password
    `rediss://admin:${SECRET}@127.0.0.1:0/0`,
    `redis://127.0.0.1:7000,redis://:${SECRET}@127.0.0.1:0`,
  ];
  for (const target of shapes) {
    const r = await df2redis('migrate', '--source', DEMO_RDB, '--target', target, '--progress', 'none');
    assert.equal(r.code, 2, `${target}: ${r.stderr}`);
    assert.match(r.stderr, /^df2redis: --target: invalid target URL ".*\*\*\*@127\.0\.0\.1:0.*": bad port\n$/, target);
    assert.ok(!r.stderr.includes('s3cr') && !r.stderr.includes('x:y'), `${target} leaked: ${r.stderr}`);
  }
  const r = await df2redis('replicate', '--source', `redis://:${SECRET}@127.0.0.1:0`, '--target', 'redis://127.0.0.1:1', '--progress', 'none');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /invalid source URL "redis:\/\/:\*\*\*@127\.0\.0\.1:0": bad port/);
  assert.ok(!r.stderr.includes('s3cr'), r.stderr);
});

test('a source password with % and @ reaches the master as typed; neither logs nor /status show it', { timeout: 60_000 }, async () => {
  const master = await FakeMaster.start({ numFlows: 1, password: SECRET });
  const target = await startRedisServer();
  const statusPort = await freePort();
  try {
    const { spawn } = await import('node:child_process');
    const child = spawn(
      process.execPath,
      [MAIN, 'replicate', '--source', `redis://:${SECRET}@127.0.0.1:${master.port}`, '--target', target.url, '--status-port', String(statusPort), '--progress', 'log', '--log-level', 'debug'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await master.waitFor('startstable', () => true, 20_000);
    let body = '';
    for (let i = 0; i < 100 && !body.includes('stable-sync'); i++) {
      body = await (await fetch(`http://127.0.0.1:${statusPort}/status`)).text();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(body, /stable-sync/);
    assert.ok(!body.includes('s3cr'), body);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.ok(!stderr.includes('s3cr'), stderr);
  } finally {
    await master.close();
    await target.stop();
  }
});

test('--status-port already in use: exit 2 with a message naming the option and port', { timeout: 60_000 }, async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  const master = await FakeMaster.start({ numFlows: 1 });
  const target = await startRedisServer();
  try {
    const r = await df2redis('replicate', '--source', master.url, '--target', target.url, '--status-port', String(port), '--progress', 'none', '--log-level', 'silent');
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `df2redis: --status-port ${port}: 127.0.0.1:${port} is already in use; pick another port, or 0 for any free port\n`);
  } finally {
    blocker.close();
    await master.close();
    await target.stop();
  }
});
