import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, redisCli, type RedisServer } from './redis-server.js';
import { readState, compareState, canonicalScore, digestOf, describeKey } from './expected.js';
import { loadExpected } from './recording.js';

let a: RedisServer;
let b: RedisServer;

/** The absolute expiry (unix ms) given to key `n` on both servers. */
const N_PEXPIREAT = Date.now() + 600_000;

/** Same data on both servers (identical commands), so states compare equal. */
async function seed(port: number): Promise<void> {
  const cmds: string[][] = [
    ['SET', 's', 'hello'],
    ['SET', 'n', '12345'],
    ['PEXPIREAT', 'n', String(N_PEXPIREAT)],
    ['RPUSH', 'l', 'a', 'b', 'c'],
    ['SADD', 'set', 'z', 'x', 'y'],
    ['ZADD', 'z', '0.1', 'tenth', '-inf', 'neg', 'inf', 'pos', '2.5', 'mid'],
    ['HSET', 'h', 'f2', 'v2', 'f1', 'v1'],
    ['XADD', 'x', '1800000000000-1', 'f', 'v1'],
    ['XADD', 'x', '1800000000000-2', 'f', 'v2'],
    ['XGROUP', 'CREATE', 'x', 'grp', '0'],
    ['XREADGROUP', 'GROUP', 'grp', 'alice', 'COUNT', '1', 'STREAMS', 'x', '>'],
    ['SELECT', '3'],
  ];
  for (const c of cmds.slice(0, -1)) await redisCli(port, ...c);
  await redisCli(port, '-n', '3', 'SET', 'in3', 'x');
}

before(async () => {
  [a, b] = await Promise.all([startRedisServer(), startRedisServer()]);
  await Promise.all([seed(a.port), seed(b.port)]);
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

const k = (s: string): string => Buffer.from(s).toString('base64');

test('readState: canonical values of every type, as the recordings print them', async () => {
  const st = await readState(a.port);
  assert.deepEqual(Object.keys(st).sort(), ['0', '3']);
  const db0 = st['0']!;
  assert.equal(db0[k('s')]!.value, k('hello'));
  assert.equal(db0[k('s')]!.pexpireat, -1);
  // readState gives local now + PTTL: the expiry set, late by the PTTL reply's latency (PTTL rounds down, hence -1).
  const late = db0[k('n')]!.pexpireat - N_PEXPIREAT;
  assert.ok(late >= -1 && late < 1000, `pexpireat ${db0[k('n')]!.pexpireat}, set ${N_PEXPIREAT}`);
  assert.deepEqual(db0[k('l')]!.value, [k('a'), k('b'), k('c')]);
  assert.deepEqual(db0[k('set')]!.value, [k('x'), k('y'), k('z')]);
  assert.deepEqual(db0[k('z')]!.value, [[k('neg'), '-inf'], [k('tenth'), '0.1'], [k('mid'), '2.5'], [k('pos'), 'inf']]);
  assert.deepEqual(db0[k('h')]!.value, [[k('f1'), k('v1')], [k('f2'), k('v2')]]);
  // Same shape as `j:x` in fixtures/dragonfly/types/expected.json.gz.
  assert.deepEqual(db0[k('x')]!.value, {
    entries: [['1800000000000-1', ['f', 'v1']], ['1800000000000-2', ['f', 'v2']]],
    groups: [['name', 'grp', 'consumers', 1, 'pending', 1, 'last-delivered-id', '1800000000000-1', 'entries-read', 1, 'lag', 1]],
  });
  for (const e of Object.values(db0)) assert.equal(e.digest, digestOf(e.value));
  assert.equal(st['3']![k('in3')]!.type, 'string');
});

test('readState: explicit dbs; values above maxValueJsonBytes keep only the digest', async () => {
  const st = await readState(a.url, [0], { maxValueJsonBytes: 10 });
  assert.deepEqual(Object.keys(st), ['0']);
  assert.equal(st['0']![k('l')]!.value, undefined);
  assert.equal(st['0']![k('l')]!.digest, digestOf([k('a'), k('b'), k('c')]));
});

test('compareState: equal servers have no differences', async () => {
  assert.deepEqual(compareState(await readState(b.port), await readState(a.port), { ttlToleranceMs: 1000 }), []);
});

test('compareState: reports missing, extra, type, value, ttl; honours ignoreKeys', async () => {
  const expected = await readState(a.port);
  await redisCli(b.port, 'DEL', 's');
  await redisCli(b.port, 'SET', 'newkey', '1');
  await redisCli(b.port, 'DEL', 'h');
  await redisCli(b.port, 'SET', 'h', 'not a hash');
  await redisCli(b.port, 'RPUSH', 'l', 'd');
  await redisCli(b.port, 'PEXPIREAT', 'n', String(Date.now() + 60_000));
  await redisCli(b.port, 'PEXPIRE', 'set', '100000');
  await redisCli(b.port, 'XACK', 'x', 'grp', '1800000000000-1');
  const actual = await readState(b.port);
  const diffs = compareState(actual, expected, { ttlToleranceMs: 1000 });
  const has = (re: RegExp): void => assert.ok(diffs.some((d) => re.test(d)), `no line matching ${re} in:\n${diffs.join('\n')}`);
  has(/^db 0 key "s": missing \(expected string\)$/);
  has(/^db 0 key "newkey": extra \(string\)$/);
  has(/^db 0 key "h": type string, expected hash$/);
  has(/^db 0 key "l": value differs: lengths 4 \/ 3$/);
  has(/^db 0 key "n": ttl: .*off by -5\d{5} ms/);
  has(/^db 0 key "set": ttl: pexpireat \d+, expected -1$/);
  has(/^db 0 key "x": value differs/);
  assert.equal(diffs.length, 7, diffs.join('\n'));
  const ignored = compareState(actual, expected, { ignoreKeys: ['s', 'newkey', /^[hlnx]$/, 'set'] });
  assert.deepEqual(ignored, []);
  // Digest-only comparison when a side omitted the value.
  const big = await readState(b.port, [0], { maxValueJsonBytes: 1 });
  assert.ok(compareState(big, expected).some((d) => /^db 0 key "l": value differs \(digest /.test(d)));
});

test('canonicalScore: Redis 7.0 %.17g → shortest round-trip text', () => {
  assert.equal(canonicalScore('0.10000000000000001'), '0.1');
  assert.equal(canonicalScore('inf'), 'inf');
  assert.equal(canonicalScore('-inf'), '-inf');
  assert.equal(canonicalScore('1.0000000000000001e-17'), '1e-17');
  assert.equal(canonicalScore('3479099956230698'), '3479099956230698');
  assert.equal(canonicalScore('1.7976931348623157e+308'), '1.7976931348623157e+308');
});

test('describeKey: printable keys quoted, binary keys in hex', () => {
  assert.equal(describeKey(k('abc')), '"abc"');
  assert.equal(describeKey(Buffer.from([0, 255]).toString('base64')), '0x00ff');
});

test('the recordings digests are digestOf(value): our canonical JSON is theirs', () => {
  const st = loadExpected('types');
  let checked = 0;
  for (const keys of Object.values(st)) {
    for (const e of Object.values(keys)) {
      if (e.value !== undefined && e.digest !== undefined) {
        assert.equal(digestOf(e.value), e.digest);
        checked++;
      }
    }
  }
  assert.ok(checked > 50);
  assert.deepEqual(compareState(st, st), []);
});
