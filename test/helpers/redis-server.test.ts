import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { startRedisServer, startCluster, redisCli, freePort } from './redis-server.js';

/** True if `pid` exists and is not a zombie (an orphan killed at its parent's exit is reaped by init later). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test('freePort returns a bindable port', async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65536);
});

test('startRedisServer: answers on 127.0.0.1 with the given config; stop kills the PID and removes the dir', async () => {
  const srv = await startRedisServer({ config: { 'hash-max-listpack-entries': '7' } });
  assert.ok(isAlive(srv.pid));
  assert.ok(existsSync(srv.dir));
  assert.equal(srv.url, `redis://127.0.0.1:${srv.port}`);
  assert.equal((await redisCli(srv.port, 'PING')).trim(), 'PONG');
  assert.equal(await redisCli(srv.port, 'CONFIG', 'GET', 'hash-max-listpack-entries'), 'hash-max-listpack-entries\n7\n');
  assert.equal(await redisCli(srv.port, 'CONFIG', 'GET', 'bind'), 'bind\n127.0.0.1\n');
  assert.equal(await redisCli(srv.port, 'CONFIG', 'GET', 'dir'), `dir\n${srv.dir}\n`);
  await redisCli(srv.port, 'SET', 'k', 'v');
  assert.equal((await redisCli(srv.port, 'GET', 'k')).trim(), 'v');
  await srv.stop();
  assert.equal(isAlive(srv.pid), false);
  assert.equal(existsSync(srv.dir), false);
  await srv.stop(); // idempotent
});

test('two servers get different ports', async () => {
  const [a, b] = await Promise.all([startRedisServer(), startRedisServer()]);
  try {
    assert.notEqual(a.port, b.port);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('startRedisServer rejects with the server output on a bad config, leaving nothing running', async () => {
  await assert.rejects(startRedisServer({ config: { 'no-such-directive': '1' } }), /no-such-directive|Bad directive/i);
});

test('startCluster: 3 masters + 1 replica each, cluster_state ok everywhere; stop kills every PID', async () => {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  const pids = cluster.nodes.map((n) => n.pid);
  try {
    assert.equal(cluster.nodes.length, 6);
    for (const n of cluster.nodes) assert.match(await redisCli(n.port, 'CLUSTER', 'INFO'), /cluster_state:ok/);
    const roles = await Promise.all(cluster.nodes.map(async (n) => (await redisCli(n.port, 'ROLE')).split('\n')[0]));
    assert.deepEqual(roles, ['master', 'master', 'master', 'slave', 'slave', 'slave']);
    assert.equal(cluster.seedUrl, cluster.nodes[0]!.url);
    // -c follows MOVED: a write through any master lands.
    await redisCli(cluster.nodes[0]!.port, '-c', 'SET', 'foo', 'bar');
    assert.equal((await redisCli(cluster.nodes[1]!.port, '-c', 'GET', 'foo')).trim(), 'bar');
  } finally {
    await cluster.stop();
  }
  for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} still alive`);
});

test('a server a process forgot to stop is killed when that process exits', async () => {
  const { execFileSync } = await import('node:child_process');
  const moduleUrl = new URL('./redis-server.js', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(moduleUrl)}); const s = await m.startRedisServer(); console.log(s.pid + ' ' + s.dir);`;
  const [pidText, dir] = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim().split(' ');
  const pid = Number(pidText);
  assert.ok(pid > 0);
  for (let i = 0; i < 50 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(isAlive(pid), false);
  assert.equal(existsSync(dir!), false);
});
