import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import calculateSlot from 'cluster-key-slot';
import { createClient, createCluster } from 'redis';
import { startCluster, redisCli, type RedisCluster } from './redis-server.js';
import { compareState, digestOf, readState, type ExpectedKey, type ExpectedState } from './expected.js';
import {
  CLUSTER_SLOTS,
  clusterMasters,
  failover,
  keyInSlotOwnedBy,
  moveSlot,
  moveSlots,
  readClusterState,
  replicaOf,
  type ClusterMaster,
} from './cluster.js';

type Cluster = ReturnType<typeof createCluster<{}, {}, {}, 2>>;

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const ownerOf = (masters: ClusterMaster[], slot: number): ClusterMaster | undefined =>
  masters.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b));

/** Asserts that `p` rejects with an error whose message matches `re` (node-redis ErrorReply: the reply text). */
async function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.match(err.message, re);
    return true;
  });
}

/** A standalone client to one node that does not reconnect, so a closed connection shows. */
async function probe(port: number) {
  const c = createClient({ url: `redis://127.0.0.1:${port}`, RESP: 2, socket: { reconnectStrategy: false } });
  c.on('error', () => {});
  await c.connect();
  return c;
}

describe('cluster helpers (3 masters + 1 replica each)', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  /** What the cluster must hold, in the shape of readClusterState. */
  const expected: Record<string, ExpectedKey> = {};
  const expectString = (key: string | Buffer, value: string | Buffer, pexpireat = -1): void => {
    const v = b64(value);
    expected[b64(key)] = { type: 'string', pexpireat, digest: digestOf(v), value: v };
  };
  const state = (): ExpectedState => ({ '0': expected });
  const TAG = '{mv}';
  const tagSlot = calculateSlot(TAG);

  before(async () => {
    // repl-diskless-sync-delay 0: replicas sync at once, so failover() need not wait 5 s for the link.
    cluster = await startCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 2000, config: { 'repl-diskless-sync-delay': '0' } });
    client = createCluster({ rootNodes: [{ url: cluster.seedUrl }], RESP: 2 });
    client.on('error', () => {});
    await client.connect();
  });

  after(async () => {
    await client?.close();
    await cluster?.stop();
  });

  test('clusterMasters: the 3 masters, slots covering 0..16383 exactly once', async () => {
    const masters = await clusterMasters(cluster);
    assert.deepEqual(masters.map((m) => m.port).sort(), cluster.nodes.slice(0, 3).map((n) => n.port).sort());
    const seen = new Uint8Array(CLUSTER_SLOTS);
    for (const m of masters) {
      assert.match(m.id, /^[0-9a-f]{40}$/);
      assert.equal(m.id, (await redisCli(m.port, 'CLUSTER', 'MYID')).trim());
      for (const [a, b] of m.slots) for (let s = a; s <= b; s++) seen[s]!++;
    }
    assert.ok(seen.every((n) => n === 1));
    assert.deepEqual(masters[0]!.slots[0], [0, 5460]);
  });

  test('keyInSlotOwnedBy: a key on that master; nth gives distinct keys; a replica is refused', async () => {
    for (const m of await clusterMasters(cluster)) {
      const k0 = await keyInSlotOwnedBy(cluster, m.port, 'pick:');
      const k1 = await keyInSlotOwnedBy(cluster, m.port, 'pick:', 1);
      assert.notEqual(k0, k1);
      for (const k of [k0, k1]) {
        assert.match(k, /^pick:\d+$/);
        assert.equal(ownerOf([m], Number((await redisCli(m.port, 'CLUSTER', 'KEYSLOT', k)).trim()))?.port, m.port);
      }
    }
    await assert.rejects(keyInSlotOwnedBy(cluster, cluster.nodes[3]!.port, 'pick:'), /not a reachable master/);
  });

  test('readClusterState: exactly the 200 keys written through the cluster', async () => {
    const now = Date.now();
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < 150; i++) {
      const k = `str:${i}`;
      const v = `value-${i}`;
      if (i % 10 === 0) {
        writes.push(client.sendCommand(k, false, ['SET', k, v, 'PX', '600000']));
        expectString(k, v, now + 600_000);
      } else {
        writes.push(client.sendCommand(k, false, ['SET', k, v]));
        expectString(k, v);
      }
    }
    for (let i = 0; i < 19; i++) {
      const k = `list:${i}`;
      const items = ['a', 'b', String(i)];
      writes.push(client.sendCommand(k, false, ['RPUSH', k, ...items]));
      const value = items.map((x) => b64(x));
      expected[b64(k)] = { type: 'list', pexpireat: -1, digest: digestOf(value), value };
    }
    // 30 keys in one slot (hash tag), for moveSlot to migrate in several batches.
    for (let i = 0; i < 30; i++) {
      const k = `${TAG}:${i}`;
      writes.push(client.sendCommand(k, false, ['SET', k, `t${i}`]));
      expectString(k, `t${i}`);
    }
    const binKey = Buffer.from([0xff, 0x00, 0xfe, 0x0a, 0x80]);
    const binValue = Buffer.from([0x00, 0xc3, 0x28]);
    writes.push(client.sendCommand(binKey, false, [Buffer.from('SET'), binKey, binValue]));
    expectString(binKey, binValue);
    await Promise.all(writes);
    assert.equal(Object.keys(expected).length, 200);

    const actual = await readClusterState(cluster);
    assert.deepEqual(Object.keys(actual), ['0']);
    assert.equal(Object.keys(actual['0']!).length, 200);
    assert.deepEqual(compareState(actual, state()), []);
    // Each master holds only keys of its own slots, and together they hold all of them.
    let total = 0;
    for (const m of await clusterMasters(cluster)) {
      const keys = Object.keys((await readState(m.port, [0]))['0']!);
      assert.ok(keys.length > 0);
      for (const k of keys) assert.equal(ownerOf([m], calculateSlot(Buffer.from(k, 'base64')))?.port, m.port);
      total += keys.length;
    }
    assert.equal(total, 200);
  });

  test('moveSlot: a 30-key slot in batches of 7; ASK/MOVED/TRYAGAIN while half-migrated; then all on the destination', async () => {
    const before = await clusterMasters(cluster);
    const src = ownerOf(before, tagSlot)!;
    const dst = before.find((m) => m !== src)!;
    const srcProbe = await probe(src.port);
    const dstProbe = await probe(dst.port);
    let halfway = false;
    try {
      const moved = await moveSlot(cluster, tagSlot, dst.port, {
        keysPerBatch: 7,
        pauseBetweenBatchesMs: 20,
        afterBatch: async ({ batch, moved: soFar, fromPort, toPort }) => {
          assert.equal(fromPort, src.port);
          assert.equal(toPort, dst.port);
          if (batch !== 1) return;
          assert.equal(soFar, 7);
          halfway = true;
          const left = ((await srcProbe.sendCommand(['CLUSTER', 'GETKEYSINSLOT', String(tagSlot), '100'])) as string[]).sort();
          assert.equal(left.length, 23);
          const gone = Array.from({ length: 30 }, (_, i) => `${TAG}:${i}`).find((k) => !left.includes(k))!;
          const stay = left[0]!;
          const ask = new RegExp(`^ASK ${tagSlot} 127\\.0\\.0\\.1:${dst.port}$`);
          // Source: keys it still has are served; moved or new keys get -ASK; mixed multi-key -TRYAGAIN.
          assert.equal(await srcProbe.sendCommand(['SET', stay, 'updated-while-migrating']), 'OK');
          expectString(stay, 'updated-while-migrating');
          await rejectsWith(srcProbe.sendCommand(['GET', gone]), ask);
          await rejectsWith(srcProbe.sendCommand(['SET', `${TAG}:new`, 'x']), ask);
          await rejectsWith(srcProbe.sendCommand(['MGET', stay, gone]), /^TRYAGAIN/);
          // Destination: -MOVED back to the source, unless ASKING.
          await rejectsWith(dstProbe.sendCommand(['GET', gone]), new RegExp(`^MOVED ${tagSlot} 127\\.0\\.0\\.1:${src.port}$`));
          const [asking, value] = await Promise.all([dstProbe.sendCommand(['ASKING']), dstProbe.sendCommand(['GET', gone])]);
          assert.equal(asking, 'OK');
          assert.equal(value, `t${gone.slice(TAG.length + 1)}`);
          // A cluster client follows the ASK: the new key is created on the destination.
          assert.equal(await client.sendCommand(`${TAG}:new`, false, ['SET', `${TAG}:new`, 'via-ask']), 'OK');
          expectString(`${TAG}:new`, 'via-ask');
        },
      });
      assert.ok(halfway);
      assert.equal(moved, 30);
      const after = await clusterMasters(cluster);
      assert.equal(ownerOf(after, tagSlot)?.port, dst.port);
      assert.ok(!ownerOf([after.find((m) => m.port === src.port)!], tagSlot));
      assert.equal((await redisCli(dst.port, 'CLUSTER', 'KEYSLOT', `${TAG}:0`)).trim(), String(tagSlot));
      // Every node, replicas included, already agrees (moveSlot waited for it).
      for (const n of cluster.nodes) {
        const nodes = await redisCli(n.port, 'CLUSTER', 'NODES');
        const line = nodes.split('\n').find((l) => l.startsWith(dst.id))!;
        const ranges = line.split(' ').slice(8).map((r): [number, number] => {
          const [a, b = a] = r.split('-').map(Number);
          return [a!, b!];
        });
        assert.ok(ranges.some(([a, b]) => tagSlot >= a && tagSlot <= b), `${n.port}: ${line}`);
      }
      assert.equal(await dstProbe.sendCommand(['CLUSTER', 'COUNTKEYSINSLOT', String(tagSlot)]), 31);
      assert.equal(await srcProbe.sendCommand(['CLUSTER', 'COUNTKEYSINSLOT', String(tagSlot)]), 0);
      await rejectsWith(srcProbe.sendCommand(['GET', `${TAG}:0`]), new RegExp(`^MOVED ${tagSlot} 127\\.0\\.0\\.1:${dst.port}$`));
      const dstKeys = (await readState(dst.port, [0]))['0']!;
      for (let i = 0; i < 30; i++) assert.ok(b64(`${TAG}:${i}`) in dstKeys);
      const actual = await readClusterState(cluster);
      assert.equal(Object.keys(actual['0']!).length, 201);
      assert.deepEqual(compareState(actual, state()), []);
      assert.equal(await moveSlot(cluster, tagSlot, dst.port), 0); // already there
    } finally {
      await Promise.all([srcProbe.close(), dstProbe.close()]);
    }
  });

  test('moveSlots: two slots holding keys, binary key included', async () => {
    const masters = await clusterMasters(cluster);
    const binKey = Buffer.from([0xff, 0x00, 0xfe, 0x0a, 0x80]);
    const binSlot = calculateSlot(binKey);
    const src = ownerOf(masters, binSlot)!;
    const dst = masters.find((m) => m !== src)!;
    const other = Object.keys(expected)
      .map((k) => calculateSlot(Buffer.from(k, 'base64')))
      .find((s) => s !== binSlot && ownerOf([src], s))!;
    const slots = [binSlot, other];
    const inSlots = Object.keys(expected).filter((k) => slots.includes(calculateSlot(Buffer.from(k, 'base64')))).length;
    assert.ok(inSlots >= 2);
    assert.equal(await moveSlots(cluster, slots, dst.port, { keysPerBatch: 1 }), inSlots);
    const after = await clusterMasters(cluster);
    for (const s of slots) assert.equal(ownerOf(after, s)?.port, dst.port);
    assert.ok(b64(binKey) in (await readState(dst.port, [0]))['0']!);
    assert.deepEqual(compareState(await readClusterState(cluster), state()), []);
  });

  test('failover: the replica takes the old master\'s slots; a connection held to the old master stays open and gets -MOVED', async () => {
    const before = await clusterMasters(cluster);
    const old = ownerOf(before, tagSlot)!; // the moved slot goes along
    const replicaPort = await replicaOf(cluster, old.port);
    assert.ok(!before.some((m) => m.port === replicaPort));
    const key = await keyInSlotOwnedBy(cluster, old.port, 'fo:');
    const held = await probe(old.port);
    try {
      assert.equal(await held.sendCommand(['SET', key, 'before']), 'OK');
      expectString(key, 'before');
      await failover(cluster, replicaPort);

      assert.equal((await redisCli(replicaPort, 'ROLE')).split('\n')[0], 'master');
      assert.equal((await redisCli(old.port, 'ROLE')).split('\n')[0], 'slave');
      const after = await clusterMasters(cluster);
      assert.deepEqual(after.find((m) => m.port === replicaPort)?.slots, old.slots);
      assert.ok(!after.some((m) => m.port === old.port));
      assert.equal(await replicaOf(cluster, replicaPort), old.port);
      for (const n of cluster.nodes) assert.match(await redisCli(n.port, 'CLUSTER', 'INFO'), /cluster_state:ok/);

      // Redis 7.0: the old master keeps the connection and redirects writes (and plain reads).
      assert.ok(held.isOpen);
      const moved = new RegExp(`^MOVED ${calculateSlot(key)} 127\\.0\\.0\\.1:${replicaPort}$`);
      await rejectsWith(held.sendCommand(['SET', key, 'after']), moved);
      await rejectsWith(held.sendCommand(['GET', key]), moved);
      assert.ok(held.isOpen);

      assert.deepEqual(compareState(await readClusterState(cluster), state()), []);
      assert.equal(await client.sendCommand(`${TAG}:3`, true, ['GET', `${TAG}:3`]), 't3');
      assert.equal(await client.sendCommand(key, false, ['SET', key, 'after']), 'OK');
      assert.equal(await redisCli(replicaPort, 'GET', key), 'after\n');
    } finally {
      await held.close();
    }
  });

  test('failover of a node that is not a replica is refused', async () => {
    const m = (await clusterMasters(cluster))[0]!;
    await assert.rejects(failover(cluster, m.port), /is not a replica/);
  });
});
