/**
 * ClusterRouter against a real 3-master Redis Cluster: routing by slot, and each redirection the
 * cluster can answer (MOVED, ASK, CLUSTERDOWN) or cause (a lost connection), with a key's commands
 * applied once each and in order; past the bounds, a ClusterError naming slot and nodes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterError, LostWritesError } from '../../src/errors.js';
import { slotCheckpointKey, slotProbeKey } from '../../src/pipeline/checkpoint.js';
import { ClusterRouter, type ClusterRouterOptions } from '../../src/sink/cluster-router.js';
import { keySlot } from '../../src/sink/key-slot.js';
import { parseRedisUrl } from '../../src/sink/target-url.js';
import { clusterMasters, keyInSlotOwnedBy, moveSlot, readClusterState } from '../helpers/cluster.js';
import { redisCli, startCluster, type RedisCluster } from '../helpers/redis-server.js';

let cluster: RedisCluster;
before(async () => {
  cluster = await startCluster({ masters: 3, nodeTimeoutMs: 2000 });
});
after(async () => {
  await cluster?.stop();
});

function connect(options: ClusterRouterOptions = {}): Promise<ClusterRouter> {
  return ClusterRouter.connect([parseRedisUrl(cluster.seedUrl)], options);
}

const B = (s: string): Buffer => Buffer.from(s);

/** `DEL key` then `RPUSH key i` for i in [0, n), in one tick. */
function pushSequence(router: ClusterRouter, key: string, n: number): void {
  const k = B(key);
  router.connectionFor(k, 0).send(['DEL', k], k);
  for (let i = 0; i < n; i++) router.connectionFor(k, 0).send(['RPUSH', k, String(i)], k);
}

async function lrange(port: number, key: string): Promise<string[]> {
  return (await redisCli(port, 'LRANGE', key, '0', '-1')).trim().split('\n').filter((l) => l !== '');
}

const range = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i));

async function ownerPort(key: string): Promise<number> {
  const slot = keySlot(B(key));
  const m = (await clusterMasters(cluster)).find((x) => x.slots.some(([a, z]) => slot >= a && slot <= z));
  return m!.port;
}

test('every key goes to the master owning its slot, over one connection per master', async () => {
  const router = await connect();
  try {
    assert.equal(router.all().length, 3);
    for (let i = 0; i < 20_000; i++) {
      const k = B(`route:${i}`);
      router.connectionFor(k, 0).send(['SET', k, String(i)], k);
    }
    await router.flush();
    const state = await readClusterState(cluster); // throws if a key sits on a master not owning its slot
    assert.equal(Object.keys(state['0']!).filter((k) => Buffer.from(k, 'base64').toString().startsWith('route:')).length, 20_000);
    for (const m of await clusterMasters(cluster)) assert.ok(Number((await redisCli(m.port, 'DBSIZE')).trim()) > 6000, `master ${m.port} holds a third`);
    assert.deepEqual(router.stats, { moved: 0, asked: 0, retried: 0, resentAfterLoss: 0, lostConnections: 0, refreshes: 1 });
  } finally {
    await router.close();
  }
});

test('MOVED: a slot moved behind the router: its commands are resent to the new owner in order, the table is refreshed', async () => {
  const router = await connect();
  try {
    const masters = await clusterMasters(cluster);
    const key = await keyInSlotOwnedBy(cluster, masters[1]!.port, 'moved:');
    const slot = keySlot(B(key));
    await moveSlot(cluster, slot, masters[2]!.port);
    pushSequence(router, key, 500);
    await router.flush();
    assert.deepEqual(await lrange(masters[2]!.port, key), range(500));
    assert.ok(router.stats.moved >= 1, JSON.stringify(router.stats));
    const t = router.topology;
    assert.equal(t.masters[t.owner[slot]!]!.port, masters[2]!.port, 'the refreshed table names the new owner');
    // Settled again: the next commands go straight to the new owner.
    const moved = router.stats.moved;
    pushSequence(router, key, 10);
    await router.flush();
    assert.equal(router.stats.moved, moved);
  } finally {
    await router.close();
  }
});

test('ASK: while a slot is half-migrated, commands for moved or new keys go to the importing node after ASKING, in order', async () => {
  const router = await connect();
  try {
    const masters = await clusterMasters(cluster);
    const tag = await keyInSlotOwnedBy(cluster, masters[0]!.port, 'ask');
    const keys = Array.from({ length: 20 }, (_, i) => `{${tag}}:${i}`);
    for (const k of keys) await redisCli(masters[0]!.port, 'RPUSH', k, 'old');
    let asked = 0;
    await moveSlot(cluster, keySlot(B(tag)), masters[1]!.port, {
      keysPerBatch: 5,
      afterBatch: async ({ batch }) => {
        if (batch !== 1) return;
        // 5 keys are on the importing node, 15 still on the source, 5 are new.
        for (const k of [...keys, ...Array.from({ length: 5 }, (_, i) => `{${tag}}:new${i}`)]) {
          for (let i = 0; i < 20; i++) router.connectionFor(B(k), 0).send(['RPUSH', B(k), String(i)], B(k));
        }
        await router.flush();
        asked = router.stats.asked;
      },
    });
    assert.ok(asked > 0, `ASK replies were followed during the migration: ${JSON.stringify(router.stats)}`);
    for (const k of keys) assert.deepEqual(await lrange(masters[1]!.port, k), ['old', ...range(20)], k);
    for (let i = 0; i < 5; i++) assert.deepEqual(await lrange(masters[1]!.port, `{${tag}}:new${i}`), range(20));
  } finally {
    await router.close();
  }
});

test('a lost node connection: every command it had not acknowledged is resent, in order, after a refresh', async () => {
  const router = await connect();
  try {
    const masters = await clusterMasters(cluster);
    const echoes = async (): Promise<number[]> =>
      Promise.all(masters.map(async (m) => Number(/cmdstat_echo:calls=(\d+)/.exec(await redisCli(m.port, 'INFO', 'commandstats'))?.[1] ?? 0)));
    const echoesBefore = await echoes();
    const key = await keyInSlotOwnedBy(cluster, masters[1]!.port, 'lost:');
    const k = B(key);
    router.connectionFor(k, 0).send(['DEL', k], k);
    for (let i = 0; i < 100; i++) router.connectionFor(k, 0).send(['RPUSH', k, String(i)], k);
    // The node closes this connection after replying to CLIENT KILL: what follows in the pipeline is
    // never read by the server and must be resent on a new connection.
    router.connectionFor(k, 0).send(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'no']);
    for (let i = 100; i < 300; i++) router.connectionFor(k, 0).send(['RPUSH', k, String(i)], k);
    router.sendToAll(['ECHO', 'every master once']); // its copy on the killed connection is resent to that master only
    await router.flush();
    assert.deepEqual((await echoes()).map((n, i) => n - echoesBefore[i]!), [1, 1, 1]);
    assert.deepEqual(await lrange(await ownerPort(key), key), range(300));
    assert.ok(router.stats.resentAfterLoss >= 200, JSON.stringify(router.stats));
    assert.equal(router.all().length, 3, 'reconnected');
  } finally {
    await router.close();
  }
});

test('an idle node connection closed by the node (CLIENT KILL) is replaced, not fatal: later writes of its slots arrive', async () => {
  const router = await connect();
  const errors: Error[] = [];
  router.on('error', (e: Error) => errors.push(e));
  try {
    const masters = await clusterMasters(cluster);
    const key = await keyInSlotOwnedBy(cluster, masters[0]!.port, 'idle:');
    pushSequence(router, key, 10);
    await router.flush();
    const killedConn = router.all().find((c) => c.peer.endsWith(`:${masters[0]!.port}`))!;
    const closed = new Promise((r) => killedConn.once('close', r));
    assert.ok(Number((await redisCli(masters[0]!.port, 'CLIENT', 'KILL', 'TYPE', 'normal')).trim()) >= 1);
    await closed;
    const k = B(key);
    for (let i = 10; i < 20; i++) router.connectionFor(k, 0).send(['RPUSH', k, String(i)], k);
    await router.flush();
    assert.deepEqual(await lrange(masters[0]!.port, key), range(20));
    assert.deepEqual(errors, []);
    assert.equal(router.all().length, 3, 'reconnected');
  } finally {
    await router.close();
  }
});

test('CLUSTERDOWN (a slot without a master) is retried with backoff until the slot is served again', async () => {
  const router = await connect();
  const masters = await clusterMasters(cluster);
  const key = await keyInSlotOwnedBy(cluster, masters[2]!.port, 'down:');
  const slot = String(keySlot(B(key)));
  try {
    await redisCli(masters[2]!.port, 'CLUSTER', 'DELSLOTS', slot);
    pushSequence(router, key, 50);
    setTimeout(() => void redisCli(masters[2]!.port, 'CLUSTER', 'ADDSLOTS', slot), 400);
    await router.flush();
    assert.deepEqual(await lrange(masters[2]!.port, key), range(50));
    assert.ok(router.stats.retried >= 1, JSON.stringify(router.stats));
  } finally {
    await redisCli(masters[2]!.port, 'CLUSTER', 'ADDSLOTS', slot).catch(() => undefined);
    await router.close();
  }
});

test('past the bounds: a ClusterError naming the slot and nodes (redirections) or the time spent (retries)', async () => {
  const masters = await clusterMasters(cluster);
  // maxRedirects 0: the first MOVED is past the bound.
  const strict = await connect({ maxRedirects: 0 });
  const key = await keyInSlotOwnedBy(cluster, masters[0]!.port, 'bound:');
  const slot = keySlot(B(key));
  await moveSlot(cluster, slot, masters[1]!.port);
  const errors: Error[] = [];
  strict.on('error', (e: Error) => errors.push(e));
  strict.connectionFor(B(key), 0).send(['SET', B(key), '1'], B(key));
  await assert.rejects(strict.flush(), (err: Error) => {
    assert.ok(err instanceof ClusterError, String(err));
    assert.equal(err.slot, slot);
    assert.match(err.message, new RegExp(`SET for key "${key}" was redirected 1 times`));
    assert.match(err.message, new RegExp(`nodes 127\\.0\\.0\\.1:${masters[0]!.port}, 127\\.0\\.0\\.1:${masters[1]!.port}`));
    return true;
  });
  assert.equal(errors.length, 1, "the router's 'error' event");
  await strict.close();

  // retryTimeoutMs 300 and a slot that stays unserved.
  const impatient = await connect({ retryTimeoutMs: 300 });
  const downKey = await keyInSlotOwnedBy(cluster, masters[2]!.port, 'gaveup:');
  const downSlot = String(keySlot(B(downKey)));
  impatient.on('error', () => undefined);
  try {
    await redisCli(masters[2]!.port, 'CLUSTER', 'DELSLOTS', downSlot);
    impatient.connectionFor(B(downKey), 0).send(['SET', B(downKey), '1'], B(downKey));
    await assert.rejects(impatient.flush(), (err: Error) => {
      assert.ok(err instanceof ClusterError, String(err));
      assert.match(err.message, /gave up after 300 ms of retries: .*CLUSTERDOWN Hash slot not served/);
      return true;
    });
  } finally {
    await redisCli(masters[2]!.port, 'CLUSTER', 'ADDSLOTS', downSlot);
    await impatient.close();
  }
});

// ── exactly-once batch scripts (src/sink/slot-batch.ts) ─────────────────────────────────────────

const CP_PREFIX = 'df2redis:test:';
const slotKeys = { cp: (slot: number): Buffer => slotCheckpointKey(CP_PREFIX, slot), probe: (slot: number): Buffer => slotProbeKey(CP_PREFIX, slot) };

/** A router with exactly-once batches on for flow field `lsn:0`. */
async function batchRouter(): Promise<ClusterRouter> {
  const router = await connect();
  router.enableSlotBatches(slotKeys, 'lsn:0');
  return router;
}

/** One record's batch: `RPUSH key value` as record `lsn`, committed with checkpoint `lsn + 1`. */
function pushRecord(router: ClusterRouter, key: string, value: string, lsn: bigint): void {
  router.beginBatch(lsn);
  router.connectionFor(B(key), 0).send(['RPUSH', B(key), value], B(key));
  router.commitBatch(lsn + 1n);
}

/** The router's own connection to the master on `port`. */
function connTo(router: ClusterRouter, port: number): ReturnType<ClusterRouter['all']>[number] {
  const conn = router.all().find((c) => c.peer === `127.0.0.1:${port}`);
  assert.ok(conn, `a connection to 127.0.0.1:${port}`);
  return conn;
}

/**
 * Written together on the slot's connection: the slot unassigned, batch `RPUSH key a` (record
 * `lsn`, refused: "Hash slot not served"), the slot assigned again. Resolves once that write went
 * out, so what the caller commits next is written behind it and reaches the node once it serves
 * the slot again, before the refused batch is resent.
 */
async function refusedForAMoment(router: ClusterRouter, conn: ReturnType<typeof connTo>, key: string, slot: string, lsn: bigint): Promise<void> {
  conn.send(['CLUSTER', 'DELSLOTS', slot]);
  pushRecord(router, key, 'a', lsn);
  conn.send(['CLUSTER', 'ADDSLOTS', slot]);
  await new Promise<void>((resolve) => queueMicrotask(resolve));
}

test('exactly-once: a slot refused for a moment (CLUSTERDOWN) while a later batch of it is in flight: both applied, in order', async () => {
  const router = await batchRouter();
  const masters = await clusterMasters(cluster);
  const port = masters[2]!.port;
  const key = await keyInSlotOwnedBy(cluster, port, 'eo-flap:');
  const slot = String(keySlot(B(key)));
  const conn = connTo(router, port);
  try {
    // Written together: the slot unassigned, batch 1 (refused: "Hash slot not served"), the slot
    // assigned again. Batches 2 and 3 are sent before that reply arrives, so they are written behind
    // it and reach the node once it serves the slot again: they must not be applied before batch 1.
    await refusedForAMoment(router, conn, key, slot, 10n);
    pushRecord(router, key, 'b', 11n);
    pushRecord(router, key, 'c', 12n);
    await router.flush();
    assert.deepEqual(await lrange(port, key), ['a', 'b', 'c']);
    assert.equal((await redisCli(port, 'HGET', slotKeys.cp(Number(slot)).toString(), 'lsn:0')).trim(), '13');
    assert.ok(router.batchStats.resentGroups >= 2, `batch 1 resent, then batch 2 after it: ${JSON.stringify(router.batchStats)}`);
  } finally {
    await redisCli(port, 'CLUSTER', 'ADDSLOTS', slot).catch(() => undefined);
    await router.close();
  }
});

test('exactly-once: an oversized batch (plain commands) waits behind a refused batch of its slot instead of overtaking it', async () => {
  const router = await batchRouter();
  const masters = await clusterMasters(cluster);
  const port = masters[2]!.port;
  const key = await keyInSlotOwnedBy(cluster, port, 'eo-big:');
  const slot = String(keySlot(B(key)));
  const conn = connTo(router, port);
  // RPUSH key + 7000 values: more arguments than a script may pass (MAX_SCRIPT_COMMAND_ARGS).
  const values = Array.from({ length: 7000 }, (_, i) => `v${i}`);
  try {
    await refusedForAMoment(router, conn, key, slot, 50n);
    router.beginBatch(51n);
    router.connectionFor(B(key), 0).send(['RPUSH', B(key), ...values], B(key));
    router.commitBatch(52n);
    pushRecord(router, key, 'c', 52n);
    await router.flush();
    assert.deepEqual(await lrange(port, key), ['a', ...values, 'c']);
    assert.equal(router.batchStats.oversized, 1);
  } finally {
    await redisCli(port, 'CLUSTER', 'ADDSLOTS', slot).catch(() => undefined);
    await router.close();
  }
});

test('a target FLUSHALL between two batches of a slot: the checkpoints this router expects are forgotten, the next batch applies', async () => {
  const router = await batchRouter();
  const masters = await clusterMasters(cluster);
  const key = await keyInSlotOwnedBy(cluster, masters[1]!.port, 'eo-flush:');
  try {
    pushRecord(router, key, 'a', 20n);
    await router.flush();
    router.sendToAll(['FLUSHALL']);
    await router.flush();
    router.forgetSlotCheckpoints();
    pushRecord(router, key, 'b', 21n);
    await router.flush();
    assert.deepEqual(await lrange(masters[1]!.port, key), ['b']);
  } finally {
    await router.close();
  }
});

/**
 * Batch 1 (`RPUSH key a`, record `lsn`), then `fault` on the slot's node, then batch 2 (`RPUSH key b`),
 * in one pipeline: batch 2 is sent while batch 1 is not acknowledged, so it checks the checkpoint
 * batch 1 leaves, and finds what the fault left. Returns the run's error and the list's elements.
 */
async function faultBetweenBatches(
  masterIndex: number,
  lsn: bigint,
  fault: (key: Buffer, cp: Buffer) => Array<string | Buffer>,
): Promise<{ err: Error; slot: number; port: number; list: string[] }> {
  const router = await batchRouter();
  router.on('error', () => undefined);
  const port = (await clusterMasters(cluster))[masterIndex]!.port;
  const key = await keyInSlotOwnedBy(cluster, port, `eo-fault-${lsn}:`);
  const slot = keySlot(B(key));
  try {
    pushRecord(router, key, 'a', lsn);
    connTo(router, port).send(fault(B(key), slotKeys.cp(slot)));
    pushRecord(router, key, 'b', lsn + 1n);
    const err = await router.flush().then(
      () => assert.fail('the run went on'),
      (e: Error) => e,
    );
    return { err, slot, port, list: await lrange(port, key) };
  } finally {
    await router.close().catch(() => undefined);
  }
}

test('exactly-once: a slot whose checkpoint went back behind an acknowledged batch (lost writes) stops with a LostWritesError naming it', async () => {
  // What a failover to a replica that missed batch 1 leaves: its key and the slot's checkpoint gone.
  const { err, slot, port, list } = await faultBetweenBatches(0, 30n, (key, cp) => ['DEL', key, cp]);
  assert.ok(err instanceof LostWritesError, String(err));
  assert.equal(err.slot, slot);
  assert.match(err.message, new RegExp(`slot ${slot}: its checkpoint on 127\\.0\\.0\\.1:${port} says nothing, LSN 31 had been applied`));
  assert.deepEqual(list, [], 'the later batch was not applied on top of the loss');
});

test('exactly-once: a slot whose owner changed while keeping our connection, without the acknowledged batch, stops with a LostWritesError', async () => {
  const router = await batchRouter();
  router.on('error', () => undefined);
  const masters = await clusterMasters(cluster);
  const key = await keyInSlotOwnedBy(cluster, masters[0]!.port, 'eo-owner:');
  const slot = keySlot(B(key));
  try {
    pushRecord(router, key, 'a', 60n);
    await router.flush();
    // The slot passes to another master without batch 1 (what a failover to a replica that missed
    // it does), while the router's connection to the old owner stays open.
    await redisCli(masters[0]!.port, 'DEL', key, slotKeys.cp(slot).toString());
    await moveSlot(cluster, slot, masters[1]!.port);
    pushRecord(router, key, 'b', 61n);
    await assert.rejects(router.flush(), (err: Error) => {
      assert.ok(err instanceof LostWritesError, String(err));
      assert.equal(err.slot, slot);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${masters[0]!.port} lost writes it had acknowledged: 1 slot\\(s\\) behind on the new master \\(slot ${slot}: its checkpoint says nothing, LSN 61 had been applied\\)`));
      return true;
    });
    assert.equal(router.stats.lostConnections, 0, 'no connection was lost');
    assert.deepEqual(await lrange(masters[1]!.port, key), [], 'batch 2 was not applied on top of the loss');
  } finally {
    await router.close().catch(() => undefined);
  }
});

test('exactly-once: a checkpoint moved ahead by another writer stops the run with a ClusterError instead of skipping batches', async () => {
  const { err, slot, list } = await faultBetweenBatches(1, 40n, (_key, cp) => ['HSET', cp, 'lsn:0', '100']);
  assert.ok(err instanceof ClusterError && !(err instanceof LostWritesError), String(err));
  assert.equal(err.slot, slot);
  assert.match(err.message, /checkpoint lsn:0 on .* is at LSN 100, ahead of what this run wrote \(LSN 41\): another replicator writes the same checkpoint/);
  assert.deepEqual(list, ['a']);
});

test('a key in a database other than 0 is refused with a ClusterError naming it', async () => {
  const router = await connect();
  try {
    assert.throws(() => router.connectionFor(B('k'), 3), /key "k" is in database 3, but a Redis Cluster has only database 0 \(copy only database 0 with --dbs 0\)/);
  } finally {
    await router.close();
  }
});
