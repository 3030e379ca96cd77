/**
 * `replicate` end to end on the `types-v1.34` recording (a Dragonfly v1.34.8 master): the replay
 * master serves the real master bytes (4-element capa reply, no tagged chunks, the v1.34 journal),
 * df2redis replicates into a real redis-server, and the final Redis state must equal the master's
 * (`expected.json.gz`) for every key Redis 7.0 can hold. Every exception is asserted as its exact
 * difference line. Kept apart from replicate-recordings.test.ts: the v1.34 exceptions differ from
 * the v1.40 ones (see below), and the per-session tests iterating `SESSIONS` (fake-master
 * re-encoding, the real replica's final ACKs) do not hold for v1.34 as they are written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer } from '../helpers/redis-server.js';
import { compareState, readState } from '../helpers/expected.js';
import { finalAckMismatches, MODULE_TYPES, replicateSession } from '../helpers/replicate-session.js';
import { ReplayMaster } from '../helpers/replay-master.js';
import { MasterLink } from '../../src/source/master-link.js';
import { parseDragonflyUrl } from '../../src/source/dragonfly-url.js';
import { versionTraits } from '../../src/source/dragonfly-versions.js';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Replicator, REPLICATE_DEFAULTS } from '../../src/pipeline/replicate.js';
import { until } from '../helpers/replicate-session.js';

const NAME = 'types-v1.34';

/**
 * `j:x`: v1.34 does not journal the effects of `XREADGROUP … >` (v1.40 writes `XCLAIM … FORCE JUSTID`
 * per delivered entry and `XGROUP SETID … ENTRIESREAD n`, reference §6.1), so the group's PEL,
 * consumer and entries-read exist only on the master. Nothing in the journal marks the loss (the
 * real v1.34 replica ended with the same difference, fixtures README), so it cannot be repaired.
 */
const V134_JX_DIFF =
  'db 0 key "j:x": value differs: actual {"entries":[["1800000000000-2",["f","v3"]],["1800000000001-0",["f","v4"]]],"groups":[["name","grp","consumers",1,"pending",0,"last-delivered-id","0-0","entries-read",null,"lag",2]]}, ' +
  'expected {"entries":[["1800000000000-2",["f","v3"]],["1800000000001-0",["f","v4"]]],"groups":[["name","grp","consumers",2,"pending",1,"last-delivered-id","0-0","entries-read",4,"lag",0]]}';

test(`replicate ${NAME}: Redis equals the v1.34.8 master's final state except the asserted exceptions; ZRANGESTORE and SORT … STORE across shards are read back`, { timeout: 180_000 }, async () => {
  const redis = await startRedisServer();
  try {
    const { summary, master } = await replicateSession(NAME, redis.url);
    try {
      assert.deepEqual(master.violations, [], 'protocol violations seen by the replay master');
      const expected = master.expected();
      const actual = await readState(redis.port, Object.keys(expected).map(Number));
      const diffs = compareState(actual, expected, { ttlToleranceMs: 2000 });
      // Module types are missing (Redis 7.0 without modules, --unsupported skip); v1.34 serializes
      // the member/field-TTL objects as plain sets/hashes, so they arrive whole (no exception).
      const moduleKeys = Object.entries(expected).flatMap(([db, keys]) =>
        Object.entries(keys)
          .filter(([, v]) => MODULE_TYPES.has(v.type))
          .map(([k, v]) => `db ${db} key ${JSON.stringify(Buffer.from(k, 'base64').toString('latin1'))}: missing (expected ${v.type})`),
      );
      assert.ok(moduleKeys.length > 0);
      assert.deepEqual([...diffs].sort(), [...moduleKeys, V134_JX_DIFF].sort());
      // The keys whose value v1.34 journals only as per-shard key subsets arrived by read-back.
      const db0 = actual['0']!;
      for (const key of ['j:zr', 'j:z', 'j:sorted']) {
        const k = Buffer.from(key).toString('base64');
        assert.ok(db0[k] !== undefined, `${key} is on the target`);
        assert.equal(db0[k]!.digest, expected['0']![k]!.digest, `${key} equals the master's`);
      }
      // Read back: both ZRANGESTORE subsets, the SORT … STORE keys, the `STORE` token v1.34 put in
      // a shard's SORT subset (every SORT argument is a key there; no such key, so none on the target),
      // and the ZUNIONSTORE / ZINTERSTORE destinations (journaled as DEL + ZADD with rounded scores).
      const dumped = master.log.flatMap((l) => l.commands).filter((c) => c[0]?.toUpperCase() === 'DUMP').map((c) => c[1]);
      assert.deepEqual([...new Set(dumped)].sort(), ['STORE', 'j:sorted', 'j:sortme', 'j:z', 'j:zi', 'j:zr', 'j:zu']);
      assert.equal(db0[Buffer.from('STORE').toString('base64')], undefined);
      // Every flow's last ACK is its acknowledged LSN. The real v1.34 replica acknowledged one record
      // less on exactly the two flows that carried the ZRANGESTORE key subsets (flows 0 and 1): it
      // apparently does not count a record it failed to execute (wrong arity); df2redis read them back.
      assert.deepEqual(finalAckMismatches(summary, master), [
        "flow 0: last ACK 48 != the real replica's 47",
        "flow 1: last ACK 51 != the real replica's 50",
      ]);
      assert.equal(summary.flows.length, 4);
    } finally {
      await master.close();
    }
  } finally {
    await redis.stop();
  }
});

test(`${NAME}: the handshake reads df-v1.34.8 (INFO server, answered from the recording's df-ver AUX) and the 4-element capa reply the version table predicts`, async () => {
  const master = await ReplayMaster.start(NAME);
  try {
    const link = await MasterLink.connect(parseDragonflyUrl(master.url), { clientId: 'a'.repeat(40) });
    try {
      const info = link.info;
      assert.equal(info.dragonflyVersion?.text, 'df-v1.34.8');
      const traits = versionTraits(info.dragonflyVersion);
      assert.equal(info.lineage, undefined, '4-element capa reply');
      assert.equal(traits.capaReplyLength, 4);
      assert.equal(info.version, traits.dflyVersion);
      assert.equal(traits.zrangestore, 'rewritten-plus-key-subsets');
    } finally {
      link.close();
    }
  } finally {
    await master.close();
  }
});

test(`${NAME}: replicate warns once, naming the version, that a master before v1.37 does not journal XREADGROUP`, { timeout: 120_000 }, async () => {
  const redis = await startRedisServer();
  const master = await ReplayMaster.start(NAME);
  const lines: Array<{ level: number; msg: string; dragonflyVersion?: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as (typeof lines)[number]);
      done();
    },
  });
  try {
    const replicator = new Replicator({ ...REPLICATE_DEFAULTS, source: master.url, target: redis.url, unsupported: 'skip', statusPort: undefined }, pino({ level: 'warn' }, sink));
    const running = replicator.run();
    running.catch(() => undefined);
    await until(() => replicator.status().phase === 'stable-sync', 'stable sync');
    await replicator.stop();
    await running;
    const warnings = lines.filter((l) => l.level === 40 && /XREADGROUP/.test(l.msg));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.dragonflyVersion, 'df-v1.34.8');
  } finally {
    await master.close();
    await redis.stop();
  }
});
