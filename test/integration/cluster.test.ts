/**
 * A real Redis Cluster target (3 masters, one replica each, started by the harness): `migrate` of
 * RDB dumps and `replicate` of recorded Dragonfly sessions end in the source's state; slots moved
 * (ASK then MOVED) and a `CLUSTER FAILOVER` during a replication lose no write and apply none twice
 * (issue "Redis Cluster target" §3).
 *
 * The live-write tests stream generated journal records from the fake master (which is only a
 * source of records here) and apply the same commands, in the same order, to a standalone
 * reference redis-server: the cluster must end equal to the reference, key by key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { ClusterError, ConfigError } from '../../src/errors.js';
import { type ReplicateOptions, Replicator, REPLICATE_DEFAULTS } from '../../src/pipeline/replicate.js';
import { keySlot } from '../../src/sink/key-slot.js';
import { RedisConnection } from '../../src/sink/redis-connection.js';
import { parseRedisUrl } from '../../src/sink/target-url.js';
import { clusterMasters, failover, moveSlots, readClusterState, replicaOf } from '../helpers/cluster.js';
import { compareState, describeKey, readState, type ExpectedState } from '../helpers/expected.js';
import { caughtUp, idempotentWorkload, modelMaster, workload as nonIdempotentWorkload } from '../helpers/resume-workload.js';
import { until as untilAsync } from '../helpers/wait.js';
import { FakeMaster, type FakeFlow, journalCommand } from '../helpers/fake-master.js';
import { buildDump, ENCODING_PROFILES, type RdbDump } from '../helpers/rdb-factory.js';
import { ReplayMaster } from '../helpers/replay-master.js';
import { redisCli, startCluster, startRedisServer, type RedisCluster, type RedisServer } from '../helpers/redis-server.js';
import { finalAckMismatches, replicateSession, unexplainedDiffs, until } from '../helpers/replicate-session.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const silent = pino({ level: 'silent' });
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function df2redis(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 240_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

let cluster: RedisCluster;

/** Empties every current master (and so their replicas). */
async function flushCluster(): Promise<void> {
  for (const m of await clusterMasters(cluster)) {
    await redisCli(m.port, 'FLUSHALL');
    await redisCli(m.port, 'FUNCTION', 'FLUSH');
  }
}

/** Keys on every master, df2redis's own checkpoints aside. */
async function clusterKeyCount(): Promise<number> {
  let n = 0;
  for (const m of await clusterMasters(cluster)) {
    n += Number((await redisCli(m.port, 'DBSIZE')).trim());
    n -= (await redisCli(m.port, 'KEYS', 'df2redis:*')).split('\n').filter(Boolean).length; // the checkpoints
  }
  return n;
}

/** `compareState` diffs of db 0 only, as described lines. */
function diffDb0(actual: ExpectedState, expected: ExpectedState, ttlToleranceMs = 2000): string[] {
  return compareState({ 0: actual['0'] ?? {} }, { 0: expected['0'] ?? {} }, { ttlToleranceMs });
}

before(async () => {
  cluster = await startCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 2000, config: { 'repl-diskless-sync-delay': '0' } });
});
after(async () => {
  await cluster?.stop();
});

describe('migrate RDB dumps into a 3-master cluster', () => {
  let dump: RdbDump;
  before(async () => {
    // Every type and encoding of the default profile, dbs 0, 1 and 15, big collections and a 10 MB string.
    dump = await buildDump(ENCODING_PROFILES[0]!, { bigElements: 50_000 });
  });
  after(async () => {
    await dump?.server.stop();
  });

  test('a source with keys in databases other than 0 is refused before writing, naming them', async () => {
    await flushCluster();
    const r = await df2redis('migrate', '--source', dump.path, '--target', cluster.seedUrl, '--progress', 'none', '--log-level', 'silent');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the source has keys in database\(s\) 1, 15, but a Redis Cluster has only database 0/);
    assert.match(r.stderr, /--dbs 0/);
    assert.equal(await clusterKeyCount(), 0, 'nothing written');
  });

  for (const onExisting of ['replace', 'skip'] as const) {
    test(`--dbs 0 --on-existing ${onExisting}: the cluster holds exactly db 0 of the source, every key on its slot's master`, { timeout: 240_000 }, async () => {
      await flushCluster();
      // Two seeds, one of them a replica: any node of the cluster leads to the masters.
      const seeds = `${cluster.seedUrl},${cluster.nodes[4]!.url}`;
      const r = await df2redis('migrate', '--source', dump.path, '--target', seeds, '--dbs', '0', '--on-existing', onExisting, '--progress', 'none', '--log-level', 'silent');
      assert.equal(r.code, 0, r.stderr);
      const expected = await readState(dump.server.port, [0]);
      const actual = await readClusterState(cluster);
      assert.deepEqual(diffDb0(actual, expected, 1000), []);
      const n = Object.keys(expected['0']!).length;
      assert.match(r.stdout, new RegExp(`^migrated ${n} of ${n} keys`, 'm'));
      assert.match(r.stdout, /other databases/, 'the summary says keys of other databases were not copied');
      // readClusterState throws if a key sits on a master that does not own its slot.
      for (const m of await clusterMasters(cluster)) assert.ok(Number((await redisCli(m.port, 'DBSIZE')).trim()) > 0, `master ${m.port} got keys`);
    });
  }
});

describe('replicate recorded Dragonfly sessions into a 3-master cluster', () => {
  for (const name of ['types', 'big', 'during']) {
    test(`replicate ${name} --dbs 0: db 0 equals the master's, except the documented exceptions`, { timeout: 240_000 }, async () => {
      await flushCluster();
      const { summary, master, replicator } = await replicateSession(name, cluster.seedUrl, { dbs: [0] });
      try {
        assert.deepEqual(master.violations, []);
        const all = master.expected();
        const expected: ExpectedState = { 0: all['0']! };
        const diffs = diffDb0(await readClusterState(cluster), expected);
        const { unexplained, explainedKeys, knownCount } = unexplainedDiffs(diffs, expected);
        assert.deepEqual(unexplained, [], `${name}: unexplained differences`);
        assert.equal(diffs.length - knownCount, explainedKeys.length, explainedKeys.map(describeKey).join(', '));
        assert.deepEqual(finalAckMismatches(summary, master), []);
        const otherDbs = Object.entries(all).filter(([db]) => db !== '0').length;
        if (otherDbs > 0) assert.ok(replicator.status().skippedOtherDbs > 0, 'keys of other dbs were counted as skipped');
        assert.equal(replicator.status().target.cluster, true);
      } finally {
        await master.close();
      }
    });
  }

  test('without --dbs, a source using other databases is refused at start (INFO keyspace), naming them, before writing', async () => {
    await flushCluster();
    const master = await ReplayMaster.start('types');
    try {
      const r = new Replicator({ ...REPLICATE_DEFAULTS, source: master.url, target: cluster.seedUrl, unsupported: 'skip' }, silent);
      await assert.rejects(r.run(), (err: Error) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, /the source has keys in database\(s\) 1, 3, 5, but a Redis Cluster has only database 0/);
        assert.match(err.message, /--dbs 0/);
        return true;
      });
      assert.equal(master.flowLogs(0).length, 0, 'no flow was opened');
      assert.equal(await clusterKeyCount(), 0);
    } finally {
      await master.close();
    }
  });
});

// ── live writes: generated journal streams ─────────────────────────────────────────────────────

/**
 * A deterministic journal workload over `groups` key groups. Group `g`'s keys belong to flow
 * `g % flows` (a Dragonfly shard owns a key, so all commands on a key come from one flow). Mixes
 * order-sensitive writes (RPUSH), counters (INCR: applying one twice would show), plain SETs,
 * cross-slot MSET and DEL (split per key), and RENAME back and forth between keys in different
 * slots (DUMP + RESTORE + DEL on the cluster).
 */
function* workload(total: number, groups: number, flows: number): Generator<{ flow: number; args: string[] }> {
  const renamed = new Array<boolean | undefined>(groups);
  for (let i = 0; i < total; i++) {
    const g = i % groups;
    const flow = g % flows;
    switch (i % 10) {
      case 0:
      case 1:
      case 2:
        yield { flow, args: ['RPUSH', `l:${g}`, String(i)] };
        break;
      case 3:
        yield { flow, args: ['INCR', `c:${g}`] };
        break;
      case 4:
      case 5:
        yield { flow, args: ['SET', `s:${g}:${i % 50}`, `v${i}`] };
        break;
      case 6:
        yield { flow, args: ['MSET', `m:${g}:a`, String(i), `m:${g}:b`, String(i)] };
        break;
      case 7:
        yield { flow, args: ['DEL', `s:${g}:${(i + 5) % 50}`, `m:${g}:b`] };
        break;
      case 8:
        if (renamed[g] === undefined) {
          renamed[g] = false;
          yield { flow, args: ['RPUSH', `r:${g}`, String(i)] };
        } else {
          yield { flow, args: renamed[g] ? ['RENAME', `rr:${g}`, `r:${g}`] : ['RENAME', `r:${g}`, `rr:${g}`] };
          renamed[g] = !renamed[g];
        }
        break;
      default:
        yield { flow, args: ['PEXPIREAT', `s:${g}:${i % 50}`, String(4_000_000_000_000)] };
    }
  }
}

/**
 * Streams {@link workload} into a replicator writing to the cluster (through the fake master) and,
 * in the same order per flow, into a standalone reference server, while `during()` runs; then waits
 * until every record is acknowledged and compares the cluster with the reference.
 */
async function replicateWorkload(
  total: number,
  during: () => Promise<void>,
  delivery: 'exactly-once' | 'at-least-once' = 'exactly-once',
): Promise<{ target: { moved: number; asked: number; resentAfterLoss: number; resentSlotGroups: number; retried: number }; diffs: string[] }> {
  const flowsCount = 2;
  const master = await FakeMaster.start({ numFlows: flowsCount });
  const reference: RedisServer = await startRedisServer();
  const refConn = await RedisConnection.connect(parseRedisUrl(reference.url), { role: 'reference' });
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: master.url, target: cluster.seedUrl, delivery }, silent);
  const running = r.run();
  let failure: unknown;
  running.catch((err: unknown) => (failure = err));
  try {
    await until(() => failure !== undefined || (r.status().phase === 'stable-sync' && r.status().flows.length === flowsCount && r.status().flows.every((f) => f.phase === 'stable-sync')), 'stable sync');
    if (failure !== undefined) throw failure;
    const flows = master.flows as FakeFlow[];
    const sent = new Array<number>(flowsCount).fill(0);
    // Writes go on until `during()` is over and at least `total` records were sent.
    let isDuringDone = false;
    const duringRun = during().finally(() => (isDuringDone = true));
    const writer = (async () => {
      const batches: Buffer[][] = flows.map(() => []);
      let n = 0;
      for (const { flow, args } of workload(Number.MAX_SAFE_INTEGER, 48, flowsCount)) {
        batches[flow]!.push(journalCommand(args));
        refConn.send(args);
        sent[flow]!++;
        if (++n % 200 === 0) {
          for (let f = 0; f < flowsCount; f++) flows[f]!.write(...batches[f]!.splice(0));
          await delay(3);
          if (failure !== undefined) throw failure;
          if (n >= total && isDuringDone) break;
        }
      }
      for (let f = 0; f < flowsCount; f++) if (batches[f]!.length > 0) flows[f]!.write(...batches[f]!.splice(0));
    })();
    await Promise.all([writer, duringRun]);
    await refConn.flush();
    // JOURNAL_OFFSET 1 + every record sent.
    await until(() => failure !== undefined || r.status().flows.every((f) => f.lsn === BigInt(1 + sent[f.id]!)), 'every record acknowledged', 60_000);
    if (failure !== undefined) throw failure;
    const status = r.status();
    await r.stop();
    await running;
    const expected = await readState(reference.port, [0]);
    const actual = await readClusterState(cluster);
    assert.ok(Object.keys(expected['0']!).length > 100);
    return { target: status.target, diffs: diffDb0(actual, expected, 100) };
  } finally {
    await r.stop().catch(() => undefined);
    await refConn.close();
    await reference.stop();
    await master.close();
  }
}

test('journal FLUSHALL empties every master exactly once; a SUNIONSTORE whose keys span slots stops the run with a ClusterError naming it', { timeout: 60_000 }, async () => {
  await flushCluster();
  const master = await FakeMaster.start({ numFlows: 2 });
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: master.url, target: cluster.seedUrl }, silent);
  const running = r.run();
  running.catch(() => undefined);
  try {
    await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync', 20_000);
    const [f0, f1] = master.flows as FakeFlow[];
    const before = await Promise.all((await clusterMasters(cluster)).map(async (m) => ({ port: m.port, stats: await redisCli(m.port, 'INFO', 'commandstats') })));
    const calls = (stats: string): number => Number(/cmdstat_flushall:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    for (let i = 0; i < 300; i++) f0!.write(journalCommand(['SET', `pre:${i}`, 'x']));
    // post:a's slot gets a checkpoint before the flush: its next batch must not expect it after.
    f0!.write(journalCommand(['SET', 'post:a', 'pre']));
    f0!.write(journalCommand(['FLUSHALL'], { txid: 7 }), journalCommand(['SET', 'post:a', '1']));
    f1!.write(journalCommand(['FLUSHALL'], { txid: 7 }), journalCommand(['SET', 'post:b', '1']));
    await until(() => r.status().flows[0]!.lsn === 304n && r.status().flows[1]!.lsn === 3n, 'both flows acknowledged', 20_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(r.status(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
    });
    assert.equal(await clusterKeyCount(), 2, 'only the post-flush keys remain');
    for (const m of await clusterMasters(cluster)) {
      const was = calls(before.find((b) => b.port === m.port)?.stats ?? '');
      assert.equal(calls(await redisCli(m.port, 'INFO', 'commandstats')) - was, 1, `FLUSHALL ran once on master ${m.port}`);
    }
    // `{a}x` and `{b}y` hash to different slots: no single-slot equivalent.
    f0!.write(journalCommand(['SUNIONSTORE', '{a}x', '{b}y']));
    await assert.rejects(running, (err: Error) => {
      assert.ok(err instanceof ClusterError, String(err));
      assert.match(err.message, /journal command SUNIONSTORE cannot run on a Redis Cluster: SUNIONSTORE keys span slots \d+, \d+ \(keys "\{a\}x", "\{b\}y"\)/);
      return true;
    });
  } finally {
    await r.stop().catch(() => undefined);
    await master.close();
  }
});

describe('live replication while the cluster changes', () => {
  for (const delivery of ['at-least-once', 'exactly-once'] as const) {
    const how = delivery === 'at-least-once' ? 'ASK and MOVED followed' : 'batch scripts resent per slot to the new owner';
    test(`slots moved during a replication run (MIGRATING/IMPORTING + MIGRATE, then SETSLOT NODE), ${delivery}: ${how}, no write lost or applied twice`, { timeout: 120_000 }, async () => {
      await flushCluster();
      const masters = await clusterMasters(cluster);
      const dest = masters[0]!;
      // The slots of the workload's keys that another master owns: they move to `dest` while writes go on.
      const keys = Array.from({ length: 48 }, (_, g) => [`l:${g}`, `c:${g}`, `r:${g}`, `rr:${g}`, `m:${g}:a`]).flat();
      const owned = (slot: number): boolean => dest.slots.some(([a, z]) => slot >= a && slot <= z);
      const slots = [...new Set(keys.map((k) => keySlot(Buffer.from(k))))].filter((s) => !owned(s)).slice(0, 40);
      const { target, diffs } = await replicateWorkload(
        15_000,
        async () => {
          await delay(300); // let keys exist before their slots move
          await moveSlots(cluster, slots, dest.port, { keysPerBatch: 2, pauseBetweenBatchesMs: 5 });
        },
        delivery,
      );
      assert.deepEqual(diffs, [], `cluster equals the reference server (redirections: ${JSON.stringify(target)})`);
      if (delivery === 'at-least-once') {
        assert.ok(target.moved > 0, `MOVED replies were followed: ${JSON.stringify(target)}`);
        assert.ok(target.asked > 0, `ASK replies were followed: ${JSON.stringify(target)}`);
      } else {
        // A script meeting a moved or moving slot is refused before writing (its probe key), then
        // each of its slot groups is resent alone to the slot's owner.
        assert.ok(target.resentSlotGroups > 0 && target.retried > 0, `slot groups resent: ${JSON.stringify(target)}`);
      }
    });
  }

  test('CLUSTER FAILOVER on a replica during a replication run: no write lost or applied twice', { timeout: 120_000 }, async () => {
    await flushCluster();
    const masters = await clusterMasters(cluster);
    const replica = await replicaOf(cluster, masters[1]!.port);
    const { target, diffs } = await replicateWorkload(30_000, async () => {
      await delay(300);
      await failover(cluster, replica);
    });
    // Exactly-once: each slot's batches apply in order or not at all (a batch finding its slot's
    // checkpoint short of its predecessor's is refused and resent behind it), so neither a reorder
    // nor a loss can pass silently. (A loss was seen once in CI: batches refused for a moment, a
    // later one of the same slots applied first, the earlier ones then skipped as "applied".)
    assert.deepEqual(diffs, [], `no write lost, reordered or applied twice (redirections: ${JSON.stringify(target)})`);
    assert.ok(target.moved + target.resentAfterLoss + target.resentSlotGroups > 0, `writes to the old master were redirected: ${JSON.stringify(target)}`);
    const after = await clusterMasters(cluster);
    assert.ok(after.some((m) => m.port === replica), 'the replica is a master now');
  });
});

/**
 * Starts a replicator on the model master `t` into the cluster that must resume (a partial sync on
 * every flow, no full sync) and waits until it caught up; it is added to `replicators` (to stop).
 */
async function resumeAndCatchUp(
  t: Awaited<ReturnType<typeof modelMaster>>,
  options: Partial<ReplicateOptions>,
  replicators: Replicator[],
): Promise<{ r: Replicator; running: Promise<unknown> }> {
  const syncs = { count: 0 };
  t.m.on('sync', () => syncs.count++);
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: t.m.url, target: cluster.seedUrl, ...options }, silent);
  replicators.push(r);
  const running = r.run();
  running.catch(() => undefined);
  await caughtUp(r, t.data, 'the resumed run caught up');
  assert.equal(syncs.count, 0, 'no full sync');
  assert.deepEqual(r.status().resyncs, { full: 0, partial: 1 });
  return { r, running };
}

describe('resume and reconnect into a 3-master cluster (at-least-once)', () => {
  test('a restart resumes from the checkpoint on the cluster by partial sync; a killed master connection is reconnected; the cluster converges', { timeout: 120_000 }, async () => {
    await flushCluster();
    const t = await modelMaster(2);
    const replicators: Replicator[] = [];
    try {
      const state = { seq: 0 };
      await idempotentWorkload(t.data, 2, 60, state);
      const first = new Replicator({ ...REPLICATE_DEFAULTS, source: t.m.url, target: cluster.seedUrl, delivery: 'at-least-once' }, silent);
      replicators.push(first);
      const running1 = first.run();
      running1.catch(() => undefined);
      await caughtUp(first, t.data, 'the first run caught up');
      assert.equal(first.status().delivery, 'at-least-once');
      await first.stop();
      await running1;
      await idempotentWorkload(t.data, 2, 200, state);
      // With --wait-replicas 1: the checkpoint advances only after WAIT saw each master's replica.
      const { r: second, running: running2 } = await resumeAndCatchUp(t, { waitReplicas: 1, delivery: 'at-least-once' }, replicators);
      // Every client of one master killed while writes flow: reconnect, resume, converge.
      const masters = await clusterMasters(cluster);
      const writes = idempotentWorkload(t.data, 2, 300, state);
      await redisCli(masters[1]!.port, 'CLIENT', 'KILL', 'TYPE', 'normal');
      await writes;
      await caughtUp(second, t.data, 'caught up after the kill');
      // A lost cluster master connection is re-routed by the cluster router itself (resent to the
      // slot's owner), or, failing that, the run reconnects: either way nothing is lost.
      const st = second.status();
      assert.ok(st.reconnects >= 1 || st.target.lostConnections >= 1, `recovered: ${st.reconnects} reconnects, ${st.target.lostConnections} lost connections re-opened`);
      await untilAsync(async () => {
        for (const m of await clusterMasters(cluster)) {
          const lsn = (await redisCli(m.port, 'HGET', 'df2redis:checkpoint', 'lsn:0')).trim();
          if (!lsn.startsWith('MOVED')) return lsn === String(t.data.lsns[0]);
        }
        return false;
      }, 'the checkpoint on the cluster advanced to the last record');
      const waits = await Promise.all((await clusterMasters(cluster)).map(async (m) => /cmdstat_wait:calls=(\d+)/.exec(await redisCli(m.port, 'INFO', 'commandstats'))?.[1]));
      assert.ok(waits.every((n) => Number(n) > 0), `WAIT on every master: ${waits.join(',')}`);
      await second.stop();
      await running2;
      const expected = await readState(t.data.server.port, [0]);
      assert.deepEqual(diffDb0(await readClusterState(cluster), expected), []);
    } finally {
      for (const r of replicators) await r.stop().catch(() => undefined);
      await t.close();
    }
  });
});

describe('exactly-once into a 3-master cluster (per-slot checkpoints, batch scripts)', () => {
  test('a batch holding a command too long for a script goes as plain commands, float increments as their EVAL', { timeout: 60_000 }, async () => {
    await flushCluster();
    const master = await FakeMaster.start({ numFlows: 1 });
    const r = new Replicator({ ...REPLICATE_DEFAULTS, source: master.url, target: cluster.seedUrl }, silent);
    const running = r.run();
    running.catch(() => undefined);
    try {
      await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync', 20_000);
      const [f0] = master.flows as FakeFlow[];
      // One socket read: the 7100-element RPUSH (over Lua's unpack bound) makes the batch plain.
      const elements = Array.from({ length: 7100 }, (_, i) => `e${i}`);
      f0!.write(journalCommand(['INCRBYFLOAT', 'fl', '1.5']), journalCommand(['RPUSH', 'biglist', ...elements]), journalCommand(['INCRBYFLOAT', 'fl', '0.25']));
      const seed = cluster.nodes[0]!.port;
      await untilAsync(async () => (await redisCli(seed, '-c', 'GET', 'fl')).trim() === '1.75' && (await redisCli(seed, '-c', 'LLEN', 'biglist')).trim() === '7100', 'both applied');
      assert.equal(r.status().phase, 'stable-sync');
    } finally {
      await r.stop().catch(() => undefined);
      await master.close();
    }
  });

  test('a command refused inside a batch script stops the run with an error naming that command and its key', { timeout: 60_000 }, async () => {
    await flushCluster();
    const t = await modelMaster(1);
    const r = new Replicator({ ...REPLICATE_DEFAULTS, source: t.m.url, target: cluster.seedUrl }, silent);
    try {
      await t.data.exec(0, ['SET', 'counter', '1'], [{ flow: 0, args: ['SET', 'counter', '1'] }]);
      const running = r.run();
      running.catch(() => undefined);
      await caughtUp(r, t.data, 'caught up');
      // The target's copy becomes a list behind df2redis's back: the next INCR is refused there.
      const owner = (await clusterMasters(cluster)).find((m) => m.slots.some(([a, b]) => keySlot(Buffer.from('counter')) >= a && keySlot(Buffer.from('counter')) <= b))!;
      await redisCli(owner.port, 'DEL', 'counter');
      await redisCli(owner.port, 'RPUSH', 'counter', 'x');
      for (const [k, v] of [['a', '1'], ['b', '2']]) await t.data.exec(0, ['SET', k!, v!], [{ flow: 0, args: ['SET', k!, v!] }]);
      await t.data.exec(0, ['INCR', 'counter'], [{ flow: 0, args: ['INCR', 'counter'] }]);
      await assert.rejects(running, (err: Error) => /INCR/.test(err.message) && /counter/.test(err.message) && /WRONGTYPE/.test(err.message));
    } finally {
      await r.stop().catch(() => undefined);
      await t.close();
    }
  });

  test('non-idempotent writes through a restart, killed master connections and slots moved while writing: every record applied once', { timeout: 120_000 }, async () => {
    await flushCluster();
    const t = await modelMaster(2);
    const replicators: Replicator[] = [];
    try {
      const state = { seq: 0 };
      await nonIdempotentWorkload(t.data, 2, 80, state);
      const first = new Replicator({ ...REPLICATE_DEFAULTS, source: t.m.url, target: cluster.seedUrl }, silent);
      replicators.push(first);
      const running1 = first.run();
      running1.catch(() => undefined);
      await caughtUp(first, t.data, 'the first run caught up');
      assert.equal(first.status().delivery, 'exactly-once', 'the default on a cluster');
      await nonIdempotentWorkload(t.data, 2, 100, state);
      await caughtUp(first, t.data, 'the first run caught up with stable-sync writes');
      let slotCheckpoints = 0;
      for (const m of await clusterMasters(cluster)) slotCheckpoints += (await redisCli(m.port, 'KEYS', 'df2redis:cp:*')).split('\n').filter(Boolean).length;
      assert.ok(slotCheckpoints > 0, 'slot checkpoints were written with the data');
      await first.stop();
      await running1;

      await nonIdempotentWorkload(t.data, 2, 150, state);
      const { r: second, running: running2 } = await resumeAndCatchUp(t, {}, replicators);

      // Killed connections while writes flow: unacknowledged batch scripts are resent per slot,
      // skipped where the slot's checkpoint shows them applied (or the run resumes from the checkpoints).
      let masters = await clusterMasters(cluster);
      for (const m of masters) {
        const writes = nonIdempotentWorkload(t.data, 2, 150, state);
        await delay(5);
        await redisCli(m.port, 'CLIENT', 'KILL', 'TYPE', 'normal');
        await writes;
        await caughtUp(second, t.data, `caught up after killing the clients of ${m.port}`);
      }

      // Slots of the workload's keys move to another master while writes flow (ASK, then MOVED).
      masters = await clusterMasters(cluster);
      const from = masters[0]!;
      const to = masters[2]!;
      const keys = ['n', 'l', 's', 'h', 'z', 'x', 'r'].flatMap((p) => Array.from({ length: 8 }, (_, i) => `${p}:${i}`));
      const slots = [...new Set(keys.map((k) => keySlot(Buffer.from(k))))].filter((slot) => from.slots.some(([a, b]) => slot >= a && slot <= b));
      assert.ok(slots.length > 0, 'some workload key lives on the first master');
      const writes = nonIdempotentWorkload(t.data, 2, 300, state);
      await moveSlots(cluster, slots, to.port, { keysPerBatch: 1, pauseBetweenBatchesMs: 5 });
      await writes;
      await caughtUp(second, t.data, 'caught up after the slots moved');
      const st = second.status();
      assert.ok(st.target.resentSlotGroups > 0 || st.reconnects > 0, `slot groups resent to the new owner: ${JSON.stringify(st.target)}`);
      assert.ok(st.target.batchScripts > 0, 'batch scripts carried the writes');
      await second.stop();
      await running2;
      const expected = await readState(t.data.server.port, [0]);
      assert.deepEqual(diffDb0(await readClusterState(cluster), expected), []);
      // df2redis reset removes the checkpoint and every slot's checkpoint, and nothing else.
      const before = await clusterKeyCount();
      const reset = await df2redis('reset', '--target', cluster.seedUrl);
      assert.equal(reset.code, 0, reset.stderr);
      let left = 0;
      for (const m of await clusterMasters(cluster)) left += (await redisCli(m.port, 'KEYS', 'df2redis:*')).split('\n').filter(Boolean).length;
      assert.equal(left, 0, 'no df2redis key left');
      assert.equal(await clusterKeyCount(), before, 'the data is left as it is');
    } finally {
      for (const r of replicators) await r.stop().catch(() => undefined);
      await t.close();
    }
  });
});
