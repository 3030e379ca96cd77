import { test } from 'node:test';
import assert from 'node:assert/strict';
import calculateSlot from 'cluster-key-slot';
import { hasHashTag, keySlot } from '../sink/key-slot.js';
import { commandKeys, planForCluster, type ClusterPlan } from './cluster-keys.js';
import { redisCli, startRedisServer } from '../../test/helpers/redis-server.js';

const b = (...xs: string[]): Buffer[] => xs.map((x) => Buffer.from(x));
const str = (args: Buffer[]): string[] => args.map((a) => a.toString());
const keysOf = (...xs: string[]): string[] => str(commandKeys(b(...xs)));
const plan = (...xs: string[]): ClusterPlan => planForCluster(b(...xs));

// Two keys per slot pair, checked below: "a" and "b" are in different slots, "{t}a" and "{t}b" share one.
const SLOT_A = 15495;
const SLOT_B = 3300;

/** `CLUSTER KEYSLOT` replies of redis-server 7.0.15 (also checked live below). */
const KNOWN_SLOTS: ReadonlyArray<readonly [string, number]> = [
  ['foo', 12182],
  ['{user1000}.following', 3443],
  ['{user1000}.followers', 3443],
  ['', 0],
  ['a', SLOT_A],
  ['b', SLOT_B],
  ['}{a}', 15495],
  ['a{b}c{d}', 3300],
  ['{}', 15257],
  ['abc{}', 16021],
  ['{{a}}', 10276],
  ['{a', 10276],
  ['{a}}', 15495],
  ['{}a}', 4370],
  ['a{}{b}', 15033],
  ['{}{}x}', 4667],
  ['x{}y{z}w', 11371],
  ['user:{}:{1}', 2485],
  ['é{ü}', 9552],
];

test('keySlot matches CLUSTER KEYSLOT, hash tags included', () => {
  for (const [key, slot] of KNOWN_SLOTS) assert.equal(keySlot(Buffer.from(key)), slot, JSON.stringify(key));
  assert.equal(keySlot(Buffer.from('{user1000}.following')), keySlot(Buffer.from('{user1000}.followers')));
  assert.notEqual(keySlot(Buffer.from('user1000.following')), keySlot(Buffer.from('user1000.followers')));
});

test('keySlot corrects cluster-key-slot for an empty first hash tag followed by a "}"', () => {
  // The reason keySlot exists: the package alone disagrees with Redis on these keys.
  assert.notEqual(calculateSlot(Buffer.from('a{}{b}')), 15033);
  assert.notEqual(calculateSlot(Buffer.from('{}a}')), 4370);
  assert.equal(keySlot(Buffer.from('a{}{b}')), 15033);
  assert.equal(keySlot(Buffer.from('{}a}')), 4370);
});

test('hasHashTag: true exactly when keySlot hashes a tag instead of the whole key', () => {
  for (const key of ['{user1000}.following', 'a{b}c', 'x{{y}}']) {
    assert.equal(hasHashTag(Buffer.from(key)), true, key);
  }
  for (const key of ['user1000', 'a{}{b}', '{}{x}', '{}a}', 'a{b', 'a}b{']) {
    assert.equal(hasHashTag(Buffer.from(key)), false, key);
  }
});

test('commandKeys: fixed positions, any case', () => {
  assert.deepEqual(keysOf('set', 'k', 'v', 'EX', '10'), ['k']);
  assert.deepEqual(keysOf('LMOVE', 'src', 'dst', 'LEFT', 'RIGHT'), ['src', 'dst']);
  assert.deepEqual(keysOf('BLPOP', 'a', 'b', 'c', '0'), ['a', 'b', 'c'], 'last = -2: the timeout is not a key');
  assert.deepEqual(keysOf('BITOP', 'AND', 'd', 'a', 'b'), ['d', 'a', 'b']);
  assert.deepEqual(keysOf('SUNIONSTORE', 'd', 'a', 'b'), ['d', 'a', 'b']);
  assert.deepEqual(keysOf('HEXPIRE', 'h', '10', 'FIELDS', '1', 'f'), ['h'], 'Redis 7.4 addition');
  assert.deepEqual(keysOf('RENAME', 'a'), [], 'too few arguments: no keys, as Redis');
});

test('commandKeys: step 2 (MSET) and step 3 (JSON.MSET), JSON.MGET without its path', () => {
  assert.deepEqual(keysOf('MSET', 'a', '1', 'b', '2', 'c', '3'), ['a', 'b', 'c']);
  assert.deepEqual(keysOf('msetnx', 'a', '1', 'b', '2'), ['a', 'b']);
  assert.deepEqual(keysOf('JSON.MSET', 'a', '$', '1', 'b', '$.x', '2'), ['a', 'b']);
  assert.deepEqual(keysOf('JSON.MGET', 'a', 'b', '$'), ['a', 'b']);
});

test('commandKeys: numkeys forms (EVAL, FCALL, ZUNIONSTORE, ZUNION, LMPOP, BLMPOP, CMS.MERGE)', () => {
  assert.deepEqual(keysOf('EVAL', 'return 1', '2', 'k1', 'k2', 'arg'), ['k1', 'k2']);
  assert.deepEqual(keysOf('evalsha', 'abc', '0', 'arg'), []);
  assert.deepEqual(keysOf('FCALL', 'f', '1', 'k', 'arg'), ['k']);
  assert.deepEqual(keysOf('ZUNIONSTORE', 'd', '2', 'a', 'b', 'WEIGHTS', '1', '2'), ['d', 'a', 'b']);
  assert.deepEqual(keysOf('ZDIFFSTORE', 'd', '1', 'a'), ['d', 'a']);
  assert.deepEqual(keysOf('ZUNION', '2', 'a', 'b', 'WITHSCORES'), ['a', 'b']);
  assert.deepEqual(keysOf('SINTERCARD', '2', 'a', 'b', 'LIMIT', '1'), ['a', 'b']);
  assert.deepEqual(keysOf('LMPOP', '2', 'a', 'b', 'LEFT'), ['a', 'b']);
  assert.deepEqual(keysOf('BLMPOP', '0.5', '2', 'a', 'b', 'LEFT'), ['a', 'b']);
  assert.deepEqual(keysOf('BZMPOP', '0', '1', 'z', 'MIN'), ['z']);
  assert.deepEqual(keysOf('CMS.MERGE', 'd', '2', 's1', 's2', 'WEIGHTS', '1', '2'), ['d', 's1', 's2']);
  assert.deepEqual(keysOf('EVAL', 's', '3', 'k1', 'k2'), [], 'numkeys larger than the arguments left: none, as Redis');
  assert.deepEqual(keysOf('EVAL', 's', 'x', 'k1'), [], 'non-numeric numkeys');
});

test('commandKeys: SORT and GEORADIUS STORE options; BY/GET patterns are not keys', () => {
  assert.deepEqual(keysOf('SORT', 's', 'BY', 'w_*', 'GET', 'o_*', 'LIMIT', '0', '10', 'STORE', 'd'), ['s', 'd']);
  assert.deepEqual(keysOf('SORT', 's', 'GET', 'store', 'ALPHA'), ['s'], 'a GET pattern named "store" is skipped');
  assert.deepEqual(keysOf('sort', 's', 'store', 'd1', 'store', 'd2'), ['s', 'd2'], 'the last STORE wins');
  assert.deepEqual(keysOf('SORT_RO', 's', 'BY', 'w_*'), ['s']);
  assert.deepEqual(keysOf('GEORADIUS', 'g', '0', '0', '10', 'km', 'STORE', 'd'), ['g', 'd']);
  assert.deepEqual(keysOf('GEORADIUSBYMEMBER', 'g', 'm', '10', 'km', 'STOREDIST', 'd'), ['g', 'd']);
  assert.deepEqual(keysOf('GEORADIUS', 'g', '0', '0', '10', 'km', 'STORE', 'a', 'STOREDIST', 'b'), ['g', 'b']);
  assert.deepEqual(keysOf('GEORADIUS', 'g', '0', '0', '10', 'km', 'WITHDIST'), ['g']);
});

test('commandKeys: XREAD / XREADGROUP take the first half after STREAMS', () => {
  assert.deepEqual(keysOf('XREADGROUP', 'GROUP', 'streams', 'c', 'COUNT', '5', 'NOACK', 'STREAMS', 's1', 's2', '>', '>'), ['s1', 's2']);
  assert.deepEqual(keysOf('XREAD', 'BLOCK', '0', 'STREAMS', 'streams', '0'), ['streams']);
  assert.deepEqual(keysOf('XREAD', 'STREAMS', 'a', 'b', '0'), [], 'odd count after STREAMS');
  assert.deepEqual(keysOf('XREAD', 'COUNT', '1'), []);
});

test('commandKeys: container subcommands and keyless commands', () => {
  assert.deepEqual(keysOf('XGROUP', 'CREATE', 's', 'g', '$', 'MKSTREAM'), ['s']);
  assert.deepEqual(keysOf('xgroup', 'createconsumer', 's', 'g', 'c'), ['s']);
  assert.deepEqual(keysOf('OBJECT', 'ENCODING', 'k'), ['k']);
  assert.deepEqual(keysOf('XGROUP', 'HELP'), []);
  for (const args of [['PUBLISH', 'ch', 'm'], ['PING'], ['SELECT', '1'], ['MULTI'], ['EXEC'], ['SCRIPT', 'LOAD', 'return 1'], ['FUNCTION', 'FLUSH'], ['FLUSHALL'], ['MIGRATE', 'h', '1', 'k', '0', '5']]) {
    assert.deepEqual(keysOf(...args), [], args.join(' '));
  }
  assert.deepEqual(commandKeys([]), []);
});

test('commandKeys: an unknown command has its key at argv[1] when present', () => {
  assert.deepEqual(keysOf('CL.THROTTLE', 'user', '15', '30', '60'), ['user']);
  assert.deepEqual(keysOf('NOSUCHCMD'), []);
});

test('planForCluster: single for 0 or 1 key, unknown commands, and many keys in one slot', () => {
  assert.deepEqual(plan('SET', 'a', '1'), { kind: 'single' });
  assert.deepEqual(plan('PUBLISH', 'ch', 'm'), { kind: 'single' });
  assert.deepEqual(plan('MULTI'), { kind: 'single' });
  assert.deepEqual(plan('SELECT', '0'), { kind: 'single' });
  assert.deepEqual(plan('NOSUCHCMD', 'a', 'b'), { kind: 'single' });
  assert.deepEqual(plan('DEL', 'a'), { kind: 'single' });
  assert.deepEqual(plan('MSET', '{t}a', '1', '{t}b', '2'), { kind: 'single' });
  assert.deepEqual(plan('SUNIONSTORE', '{user1000}.following', '{user1000}.followers'), { kind: 'single' });
  // The first key is not argv[1]: the plan names it, so the router routes by it and not by the script.
  assert.deepEqual(plan('EVAL', 's', '2', '{t}a', '{t}b'), { kind: 'single', key: Buffer.from('{t}a') });
  assert.deepEqual(plan('XGROUP', 'CREATE', 'st', 'g', '$'), { kind: 'single', key: Buffer.from('st') });
  assert.deepEqual(plan('DEL', 'a', 'a'), { kind: 'single' }, 'the same key twice');
  assert.deepEqual(plan('EVAL', 's', '0'), { kind: 'single' });
});

test('planForCluster: scripts, functions and flushes go to every master', () => {
  for (const args of [
    ['SCRIPT', 'LOAD', 'return 1'],
    ['script', 'flush', 'ASYNC'],
    ['FUNCTION', 'LOAD', '#!lua name=l\n'],
    ['FUNCTION', 'DELETE', 'l'],
    ['FUNCTION', 'FLUSH'],
    ['FUNCTION', 'RESTORE', 'payload', 'REPLACE'],
    ['FLUSHALL'],
    ['FLUSHDB', 'ASYNC'],
  ]) {
    assert.deepEqual(plan(...args), { kind: 'all-masters' }, args.join(' '));
  }
  assert.deepEqual(plan('SCRIPT', 'EXISTS', 'abc'), { kind: 'single' });
  assert.deepEqual(plan('FUNCTION', 'LIST'), { kind: 'single' });
});

function splitArgs(p: ClusterPlan): Array<{ args: string[]; key: string | undefined }> {
  assert.equal(p.kind, 'split');
  if (p.kind !== 'split') return [];
  return p.commands.map((c) => ({ args: str(c.args), key: c.key?.toString() }));
}

test('planForCluster: DEL, UNLINK and TOUCH across slots split into one command per key, in order', () => {
  assert.equal(keySlot(Buffer.from('a')), SLOT_A);
  assert.equal(keySlot(Buffer.from('b')), SLOT_B);
  for (const name of ['DEL', 'UNLINK', 'TOUCH']) {
    assert.deepEqual(splitArgs(plan(name.toLowerCase(), 'b', 'a', '{t}x')), [
      { args: [name, 'b'], key: 'b' },
      { args: [name, 'a'], key: 'a' },
      { args: [name, '{t}x'], key: '{t}x' },
    ]);
  }
});

test('planForCluster: MSET and MSETNX across slots split into SET per pair', () => {
  for (const name of ['MSET', 'MSETNX']) {
    assert.deepEqual(splitArgs(plan(name, 'a', '1', 'b', '2', 'a', '3')), [
      { args: ['SET', 'a', '1'], key: 'a' },
      { args: ['SET', 'b', '2'], key: 'b' },
      { args: ['SET', 'a', '3'], key: 'a' },
    ]);
  }
  const p = plan('MSET', 'a', '1', 'b');
  assert.ok(p.kind === 'cross-slot' && p.reason.includes('malformed'), 'an odd argument count is not split');
});

test('planForCluster: JSON.MSET across slots splits into JSON.SET per triple', () => {
  assert.deepEqual(splitArgs(plan('json.mset', 'a', '$', '{"x":1}', 'b', '$.y', '2')), [
    { args: ['JSON.SET', 'a', '$', '{"x":1}'], key: 'a' },
    { args: ['JSON.SET', 'b', '$.y', '2'], key: 'b' },
  ]);
  assert.deepEqual(plan('JSON.MSET', '{t}a', '$', '1', '{t}b', '$', '2'), { kind: 'single' });
});

test('planForCluster: RENAME / RENAMENX across slots are moves, in one slot single', () => {
  const p = plan('RENAME', 'a', 'b');
  assert.ok(p.kind === 'move');
  assert.deepEqual([p.src.toString(), p.dst.toString(), p.nx], ['a', 'b', false]);
  const q = plan('renamenx', 'b', 'a');
  assert.ok(q.kind === 'move');
  assert.deepEqual([q.src.toString(), q.dst.toString(), q.nx], ['b', 'a', true]);
  assert.deepEqual(plan('RENAME', '{t}a', '{t}b'), { kind: 'single' });
  assert.deepEqual(plan('RENAMENX', '{user1000}.following', '{user1000}.followers'), { kind: 'single' });
});

test('planForCluster: other multi-key commands across slots are cross-slot, naming command and slots', () => {
  const cases: ReadonlyArray<readonly [string[], string, string[]]> = [
    [['sunionstore', 'a', 'b', '{t}x'], `SUNIONSTORE keys span slots ${SLOT_A}, ${SLOT_B}, ${keySlot(Buffer.from('t'))}`, ['a', 'b', '{t}x']],
    [['SMOVE', 'b', 'a', 'm'], `SMOVE keys span slots ${SLOT_B}, ${SLOT_A}`, ['b', 'a']],
    [['COPY', 'a', 'b'], `COPY keys span slots ${SLOT_A}, ${SLOT_B}`, ['a', 'b']],
    [['EVAL', 's', '2', 'a', 'b', 'x'], `EVAL keys span slots ${SLOT_A}, ${SLOT_B}`, ['a', 'b']],
    [['ZUNIONSTORE', 'a', '2', 'a', 'b'], `ZUNIONSTORE keys span slots ${SLOT_A}, ${SLOT_B}`, ['a', 'a', 'b']],
    [['SORT', 'a', 'BY', 'nosort', 'STORE', 'b'], `SORT keys span slots ${SLOT_A}, ${SLOT_B}`, ['a', 'b']],
    [['GEORADIUS', 'a', '0', '0', '1', 'km', 'STORE', 'b'], `GEORADIUS keys span slots ${SLOT_A}, ${SLOT_B}`, ['a', 'b']],
  ];
  for (const [args, reason, keys] of cases) {
    const p = plan(...args);
    assert.equal(p.kind, 'cross-slot', args.join(' '));
    if (p.kind !== 'cross-slot') continue;
    assert.equal(p.reason, reason);
    assert.deepEqual(str(p.keys), keys);
  }
  assert.deepEqual(plan('SORT', 'a', 'BY', 'b_*', 'GET', 'c_*'), { kind: 'single' }, 'patterns do not make SORT cross-slot');
});

/** Commands whose keys are compared with the live server's `COMMAND GETKEYS`. */
const GETKEYS_CASES: ReadonlyArray<string[]> = [
  ['SET', 'k', 'v', 'PXAT', '1900000000000'],
  ['HSET', 'h', 'f', 'v'],
  ['DEL', 'a', 'b', 'c'],
  ['UNLINK', 'a', 'b'],
  ['TOUCH', 'a', 'b'],
  ['MSET', 'a', '1', 'b', '2'],
  ['MSETNX', 'a', '1', 'b', '2'],
  ['RENAME', 'a', 'b'],
  ['RENAMENX', 'a', 'b'],
  ['COPY', 'a', 'b', 'REPLACE'],
  ['SMOVE', 'a', 'b', 'm'],
  ['LMOVE', 'a', 'b', 'LEFT', 'RIGHT'],
  ['RPOPLPUSH', 'a', 'b'],
  ['BLMOVE', 'a', 'b', 'LEFT', 'RIGHT', '0'],
  ['BRPOP', 'a', 'b', '0'],
  ['SUNIONSTORE', 'd', 'a', 'b'],
  ['SINTERSTORE', 'd', 'a', 'b'],
  ['SDIFFSTORE', 'd', 'a', 'b'],
  ['ZUNIONSTORE', 'd', '2', 'a', 'b', 'WEIGHTS', '1', '2'],
  ['ZINTERSTORE', 'd', '2', 'a', 'b', 'AGGREGATE', 'MAX'],
  ['ZDIFFSTORE', 'd', '2', 'a', 'b'],
  ['ZRANGESTORE', 'd', 's', '0', '-1'],
  ['GEOSEARCHSTORE', 'd', 's', 'FROMLONLAT', '0', '0', 'BYRADIUS', '1', 'km'],
  ['GEORADIUS', 'g', '0', '0', '1', 'km', 'STORE', 'd'],
  ['GEORADIUSBYMEMBER', 'g', 'm', '1', 'km', 'STOREDIST', 'd'],
  ['SORT', 's', 'BY', 'w_*', 'GET', 'o_*', 'LIMIT', '0', '5', 'STORE', 'd'],
  ['BITOP', 'AND', 'd', 'a', 'b'],
  ['PFMERGE', 'd', 'a', 'b'],
  ['EVAL', 'return 1', '2', 'a', 'b', 'x'],
  ['EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '1', 'a'],
  ['FCALL', 'f', '2', 'a', 'b', 'x'],
  ['LMPOP', '2', 'a', 'b', 'LEFT', 'COUNT', '2'],
  ['ZMPOP', '2', 'a', 'b', 'MIN'],
  ['BLMPOP', '0', '2', 'a', 'b', 'RIGHT'],
  ['BZMPOP', '0', '2', 'a', 'b', 'MAX'],
  ['XADD', 's', '*', 'f', 'v'],
  ['XGROUP', 'CREATE', 's', 'g', '$', 'MKSTREAM'],
  ['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '1', 'STREAMS', 's1', 's2', '>', '>'],
  ['XCLAIM', 's', 'g', 'c', '0', '1-0'],
  ['RESTORE', 'k', '0', 'payload', 'REPLACE'],
  ['PEXPIREAT', 'k', '1900000000000'],
  ['SETRANGE', 'k', '0', 'v'],
];

test('the key table agrees with a live redis-server 7.0 COMMAND GETKEYS and CLUSTER KEYSLOT', async () => {
  const server = await startRedisServer({
    config: { 'cluster-enabled': 'yes', 'cluster-config-file': 'nodes.conf', 'cluster-port': '{port}' },
  });
  try {
    for (const args of GETKEYS_CASES) {
      const out = await redisCli(server.port, 'COMMAND', 'GETKEYS', ...args);
      assert.deepEqual(keysOf(...args), out.trimEnd().split('\n'), args.join(' '));
    }
    for (const args of [['PUBLISH', 'ch', 'm'], ['SCRIPT', 'LOAD', 'return 1'], ['FLUSHALL', 'ASYNC']]) {
      const out = await redisCli(server.port, 'COMMAND', 'GETKEYS', ...args);
      assert.match(out, /has no key arguments/, args.join(' '));
      assert.deepEqual(keysOf(...args), []);
    }
    for (const [key] of KNOWN_SLOTS) {
      const out = await redisCli(server.port, 'CLUSTER', 'KEYSLOT', key);
      assert.equal(keySlot(Buffer.from(key)), Number(out.trim()), JSON.stringify(key));
    }
  } finally {
    await server.stop();
  }
});
