/**
 * Exactly-once on a Redis Cluster through a failover that loses acknowledged writes (issue "Resume
 * and reconnect, exactly once" §1): a master acknowledges batches its replica does not have (the
 * replica's link is cut and cannot come back), is killed (`SIGKILL`), and its replica takes over
 * (`CLUSTER FAILOVER TAKEOVER`). Redis cannot keep those writes; df2redis must not lose them
 * silently: it compares the slots' checkpoints on the new master with what it saw acknowledged.
 * - without `--wait-replicas`: the run stops with a LostWritesError naming the node (the resume
 *   point already counts the lost writes);
 * - with `--wait-replicas 1`: the run resumes from the checkpoint (which counts only replicated
 *   writes) and the cluster ends equal to the master, every record applied once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { LostWritesError } from '../../src/errors.js';
import { Replicator, REPLICATE_DEFAULTS } from '../../src/pipeline/replicate.js';
import { clusterMasters, failover, readClusterState, replicaOf } from '../helpers/cluster.js';
import { compareState, readState } from '../helpers/expected.js';
import { redisCli, startCluster, type RedisCluster } from '../helpers/redis-server.js';
import { caughtUp, modelMaster, workload } from '../helpers/resume-workload.js';
import { delay, until } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });
let cluster: RedisCluster;

before(async () => {
  cluster = await startCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 2000, config: { 'repl-diskless-sync-delay': '0' } });
  for (const m of await clusterMasters(cluster)) {
    await until(async () => /slave0:.*state=online/.test(await redisCli(m.port, 'INFO', 'replication')), `the replica of ${m.port} online`, 30_000);
  }
});
after(async () => {
  await cluster?.stop();
});

/**
 * Runs the workload into the cluster, then makes a master acknowledge writes its replica lacks and
 * fails it over to that replica. Returns the running replicator.
 */
async function loseWrites(firstSeq: number, waitReplicas: number): Promise<{ running: Promise<unknown>; r: Replicator; t: Awaited<ReturnType<typeof modelMaster>> }> {
  for (const m of await clusterMasters(cluster)) await redisCli(m.port, 'FLUSHALL'); // the other test's data and checkpoint
  const t = await modelMaster(2);
  const state = { seq: firstSeq };
  await workload(t.data, 2, 80, state);
  // A live master as the seed (the first one may be the one an earlier test killed).
  const seedUrl = `redis://127.0.0.1:${(await clusterMasters(cluster))[0]!.port}`;
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: t.m.url, target: seedUrl, waitReplicas }, silent);
  const running = r.run();
  running.catch(() => undefined);
  await caughtUp(r, t.data, 'caught up');
  // A master that still has a replica (an earlier test took one over).
  let victim: { port: number } | undefined;
  let replica = 0;
  for (const m of await clusterMasters(cluster)) {
    replica = await replicaOf(cluster, m.port).catch(() => 0);
    if (replica !== 0) {
      victim = m;
      break;
    }
  }
  assert.ok(victim !== undefined, 'a master with a replica');
  // The replica loses its link and cannot come back (the master now wants a password it does not
  // have): what the master acknowledges from here on is its alone.
  await redisCli(victim.port, 'CONFIG', 'SET', 'requirepass', 'cut-off');
  await redisCli(victim.port, '-a', 'cut-off', '--no-auth-warning', 'CLIENT', 'KILL', 'TYPE', 'replica');
  for (let i = 0; i < 5; i++) {
    await workload(t.data, 2, 40, state);
    await delay(100);
  }
  // Without WAIT the victim acknowledges them: wait until it did (the lost writes the test needs).
  // With WAIT they cannot all be acknowledged (the replica is gone): give them time instead.
  if (waitReplicas === 0) await caughtUp(r, t.data, 'the writes acknowledged by the cut-off master');
  else await delay(300);
  const server = cluster.nodes.find((n) => n.port === victim.port)!;
  process.kill(server.pid, 'SIGKILL');
  await failover(cluster, replica, { mode: 'TAKEOVER' });
  return { running, r, t };
}

// First: a master without a replica (after the other test) would hold every WAIT for its timeout.
test('with --wait-replicas 1: after such a failover the cluster equals the master, every record once (resent or resumed from the checkpoint)', { timeout: 90_000 }, async () => {
  const { running, r, t } = await loseWrites(0, 1);
  try {
    await workload(t.data, 2, 60, { seq: 900_000 });
    await caughtUp(r, t.data, 'caught up after the failover');
    const expected = await readState(t.data.server.port, [0]);
    const actual = await readClusterState(cluster);
    assert.deepEqual(compareState({ 0: actual['0'] ?? {} }, { 0: expected['0'] ?? {} }), []);
  } finally {
    await r.stop().catch(() => undefined);
    await running.catch(() => undefined);
    await t.close();
  }
});

test('without --wait-replicas: writes a failed-over master acknowledged and lost stop the run, naming the node (never silent)', { timeout: 90_000 }, async () => {
  const { running, r, t } = await loseWrites(100_000, 0);
  try {
    await assert.rejects(running, (err: Error) => {
      assert.ok(err instanceof LostWritesError, String(err));
      assert.equal(err.isTransient, false);
      assert.match(err.message, /lost writes it had acknowledged/);
      assert.match(err.message, /--wait-replicas 1/);
      return true;
    });
  } finally {
    await r.stop().catch(() => undefined);
    await t.close();
  }
});
