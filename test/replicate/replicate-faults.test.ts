/**
 * `replicate` invariants and faults with the programmable fake master and a real redis-server
 * (DESIGN invariants 1, 4, 6, 7; issue "replicate" §3 and §5).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Replicator, REPLICATE_DEFAULTS, type ReplicateOptions } from '../../src/pipeline/replicate.js';
import { ConnectionError, JournalError, TargetCommandError } from '../../src/errors.js';
import { FakeMaster, type FakeFlow, journalCommand, journalPing, rdbString } from '../helpers/fake-master.js';
import { redisCli, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { delay, until } from '../helpers/wait.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

const silent = pino({ level: 'silent' });

/** A fake master with `numFlows` flows (empty snapshots) and a replicator into a fresh redis-server, in stable sync. */
async function stableReplication(
  numFlows: number,
  extra: Partial<ReplicateOptions> = {},
): Promise<{ m: FakeMaster; redis: RedisServer; r: Replicator; running: Promise<unknown>; flows: FakeFlow[]; close: () => Promise<void> }> {
  const m = await FakeMaster.start({ numFlows });
  const redis = await startRedisServer();
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: redis.url, ...extra }, silent);
  const running = r.run();
  running.catch(() => undefined);
  await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync');
  return {
    m,
    redis,
    r,
    running,
    flows: m.flows as FakeFlow[],
    close: async () => {
      await r.stop().catch(() => undefined);
      await m.close();
      await redis.stop();
    },
  };
}

test('FLUSHALL reached by flows at different positions is applied exactly once, after every pre-flush write and before every post-flush write', async () => {
  const t = await stableReplication(2);
  try {
    const [f0, f1] = t.flows;
    f0!.write(journalCommand(['SET', 'a', '1']), journalCommand(['FLUSHALL'], { txid: 5 }), journalCommand(['SET', 'a', '2']));
    // Flow 1 is behind: its pre-flush writes arrive after flow 0 already passed the FLUSHALL.
    await delay(150);
    f1!.write(journalCommand(['SET', 'b', '1']), journalCommand(['SET', 'c', '1']));
    await delay(100);
    f1!.write(journalCommand(['FLUSHALL'], { txid: 5 }), journalCommand(['SET', 'd', '1']));
    await until(() => t.r.status().flows[0]!.lsn === 4n && t.r.status().flows[1]!.lsn === 5n, 'both flows acknowledged');
    assert.equal((await redisCli(t.redis.port, 'GET', 'a')).trim(), '2');
    assert.equal((await redisCli(t.redis.port, 'GET', 'd')).trim(), '1');
    assert.equal((await redisCli(t.redis.port, 'EXISTS', 'b', 'c')).trim(), '0', 'pre-flush writes of the lagging flow do not survive');
    const stats = await redisCli(t.redis.port, 'INFO', 'commandstats');
    assert.match(stats, /cmdstat_flushall:calls=1,/, 'FLUSHALL ran once');
  } finally {
    await t.close();
  }
});

test('a journal PING is answered by an ACK as soon as the target acknowledged everything before it (not at the next periodic ACK)', async () => {
  const t = await stableReplication(1);
  try {
    const [f0] = t.flows;
    // Just after a periodic ACK (1 s period): the next periodic one is ~1 s away, so an ACK well
    // within that can only be the PING's own.
    await t.m.waitFor('ack', (f: FakeFlow) => f === f0, 5000);
    const sentAt = performance.now();
    f0!.write(journalCommand(['SET', 'x', '1']), journalPing());
    const [, lsn] = await t.m.waitFor('ack', (_f: FakeFlow, v: bigint) => v === 3n, 5000);
    assert.equal(lsn, 3n, 'JOURNAL_OFFSET 1 + SET + PING');
    assert.ok(performance.now() - sentAt < 900, `ACK after ${Math.round(performance.now() - sentAt)} ms`);
    assert.equal((await redisCli(t.redis.port, 'GET', 'x')).trim(), '1');
  } finally {
    await t.close();
  }
});

test('the acknowledged LSN never passes a command the target refused; the run fails naming the command and key', async () => {
  const t = await stableReplication(1);
  try {
    const [f0] = t.flows;
    f0!.write(journalCommand(['SET', 'k', 'not-a-number']), journalCommand(['INCR', 'k']), journalCommand(['SET', 'after', '1']));
    await assert.rejects(t.running, (err: unknown) => err instanceof TargetCommandError && err.command === 'INCR' && err.key?.toString() === 'k');
    const acks = f0!.acks;
    assert.ok(acks.length > 0);
    assert.ok(acks.every((a) => a <= 2n), `ACKs ${acks.join(',')} must stop before the refused INCR (LSN 2)`);
    assert.equal(t.r.status().flows[0]!.lsn <= 2n, true);
  } finally {
    await t.close();
  }
});

test('a slow target does not stall the flow socket: writes during a target pause are read at once and applied in order later', async () => {
  const t = await stableReplication(1);
  try {
    const [f0] = t.flows;
    // Paused until the master's socket drained (UNPAUSE below); 20 s only bounds a failing run.
    await redisCli(t.redis.port, 'CLIENT', 'PAUSE', '20000', 'WRITE');
    const n = 20_000;
    const batch: Buffer[] = [];
    for (let i = 0; i < n; i++) batch.push(journalCommand(['RPUSH', 'order', String(i)]));
    f0!.write(...batch);
    // While the target is paused, the replicator keeps reading: the master's socket buffer empties.
    await until(() => f0!.socket.writableLength === 0, 'the master socket drained', 10_000);
    assert.ok(t.r.status().flows[0]!.lsn <= 1n, 'nothing applied while the target is paused');
    await redisCli(t.redis.port, 'CLIENT', 'UNPAUSE');
    await until(() => t.r.status().flows[0]!.lsn === BigInt(n + 1), 'all applied after the pause', 20_000);
    const list = (await redisCli(t.redis.port, 'LRANGE', 'order', '0', '-1')).trim().split('\n');
    assert.equal(list.length, n);
    assert.ok(list.every((v, i) => v === String(i)), 'per-key order kept');
    const { longestPauseMs } = t.r.status();
    assert.ok(longestPauseMs < 1000, `longest source pause ${longestPauseMs} ms`);
  } finally {
    await t.close();
  }
});

test('an unknown journal opcode stops the run with a typed error naming the flow, and closes the target connections', async () => {
  const t = await stableReplication(2);
  try {
    const [, f1] = t.flows;
    f1!.write(Buffer.from([0x3f, 0x01, 0x02]));
    await assert.rejects(t.running, (err: unknown) => err instanceof JournalError && /flow 1/.test(err.message) && /opcode/.test(err.message));
    assert.equal(t.r.status().phase, 'stopped');
    const clients = await redisCli(t.redis.port, 'CLIENT', 'LIST');
    assert.equal(clients.trim().split('\n').length, 1, `only redis-cli itself is connected:\n${clients}`);
  } finally {
    await t.close();
  }
});

test('--reconnect-timeout 0: an idle target connection killed in stable sync (CLIENT KILL) stops the run with a ConnectionError naming the flow connection', { timeout: 30_000 }, async () => {
  const t = await stableReplication(2, { reconnectTimeoutMs: 0 });
  try {
    const [f0] = t.flows;
    f0!.write(journalCommand(['SET', 'before', '1']));
    await until(() => t.r.status().flows[0]!.lsn === 2n, 'the write acknowledged');
    const killed = Number((await redisCli(t.redis.port, 'CLIENT', 'KILL', 'TYPE', 'normal')).trim());
    assert.ok(killed >= 2, `killed ${killed} target connection(s)`);
    await assert.rejects(
      t.running,
      (err: unknown) => err instanceof ConnectionError && /^target \(flow [01]\)$/.test(err.role) && /closed while idle/.test(err.message),
    );
    assert.equal(t.r.status().phase, 'stopped');
  } finally {
    await t.close();
  }
});

test('--reconnect-timeout 0: a target connection cut by the network in the middle of a reply (fault proxy) stops the run; the LSN never covers the write whose reply was lost', { timeout: 30_000 }, async () => {
  const redis = await startRedisServer();
  const proxy = await FaultProxy.start({ port: redis.port });
  const m = await FakeMaster.start({ numFlows: 1 });
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: proxy.url, reconnectTimeoutMs: 0 }, silent);
  const running = r.run();
  running.catch(() => undefined);
  try {
    await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync');
    // The checkpoint's phase is written on its own connection: done before the probe below, so
    // the only connection whose traffic grows with the probe is the flow's.
    await until(async () => (await redisCli(redis.port, 'HGET', 'df2redis:checkpoint', 'phase')).trim() === 'stable', 'the checkpoint stable');
    const [f0] = m.flows as FakeFlow[];
    const up = proxy.connections.map((c) => c.forwarded.up);
    f0!.write(journalCommand(['SET', 'before', '1']));
    await until(() => r.status().flows[0]!.lsn === 2n, 'the first write acknowledged');
    const flowConn = proxy.connections.find((c, i) => c.forwarded.up > (up[i] ?? 0))!;
    // The reply to the next write (`+OK\r\n`) is cut after 2 bytes: the write may be applied, but
    // df2redis cannot know, so it must neither acknowledge it nor go on silently.
    proxy.arm({ connection: flowConn.index, direction: 'down', afterBytes: flowConn.forwarded.down + 2, action: 'cut' });
    f0!.write(journalCommand(['SET', 'lost-reply', '1']));
    await assert.rejects(running, (err: unknown) => err instanceof ConnectionError && err.role === 'target (flow 0)');
    assert.equal(flowConn.fault, 'cut');
    assert.ok(f0!.acks.every((a) => a <= 2n), `ACKs ${f0!.acks.join(',')}`);
    assert.equal(r.status().flows[0]!.lsn, 2n);
  } finally {
    await r.stop().catch(() => undefined);
    await m.close();
    await proxy.close();
    await redis.stop();
  }
});

test('--reconnect-timeout 0: a target idle timeout (CONFIG SET timeout 1) closing the flow connections stops the run instead of dropping later writes', { timeout: 30_000 }, async () => {
  const t = await stableReplication(1, { reconnectTimeoutMs: 0 });
  try {
    await redisCli(t.redis.port, 'CONFIG', 'SET', 'timeout', '1');
    await assert.rejects(t.running, (err: unknown) => err instanceof ConnectionError && err.role === 'target (flow 0)');
    // A write the master sends now is neither applied nor acknowledged.
    t.flows[0]!.write(journalCommand(['SET', 'after', '1']));
    await delay(100);
    assert.equal((await redisCli(t.redis.port, 'EXISTS', 'after')).trim(), '0');
    assert.ok(t.flows[0]!.acks.every((a) => a <= 1n), `ACKs ${t.flows[0]!.acks.join(',')}`);
  } finally {
    await t.close();
  }
});

test('a flow paused for backpressure that then reaches a FLUSHALL barrier is resumed once the barrier is done (tiny in-flight window)', { timeout: 30_000 }, async () => {
  // A 1-byte window: every write backpressures the flow, so it is paused when the FLUSHALL that
  // follows in the same read blocks it (and nothing queued behind the FLUSHALL drains it later).
  const t = await stableReplication(2, { maxInflightBytes: 1 });
  try {
    const [f0, f1] = t.flows;
    f0!.write(journalCommand(['SET', 'a', '1']), journalCommand(['FLUSHALL'], { txid: 7 }));
    await delay(50);
    f1!.write(journalCommand(['SET', 'c', '1']), journalCommand(['FLUSHALL'], { txid: 7 }));
    await until(() => t.r.status().flows.every((f) => f.lsn === 3n), 'both flows past the FLUSHALL');
    // The flows read on: later records arrive and are acknowledged.
    f0!.write(journalCommand(['SET', 'b', '1']));
    f1!.write(journalCommand(['SET', 'd', '1']));
    await until(() => t.r.status().flows.every((f) => f.lsn === 4n), 'records after the barrier acknowledged');
    const values = (await redisCli(t.redis.port, 'MGET', 'a', 'b', 'c', 'd')).split('\n').slice(0, 4);
    assert.deepEqual(values, ['', '1', '', '1']);
    await until(() => f0!.acks.includes(4n) && f1!.acks.includes(4n), 'the master got the ACKs past the barrier');
  } finally {
    await t.close();
  }
});

/**
 * A fake master whose 2 flows' snapshots hold `exists:<flow>` and `new:<flow>` (value `source`),
 * into a redis-server that already holds `exists:0` and `exists:1` (value `target`).
 */
async function snapshotOverExistingKeys(extra: Partial<ReplicateOptions>): Promise<{ m: FakeMaster; redis: RedisServer; r: Replicator; running: Promise<unknown> }> {
  const m = await FakeMaster.start({
    numFlows: 2,
    onSync: (master, reply) => {
      for (const f of master.flows) {
        f!.sendHeader();
        f!.write(rdbString(`exists:${f!.flowId}`, 'source'), rdbString(`new:${f!.flowId}`, 'source'));
        f!.sendFullSyncEnd();
      }
      reply();
    },
  });
  const redis = await startRedisServer();
  await redisCli(redis.port, 'MSET', 'exists:0', 'target', 'exists:1', 'target');
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: redis.url, ...extra }, silent);
  const running = r.run();
  running.catch(() => undefined);
  return { m, redis, r, running };
}

for (const restoreMaxBytes of [512 * 1024, 0]) {
  const how = restoreMaxBytes === 0 ? 'built under a temporary key' : 'RESTORE without REPLACE';
  test(`replicate --on-existing skip (${how}): existing keys keep their value and are counted as skipped, the journal still applies`, { timeout: 30_000 }, async () => {
    const { m, redis, r, running } = await snapshotOverExistingKeys({ onExisting: 'skip', restoreMaxBytes });
    try {
      await Promise.race([
        until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync' && f.lsn === 1n), 'stable sync'),
        running.then(() => assert.fail('the run stopped')),
      ]);
      const [f0, f1] = m.flows as FakeFlow[];
      f0!.write(journalCommand(['SET', 'exists:0', 'journal']), journalCommand(['SET', 'j:0', '1']));
      f1!.write(journalCommand(['APPEND', 'exists:1', '+journal']));
      await until(() => r.status().flows[0]!.lsn === 3n && r.status().flows[1]!.lsn === 2n, 'journal acknowledged');
      const values = (await redisCli(redis.port, 'MGET', 'exists:0', 'exists:1', 'new:0', 'new:1', 'j:0')).split('\n').slice(0, 5);
      assert.deepEqual(values, ['journal', 'target+journal', 'source', 'source', '1']);
      assert.equal(r.status().skipped.existing, 2);
      assert.equal(r.status().flows.reduce((n, f) => n + f.snapshotKeys, 0), 2, 'only the new keys count as written');
    } finally {
      await r.stop().catch(() => undefined);
      await running.catch(() => undefined);
      await m.close();
      await redis.stop();
    }
  });
}

test('replicate --on-existing fail: the run stops with BUSYKEY naming the existing key, which keeps its value', { timeout: 30_000 }, async () => {
  const { m, redis, running } = await snapshotOverExistingKeys({ onExisting: 'fail' });
  try {
    await assert.rejects(running, (err: unknown) => err instanceof TargetCommandError && /^exists:[01]$/.test(err.key?.toString() ?? '') && /^BUSYKEY/.test(err.reply));
    assert.deepEqual((await redisCli(redis.port, 'MGET', 'exists:0', 'exists:1')).split('\n').slice(0, 2), ['target', 'target']);
  } finally {
    await m.close();
    await redis.stop();
  }
});

test('one in-flight bound for the whole process: 4 flows into a paused target hold about maxInflightBytes between them, not 4 × it', { timeout: 30_000 }, async () => {
  const bound = 4 * 1024 * 1024;
  const t = await stableReplication(4, { maxInflightBytes: bound });
  const inflight = (): number => t.r.status().target.nodes.reduce((n, x) => n + x.inflightBytes, 0);
  try {
    await redisCli(t.redis.port, 'CLIENT', 'PAUSE', '20000', 'WRITE');
    // 2 MiB offered per flow, 8 MiB in all: each flow may take a quarter of the bound (1 MiB).
    const value = 'v'.repeat(8192);
    for (const f of t.flows) {
      for (let i = 0; i < 256; i++) f.write(journalCommand(['SET', `k:${f.flowId}:${i}`, value]));
    }
    await until(() => inflight() >= bound * 0.9, 'the window filled');
    await delay(300); // what the flows read meanwhile (every flow had 2 MiB to send) would show now
    // Each flow may exceed its share by what it had already read when it paused (a socket read).
    const slack = 4 * 128 * 1024;
    assert.ok(inflight() <= bound + slack, `${inflight()} bytes in flight, bound ${bound}`);
  } finally {
    await redisCli(t.redis.port, 'CLIENT', 'UNPAUSE');
    await t.close();
  }
});
