/**
 * SnapshotWriter `msetMaxKeys`: one-piece strings without expiry go as MSET (the target's cheapest
 * ingest path), and the target ends up exactly as with one SET per key (DEBUG DIGEST), with every
 * other command, expiry and database in place. Real redis-servers, a real 3-master cluster.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { redisCli, startCluster, startRedisServer, type RedisCluster, type RedisServer } from '../helpers/redis-server.js';
import { ClusterRouter } from '../../src/sink/cluster-router.js';
import { StandaloneRouter } from '../../src/sink/router.js';
import { SnapshotWriter, type SnapshotWriterOptions } from '../../src/sink/snapshot-writer.js';
import { readTargetInfo, type TargetInfo } from '../../src/sink/target-info.js';
import { parseRedisUrl } from '../../src/sink/target-url.js';
import { keySlot } from '../../src/sink/key-slot.js';
import { RDB_TYPE_HASH, RDB_TYPE_STRING, type SnapshotEntry } from '../../src/entry/entry.js';

const B = (s: string): Buffer => Buffer.from(s);
const FAR_FUTURE_MS = 4_102_444_800_000; // 2100-01-01: absolute, never expired by any test date

function str(key: string, value: string | Buffer, over: Partial<SnapshotEntry> = {}): SnapshotEntry {
  const v = typeof value === 'string' ? B(value) : value;
  return { kind: 'snapshot', db: 0, key: B(key), rdbType: RDB_TYPE_STRING, expireAtMs: -1, isFirst: true, isLast: true, rdbVersion: 9, valueKind: 'string', value: v, ...over } as SnapshotEntry;
}
function hash(key: string, flat: string[]): SnapshotEntry {
  return { kind: 'snapshot', db: 0, key: B(key), rdbType: RDB_TYPE_HASH, expireAtMs: -1, isFirst: true, isLast: true, rdbVersion: 9, valueKind: 'hash', value: flat.map(B) } as SnapshotEntry;
}

/** A snapshot mixing batchable strings with everything that must break or bypass a batch. */
function snapshot(): SnapshotEntry[] {
  const out: SnapshotEntry[] = [];
  for (let i = 0; i < 10; i++) out.push(str(`s:${i}`, `v${i}`));
  out.push(str('s:int', '12345')); // int-encoded on the target, as with SET
  out.push(str('s:old-hash', 'now a string')); // replaces a hash
  out.push(str('s:old-ttl', 'no ttl now')); // drops the old TTL
  out.push(str('s:ttl', 'with expiry', { expireAtMs: FAR_FUTURE_MS })); // SET … PXAT after its batch's MSET
  out.push(hash('h:1', ['f', 'v']));
  for (let i = 0; i < 4; i++) out.push(str(`s:db1:${i}`, `w${i}`, { db: 1 }));
  out.push(str('s:db0-again', 'x'));
  out.push(str('s:big', Buffer.alloc(20_000, 7))); // above the batched value size: its own SET
  out.push(str('s:pieces', 'ab', { isLast: false }));
  out.push(str('s:pieces', 'cd', { isFirst: false }));
  for (let i = 0; i < 7; i++) out.push(str(`s:tail:${i}`, `t${i}`));
  return out;
}

async function prepare(port: number): Promise<void> {
  await redisCli(port, 'HSET', 's:old-hash', 'f', 'v');
  await redisCli(port, 'SET', 's:old-ttl', 'old', 'PX', '3600000');
}

let plain: RedisServer;
let batched: RedisServer;
before(async () => {
  [plain, batched] = await Promise.all([
    startRedisServer({ config: { 'enable-debug-command': 'yes' } }),
    startRedisServer({ config: { 'enable-debug-command': 'yes' } }),
  ]);
});
after(async () => {
  await Promise.all([plain.stop(), batched.stop()]);
});

async function writeAll(server: RedisServer, msetMaxKeys: number, entries: SnapshotEntry[]): Promise<SnapshotWriter> {
  const router = await StandaloneRouter.connect(parseRedisUrl(server.url));
  try {
    const info = await readTargetInfo(router.all()[0]!);
    const w = new SnapshotWriter(router, info, { onExisting: 'replace', unsupported: 'fail', restoreMaxBytes: 512 * 1024, msetMaxKeys });
    for (const e of entries) w.write(e);
    await w.flush();
    return w;
  } finally {
    await router.close();
  }
}

const commandStats = async (port: number): Promise<string> => redisCli(port, 'INFO', 'commandstats');
const calls = (stats: string, cmd: string): number => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);

test('strings without expiry go as MSET batches; the target ends up identical to one SET per key (DEBUG DIGEST)', async () => {
  await Promise.all([prepare(plain.port), prepare(batched.port)]);
  const entries = snapshot();
  const a = await writeAll(plain, 0, entries);
  const b = await writeAll(batched, 4, entries);

  const [sa, sb] = await Promise.all([commandStats(plain.port), commandStats(batched.port)]);
  assert.equal(calls(sa, 'mset'), 0);
  // Batches of 4: s:0-3, s:4-7, s:8 s:9 s:int s:old-hash; s:old-ttl + s:ttl (cut by h:1: one key
  // for the MSET, so a SET, then SET … PXAT); db 1: 4 keys; s:db0-again alone (SET, cut by s:big);
  // tail: 4 + 3.
  assert.equal(calls(sb, 'mset'), 6);
  // s:old-ttl, s:db0-again (batches of one), s:ttl (PXAT), s:big, first piece of s:pieces, prepare().
  assert.equal(calls(sb, 'set'), 6);
  assert.equal(a.stats.keys, b.stats.keys);
  assert.equal(a.stats.pieces, b.stats.pieces);
  assert.ok(b.stats.commands < a.stats.commands, `${b.stats.commands} commands batched vs ${a.stats.commands}`);
  assert.equal(b.ackedKeys, b.stats.keys);

  const [da, db] = await Promise.all([redisCli(plain.port, 'DEBUG', 'DIGEST'), redisCli(batched.port, 'DEBUG', 'DIGEST')]);
  assert.equal(db, da);
  assert.equal(await redisCli(batched.port, 'OBJECT', 'ENCODING', 's:int'), 'int\n');
  assert.equal(await redisCli(batched.port, 'PTTL', 's:old-ttl'), '-1\n');
  assert.equal(await redisCli(batched.port, 'PEXPIRETIME', 's:ttl'), `${FAR_FUTURE_MS}\n`);
  assert.equal(await redisCli(batched.port, 'GET', 's:pieces'), 'abcd\n');
  assert.equal(await redisCli(batched.port, '-n', '1', 'DBSIZE'), '4\n');
});

test('strings with an expiry join the batch: one MSET for the others, then SET … PXAT each; identical to one command per key', async () => {
  await Promise.all([redisCli(plain.port, 'FLUSHALL'), redisCli(batched.port, 'FLUSHALL')]);
  await Promise.all([redisCli(plain.port, 'CONFIG', 'RESETSTAT'), redisCli(batched.port, 'CONFIG', 'RESETSTAT')]);
  const entries: SnapshotEntry[] = [];
  // The first key has an expiry (the batch's first key is not the MSET's), then every third.
  for (let i = 0; i < 30; i++) entries.push(str(`t:${i}`, `v${i}`, i % 3 === 0 ? { expireAtMs: FAR_FUTURE_MS + i } : {}));
  const a = await writeAll(plain, 0, entries);
  const b = await writeAll(batched, 100, entries);
  const sb = await commandStats(batched.port);
  assert.equal(calls(sb, 'mset'), 1);
  assert.equal(calls(sb, 'set'), 10);
  assert.equal(b.stats.commands, 11);
  assert.equal(b.stats.keys, a.stats.keys);
  assert.equal(b.ackedKeys, 30);
  const [da, db] = await Promise.all([redisCli(plain.port, 'DEBUG', 'DIGEST'), redisCli(batched.port, 'DEBUG', 'DIGEST')]);
  assert.equal(db, da);
  for (const i of [0, 3, 27]) assert.equal(await redisCli(batched.port, 'PEXPIRETIME', `t:${i}`), `${FAR_FUTURE_MS + i}\n`);
  assert.equal(await redisCli(batched.port, 'PTTL', 't:1'), '-1\n');
});

test('held keys leave at the end of the task without a flush, and before a command sent after sendPending()', async () => {
  await redisCli(batched.port, 'FLUSHALL');
  const router = await StandaloneRouter.connect(parseRedisUrl(batched.url));
  try {
    const info = await readTargetInfo(router.all()[0]!);
    const w = new SnapshotWriter(router, info, { onExisting: 'replace', unsupported: 'fail', restoreMaxBytes: 512 * 1024, msetMaxKeys: 100 });
    w.write(str('held:1', 'a'));
    w.write(str('held:2', 'b'));
    // Another component writes the same key in the same task (a journal record): it must apply after.
    w.sendPending();
    router.connectionFor(B('held:1'), 0).send(['APPEND', 'held:1', 'x'], B('held:1'));
    w.write(str('held:3', 'c'));
    await new Promise((resolve) => setImmediate(resolve));
    await router.flush(); // the router's, not the writer's: nothing is sent on its behalf
    assert.equal(await redisCli(batched.port, 'MGET', 'held:1', 'held:2', 'held:3'), 'ax\nb\nc\n');
    assert.equal(w.ackedKeys, 3);
  } finally {
    await router.close();
  }
});

test('onExisting skip/fail never batch: each key keeps its own guard', async () => {
  await redisCli(batched.port, 'FLUSHALL');
  await redisCli(batched.port, 'CONFIG', 'RESETSTAT');
  await redisCli(batched.port, 'SET', 'g:1', 'kept');
  const router = await StandaloneRouter.connect(parseRedisUrl(batched.url));
  try {
    const info = await readTargetInfo(router.all()[0]!);
    const w = new SnapshotWriter(router, info, { onExisting: 'skip', unsupported: 'fail', restoreMaxBytes: 512 * 1024, msetMaxKeys: 100 });
    for (let i = 1; i <= 3; i++) w.write(str(`g:${i}`, `new${i}`));
    await w.flush();
    assert.equal(await redisCli(batched.port, 'MGET', 'g:1', 'g:2', 'g:3'), 'kept\nnew2\nnew3\n');
    assert.equal(calls(await commandStats(batched.port), 'mset'), 0);
    assert.equal(w.stats.skippedExisting, 1);
  } finally {
    await router.close();
  }
});

/** `MSET` and `SET` calls over every node of the cluster since its last CONFIG RESETSTAT. */
async function clusterCalls(cluster: RedisCluster): Promise<{ msets: number; sets: number }> {
  let msets = 0;
  let sets = 0;
  for (const n of cluster.nodes) {
    const s = await commandStats(n.port);
    msets += calls(s, 'mset');
    sets += calls(s, 'set');
  }
  return { msets, sets };
}

/** One 3-master cluster for the cluster tests of this file, emptied (keys and command counts) for each. */
let sharedCluster: RedisCluster | undefined;
after(async () => sharedCluster?.stop());
async function emptyCluster(): Promise<RedisCluster> {
  sharedCluster ??= await startCluster({ masters: 3, nodeTimeoutMs: 2000 });
  for (const n of sharedCluster.nodes) {
    await redisCli(n.port, 'FLUSHALL');
    await redisCli(n.port, 'CONFIG', 'RESETSTAT');
  }
  return sharedCluster;
}

/**
 * Runs `body` with a SnapshotWriter (`--on-existing replace`, `options` on top) on a router of the
 * emptied shared cluster; closes the router afterwards.
 */
async function withClusterWriter(
  options: Partial<SnapshotWriterOptions>,
  body: (w: SnapshotWriter, cluster: RedisCluster) => Promise<void>,
): Promise<void> {
  const cluster = await emptyCluster();
  const router = await ClusterRouter.connect([parseRedisUrl(cluster.seedUrl)]);
  try {
    const info: TargetInfo = await readTargetInfo(router.all()[0]!);
    await body(new SnapshotWriter(router, info, { onExisting: 'replace', unsupported: 'fail', restoreMaxBytes: 512 * 1024, ...options }), cluster);
  } finally {
    await router.close();
  }
}

test('cluster: consecutive keys of one slot go as one MSET, keys of other slots are never mixed in', async () => {
  await withClusterWriter({ msetMaxKeys: 100 }, async (w, cluster) => {
    const tagged = ['{t}a', '{t}b', '{t}c', '{t}d'];
    const others = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
    assert.ok(new Set(others.map((k) => keySlot(B(k)))).size === others.length, 'distinct slots');
    for (const k of tagged) w.write(str(k, `v${k}`));
    for (const k of others) w.write(str(k, `v${k}`));
    await w.flush();
    const { msets, sets } = await clusterCalls(cluster);
    assert.equal(msets, 1);
    assert.equal(sets, others.length);
    assert.equal(await redisCli(cluster.nodes[0]!.port, '-c', 'MGET', ...tagged), tagged.map((k) => `v${k}\n`).join(''));
    for (const k of others) assert.equal(await redisCli(cluster.nodes[0]!.port, '-c', 'GET', k), `v${k}\n`);
  });
});

test('cluster: strings are held per slot across the snapshot: one MSET per slot, other writes in between, an expiry as SET … PXAT', async () => {
  await withClusterWriter({ msetMaxKeys: 3 }, async (w, cluster) => {
    // Interleaved: {t} ×5 (a full batch of 3 leaves at once, 2 at the end), {u} ×2, singletons, a hash, an expiry.
    const entries = [
      str('{t}a', 'ta'), str('k1', 'v1'), str('{u}x', 'ux'), str('{t}b', 'tb'), hash('{t}h', ['f', 'v']),
      str('{t}c', 'tc'), str('k2', 'v2'), str('{t}ttl', 'te', { expireAtMs: FAR_FUTURE_MS }), str('{u}y', 'uy'),
      str('{t}d', 'td'), str('{t}e', 'te'),
    ];
    for (const e of entries) w.write(e);
    // Sent so far: the full {t} batch and the hash (the SET … PXAT waits in the one staged batch until
    // the end of the task); the per-slot keys wait for sendPending().
    assert.equal(w.stats.keys, 3 + 1);
    w.sendPending();
    assert.equal(w.stats.keys, entries.length);
    await w.flush();
    const { msets, sets } = await clusterCalls(cluster);
    assert.equal(msets, 3, '{t}a {t}b {t}c, then {t}d {t}e, and {u}x {u}y');
    assert.equal(sets, 3, 'k1, k2 and the SET … PXAT');
    for (const e of entries.filter((x) => x.valueKind === 'string')) {
      assert.equal(await redisCli(cluster.nodes[0]!.port, '-c', 'GET', e.key.toString()), `${e.value.toString()}\n`, e.key.toString());
    }
    assert.equal(await redisCli(cluster.nodes[0]!.port, '-c', 'HGET', '{t}h', 'f'), 'v\n');
    assert.equal(Number(await redisCli(cluster.nodes[0]!.port, '-c', 'PEXPIRETIME', '{t}ttl')), FAR_FUTURE_MS);
  });
});

test('cluster: a slot leaves as one MSET when its region is full; a pair longer than a region goes alone', async () => {
  await withClusterWriter({ msetMaxKeys: 512, slotStageBytes: 16384 * 512 }, async (w, cluster) => {
    // 512-byte regions: four `{r}<i>` keys with 100-byte values (118 encoded bytes each) fill one.
    const entries = Array.from({ length: 12 }, (_, i) => str(`{r}${i.toString(16)}`, Buffer.alloc(100, 97 + i)));
    entries.splice(5, 0, str('{r}long', Buffer.alloc(600, 122)));
    for (const e of entries) w.write(e);
    assert.equal(w.stats.keys, 2 * 4 + 1, 'two full regions and the long pair sent; four keys held');
    await w.flush();
    const { msets, sets } = await clusterCalls(cluster);
    assert.deepEqual([msets, sets], [3, 1]);
    for (const e of entries) assert.equal(await redisCli(cluster.nodes[0]!.port, '-c', 'GET', e.key.toString()), `${e.value.toString()}\n`, e.key.toString());
  });
});
