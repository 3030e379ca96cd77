/**
 * Progress never runs ahead of the target, and stopping early is never a success (issue 8 §5, §6),
 * with the fake master and a real redis-server:
 * - the first `REPLCONF ACK` after STARTSTABLE waits until the target acknowledged every snapshot
 *   piece (DESIGN invariant 6), and `/status` counts acknowledged snapshot keys;
 * - a stop during the full sync rejects with a StoppedError and deletes a big object cut in half;
 * - a target that runs out of memory inside a big object: that object is deleted, the error says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { StoppedError, TargetCommandError } from '../../src/errors.js';
import { Replicator, REPLICATE_DEFAULTS } from '../../src/pipeline/replicate.js';
import { RedisConnection } from '../../src/sink/redis-connection.js';
import { parseRedisUrl } from '../../src/sink/target-url.js';
import { FakeMaster, type FakeFlow, rdbSelectDb, rdbString } from '../helpers/fake-master.js';
import { redisCli, startRedisServer } from '../helpers/redis-server.js';
import { delay, until } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });

/** `n` small strings `k0…` in db 0, as a flow's snapshot records. */
function smallStrings(n: number): Buffer {
  const parts = [rdbSelectDb(0)];
  for (let i = 0; i < n; i++) parts.push(rdbString(`k${i}`, `v${i}`));
  return Buffer.concat(parts);
}

test('the first ACK after STARTSTABLE waits until the target acknowledged every snapshot piece; /status counts acknowledged keys', async () => {
  const redis = await startRedisServer();
  const probe = await RedisConnection.connect(parseRedisUrl(redis.url), { role: 'probe' });
  const m = await FakeMaster.start({
    numFlows: 1,
    journalOffset: 7,
    onSync: (master, reply) => {
      // The target stops taking writes now: after df2redis claimed it (its checkpoint, written
      // before DFLY SYNC), before the first snapshot byte.
      void redisCli(redis.port, 'CLIENT', 'PAUSE', '60000', 'WRITE').then(() => {
        const f = master.flows[0]!;
        f.sendHeader();
        f.write(smallStrings(200));
        f.sendFullSyncEnd();
        reply();
      });
    },
  });
  // What the target held when each ACK reached the master.
  const dbsizeAtAck: Array<Promise<unknown>> = [];
  m.on('ack', () => dbsizeAtAck.push(probe.call(['DBSIZE'])));
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: redis.url }, silent);
  try {
    const running = r.run();
    running.catch(() => undefined);
    try {
      await until(() => r.status().flows[0]?.phase === 'stable-sync', 'STARTSTABLE and the journal offset received');
      await delay(300); // room for an early ACK to reach the master
      assert.deepEqual((m.flows[0] as FakeFlow).acks, [], 'no ACK while the snapshot is unacknowledged');
      assert.equal(await probe.call(['DBSIZE']), 1, 'nothing but the checkpoint that claimed the target before DFLY SYNC');
      assert.equal(r.status().flows[0]!.snapshotKeys, 0, '/status counts acknowledged keys, not sent ones');
      assert.equal(r.status().flows[0]!.lsn, 0n);
    } finally {
      await redisCli(redis.port, 'CLIENT', 'UNPAUSE');
    }
    await m.waitFor('ack', (_f: FakeFlow, lsn: bigint) => lsn === 7n, 10_000);
    assert.equal(await dbsizeAtAck[0], 201, 'the first ACK came after the target held every snapshot key (and the checkpoint)');
    assert.equal(r.status().flows[0]!.snapshotKeys, 200);
    await r.stop();
    const summary = await running;
    assert.equal(summary.snapshotKeys, 200);
  } finally {
    await r.stop().catch(() => undefined);
    await probe.close();
    await m.close();
    await redis.stop();
  }
});

/** A fake master whose flow 0 sends `small`, then the first 1.5 MiB of a 3 MiB string `big`, and nothing more. */
async function stuckInFullSync(): Promise<FakeMaster> {
  const big = rdbString('big', Buffer.alloc(3 * 1024 * 1024, 'x'));
  return FakeMaster.start({
    numFlows: 2,
    onSync: (master, reply) => {
      for (const f of master.flows) f!.sendHeader();
      master.flows[0]!.write(rdbSelectDb(0), rdbString('small', '1'), big.subarray(0, 1.5 * 1024 * 1024));
      master.flows[1]!.sendFullSyncEnd();
      reply();
    },
  });
}

for (const isFullSyncOnly of [false, true]) {
  test(`${isFullSyncOnly ? 'migrate --source <dragonfly>' : 'replicate'}: a stop during the full sync is a StoppedError and the big string cut in half is deleted`, async () => {
    const redis = await startRedisServer();
    const m = await stuckInFullSync();
    const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: redis.url, isFullSyncOnly }, silent);
    try {
      const running = r.run();
      running.catch(() => undefined);
      await until(async () => Number(await redisCli(redis.port, 'STRLEN', 'big')) > 0, 'the first piece of "big" on the target');
      await r.stop('SIGTERM');
      const err = await running.then(
        () => assert.fail('a stop during the full sync must not resolve'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StoppedError, String(err));
      assert.equal(err.exitCode, 143);
      assert.match(
        err.message,
        /^stopped by SIGTERM: the full sync did not finish \(1 of 2 flow snapshot\(s\) received\); the target holds a partial copy; 1 snapshot key\(s\) were written and acknowledged; key "big" \(db 0\) was partly written and has been deleted from the target$/,
      );
      assert.equal((await redisCli(redis.port, 'EXISTS', 'big')).trim(), '0');
      assert.equal((await redisCli(redis.port, 'GET', 'small')).trim(), '1');
    } finally {
      await m.close();
      await redis.stop();
    }
  });
}

test('replicate: the target runs out of memory inside a big string of the snapshot: it is deleted, and the error says how many keys were written', async () => {
  const redis = await startRedisServer({ config: { 'maxmemory-policy': 'noeviction' } });
  const m = await stuckInFullSync();
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: redis.url }, silent);
  try {
    const running = r.run();
    running.catch(() => undefined);
    await until(async () => Number(await redisCli(redis.port, 'STRLEN', 'big')) > 0, 'the first piece of "big" on the target');
    await redisCli(redis.port, 'CONFIG', 'SET', 'maxmemory', '1');
    // The rest of the string: the next APPEND is refused.
    (m.flows[0] as FakeFlow).write(rdbString('big', Buffer.alloc(3 * 1024 * 1024, 'x')).subarray(1.5 * 1024 * 1024));
    const err = await running.then(
      () => assert.fail('must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TargetCommandError, String(err));
    assert.match(err.reply, /^OOM/);
    assert.match(err.message, /; 1 snapshot key\(s\) were written and acknowledged; key "big" \(db 0\) was partly written and has been deleted from the target$/);
    assert.equal((await redisCli(redis.port, 'EXISTS', 'big')).trim(), '0');
  } finally {
    await m.close();
    await redis.stop();
  }
});
