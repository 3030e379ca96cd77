/**
 * Read-back repairs (issue 8 §8): keys the journal cannot carry (a cross-shard `SORT … STORE`, a
 * `MOVE` into a copied database) are read from the master atomically (MULTI + DUMP + PEXPIRETIME),
 * in the right database, bounded, and fenced by the master's journal offsets so the flow's later
 * records of the key are neither lost nor applied twice. The fake master answers the reads from a
 * live model of its data (a redis-server) that the journal it serves always matches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { ReplicationError } from '../../src/errors.js';
import { Replicator, REPLICATE_DEFAULTS, type ReplicateOptions } from '../../src/pipeline/replicate.js';
import { compareState, readState } from '../helpers/expected.js';
import { FakeMaster } from '../helpers/fake-master.js';
import { MasterData } from '../helpers/master-data.js';
import { redisCli, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });

interface Setup {
  data: MasterData;
  m: FakeMaster;
  redis: RedisServer;
  r: Replicator;
  running: Promise<unknown>;
  /** Waits until every flow acknowledged every record the master journaled. */
  caughtUp(): Promise<void>;
  /** Target and master hold the same keys, types, values and expiries (exact PEXPIRETIME) in `dbs`. */
  assertEqual(dbs: number[]): Promise<void>;
  close(): Promise<void>;
}

async function setup(numFlows: number, extra: Partial<ReplicateOptions> = {}): Promise<Setup> {
  const data = await MasterData.start(numFlows);
  const m = await FakeMaster.start({ numFlows, data });
  data.attach(m);
  const redis = await startRedisServer();
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: redis.url, statusPort: undefined, ...extra }, silent);
  const running = r.run();
  running.catch(() => undefined);
  await until(() => r.status().phase === 'stable-sync' && r.status().flows.length === numFlows && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync');
  return {
    data,
    m,
    redis,
    r,
    running,
    caughtUp: () => until(() => r.status().flows.every((f) => f.lsn === data.lsns[f.id]), 'every journaled record acknowledged'),
    async assertEqual(dbs) {
      const [actual, expected] = await Promise.all([readState(redis.port, dbs), readState(data.server.port, dbs)]);
      assert.deepEqual(compareState(actual, expected, { ttlToleranceMs: 50 }), []);
      for (const db of dbs) {
        for (const k of Object.keys(expected[String(db)] ?? {})) {
          const key = Buffer.from(k, 'base64').toString('latin1');
          const [a, e] = await Promise.all([redisCli(redis.port, '-n', String(db), 'PEXPIRETIME', key), redisCli(data.server.port, '-n', String(db), 'PEXPIRETIME', key)]);
          assert.equal(a.trim(), e.trim(), `db ${db} key ${key}: absolute expiry`);
        }
      }
    },
    async close() {
      await r.stop().catch(() => undefined);
      await m.close();
      await redis.stop();
      await data.stop();
    },
  };
}

/** `SORT s STORE d` with s on flow 1 and d on flow 0: each flow journals its key only, same txid (reference §6.1). */
function crossShardSort(t: Setup, txid: number): Promise<unknown> {
  return t.data.exec(0, ['SORT', 's', 'STORE', 'd'], [
    { flow: 1, args: ['SORT', 's'], txid },
    { flow: 0, args: ['SORT', 'd'], txid },
  ]);
}

/** The sequence: `SORT s STORE d`, then at once `RPUSH d`, `DEL d`, `PEXPIREAT d`, `SORT s STORE d` again. */
async function sortThenWrites(t: Setup): Promise<void> {
  const exp = String(Date.now() + 3_600_000 + 123);
  await crossShardSort(t, 7);
  await t.data.exec(0, ['RPUSH', 'd', 'z']);
  await t.data.exec(0, ['DEL', 'd']);
  await t.data.exec(0, ['RPUSH', 'd', 'y']);
  await t.data.exec(0, ['PEXPIREAT', 'd', exp]);
  await t.data.exec(0, ['RPUSH', 's', '0'], [{ flow: 1, args: ['RPUSH', 's', '0'] }]);
  await crossShardSort(t, 8);
  await t.data.exec(0, ['RPUSH', 'd', 'x']);
  await t.data.exec(0, ['PEXPIREAT', 'd', exp]);
}

test('read-back: SORT s STORE d across shards, then RPUSH/DEL/PEXPIREAT/SORT again on d: the later records are not applied twice (master ahead of the stream)', async () => {
  const t = await setup(2);
  try {
    await t.data.exec(0, ['RPUSH', 's', '3', '1', '2'], [{ flow: 1, args: ['RPUSH', 's', '3', '1', '2'] }]);
    await t.caughtUp();
    // The master runs everything before its streams carry it: the read sees the final d, and every
    // later record of d is below the read's offset.
    t.data.hold();
    await sortThenWrites(t);
    t.data.release();
    await t.caughtUp();
    assert.equal((await redisCli(t.redis.port, 'LRANGE', 'd', '0', '-1')).trim().split('\n').join(','), '0,1,2,3,x');
    await t.assertEqual([0]);
  } finally {
    await t.close();
  }
});

test('read-back: writes to d that race the read (journaled between the two offsets) make it read again, and the end equals the master', async () => {
  const t = await setup(2);
  try {
    await t.data.exec(0, ['RPUSH', 's', '3', '1', '2'], [{ flow: 1, args: ['RPUSH', 's', '3', '1', '2'] }]);
    await t.caughtUp();
    let reads = 0;
    t.data.beforeRead = async (cmd) => {
      if (cmd !== 'EXEC' || ++reads > 1) return;
      // On the master, between the read's first offset and its EXEC: in the value, in the window.
      await t.data.exec(0, ['RPUSH', 'd', 'z']);
      await t.data.exec(0, ['PEXPIREAT', 'd', String(Date.now() + 600_000)]);
    };
    await crossShardSort(t, 7);
    await until(() => reads > 0, 'the first read');
    await t.caughtUp();
    assert.ok(reads >= 2, `the key was read again (${reads} reads)`);
    assert.equal((await redisCli(t.redis.port, 'LRANGE', 'd', '0', '-1')).trim().split('\n').join(','), '1,2,3,z');
    await t.assertEqual([0]);
  } finally {
    await t.close();
  }
});

test('read-back: a key deleted on the master while it is read is deleted on the target, never written as the string "null"', async () => {
  const t = await setup(1, { dbs: [1] });
  try {
    await t.data.exec(0, ['SET', 'k', 'v'], []);
    await t.data.exec(1, ['SET', 'k', 'old']);
    await t.caughtUp();
    let isDeleted = false;
    t.data.beforeRead = async (cmd) => {
      if (isDeleted || (cmd !== 'GET' && cmd !== 'DUMP')) return;
      isDeleted = true;
      t.data.hold(); // its DEL record stays on the master for now: the target shows the read alone
      await t.data.exec(1, ['DEL', 'k']);
    };
    await t.data.exec(1, ['DEL', 'k']); // MOVE needs db 1 free of k
    await t.data.exec(0, ['MOVE', 'k', '1']);
    const moveLsn = t.data.lsns[0]! - 1n;
    await until(() => t.r.status().flows[0]!.lsn > moveLsn, 'the MOVE read back and acknowledged');
    assert.ok(isDeleted);
    assert.equal((await redisCli(t.redis.port, '-n', '1', 'EXISTS', 'k')).trim(), '0', 'the key gone at read time is deleted, not written');
    t.data.release();
    await t.caughtUp();
    await t.assertEqual([0, 1]);
  } finally {
    await t.close();
  }
});

test('read-back: concurrent reads of two flows in different databases each read their own database', async () => {
  const t = await setup(2);
  try {
    // The same key names hold other values in the other database: a read in the wrong db shows.
    for (const [db, d, e] of [[1, 'd-in-1', 'e-in-1'], [2, 'd-in-2', 'e-in-2']] as const) {
      await t.data.exec(db, ['RPUSH', 'd', d], []);
      await t.data.exec(db, ['RPUSH', 'e', e], []);
    }
    t.data.hold();
    for (let i = 0; i < 20; i++) {
      await t.data.exec(1, ['RPUSH', 'd', `d${i}`], []);
      await t.data.exec(1, ['SORT', 'x', 'STORE', 'd'], [{ flow: 0, args: ['SORT', 'd'], txid: 10 + 2 * i }]);
      await t.data.exec(2, ['RPUSH', 'e', `e${i}`], []);
      await t.data.exec(2, ['SORT', 'x', 'STORE', 'e'], [{ flow: 1, args: ['SORT', 'e'], txid: 11 + 2 * i }]);
      // Restore a value for the next round (not journaled: only read back).
      await t.data.exec(1, ['RPUSH', 'd', `d-in-1`], []);
      await t.data.exec(2, ['RPUSH', 'e', `e-in-2`], []);
    }
    t.data.release();
    await t.caughtUp();
    assert.equal((await redisCli(t.redis.port, '-n', '1', 'LRANGE', 'd', '0', '-1')).trim(), 'd-in-1');
    assert.equal((await redisCli(t.redis.port, '-n', '2', 'LRANGE', 'e', '0', '-1')).trim(), 'e-in-2');
    assert.equal((await redisCli(t.redis.port, '-n', '1', 'EXISTS', 'e')).trim(), '0', 'nothing read back into db 1 from db 2');
    assert.equal((await redisCli(t.redis.port, '-n', '2', 'EXISTS', 'd')).trim(), '0', 'nothing read back into db 2 from db 1');
  } finally {
    await t.close();
  }
});

test('read-back: a stream, a hash and a zset MOVEd into the copied database (--dbs 1) are read back whole, with their expiry', async () => {
  const t = await setup(1, { dbs: [1] });
  try {
    await t.data.exec(0, ['XADD', 'st', '1-1', 'f', 'v'], []);
    await t.data.exec(0, ['XADD', 'st', '2-1', 'g', 'w'], []);
    await t.data.exec(0, ['XGROUP', 'CREATE', 'st', 'grp', '0'], []);
    for (let i = 0; i < 300; i++) await t.data.exec(0, ['HSET', 'h', `f${i}`, `v${i}`], []);
    await t.data.exec(0, ['ZADD', 'z', '1.5', 'a', '-inf', 'b'], []);
    await t.data.exec(0, ['PEXPIREAT', 'h', String(Date.now() + 3_600_000)], []);
    for (const k of ['st', 'h', 'z']) await t.data.exec(0, ['MOVE', k, '1']);
    await t.data.exec(1, ['XADD', 'st', '3-1', 'h', 'x']);
    await t.caughtUp();
    assert.equal((await redisCli(t.redis.port, '-n', '1', 'XLEN', 'st')).trim(), '3');
    await t.assertEqual([1]);
    // Database 0 holds nothing but df2redis's checkpoint (the target database receiving db 0).
    assert.equal((await redisCli(t.redis.port, '-n', '0', 'DBSIZE')).trim(), (await redisCli(t.redis.port, '-n', '0', 'EXISTS', 'df2redis:checkpoint')).trim());
  } finally {
    await t.close();
  }
});

test('read-back: a DUMP payload above the bound stops the run with an error naming the key, before the payload is buffered', async () => {
  const t = await setup(2, { readBackMaxBytes: 4096 });
  try {
    const big = randomBytes(100_000).toString('base64'); // incompressible: DUMP would LZF-compress a repeated byte
    await t.data.exec(0, ['RPUSH', 's', big], [{ flow: 1, args: ['RPUSH', 's', big] }]);
    await t.caughtUp();
    await t.data.exec(0, ['SORT', 's', 'ALPHA', 'STORE', 'd'], [
      { flow: 1, args: ['SORT', 's'], txid: 7 },
      { flow: 0, args: ['SORT', 'd'], txid: 7 },
    ]);
    await assert.rejects(
      t.running,
      (err: unknown) => err instanceof ReplicationError && /key "[sd]" \(db 0\)/.test(err.message) && /above the read-back bound of 4096 bytes/.test(err.message),
    );
  } finally {
    await t.close();
  }
});

test('zset …STORE (journaled as DEL dst + ZADD dst with 6-digit scores) ends with the master\'s exact scores, counted in /status', async () => {
  const t = await setup(2);
  try {
    await t.data.exec(0, ['ZADD', 'za', '1.23456789', 'm1'], [{ flow: 1, args: ['ZADD', 'za', '1.23456789', 'm1'] }]);
    await t.data.exec(0, ['ZADD', 'zb', '2.000000001', 'm1', '0.1', 'm2'], [{ flow: 1, args: ['ZADD', 'zb', '2.000000001', 'm1', '0.1', 'm2'] }]);
    // As Dragonfly v1.40 journals it on the destination's flow (reference §6.1): the scores rounded.
    await t.data.exec(0, ['ZUNIONSTORE', 'zu', '2', 'za', 'zb'], [
      { flow: 0, args: ['DEL', 'zu'], txid: 9 },
      { flow: 0, args: ['ZADD', 'zu', '0.1', 'm2', '3.23457', 'm1'], txid: 9 },
    ]);
    // A later record of zu on the same flow lands on the exact value, once.
    await t.data.exec(0, ['ZINCRBY', 'zu', '1', 'm2']);
    await t.caughtUp();
    for (const m of ['m1', 'm2']) {
      const [target, master] = await Promise.all([redisCli(t.redis.port, 'ZSCORE', 'zu', m), redisCli(t.data.server.port, 'ZSCORE', 'zu', m)]);
      assert.equal(target, master, `zu ${m}: the master's exact score`);
    }
    assert.notEqual(Number(await redisCli(t.redis.port, 'ZSCORE', 'zu', 'm1')), 3.23457, 'not the journal\'s rounded score');
    await t.assertEqual([0]);
    assert.deepEqual(t.r.status().repaired, { 'ZADD after DEL (…STORE)': 1 });
  } finally {
    await t.close();
  }
});
