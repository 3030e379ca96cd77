/**
 * Float increments from the journal end byte-exact with the Dragonfly master (issue 13): journal
 * `INCRBYFLOAT` / `HINCRBYFLOAT` records from the fake master, replicated into real redis-servers
 * (standalone and a 3-master cluster), read back with redis-cli.
 *
 * Expected strings are what Dragonfly v1.40.1 computes: a `double` sum printed by `FormatDouble`
 * (string_family.cc `OpIncrFloat`, hset_family.cc `IncrementValue`). Redis's own arithmetic
 * (long double, `%.17Lg`) gives `3.3` and `0.3` for the first two sequences.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Replicator, REPLICATE_DEFAULTS } from '../../src/pipeline/replicate.js';
import { TargetCommandError } from '../../src/errors.js';
import { FakeMaster, type FakeFlow, journalCommand } from '../helpers/fake-master.js';
import { replayJournal } from '../helpers/journal-replay.js';
import { until } from '../helpers/replicate-session.js';
import { redisCli, startCluster, startRedisServer } from '../helpers/redis-server.js';

const silent = pino({ level: 'silent' });

/** Runs `records` (argv lists) through one flow of a fake master into `target`; resolves once all are acknowledged. */
async function replay(target: string, records: string[][]): Promise<void> {
  await replayJournal(target, records.map((a) => journalCommand(a)));
}

/** The journal of the master for these sequences, and the strings Dragonfly holds afterwards. */
const IN_FUTURE_MS = String(Date.now() + 3_600_000);
const SEQUENCES: string[][] = [
  ['HINCRBYFLOAT', 'h', 'x', '1.1'],
  ['HINCRBYFLOAT', 'h', 'x', '2.2'],
  ['INCRBYFLOAT', 'f', '0.1'],
  ['INCRBYFLOAT', 'f', '0.1'],
  ['INCRBYFLOAT', 'f', '0.1'],
  // exponent form, both ways
  ['INCRBYFLOAT', 'tiny', '1e-7'],
  ['INCRBYFLOAT', 'tiny', '0.0000001'],
  ['INCRBYFLOAT', 'edge', '0.000001'],
  ['INCRBYFLOAT', 'big', '1e20'],
  ['INCRBYFLOAT', 'big', '9e20'],
  ['SET', 'bigger', '1.5e+21'],
  ['INCRBYFLOAT', 'bigger', '-1e21'],
  // negative, integers, a value in exponent form with a +, a field missing in an existing hash
  ['INCRBYFLOAT', 'neg', '-5.5'],
  ['INCRBYFLOAT', 'neg', '0.25'],
  ['INCRBYFLOAT', 'neg', '-0.05'],
  ['SET', 'int', '10'],
  ['INCRBYFLOAT', 'int', '5'],
  ['HSET', 'h', 'y', '2.5e+3'],
  ['HINCRBYFLOAT', 'h', 'y', '-0.1'],
  ['HINCRBYFLOAT', 'h', 'z', '-3'],
  ['HINCRBYFLOAT', 'h', 'z', '3'],
  // the TTL of the key is kept
  ['SET', 'ttl', '1.5', 'PXAT', IN_FUTURE_MS],
  ['INCRBYFLOAT', 'ttl', '0.1'],
  // a missing key gets the increment as Dragonfly parsed it (OpIncrFloat stores FormatDouble(val))
  ['INCRBYFLOAT', 'fresh', ' +2.50 '],
];
const DRAGONFLY_HOLDS: Array<[string, string | [string, string]]> = [
  ['h', ['x', '3.3000000000000003']],
  ['f', '0.30000000000000004'],
  ['tiny', '2e-7'],
  ['edge', '0.000001'],
  ['big', '1e+21'],
  ['bigger', '500000000000000000000'],
  ['neg', '-5.3'],
  ['int', '15'],
  ['h', ['y', '2499.9']],
  ['h', ['z', '0']],
  ['ttl', '1.6'],
  ['fresh', '2.5'],
];

async function assertHolds(port: number): Promise<void> {
  for (const [key, want] of DRAGONFLY_HOLDS) {
    const got = Array.isArray(want) ? await redisCli(port, '-c', 'HGET', key, want[0]) : await redisCli(port, '-c', 'GET', key);
    assert.equal(got.trim(), Array.isArray(want) ? want[1] : want, `${key}${Array.isArray(want) ? ` ${want[0]}` : ''}`);
  }
  // -1 would mean the increment dropped the TTL, -2 that the key is gone.
  assert.ok(Number((await redisCli(port, '-c', 'PTTL', 'ttl')).trim()) > 0, 'the TTL is kept');
}

test('float increments end byte-exact with the Dragonfly master on a standalone redis-server', async () => {
  // Check the arithmetic the expectations rely on, so the table cannot drift from Dragonfly's doubles.
  assert.equal(String(0.1 + 0.1 + 0.1), '0.30000000000000004');
  assert.equal(String(-5.5 + 0.25 - 0.05), '-5.3');
  assert.equal(String(2500 - 0.1), '2499.9');
  const redis = await startRedisServer();
  try {
    await replay(redis.url, SEQUENCES);
    await assertHolds(redis.port);
  } finally {
    await redis.stop();
  }
});

test('float increments end byte-exact on a Redis Cluster target (one key, one slot: EVAL with the key in KEYS)', async () => {
  const cluster = await startCluster({ masters: 3 });
  try {
    await replay(cluster.seedUrl, SEQUENCES);
    await assertHolds(cluster.nodes[0]!.port);
  } finally {
    await cluster.stop();
  }
});

test('an increment the target cannot apply is refused, not stored: inf result, value not a float', async () => {
  for (const [records, reply] of [
    [[['SET', 'k', '1e308'], ['INCRBYFLOAT', 'k', '1e308']], /^ERR increment would produce NaN or Infinity/],
    [[['SET', 'k', 'abc'], ['INCRBYFLOAT', 'k', '1']], /^ERR value is not a valid float/],
    [[['SET', 'k', '0x10'], ['INCRBYFLOAT', 'k', '1']], /^ERR value is not a valid float/],
    [[['HSET', 'k', 'f', 'nan'], ['HINCRBYFLOAT', 'k', 'f', '1']], /^ERR hash value is not a float/],
  ] as const) {
    const redis = await startRedisServer();
    const m = await FakeMaster.start({ numFlows: 1 });
    const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target: redis.url, statusPort: undefined }, silent);
    const running = r.run();
    running.catch(() => undefined);
    try {
      await until(() => r.status().phase === 'stable-sync', 'stable sync');
      (m.flows[0] as FakeFlow).write(...records.map((a) => journalCommand(a as unknown as string[])));
      await assert.rejects(running, (err: unknown) => err instanceof TargetCommandError && err.key?.toString() === 'k' && reply.test(err.reply));
      const first = records[0]!;
      const stored = first[0] === 'SET' ? await redisCli(redis.port, 'GET', 'k') : await redisCli(redis.port, 'HGET', 'k', 'f');
      assert.equal(stored.trim(), first[first.length - 1], 'the value is left as it was');
    } finally {
      await r.stop().catch(() => undefined);
      await m.close();
      await redis.stop();
    }
  }
});
