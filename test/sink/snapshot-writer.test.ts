import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, redisCli, type RedisServer } from '../helpers/redis-server.js';
import type { RedisConnection } from '../../src/sink/redis-connection.js';
import { StandaloneRouter } from '../../src/sink/router.js';
import { SnapshotWriter, type SnapshotWriterOptions } from '../../src/sink/snapshot-writer.js';
import { readTargetInfo, type TargetInfo } from '../../src/sink/target-info.js';
import { parseRedisUrl } from '../../src/sink/target-url.js';
import { buildRestorePayload, restoreVersionFor } from '../../src/sink/restore-payload.js';
import { tempKeyFor } from '../../src/sink/temp-key.js';
import { TargetCommandError, UnsupportedTypesError } from '../../src/errors.js';
import calculateSlot from 'cluster-key-slot';
import { randomBytes } from 'node:crypto';
import {
  RDB_TYPE_HASH,
  RDB_TYPE_JSON,
  RDB_TYPE_LIST_QUICKLIST_2,
  RDB_TYPE_SBF2,
  RDB_TYPE_SET,
  RDB_TYPE_SET_WITH_EXPIRY,
  RDB_TYPE_STREAM_LISTPACKS_3,
  RDB_TYPE_STRING,
  RDB_TYPE_ZSET_2,
  RDB_TYPE_HASH_WITH_EXPIRY,
  type SnapshotEntry,
} from '../../src/entry/entry.js';

let server: RedisServer;
let router: StandaloneRouter;
let conn: RedisConnection;
let info: TargetInfo;

before(async () => {
  server = await startRedisServer({ config: { 'enable-debug-command': 'yes' } });
  router = await StandaloneRouter.connect(parseRedisUrl(server.url));
  conn = router.all()[0]!;
  info = await readTargetInfo(conn);
});
after(async () => {
  await router.close();
  await server.stop();
});

const B = (s: string): Buffer => Buffer.from(s);
const bufs = (...s: string[]): Buffer[] => s.map(B);

type Kind = SnapshotEntry['valueKind'];
/** One-piece entry; override anything. */
function piece(valueKind: Kind, key: string, value: unknown, over: Partial<SnapshotEntry> = {}): SnapshotEntry {
  const rdbType: Record<Kind, number> = {
    string: RDB_TYPE_STRING, list: RDB_TYPE_LIST_QUICKLIST_2, set: RDB_TYPE_SET, zset: RDB_TYPE_ZSET_2, hash: RDB_TYPE_HASH,
    stream: RDB_TYPE_STREAM_LISTPACKS_3, json: RDB_TYPE_JSON, 'hash-ttl': RDB_TYPE_HASH_WITH_EXPIRY, 'set-ttl': RDB_TYPE_SET_WITH_EXPIRY,
    sbf: RDB_TYPE_SBF2, cms: 35, topk: 36, cuckoo: 37, module: 7,
  };
  return { kind: 'snapshot', db: 0, key: B(key), rdbType: rdbType[valueKind], expireAtMs: -1, isFirst: true, isLast: true, rdbVersion: 9, valueKind, value, ...over } as SnapshotEntry;
}

function writer(opts: Partial<SnapshotWriterOptions> = {}): SnapshotWriter {
  return new SnapshotWriter(router, info, { onExisting: 'replace', unsupported: 'fail', restoreMaxBytes: 512 * 1024, ...opts });
}

const cli = (...args: string[]): Promise<string> => redisCli(server.port, ...args);
const digest = async (key: string): Promise<string> => (await cli('DEBUG', 'DIGEST-VALUE', key)).trim();

/** Source objects made on the server with commands, and the same data as decoded pieces. */
interface Fixture {
  make: string[][];
  entry: (key: string) => SnapshotEntry;
}
const fixtures: Record<string, Fixture> = {
  string: { make: [['SET', 'src', 'hello world']], entry: (k) => piece('string', k, B('hello world')) },
  list: { make: [['RPUSH', 'src', 'a', 'b', 'a', '']], entry: (k) => piece('list', k, bufs('a', 'b', 'a', '')) },
  set: { make: [['SADD', 'src', 'x', 'y', '12']], entry: (k) => piece('set', k, bufs('x', 'y', '12')) },
  zset: {
    make: [['ZADD', 'src', '-inf', 'lo', '+inf', 'hi', '0.1', 'a', '123456789.12345679', 'b', '1e-17', 'c', '-2.5', 'd']],
    entry: (k) => piece('zset', k, { members: bufs('lo', 'hi', 'a', 'b', 'c', 'd'), scores: [-Infinity, Infinity, 0.1, 123456789.12345679, 1e-17, -2.5] }),
  },
  hash: { make: [['HSET', 'src', 'f1', 'v1', 'f2', '']], entry: (k) => piece('hash', k, bufs('f1', 'v1', 'f2', '')) },
};

for (const [kind, fx] of Object.entries(fixtures)) {
  test(`${kind}: command rewrite and RESTORE both reproduce the source value`, async () => {
    await cli('CONFIG', 'RESETSTAT');
    await cli('DEL', 'src');
    for (const cmd of fx.make) await cli(...cmd);
    const want = await digest('src');
    const dump = (await conn.call(['DUMP', 'src'])) as Buffer;
    const rdbType = dump[0]!;
    const rdbValue = dump.subarray(1, dump.length - 10);
    assert.deepEqual(buildRestorePayload(rdbType, rdbValue, dump.readUInt16LE(dump.length - 10)), dump, 'payload = DUMP');

    // Rewrite: no rdbValue; an old value of another type is replaced.
    await cli('SET', `w:${kind}`, 'old');
    await cli('SADD', `r:${kind}`, 'old');
    const w = writer();
    w.write(fx.entry(`w:${kind}`));
    // RESTORE: the decoded value is ignored when rdbValue is present (empty here to prove it).
    const viaRestore = { ...fx.entry(`r:${kind}`), rdbType, rdbValue, expireAtMs: Date.now() + 60_000 } as SnapshotEntry;
    w.write(viaRestore);
    await w.flush();
    assert.equal(await digest(`w:${kind}`), want);
    assert.equal(await cli('PEXPIRETIME', `r:${kind}`), `${viaRestore.expireAtMs}\n`);
    await cli('PERSIST', `r:${kind}`); // the digest covers the expiry
    assert.equal(await digest(`r:${kind}`), want);
    assert.equal(await cli('TTL', `w:${kind}`), '-1\n');
    // Strings are SET under `replace` (cheaper than RESTORE); everything else is restored.
    assert.equal(/cmdstat_restore:calls=1,/.test(await cli('INFO', 'commandstats')), kind !== 'string');
    assert.deepEqual(w.stats.keys, 2);
  });
}

test('restoreVersionFor: listpack/quicklist2 need RDB 10, set listpack and stream v3 need 11, hash TTL 12, Dragonfly types never', () => {
  assert.equal(restoreVersionFor(16, 9), undefined);
  assert.equal(restoreVersionFor(16, 10), 10);
  assert.equal(restoreVersionFor(18, 12), 12);
  assert.equal(restoreVersionFor(20, 10), undefined);
  assert.equal(restoreVersionFor(21, 11), 11);
  assert.equal(restoreVersionFor(24, 11), undefined);
  assert.equal(restoreVersionFor(30, 12), undefined);
  assert.equal(restoreVersionFor(0, 9), 9);
});

test('values above restoreMaxBytes are rewritten, not restored', async () => {
  await cli('CONFIG', 'RESETSTAT');
  await cli('RPUSH', 'big:src', ...Array.from({ length: 100 }, (_, i) => `e${i}`));
  const dump = (await conn.call(['DUMP', 'big:src'])) as Buffer;
  const w = writer({ restoreMaxBytes: 10 });
  w.write(piece('list', 'big', bufs(...Array.from({ length: 100 }, (_, i) => `e${i}`)), { rdbType: dump[0]!, rdbValue: dump.subarray(1, dump.length - 10) }));
  await w.flush();
  assert.equal(await digest('big'), await digest('big:src'));
  const stats = await cli('INFO', 'commandstats');
  assert.ok(!stats.includes('cmdstat_restore'));
  assert.match(stats, /cmdstat_rpush:calls=2,/); // the source's and ours
});

test('string SET … PXAT and PEXPIREAT keep the absolute expiry', async () => {
  const at = Date.now() + 3_600_000;
  const w = writer();
  w.write(piece('string', 'ttl:s', B('v'), { expireAtMs: at }));
  w.write(piece('hash', 'ttl:h', bufs('f', 'v'), { expireAtMs: at + 1 }));
  await w.flush();
  assert.equal(await cli('PEXPIRETIME', 'ttl:s'), `${at}\n`);
  assert.equal(await cli('PEXPIRETIME', 'ttl:h'), `${at + 1}\n`);
});

test('multi-piece objects: first piece replaces an existing key, later pieces append, last applies the expiry', async () => {
  await cli('RPUSH', 'mp:list', 'old1', 'old2', 'old3');
  await cli('SET', 'mp:str', 'old value that is long');
  const at = Date.now() + 100_000;
  const w = writer();
  const parts = [bufs('a', 'b'), bufs('c'), bufs('d', 'e')];
  parts.forEach((value, i) => w.write(piece('list', 'mp:list', value, { isFirst: i === 0, isLast: i === 2, expireAtMs: at })));
  ['ab', 'cd', 'ef'].forEach((v, i) => w.write(piece('string', 'mp:str', B(v), { isFirst: i === 0, isLast: i === 2, expireAtMs: at })));
  // Zset and hash and set in two pieces each.
  w.write(piece('zset', 'mp:z', { members: bufs('a'), scores: [1] }, { isLast: false }));
  w.write(piece('zset', 'mp:z', { members: bufs('b'), scores: [2] }, { isFirst: false }));
  w.write(piece('set', 'mp:set', bufs('a'), { isLast: false }));
  w.write(piece('set', 'mp:set', bufs('b'), { isFirst: false }));
  await w.flush();
  assert.equal(await cli('LRANGE', 'mp:list', '0', '-1'), 'a\nb\nc\nd\ne\n');
  assert.equal(await cli('GET', 'mp:str'), 'abcdef\n');
  assert.equal(await cli('PEXPIRETIME', 'mp:list'), `${at}\n`);
  assert.equal(await cli('PEXPIRETIME', 'mp:str'), `${at}\n`);
  assert.equal(await cli('ZRANGE', 'mp:z', '0', '-1', 'WITHSCORES'), 'a\n1\nb\n2\n');
  assert.equal(await cli('SCARD', 'mp:set'), '2\n');
  assert.deepEqual({ keys: w.stats.keys, pieces: w.stats.pieces }, { keys: 4, pieces: 10 });
});

test('elements beyond one command are split into bounded commands', async () => {
  await cli('CONFIG', 'RESETSTAT');
  const members = Array.from({ length: 2500 }, (_, i) => B(`m${i}`));
  const w = writer();
  w.write(piece('set', 'many', members));
  await w.flush();
  assert.equal(await cli('SCARD', 'many'), '2500\n');
  assert.match(await cli('INFO', 'commandstats'), /cmdstat_sadd:calls=3,/);
});

test('keys already expired at write time are skipped with all their pieces', async () => {
  const w = writer({ nowMs: () => 1_000_000 });
  await cli('SET', 'exp:old', 'keep');
  w.write(piece('string', 'exp:a', B('x'), { expireAtMs: 999_999 }));
  w.write(piece('list', 'exp:b', bufs('1'), { expireAtMs: 1_000_000, isLast: false }));
  w.write(piece('list', 'exp:c', bufs('live'), { expireAtMs: Date.now() + 60_000 })); // interleaved other object
  w.write(piece('list', 'exp:b', bufs('2'), { expireAtMs: 1_000_000, isFirst: false, isLast: false }));
  w.write(piece('list', 'exp:b', bufs('3'), { expireAtMs: 1_000_000, isFirst: false }));
  w.write(piece('string', 'exp:old', B('new'), { expireAtMs: 5 }));
  await w.flush();
  assert.equal(await cli('EXISTS', 'exp:a', 'exp:b'), '0\n');
  assert.equal(await cli('LLEN', 'exp:c'), '1\n');
  assert.equal(await cli('GET', 'exp:old'), 'keep\n', 'an expired source object does not delete the target key');
  assert.deepEqual({ skipped: w.stats.skippedExpired, keys: w.stats.keys, pieces: w.stats.pieces }, { skipped: 3, keys: 1, pieces: 1 });
});

test('onExisting skip: existing keys untouched (RESTORE and multi-piece rewrite), new keys written, skips counted', async () => {
  await cli('SET', 'ex:r', 'old');
  await cli('RPUSH', 'ex:w', 'old');
  await cli('SET', '{tag}ex:w2', 'old');
  await cli('SET', 'dumpsrc', 'new');
  const dump = (await conn.call(['DUMP', 'dumpsrc'])) as Buffer;
  const rdb = { rdbType: dump[0]!, rdbValue: dump.subarray(1, dump.length - 10) };
  const w = writer({ onExisting: 'skip' });
  w.write(piece('string', 'ex:r', B('new'), rdb));
  w.write(piece('string', 'ex:r-new', B('new'), rdb));
  w.write(piece('list', 'ex:w', bufs('n1'), { isLast: false }));
  w.write(piece('list', 'ex:w', bufs('n2'), { isFirst: false }));
  w.write(piece('list', 'ex:w-new', bufs('n1'), { isLast: false }));
  w.write(piece('list', 'ex:w-new', bufs('n2'), { isFirst: false, expireAtMs: Date.now() + 60_000 }));
  w.write(piece('string', '{tag}ex:w2', B('new')));
  await w.flush();
  assert.equal(await cli('GET', 'ex:r'), 'old\n');
  assert.equal(await cli('GET', 'ex:r-new'), 'new\n');
  assert.equal(await cli('LRANGE', 'ex:w', '0', '-1'), 'old\n');
  assert.equal(await cli('LRANGE', 'ex:w-new', '0', '-1'), 'n1\nn2\n');
  assert.notEqual(await cli('PTTL', 'ex:w-new'), '-1\n');
  assert.equal(await cli('GET', '{tag}ex:w2'), 'old\n');
  assert.equal((await cli('KEYS', '*df2redis:tmp:*')).trim(), '', 'no temporary key left');
  assert.deepEqual({ keys: w.stats.keys, skippedExisting: w.stats.skippedExisting }, { keys: 2, skippedExisting: 3 });
});

test('onExisting fail: stops with an error naming the key; the existing value is untouched', async () => {
  await cli('RPUSH', 'fx:w', 'old');
  // Its own connection: a fatal error stays with the connection (every later flush rejects).
  const own = await StandaloneRouter.connect(parseRedisUrl(server.url));
  const w = new SnapshotWriter(own, info, { onExisting: 'fail', unsupported: 'fail', restoreMaxBytes: 512 * 1024 });
  w.write(piece('list', 'fx:w', bufs('n1'), { isLast: false }));
  w.write(piece('list', 'fx:w', bufs('n2'), { isFirst: false }));
  await assert.rejects(w.flush(), (e) => e instanceof TargetCommandError && e.key?.toString() === 'fx:w' && /BUSYKEY/.test(e.reply) && /fx:w/.test(e.message));
  await assert.rejects(w.flush(), TargetCommandError);
  own.all()[0]!.destroy();
  assert.equal(await cli('LRANGE', 'fx:w', '0', '-1'), 'old\n');
  assert.equal((await cli('KEYS', '*df2redis:tmp:*')).trim(), '');
});

test('writers sharing a router keep their own policies: a later replace writer does not undo skip', async () => {
  await cli('SET', 'pw:r', 'old');
  await cli('RPUSH', 'pw:w', 'old');
  await cli('SET', 'pw:j', 'old');
  const own = await StandaloneRouter.connect(parseRedisUrl(server.url));
  try {
    const snapshot = new SnapshotWriter(own, info, { onExisting: 'skip', unsupported: 'fail', restoreMaxBytes: 512 * 1024 });
    // Created after, as replicate creates its journal writer: before, its policy replaced skip's.
    const journal = new SnapshotWriter(own, info, { onExisting: 'replace', unsupported: 'skip', restoreMaxBytes: 512 * 1024 });
    await cli('SET', 'pw:src', 'new');
    const dump = (await own.call(B('pw:src'), ['DUMP', 'pw:src'])) as Buffer;
    snapshot.write(piece('string', 'pw:r', B('new'), { rdbType: dump[0]!, rdbValue: dump.subarray(1, dump.length - 10) }));
    snapshot.write(piece('list', 'pw:w', bufs('n1'), { isLast: false }));
    snapshot.write(piece('list', 'pw:w', bufs('n2'), { isFirst: false }));
    journal.write(piece('list', 'pw:j', bufs('j1')));
    await own.flush();
    assert.equal(await cli('GET', 'pw:r'), 'old\n');
    assert.equal(await cli('LRANGE', 'pw:w', '0', '-1'), 'old\n');
    assert.equal(await cli('LRANGE', 'pw:j', '0', '-1'), 'j1\n', 'the replace writer still replaces');
    assert.deepEqual({ keys: snapshot.stats.keys, skippedExisting: snapshot.stats.skippedExisting }, { keys: 0, skippedExisting: 2 });
    assert.deepEqual({ keys: journal.stats.keys, skippedExisting: journal.stats.skippedExisting }, { keys: 1, skippedExisting: 0 });
  } finally {
    await own.close();
  }
});

test('temporary keys hash to the slot of their key', () => {
  for (const k of ['a', 'user:1000', '{x}y', '{}z', 'a{b', 'k{t}x{u}']) {
    assert.equal(calculateSlot(tempKeyFor(B(k))), calculateSlot(B(k)), k);
  }
});

test('SELECT per db: pieces of keys from dbs 0, 1 and 15 land in their database', async () => {
  const w = writer();
  w.write(piece('string', 'dbk', B('zero'), { db: 0 }));
  w.write(piece('string', 'dbk', B('fifteen'), { db: 15 }));
  w.write(piece('list', 'dbl', bufs('a'), { db: 1, isLast: false }));
  w.write(piece('list', 'dbl', bufs('b'), { db: 1, isFirst: false }));
  await w.flush();
  assert.equal(await cli('-n', '0', 'GET', 'dbk'), 'zero\n');
  assert.equal(await cli('-n', '15', 'GET', 'dbk'), 'fifteen\n');
  assert.equal(await cli('-n', '1', 'LRANGE', 'dbl', '0', '-1'), 'a\nb\n');
  router.connectionFor(B('x'), 0);
});

test('unsupported types: reasons, fail throws before writing, skip counts all pieces', async () => {
  const w = writer();
  assert.match(w.unsupportedReason(piece('json', 'j', B('{}')))!, /RedisJSON/);
  assert.match(w.unsupportedReason(piece('set-ttl', 's', { members: [], expireAtMs: [] }))!, /member TTL/);
  assert.match(w.unsupportedReason(piece('hash-ttl', 'h', { fields: [], expireAtMs: [] }))!, /7\.4/);
  assert.match(w.unsupportedReason(piece('sbf', 'b', { description: 'sbf' }))!, /RedisBloom/);
  assert.equal(w.unsupportedReason(piece('hash', 'h', [])), undefined);
  assert.throws(() => w.write(piece('json', 'uj', B('{}'))), UnsupportedTypesError);
  const ws = writer({ unsupported: 'skip' });
  ws.write(piece('json', 'uj', B('{"a":'), { isLast: false }));
  ws.write(piece('json', 'uj', B('1}'), { isFirst: false }));
  ws.write(piece('cms', 'uc', { description: 'cms' }));
  await ws.flush();
  assert.equal(await cli('EXISTS', 'uj', 'uc'), '0\n');
  assert.deepEqual({ skipped: ws.stats.skippedUnsupported, pieces: ws.stats.pieces }, { skipped: 2, pieces: 0 });
});

test('streams: entries with their ids, last id, counters, groups, pending entries and consumers', async () => {
  await cli('DEL', 'st:src');
  await cli('XADD', 'st:src', '1-1', 'a', '1');
  await cli('XADD', 'st:src', '2-0', 'b', '2', 'c', '3');
  await cli('XADD', 'st:src', '3-5', 'd', '4');
  await cli('XDEL', 'st:src', '3-5');
  await cli('XGROUP', 'CREATE', 'st:src', 'g1', '0');
  await cli('XREADGROUP', 'GROUP', 'g1', 'alice', 'COUNT', '1', 'STREAMS', 'st:src', '>');
  await cli('XGROUP', 'CREATECONSUMER', 'st:src', 'g1', 'bob');
  await cli('XGROUP', 'CREATE', 'st:src', 'g2', '$');
  const t = Date.now() - 5000;
  const entry = (key: string, isFirst: boolean, isLast: boolean, entries: Array<[bigint, bigint, string[]]>) =>
    piece('stream', key, {
      entries: entries.map(([ms, seq, f]) => ({ id: { ms, seq }, fields: bufs(...f) })),
      meta: isLast
        ? {
            length: 2n, lastId: { ms: 3n, seq: 5n }, firstId: { ms: 1n, seq: 1n }, maxDeletedId: { ms: 3n, seq: 5n }, entriesAdded: 3n,
            groups: [
              {
                name: B('g1'), lastId: { ms: 1n, seq: 1n }, entriesRead: -1n, // a tombstone makes it unknown, as on the source
                pending: [{ id: { ms: 1n, seq: 1n }, deliveryTimeMs: t, deliveryCount: 1 }],
                consumers: [
                  { name: B('alice'), seenTimeMs: t, activeTimeMs: t, pending: [{ ms: 1n, seq: 1n }] },
                  { name: B('bob'), seenTimeMs: t, activeTimeMs: -1, pending: [] },
                ],
              },
              { name: B('g2'), lastId: { ms: 3n, seq: 5n }, entriesRead: -1n, pending: [], consumers: [] },
            ],
          }
        : undefined,
    }, { isFirst, isLast });
  await cli('SET', 'st:w', 'old');
  const w = writer();
  w.write(entry('st:w', true, false, [[1n, 1n, ['a', '1']]]));
  w.write(entry('st:w', false, true, [[2n, 0n, ['b', '2', 'c', '3']]]));
  await w.flush();
  for (const cmd of [['XRANGE', '-', '+'], ['XINFO', 'GROUPS'], ['XPENDING', 'g1', '-', '+', '10']]) {
    const [sub, ...rest] = cmd;
    const a = await cli(...(sub === 'XINFO' ? ['XINFO', 'GROUPS', 'st:src'] : [sub!, 'st:src', ...rest]));
    const b = await cli(...(sub === 'XINFO' ? ['XINFO', 'GROUPS', 'st:w'] : [sub!, 'st:w', ...rest]));
    if (sub === 'XPENDING') assert.equal(b.replace(/\n\d+\n1\n$/, ''), a.replace(/\n\d+\n1\n$/, ''));
    else assert.equal(b, a, cmd.join(' '));
  }
  const info = (k: string) => cli('XINFO', 'STREAM', k).then((s) => s.replace(/(first|last)-entry\n[\s\S]*$/, ''));
  assert.equal(await info('st:w'), await info('st:src'));
  assert.match(await cli('XINFO', 'CONSUMERS', 'st:w', 'g1'), /alice[\s\S]*bob/);
  const idle = Number((await cli('XPENDING', 'st:w', 'g1', '-', '+', '10')).split('\n')[2]);
  assert.ok(idle >= 5000 && idle < 60_000, `delivery time kept: idle ${idle}`);

  // Empty stream with a group, created from nothing.
  w.write(piece('stream', 'st:empty', { entries: [], meta: { length: 0n, lastId: { ms: 7n, seq: 0n }, entriesAdded: 4n, maxDeletedId: { ms: 7n, seq: 0n }, firstId: { ms: 0n, seq: 0n }, groups: [{ name: B('g'), lastId: { ms: 7n, seq: 0n }, entriesRead: 4n, pending: [], consumers: [] }] } }));
  // Empty, no groups; and empty with a never-used last id of 0-0 and a group.
  w.write(piece('stream', 'st:empty2', { entries: [], meta: { length: 0n, lastId: { ms: 5n, seq: 1n }, entriesAdded: 2n, maxDeletedId: { ms: 5n, seq: 1n }, firstId: { ms: 0n, seq: 0n }, groups: [] } }));
  w.write(piece('stream', 'st:empty3', { entries: [], meta: { length: 0n, lastId: { ms: 0n, seq: 0n }, entriesAdded: 0n, maxDeletedId: { ms: 0n, seq: 0n }, firstId: { ms: 0n, seq: 0n }, groups: [{ name: B('g'), lastId: { ms: 0n, seq: 0n }, entriesRead: 0n, pending: [], consumers: [] }] } }));
  await w.flush();
  assert.equal(await cli('XLEN', 'st:empty'), '0\n');
  assert.match(await cli('XINFO', 'STREAM', 'st:empty'), /last-generated-id\n7-0\n[\s\S]*entries-added\n4\n/);
  assert.match(await cli('XINFO', 'GROUPS', 'st:empty'), /name\ng\n[\s\S]*last-delivered-id\n7-0\nentries-read\n4\n/);
  assert.match(await cli('XINFO', 'STREAM', 'st:empty2'), /length\n0\n[\s\S]*last-generated-id\n5-1\nmax-deleted-entry-id\n5-1\nentries-added\n2\n/);
  assert.match(await cli('XINFO', 'STREAM', 'st:empty3'), /length\n0\n[\s\S]*last-generated-id\n0-0\n[\s\S]*groups\n1\n/);
});

test('writeFunction loads a library with FUNCTION LOAD REPLACE', async () => {
  const w = writer();
  const code = B("#!lua name=df2lib\nredis.register_function('df2f', function() return 7 end)");
  w.writeFunction(code);
  w.writeFunction(code);
  await w.flush();
  assert.equal(await cli('FCALL', 'df2f', '0'), '7\n');
  assert.equal(w.stats.functions, 2);
});

test('a RESTORE payload above 64 KiB (value passed to the socket by reference) restores intact', async () => {
  await cli('DEL', 'bigr:src');
  // Random text: DUMP compresses repetitive strings with LZF.
  const members = Array.from({ length: 3000 }, (_, i) => `${i}-${randomBytes(24).toString('hex')}`);
  await conn.call(['SADD', 'bigr:src', ...members]);
  const dump = (await conn.call(['DUMP', 'bigr:src'])) as Buffer;
  assert.ok(dump.length > 100_000);
  const w = writer();
  w.write(piece('set', 'bigr', [], { rdbType: dump[0]!, rdbValue: dump.subarray(1, dump.length - 10) }));
  await w.flush();
  assert.equal(await digest('bigr'), await digest('bigr:src'));
});
