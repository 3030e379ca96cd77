import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, redisCli, type RedisServer } from '../helpers/redis-server.js';
import { collectGarbage } from '../helpers/gc.js';
import { RedisConnection } from '../../src/sink/redis-connection.js';
import { StandaloneRouter } from '../../src/sink/router.js';
import { readTargetInfo, rdbVersionForRedis } from '../../src/sink/target-info.js';
import { parseRedisUrl } from '../../src/sink/target-url.js';
import { ConnectionError, TargetCommandError } from '../../src/errors.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer({ config: { 'enable-debug-command': 'yes' } });
});
after(async () => {
  await server.stop();
});

const connect = (opts = {}) => RedisConnection.connect(parseRedisUrl(server.url), opts);

test('thousands of pipelined commands, error replies mapped to their command and key', async () => {
  const conn = await connect();
  const errors: TargetCommandError[] = [];
  conn.setErrorPolicy((e) => {
    errors.push(e);
    return true;
  });
  let acked = 0;
  for (let i = 0; i < 20_000; i++) {
    const key = Buffer.from(`k:${i}`);
    if (i % 5000 === 1234) {
      const prev = Buffer.from(`k:${i - 1}`);
      conn.send(['LPUSH', prev, 'x'], prev); // on a string: WRONGTYPE
    }
    else conn.send(['SET', key, `v${i}`], key);
    if (i % 1000 === 999) conn.whenAcked(() => acked++);
  }
  conn.send(['INCR', Buffer.from('k:1')], Buffer.from('k:1'));
  await conn.flush();
  assert.equal(acked, 20);
  assert.equal(conn.inflightBytes, 0);
  assert.equal(conn.inflightCommands, 0);
  assert.equal(conn.toleratedErrors, 5);
  assert.deepEqual(
    errors.map((e) => [e.command, e.key?.toString()]),
    [['LPUSH', 'k:1233'], ['LPUSH', 'k:6233'], ['LPUSH', 'k:11233'], ['LPUSH', 'k:16233'], ['INCR', 'k:1']],
  );
  assert.match(errors[0]!.reply, /^WRONGTYPE/);
  assert.match(errors[4]!.message, /target refused INCR for key "k:1": ERR value is not an integer/);
  assert.equal(await redisCli(server.port, 'GET', 'k:19999'), 'v19999\n');
  assert.equal(await redisCli(server.port, 'DBSIZE'), '19996\n');
  await conn.close();
});

test('an untolerated error reply rejects flush() with the key; call() parses replies in order with hot traffic', async () => {
  const conn = await connect();
  conn.send(['SET', 'n', 'abc'], Buffer.from('n'));
  conn.send(['HSET', 'n', 'f', 'v'], Buffer.from('n'));
  const info = conn.call(['GET', 'n']);
  await assert.rejects(conn.flush(), (e) => e instanceof TargetCommandError && e.command === 'HSET' && e.key?.toString() === 'n');
  assert.deepEqual(await info, Buffer.from('abc'));
  assert.deepEqual(await conn.call(['MGET', 'n', 'missing']), [Buffer.from('abc'), null]);
  await assert.rejects(conn.call(['NOSUCHCMD']), (e) => e instanceof TargetCommandError && /unknown command/.test(e.reply));
  conn.destroy();
});

test('backpressure: isBackpressured above maxInflightBytes, drain once below', async () => {
  const conn = await connect({ maxInflightBytes: 64 * 1024, maxBatchBytes: 16 * 1024 });
  const value = Buffer.alloc(1000, 'a');
  let drains = 0;
  conn.on('drain', () => drains++);
  let sent = 0;
  let pauses = 0;
  while (sent < 5000) {
    while (!conn.isBackpressured && sent < 5000) {
      conn.send(['SET', `b:${sent}`, value]);
      sent++;
    }
    if (conn.isBackpressured) {
      pauses++;
      assert.ok(conn.inflightBytes > 64 * 1024);
      await new Promise<void>((r) => conn.once('drain', r));
      assert.ok(!conn.isBackpressured);
      assert.ok(conn.inflightBytes <= 64 * 1024);
    }
  }
  await conn.flush();
  assert.ok(pauses >= 50, `paused ${pauses} times`);
  assert.equal(drains, pauses);
  assert.equal(await redisCli(server.port, 'EXISTS', 'b:4999'), '1\n');
  await conn.close();
});

test('SELECT only when the database changes', async () => {
  await redisCli(server.port, 'CONFIG', 'RESETSTAT');
  const router = await StandaloneRouter.connect({ ...parseRedisUrl(server.url), db: 2 });
  const conn = router.all()[0]!;
  assert.equal(conn.db, 2);
  const dbs = [0, 0, 1, 15, 15, 2, 0];
  for (const [i, db] of dbs.entries()) router.connectionFor(Buffer.from('s'), db).send(['SET', `s${i}`, String(db)]);
  await router.flush();
  const stats = await redisCli(server.port, 'INFO', 'commandstats');
  // SELECT 2 at connect, then 2→0, 0→1, 1→15, 15→2, 2→0.
  assert.match(stats, /cmdstat_select:calls=6,/);
  for (const [i, db] of dbs.entries()) assert.equal(await redisCli(server.port, '-n', String(db), 'GET', `s${i}`), `${db}\n`);
  await router.close();
});

test('readTargetInfo reads version, RDB version, cluster flag and command table', async () => {
  const conn = await connect();
  const info = await readTargetInfo(conn);
  assert.match(info.redisVersion, /^\d+\.\d+\.\d+/);
  assert.equal(info.rdbVersion, rdbVersionForRedis(info.redisVersion));
  assert.equal(info.clusterEnabled, false);
  assert.ok(info.hasCommand('SET') && info.hasCommand('xsetid'));
  assert.ok(!info.hasCommand('json.set'));
  assert.deepEqual([rdbVersionForRedis('6.2.14'), rdbVersionForRedis('7.0.15'), rdbVersionForRedis('7.2.4'), rdbVersionForRedis('7.4.1'), rdbVersionForRedis('8.2.0')], [9, 10, 11, 12, 12]);
  await conn.close();
});

test('AUTH with user:password, refused AUTH is a ConnectionError', async () => {
  const s = await startRedisServer();
  try {
    await redisCli(s.port, 'ACL', 'SETUSER', 'alice', 'on', '>wonder', '~*', '+@all');
    await redisCli(s.port, 'CONFIG', 'SET', 'requirepass', 'sekret');
    const c1 = await RedisConnection.connect(parseRedisUrl(`redis://alice:wonder@127.0.0.1:${s.port}/1`));
    assert.deepEqual(await c1.call(['ACL', 'WHOAMI']), Buffer.from('alice'));
    await c1.close();
    const c2 = await RedisConnection.connect(parseRedisUrl(`redis://:sekret@127.0.0.1:${s.port}`));
    assert.equal(await c2.call(['PING']), 'PONG');
    await c2.close();
    await assert.rejects(RedisConnection.connect(parseRedisUrl(`redis://alice:wrong@127.0.0.1:${s.port}`)), (e) => e instanceof ConnectionError && /AUTH refused/.test(e.message));
  } finally {
    await s.stop();
  }
});

test('a connection that dies with commands in flight fails flush() with a ConnectionError', async () => {
  const s = await startRedisServer({ config: { 'enable-debug-command': 'yes' } });
  const conn = await RedisConnection.connect(parseRedisUrl(s.url));
  conn.send(['DEBUG', 'SLEEP', '5']); // far longer than the kill's delay, however late its timer fires
  conn.send(['SET', 'a', 'b']);
  const done = conn.flush();
  setTimeout(() => process.kill(s.pid, 'SIGKILL'), 50);
  await assert.rejects(done, (e) => e instanceof ConnectionError && /2 command\(s\) unacknowledged/.test(e.message));
  await assert.rejects(conn.call(['PING']), ConnectionError);
  await s.stop();
});

test('large arguments (passed to the socket by reference) arrive intact among small commands', async () => {
  const conn = await connect({ maxInflightBytes: 1024 * 1024 });
  const big = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
  for (let r = 0; r < 5; r++) {
    conn.send(['SET', `small:${r}`, 'x']);
    conn.send(['SET', `big:${r}`, big]);
    conn.send(['APPEND', `big:${r}`, big.subarray(0, 70_000)]);
  }
  assert.ok(conn.isBackpressured);
  await conn.flush();
  const got = (await conn.call(['GET', 'big:4'])) as Buffer;
  assert.equal(got.length, big.length + 70_000);
  assert.ok(got.subarray(0, big.length).equals(big) && got.subarray(big.length).equals(big.subarray(0, 70_000)));
  assert.deepEqual(await conn.call(['GET', 'small:4']), Buffer.from('x'));
  await conn.close();
});

test('a connection whose commands are never all answered (CLIENT PAUSE) reuses its slabs once written, and every value arrives intact', async () => {
  const conn = await connect({ maxInflightBytes: 256 * 1024 * 1024 });
  const slabsBefore = conn.slabsAllocated;
  await redisCli(server.port, 'CLIENT', 'PAUSE', '700', 'WRITE');
  const value = (i: number): Buffer => Buffer.alloc(1000, 97 + (i % 26));
  // ~24 MB while the server answers nothing: without reuse, ~24 fresh 1 MiB slabs.
  for (let i = 0; i < 24_000; i++) {
    conn.send(['SET', `paused:${i}`, value(i)]);
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  await conn.flush();
  const slabs = conn.slabsAllocated - slabsBefore;
  assert.ok(slabs <= 8, `${slabs} slabs for ~24 MB written while unanswered`);
  for (const i of [0, 1, 4999, 12_345, 23_999]) assert.deepEqual(await conn.call(['GET', `paused:${i}`]), value(i), `paused:${i}`);
  const digest = await conn.call(['EVAL', "local n=0 for i=0,23999 do if redis.call('GET','paused:'..i) == string.rep(string.char(97 + i % 26), 1000) then n=n+1 end end return n", '0']);
  assert.equal(digest, 24_000);
  await conn.close();
});

test('a refusal on the source read-back connection names the source connection, not "target"', async () => {
  // The real redis-server stands in for the master the read-back connection talks to.
  const conn = await RedisConnection.connect(parseRedisUrl(`redis://127.0.0.1:${server.port}`), { role: 'source read-back' });
  try {
    await redisCli(server.port, 'SET', 'rb:s', 'x');
    await assert.rejects(conn.call(['LRANGE', 'rb:s', 0, -1]), (e: unknown) => {
      assert.ok(e instanceof TargetCommandError);
      assert.equal(e.role, 'source read-back');
      assert.match(e.message, new RegExp(`^source read-back connection to 127\\.0\\.0\\.1:${server.port} refused LRANGE: WRONGTYPE`));
      assert.doesNotMatch(e.message, /target/);
      return true;
    });
  } finally {
    await conn.close();
  }
});

/** The `addr=` of this connection as the server sees it (`CLIENT INFO`): our local `host:port`. */
async function localAddr(conn: RedisConnection): Promise<string> {
  const info = String(await conn.call(['CLIENT', 'INFO']));
  return /addr=(\S+)/.exec(info)![1]!;
}

test('an idle connection closed by the server (CLIENT KILL) is a fatal ConnectionError naming it, not silence', async () => {
  const conn = await connect({ role: 'target (flow 3)' });
  const router = new StandaloneRouter(conn);
  const errors: Error[] = [];
  router.on('error', (e: Error) => errors.push(e));
  conn.send(['SET', 'idle:a', '1']);
  await conn.flush(); // nothing in flight from here on
  const addr = await localAddr(conn);
  const closed = new Promise((r) => conn.once('close', r));
  assert.equal(await redisCli(server.port, 'CLIENT', 'KILL', 'ADDR', addr), '1\n');
  await closed;
  assert.equal(errors.length, 1);
  const err = errors[0]!;
  assert.ok(err instanceof ConnectionError, String(err));
  assert.equal(err.role, 'target (flow 3)');
  assert.equal(err.peer, `127.0.0.1:${server.port}`);
  assert.match(err.message, /^target \(flow 3\) connection to 127\.0\.0\.1:\d+: connection closed while idle/);
  // Later writes of that flow are not silently dropped: flush reports the closed connection.
  router.connectionFor(Buffer.from('idle:b'), 0).send(['SET', 'idle:b', '1']);
  await assert.rejects(router.flush(), (e) => e === err);
  assert.equal(await redisCli(server.port, 'EXISTS', 'idle:b'), '0\n');
});

test("a server-side idle timeout (CONFIG SET timeout) closing the connection is reported the same way", { timeout: 20_000 }, async () => {
  const s = await startRedisServer({ config: { timeout: '1' } });
  try {
    const conn = await RedisConnection.connect(parseRedisUrl(s.url), { role: 'target (flow 0)' });
    const failed = new Promise<Error>((resolve) => conn.once('error', resolve));
    const err = await failed;
    assert.ok(err instanceof ConnectionError && /flow 0/.test(err.message) && /closed while idle/.test(err.message), String(err));
  } finally {
    await s.stop();
  }
});

test('close() and destroy() are not reported as errors', async () => {
  const errors: Error[] = [];
  const a = await connect();
  a.on('error', (e: Error) => errors.push(e));
  a.send(['SET', 'c:a', '1']);
  await a.close();
  const b = await connect();
  b.on('error', (e: Error) => errors.push(e));
  await b.call(['PING']);
  const closed = new Promise((r) => b.once('close', r));
  b.destroy();
  await closed;
  assert.deepEqual(errors, []);
});

test('TCP keepalive is on for target sockets (the kernel runs a keepalive timer on the socket)', async () => {
  const conn = await connect();
  try {
    const addr = await localAddr(conn);
    const localPort = addr.slice(addr.lastIndexOf(':') + 1);
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${localPort} )`], { encoding: 'utf8' });
    assert.match(out, /timer:\(keepalive,/, out);
    const off = await connect({ keepAliveMs: 0 });
    const offAddr = await localAddr(off);
    const offOut = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${offAddr.slice(offAddr.lastIndexOf(':') + 1)} )`], { encoding: 'utf8' });
    assert.doesNotMatch(offOut, /keepalive/, 'keepAliveMs: 0 turns it off (the check above is meaningful)');
    await off.close();
  } finally {
    await conn.close();
  }
});

test('an exception thrown by a callback run from a socket event stops the connection through its error path (no uncaught exception)', async () => {
  const conn = await connect();
  const errors: Error[] = [];
  conn.on('error', (e: Error) => errors.push(e));
  const boom = new TypeError('boom in an acknowledgement marker');
  conn.send(['SET', 'cb:k', 'v'], Buffer.from('cb:k'));
  conn.whenAcked(() => {
    throw boom;
  });
  // The marker runs from the socket's 'data' event when the reply arrives.
  await assert.rejects(conn.flush(), (e: unknown) => e === boom);
  assert.deepEqual(errors, [boom]);
  await assert.rejects(conn.flush(), (e: unknown) => e === boom, 'the connection stays failed');
  assert.equal(await redisCli(server.port, 'GET', 'cb:k'), 'v\n');
});

test('acknowledged commands do not keep their keys (views of the source read chunks) alive', async () => {
  const conn = await connect();
  // Each key a view of its own 64 KiB chunk, as journal keys are views of the source socket's reads.
  const chunks = new Set<WeakRef<ArrayBuffer>>();
  const sendBurst = (): void => {
    for (let c = 0; c < 704; c++) {
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      chunks.add(new WeakRef(chunk.buffer));
      for (let i = 0; i < 100; i++) {
        const key = chunk.subarray(i * 16, i * 16 + 8);
        conn.send(['SET', key, 'v'], key);
      }
    }
  };
  sendBurst(); // 70,400 commands in flight: the ring grows as in a burst (and shrinks back once they are answered)
  await conn.flush();
  assert.equal(conn.inflightCommands, 0);
  await new Promise((r) => setImmediate(r));
  collectGarbage();
  const alive = [...chunks].filter((w) => w.deref() !== undefined).length;
  assert.equal(alive, 0, `${alive} of ${chunks.size} read chunks still referenced after their commands were answered`);
  // The ring, back to its first size, still names a refused command's key.
  const errors: TargetCommandError[] = [];
  conn.setErrorPolicy((e) => errors.push(e) > 0);
  sendBurst();
  const key = Buffer.from('k:list');
  conn.send(['LPUSH', key, 'x'], key);
  conn.send(['INCR', key], key);
  await conn.flush();
  assert.deepEqual(errors.map((e) => [e.command, e.key?.toString()]), [['INCR', 'k:list']]);
  await conn.close();
});


test('setMaxInflightBytes: raising the bound above what is in flight ends backpressure at once (drain); lowering it applies to the next writes', async () => {
  const conn = await connect({ maxInflightBytes: 1024 * 1024 });
  const big = Buffer.alloc(600 * 1024, 7);
  conn.send(['SET', 'win:a', big]);
  conn.send(['SET', 'win:b', big]);
  assert.ok(conn.isBackpressured, '1.2 MiB in flight above a 1 MiB bound');
  let drained = 0;
  conn.once('drain', () => drained++);
  conn.setMaxInflightBytes(4 * 1024 * 1024);
  assert.equal(drained, 1, 'drain emitted by the raise itself, before any reply');
  assert.ok(!conn.isBackpressured);
  await conn.flush();
  conn.setMaxInflightBytes(512 * 1024);
  conn.send(['SET', 'win:c', big]);
  assert.ok(conn.isBackpressured, 'the lowered bound applies');
  await conn.flush();
  assert.equal(((await conn.call(['STRLEN', 'win:c'])) as number), big.length);
  await conn.close();
});
