/**
 * Every RDB value type and encoding, hand-built byte for byte (test/decode/rdb-builder.ts), decoded
 * whole, byte by byte and at every split offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAllWays } from '../../../test/decode/decode-helpers.js';
import {
  f64, intset, intStr, le32, le64, len, listpack, lzfStr, RdbBuilder, str, streamId, streamNode, ziplist, zipmap,
} from '../../../test/decode/rdb-builder.js';
import { SnapshotModel, type ModelObject } from '../../../test/decode/snapshot-model.js';
import type { RdbDecoderOptions } from './rdb-decoder.js';
import { lzfCompress } from './lzf.js';

const t = (bufs: Buffer[]): string[] => bufs.map((b) => b.toString('latin1'));

/** One object `k` of `type` with `value` bytes in an RDB of `version`; decoded all ways. */
function one(type: number, value: Buffer[], opts?: RdbDecoderOptions, version = 12): ModelObject {
  const bytes = new RdbBuilder(version).object(type, 'k', ...value).end();
  const res = decodeAllWays(bytes, opts);
  // Containers parsed element by element from the stream give exactly the same entries.
  const streamed = decodeAllWays(bytes, { ...opts, maxBlobBytes: 0 });
  assert.deepEqual(streamed.events, res.events, 'maxBlobBytes 0 (streamed containers) differs');
  const m = new SnapshotModel();
  for (const e of res.entries) m.add(e);
  assert.equal(m.objects.length, 1);
  const o = m.objects[0]!;
  assert.equal(o.key.toString(), 'k');
  // rdbValue: exact raw value bytes on single-piece objects
  const entry = res.entries[0]!;
  if (res.entries.length === 1) assert.deepEqual(entry.rdbValue, Buffer.concat(value));
  else for (const e of res.entries) assert.equal(e.rdbValue, undefined);
  return o;
}

test('strings: plain, empty, int8/16/32 and LZF', () => {
  assert.equal(one(0, [str('hello')]).bytes.join(''), 'hello');
  assert.equal(one(0, [str('')]).bytes.join(''), '');
  assert.equal(one(0, [intStr(-7)]).bytes.join(''), '-7');
  assert.equal(one(0, [intStr(1006)]).bytes.join(''), '1006');
  assert.equal(one(0, [intStr(-2000000000)]).bytes.join(''), '-2000000000');
  const big = 'abcdefgh'.repeat(200);
  assert.equal(Buffer.concat(one(0, [lzfStr(big)]).bytes).toString(), big);
});

test('strings longer than maxPieceBytes stream in bounded pieces (plain and LZF)', () => {
  const v = Buffer.from('0123456789'.repeat(25));
  const o = one(0, [str(v)], { maxPieceBytes: 16 });
  assert.equal(o.pieces, Math.ceil(250 / 16));
  assert.ok(o.bytes.every((b) => b.length <= 16));
  assert.deepEqual(Buffer.concat(o.bytes), v);
  const z = one(0, [lzfStr(v)], { maxPieceBytes: 100 });
  assert.equal(z.pieces, 3);
  assert.deepEqual(Buffer.concat(z.bytes), v);
});

test('big LZF strings are decompressed incrementally into pieces (8 KiB window kept), same bytes', () => {
  let x = 7;
  const vocab = Array.from({ length: 700 }, (_, i) => `tok${i}-${'abcdefghij'.slice(0, i % 10)}|`);
  let text = '';
  while (text.length < 60_000) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    text += vocab[x % vocab.length];
  }
  const v = Buffer.from(text);
  const o = one(0, [lzfStr(v)], { maxPieceBytes: 4096 });
  assert.ok(o.pieces >= Math.ceil(v.length / 4096));
  assert.ok(o.bytes.every((b) => b.length <= 4096));
  assert.deepEqual(Buffer.concat(o.bytes), v);
  const c = lzfCompress(v)!;
  c[0] = 0xe0; // the first instruction becomes a back-reference before the start
  const bytes = new RdbBuilder().object(0, 'k', Buffer.from([0xc3]), len(c.length), len(v.length), c).end('zero');
  assert.throws(() => decodeAllWays(bytes, { maxPieceBytes: 4096 }), (e: unknown) => (e as { code?: string }).code === 'DECOMPRESS' || (e as { code?: string }).code === 'BAD_ENCODING');
});

test('lists: linked list (1), ziplist (10), quicklist (14, LZF node), quicklist 2 (18, PLAIN + PACKED)', () => {
  assert.deepEqual(t(one(1, [len(3), str('a'), intStr(5), str('c')]).elems), ['a', '5', 'c']);
  const zl = ziplist(['x', 0, 12, 13, -1, 300, -70000, 2 ** 40, 'y'.repeat(70), 'z'.repeat(20000)]);
  assert.deepEqual(t(one(10, [str(zl)]).elems), ['x', '0', '12', '13', '-1', '300', '-70000', String(2 ** 40), 'y'.repeat(70), 'z'.repeat(20000)]);
  const node2 = ziplist(Array.from({ length: 50 }, () => 'repeat-me'));
  assert.deepEqual(t(one(14, [len(2), str(ziplist(['a', 1])), lzfStr(node2)]).elems), ['a', '1', ...Array(50).fill('repeat-me')]);
  const packed = listpack(['p', 7, -3000, 100000, -(2 ** 31), 2n ** 62n, 'q'.repeat(100), 'r'.repeat(5000)]);
  assert.deepEqual(t(one(18, [len(3), len(2), str(packed), len(1), str('plain-node'), len(2), lzfStr(listpack(Array(40).fill('lz')))]).elems), [
    'p', '7', '-3000', '100000', String(-(2 ** 31)), String(2n ** 62n), 'q'.repeat(100), 'r'.repeat(5000), 'plain-node', ...Array(40).fill('lz'),
  ]);
});

test('sets: hash table (2), intset (11, widths 2/4/8), listpack (20)', () => {
  assert.deepEqual(t(one(2, [len(2), str('m1'), intStr(42)]).elems), ['m1', '42']);
  assert.deepEqual(t(one(11, [str(intset([-5, 1, 300], 2))]).elems), ['-5', '1', '300']);
  assert.deepEqual(t(one(11, [str(intset([-70000, 70000], 4))]).elems), ['-70000', '70000']);
  assert.deepEqual(t(one(11, [str(intset([-(2n ** 63n), 2n ** 63n - 1n], 8))]).elems), [String(-(2n ** 63n)), String(2n ** 63n - 1n)]);
  const s = one(20, [str(listpack(['a', 1, 'b']))]);
  assert.equal(s.valueKind, 'set');
  assert.deepEqual(t(s.elems), ['a', '1', 'b']);
});

test('type 20 is JSON in Dragonfly files older than RDB 10', () => {
  const o = one(20, [str('{"a":1}')], undefined, 9);
  assert.equal(o.valueKind, 'json');
  assert.equal(Buffer.concat(o.bytes).toString(), '{"a":1}');
});

test('zsets: text scores (3, incl. nan/inf/-inf), binary (5), ziplist (12), listpack (17)', () => {
  const z3 = one(3, [len(4), str('a'), Buffer.from([3]), Buffer.from('1.5'), str('b'), Buffer.from([254]), str('c'), Buffer.from([255]), str('d'), Buffer.from([253])]);
  assert.deepEqual(t(z3.elems), ['a', 'b', 'c', 'd']);
  assert.deepEqual(z3.nums, [1.5, Infinity, -Infinity, NaN]);
  const z5 = one(5, [len(2), str('x'), f64(-0.25), str('y'), f64(1e300)]);
  assert.deepEqual(z5.nums, [-0.25, 1e300]);
  const z12 = one(12, [str(ziplist(['m', 3, 'n', '2.5', 'o', 'inf']))]);
  assert.deepEqual(t(z12.elems), ['m', 'n', 'o']);
  assert.deepEqual(z12.nums, [3, 2.5, Infinity]);
  const z17 = one(17, [str(listpack(['m', 1, 'n', '1e-17', 'o', '-inf', 'p', '123456789.12345679', 'q', -5000]))]);
  assert.deepEqual(z17.nums, [1, 1e-17, -Infinity, 123456789.12345679, -5000]);
});

test('hashes: hash table (4), zipmap (9, with free bytes and long values), ziplist (13), listpack (16)', () => {
  assert.deepEqual(t(one(4, [len(2), str('f1'), str('v1'), intStr(2), str('v2')]).elems), ['f1', 'v1', '2', 'v2']);
  const long = 'L'.repeat(300);
  assert.deepEqual(t(one(9, [str(zipmap([['a', 'b'], ['c', long]], 2))]).elems), ['a', 'b', 'c', long]);
  assert.deepEqual(t(one(13, [str(ziplist(['f', 'v', 'n', 7]))]).elems), ['f', 'v', 'n', '7']);
  assert.deepEqual(t(one(16, [str(listpack(['f', 'v', 'n', 7]))]).elems), ['f', 'v', 'n', '7']);
});

test('hashes with field TTL: Redis 7.4 types 22, 23, 24, 25 and Dragonfly 31', () => {
  // 22: ttl (absolute ms, 0 = none), field, value
  const h22 = one(22, [len(2), len(0), str('a'), str('1'), len(1_900_000_000_000), str('b'), str('2')]);
  assert.equal(h22.valueKind, 'hash-ttl');
  assert.deepEqual(t(h22.elems), ['a', '1', 'b', '2']);
  assert.deepEqual(h22.nums, [-1, 1_900_000_000_000]);
  // 24: minExpire, then ttl relative to it (+1)
  const min = 1_800_000_000_000;
  const h24 = one(24, [le64(min), len(2), len(1), str('a'), str('1'), len(0), str('b'), str('2')]);
  assert.deepEqual(h24.nums, [min, -1]);
  // 23: listpack triplets; 25: minExpire + listpack triplets
  const h23 = one(23, [str(listpack(['a', '1', 0, 'b', '2', 1_900_000_000_000]))]);
  assert.deepEqual(t(h23.elems), ['a', '1', 'b', '2']);
  assert.deepEqual(h23.nums, [-1, 1_900_000_000_000]);
  const h25 = one(25, [le64(min), str(listpack(['a', '1', min]))]);
  assert.deepEqual(h25.nums, [min]);
  // Dragonfly 31: expiry RSTR, seconds since 2023-02-01 (Unix = v + 1675209600), -1 = none
  const h31 = one(31, [len(2), str('f'), str('v'), intStr(-1), str('g'), str('w'), intStr(220008437)]);
  assert.deepEqual(h31.nums, [-1, (220008437 + 1675209600) * 1000]);
});

test('Dragonfly set with member expiry (32)', () => {
  const s = one(32, [len(2), str('plain-member'), intStr(-1), str('ttl-member'), str('220008437')]);
  assert.equal(s.valueKind, 'set-ttl');
  assert.deepEqual(t(s.elems), ['plain-member', 'ttl-member']);
  assert.deepEqual(s.nums, [-1, 1895218037000]);
});

test('JSON (30)', () => {
  const o = one(30, [str('{"b":[1,2,3]}')]);
  assert.equal(o.valueKind, 'json');
  assert.equal(Buffer.concat(o.bytes).toString(), '{"b":[1,2,3]}');
});

function streamValue(type: 15 | 19 | 21): Buffer[] {
  const node1 = streamNode([
    { msDelta: 0, seqDelta: 0, fields: [['n', '1'], ['p', 'x']] },
    { msDelta: 0, seqDelta: 1, fields: [['n', '2'], ['p', 'y']], deleted: true },
    { msDelta: 5, seqDelta: 0, fields: [['other', 'z']] },
  ]);
  const node2 = streamNode([{ msDelta: 0, seqDelta: 0, fields: [['n', '9']] }]);
  const parts: Buffer[] = [len(2), str(streamId(1000, 0)), str(node1), str(streamId(2000, 3)), str(node2)];
  parts.push(len(3), len(2000), len(3)); // length, last id
  if (type >= 19) parts.push(len(1000), len(0), len(1000), len(1), len(4)); // first id, max deleted, entries added
  parts.push(len(1)); // groups
  parts.push(str('grp'), len(1000), len(0));
  if (type >= 19) parts.push(Buffer.from([0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])); // entries_read = -1
  parts.push(len(1), streamId(1000, 0), le64(1_700_000_000_123), len(2)); // PEL
  parts.push(len(2)); // consumers
  parts.push(str('alice'), le64(1_700_000_000_200));
  if (type >= 21) parts.push(le64(1_700_000_000_300));
  parts.push(len(1), streamId(1000, 0));
  parts.push(str('bob'), le64(1_700_000_000_400));
  if (type >= 21) parts.push(le64(1_700_000_000_500));
  parts.push(len(0));
  return parts;
}

test('streams (15, 19, 21): entries (deleted skipped, SAMEFIELDS), metadata, groups, PEL, consumers', () => {
  for (const type of [15, 19, 21] as const) {
    const o = one(type, streamValue(type));
    assert.deepEqual(
      o.entries.map((e) => [`${e.id.ms}-${e.id.seq}`, t(e.fields)]),
      [
        ['1000-0', ['n', '1', 'p', 'x']],
        ['1005-0', ['other', 'z']],
        ['2000-3', ['n', '9']],
      ],
    );
    const m = o.meta!;
    assert.equal(m.length, 3n);
    assert.deepEqual(m.lastId, { ms: 2000n, seq: 3n });
    assert.deepEqual(m.firstId, type >= 19 ? { ms: 1000n, seq: 0n } : undefined);
    assert.equal(m.entriesAdded, type >= 19 ? 4n : undefined);
    assert.equal(m.groups.length, 1);
    const g = m.groups[0]!;
    assert.equal(g.name.toString(), 'grp');
    assert.equal(g.entriesRead, -1n);
    assert.deepEqual(g.pending, [{ id: { ms: 1000n, seq: 0n }, deliveryTimeMs: 1_700_000_000_123, deliveryCount: 2 }]);
    assert.deepEqual(
      g.consumers.map((c) => [c.name.toString(), c.seenTimeMs, c.activeTimeMs, c.pending.length]),
      [
        ['alice', 1_700_000_000_200, type >= 21 ? 1_700_000_000_300 : -1, 1],
        ['bob', 1_700_000_000_400, type >= 21 ? 1_700_000_000_500 : -1, 0],
      ],
    );
  }
});

test('streams split into pieces carry meta only on the last piece', () => {
  const o = one(21, streamValue(21), { maxPieceElements: 1 });
  assert.equal(o.pieces, 3);
  assert.equal(o.entries.length, 3);
  assert.ok(o.meta !== undefined);
});

test('Dragonfly SBF (33), SBF2 (34), CMS (35), TOPK (36), CUCKOO (37) decode their parameters', () => {
  const sbf = one(33, [len(0), f64(2), f64(0.01), len(0), len(100), len(1000), len(2), len(7), str(Buffer.alloc(64, 1)), len(9), str(Buffer.alloc(3, 2))]);
  assert.equal(sbf.valueKind, 'sbf');
  assert.deepEqual((sbf.opaque as { fields: unknown }).fields, { options: 0, growFactor: 2, fpProb: 0.01, prevSize: 0, currentSize: 100, maxCapacity: 1000, filters: 2 });
  const sbf2 = one(34, [len(0), f64(2), f64(0.01), len(0), len(1), len(100), len(1), len(7), len(10), len(6), Buffer.alloc(6), len(4), Buffer.alloc(4)]);
  assert.equal((sbf2.opaque as { fields: { filters: number } }).fields.filters, 1);
  const cms = one(35, [len(3), len(2), len(17), Buffer.alloc(3 * 2 * 8, 5)]);
  assert.deepEqual((cms.opaque as { fields: unknown }).fields, { width: 3, depth: 2, totalCount: 17 });
  const topk = one(36, [len(0), len(2), len(8), len(3), f64(0.9), len(2), str('a'), len(5), str('b'), len(1), len(12), Buffer.alloc(12)]);
  assert.deepEqual((topk.opaque as { fields: unknown }).fields, { options: 0, k: 2, width: 8, depth: 3, decay: 0.9, heapSize: 2 });
  const cuckoo = one(37, [len(4), len(20), len(1), len(8), len(3), len(0), len(2), len(32), len(32), Buffer.alloc(32), len(0)]);
  assert.equal(cuckoo.valueKind, 'cuckoo');
  assert.deepEqual((cuckoo.opaque as { fields: { filters: number } }).fields.filters, 2);
});

test('collections are cut into pieces of ≤ maxPieceElements items and ≤ maxPieceBytes', () => {
  const members = Array.from({ length: 10 }, (_, i) => `member-${i}`);
  const o = one(2, [len(10), ...members.map((m) => str(m))], { maxPieceElements: 3 });
  assert.equal(o.pieces, 4);
  assert.deepEqual(t(o.elems), members);
  // 52 + 52 bytes exceed 60: a new piece; 52 + 3 fit
  const h = one(16, [str(listpack(['f1', 'v'.repeat(50), 'f2', 'v'.repeat(50), 'f3', 'x']))], { maxPieceBytes: 60 });
  assert.equal(h.pieces, 2);
  const z = one(5, [len(5), ...[1, 2, 3, 4, 5].flatMap((i) => [str(`m${i}`), f64(i)])], { maxPieceElements: 2 });
  assert.equal(z.pieces, 3);
  assert.deepEqual(z.nums, [1, 2, 3, 4, 5]);
});

test('an empty counted collection is one empty entry', () => {
  const o = one(2, [len(0)]);
  assert.equal(o.pieces, 1);
  assert.deepEqual(o.elems, []);
});

test('rdbValue is left out when the value exceeds maxRestorePayloadBytes, and never with 0', () => {
  const bytes = new RdbBuilder().object(0, 'k', str('x'.repeat(100))).end();
  assert.equal(decodeAllWays(bytes, { maxRestorePayloadBytes: 50 }).entries[0]!.rdbValue, undefined);
  assert.equal(decodeAllWays(bytes, { maxRestorePayloadBytes: 0 }).entries[0]!.rdbValue, undefined);
  assert.equal(decodeAllWays(bytes, { maxRestorePayloadBytes: 102 }).entries[0]!.rdbValue?.length, 102);
});

test('skipValues: one empty entry per object, keys and types intact', () => {
  const bytes = new RdbBuilder()
    .object(0, 'a', str('x'.repeat(5000)))
    .object(2, 'b', len(3), str('1'), str('2'), str('3'))
    .object(18, 'c', len(1), len(2), str(listpack(['p'])))
    .object(21, 'd', ...streamValue(21))
    .end();
  const res = decodeAllWays(bytes, { skipValues: true, maxPieceBytes: 100 });
  assert.deepEqual(res.entries.map((e) => [e.key.toString(), e.valueKind, e.isFirst && e.isLast, e.rdbValue]), [
    ['a', 'string', true, undefined],
    ['b', 'set', true, undefined],
    ['c', 'list', true, undefined],
    ['d', 'stream', true, undefined],
  ]);
  assert.equal((res.entries[0]!.value as Buffer).length, 0);
  assert.deepEqual(res.entries[1]!.value, []);
});

test('module values (6, 7) are a typed UNSUPPORTED_TYPE error naming the key', () => {
  for (const type of [6, 7]) {
    const bytes = new RdbBuilder().object(type, 'modkey', len(12345), len(0)).end();
    assert.throws(
      () => decodeAllWays(bytes),
      (e: unknown) => (e as { code?: string }).code === 'UNSUPPORTED_TYPE' && /unsupported type \d for key "modkey"/.test((e as Error).message),
    );
  }
});

test('le32 helper sanity', () => {
  assert.equal(le32(1).readUInt32LE(0), 1);
});
