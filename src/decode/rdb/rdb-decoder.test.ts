/**
 * RdbDecoder: top-level opcodes, Dragonfly extensions (FULLSYNC_END, JOURNAL_OFFSET, DF_MASK,
 * JOURNAL_BLOB, compressed blobs, TAGGED_CHUNK), EOF/CRC, bounded memory and typed errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compressFrameSync } from 'lz4-napi';
import { decodeAllWays, decodeWithCuts } from '../../../test/decode/decode-helpers.js';
import { f64, intStr, le32, le64, len, listpack, RdbBuilder, str } from '../../../test/decode/rdb-builder.js';
import { journalCommand } from '../../../test/helpers/fake-master.js';
import { RdbError } from '../../errors.js';
import type { SnapshotEntry } from '../../entry/entry.js';
import { RdbDecoder } from './rdb-decoder.js';
import { lzfCompress } from './lzf.js';
import { STITCH_HEAD_BYTES } from './rdb-reader.js';

const keysOf = (entries: SnapshotEntry[]): string[] => entries.map((e) => `${e.db}/${e.key.toString()}`);

function tagged(id: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([224]), le32(id), le32(payload.length), payload]);
}

function lz4Blob(records: Buffer): Buffer {
  const frame = compressFrameSync(records);
  return Buffer.concat([Buffer.from([202]), len(frame.length), frame]);
}

function journalBlob(record: Buffer): Buffer {
  return Buffer.concat([Buffer.from([210]), len(1), str(record)]);
}

test('Redis opcodes: AUX, SELECTDB, RESIZEDB, EXPIRETIME, EXPIRETIME_MS, IDLE, FREQ, SLOT_INFO, FUNCTION2, MODULE_AUX', () => {
  const moduleAux = Buffer.concat([len(0x1234567), len(2), len(2), len(2), len(99), len(5), str('blob'), len(3), Buffer.alloc(4), len(4), f64(1), len(0)]);
  const bytes = new RdbBuilder(11)
    .aux('redis-ver', '7.2.4')
    .aux('redis-bits', intStr(64))
    .op(247, moduleAux)
    .op(245, str('#!lua name=lib\nredis.register_function("f", function() return 1 end)'))
    .selectDb(3)
    .op(251, len(10), len(2))
    .op(244, len(100), len(5), len(1))
    .op(253, le32(1_900_000_000))
    .object(0, 'secs', str('v'))
    .expireMs(1_900_000_000_123)
    .op(248, len(77))
    .op(249, Buffer.from([5]))
    .object(0, 'ms', str('w'))
    .object(0, 'plain', str('x'))
    .end();
  const res = decodeAllWays(bytes);
  const kinds = res.events.map((e) => e[0]);
  assert.deepEqual(kinds, ['header', 'aux', 'aux', 'module-aux', 'function', 'entry', 'entry', 'entry', 'eof']);
  assert.deepEqual(res.events[2], ['aux', 'redis-bits', '64']);
  assert.deepEqual(res.events[3], ['module-aux', 0x1234567n, moduleAux.subarray(len(0x1234567).length).toString('hex')]);
  assert.deepEqual(keysOf(res.entries), ['3/secs', '3/ms', '3/plain']);
  assert.deepEqual(res.entries.map((e) => e.expireAtMs), [1_900_000_000_000, 1_900_000_000_123, -1]);
  assert.equal(res.entries[0]!.rdbVersion, 11);
  assert.equal(res.consumed, bytes.length);
});

test('EOF: bytes after EOF+checksum are not consumed; RDB < 5 has no checksum', () => {
  const trailer = Buffer.from('0123456789abcdef0123456789abcdef01234567');
  for (const [version, checksum] of [[9, 'crc'], [9, 'zero'], [4, 'none']] as const) {
    const rdb = new RdbBuilder(version).object(0, 'k', str('v')).end(checksum);
    const bytes = Buffer.concat([rdb, trailer]);
    for (const cut of [0, 5, rdb.length - 1, rdb.length, rdb.length + 3]) {
      const res = decodeWithCuts(bytes, cut > 0 ? [cut] : [], undefined, true);
      assert.ok(res.decoder.isDone);
      assert.equal(res.consumed, rdb.length, `version ${version} cut ${cut}`);
      assert.equal(res.decoder.bytesConsumed, rdb.length);
    }
    const d = new RdbDecoder({ onEntry() {} });
    d.push(bytes);
    assert.equal(d.push(Buffer.from('more')), 0);
  }
});

test('a wrong non-zero CRC is BAD_CRC; a flipped value byte is caught by the CRC', () => {
  const good = new RdbBuilder(10).object(0, 'k', str('value')).end();
  assert.throws(() => decodeWithCuts(Buffer.concat([good.subarray(0, -8), le64(12345)]), []), { code: 'BAD_CRC' });
  const flipped = Buffer.from(good);
  flipped[flipped.length - 12]! ^= 1; // inside "value"
  assert.throws(() => decodeWithCuts(flipped, [7]), { code: 'BAD_CRC' });
  // Dragonfly streams (AUX df-ver) always carry checksum 0: the CRC is not computed for them
  const df = new RdbBuilder(9).aux('df-ver', 'df-v1.40.1').object(0, 'k', str('value')).end(12345n);
  assert.ok(decodeWithCuts(df, [20]).decoder.isDone);
  const d = new RdbDecoder({ onEntry() {} }, { verifyChecksum: false });
  d.push(Buffer.concat([good.subarray(0, -8), le64(12345)]));
  assert.ok(d.isDone);
});

test('Dragonfly: DF_MASK (with memcache flags), FULLSYNC_END, JOURNAL_BLOB in stream order, JOURNAL_OFFSET', () => {
  const bytes = new RdbBuilder(9)
    .aux('df-ver', 'df-v1.40.1')
    .selectDb(1)
    .expireMs(1_800_000_000_000)
    .op(220, le32(3), le32(0xabcd))
    .object(0, 'mc', str('v'))
    .op(220, le32(1))
    .object(0, 'sticky', str('s'))
    .raw(journalBlob(journalCommand(['SET', 'sticky', 'new'], { db: 1 })))
    .object(0, 'after', str('a'))
    .op(200, Buffer.alloc(8))
    .raw(journalBlob(journalCommand(['DEL', 'after'], { db: 1 })))
    .op(211, le64(4586))
    .end('zero');
  const res = decodeAllWays(bytes);
  const seq = res.events.filter((e) => e[0] !== 'header' && e[0] !== 'aux').map((e) =>
    e[0] === 'entry' ? `entry ${(e[1] as SnapshotEntry).key}` : e[0] === 'journal' ? `journal ${(e[1] as { args: Buffer[] }).args.join(' ')}` : String(e[0]),
  );
  assert.deepEqual(seq, ['entry mc', 'entry sticky', 'journal SET sticky new', 'entry after', 'fullsync-end', 'journal DEL after', 'journal-offset', 'eof']);
  assert.equal(res.entries[0]!.expireAtMs, 1_800_000_000_000);
  assert.equal(res.entries[1]!.expireAtMs, -1);
  assert.deepEqual(res.events.find((e) => e[0] === 'journal-offset'), ['journal-offset', 4586n]);
});

test('Dragonfly LZ4 blobs hold complete records (objects, SELECTDB, journal, JOURNAL_OFFSET) parsed by the same loop', () => {
  const inner = new RdbBuilder(9);
  inner.parts.length = 0;
  inner.selectDb(2).object(0, 'in-blob', str('x'.repeat(300))).object(2, 'set', len(2), str('a'), str('b'));
  inner.raw(journalBlob(journalCommand(['SET', 'q', '1'], { db: 2 }))).op(211, le64(9));
  const bytes = new RdbBuilder(9).raw(lz4Blob(inner.bytes())).object(0, 'outside', str('o')).end('zero');
  const res = decodeAllWays(bytes);
  assert.deepEqual(keysOf(res.entries), ['2/in-blob', '2/set', '2/outside']);
  assert.deepEqual(res.events.filter((e) => e[0] === 'journal' || e[0] === 'journal-offset').map((e) => e[0]), ['journal', 'journal-offset']);
  assert.equal(res.entries[0]!.rdbValue?.length, 302);
});

test('TAGGED_CHUNK: interleaved objects, each with its own db, expiry and state; SELECTDB/objects/journal between chunks', () => {
  const setFirst = Buffer.concat([Buffer.from([252]), le64(1_900_000_000_000), Buffer.from([2]), str('bigset'), len(5), str('m1'), str('m2')]);
  const setMid = Buffer.concat([str('m3'), str('m4')]);
  const setLast = str('m5');
  const hashFirst = Buffer.concat([Buffer.from([4]), str('bighash'), len(2), str('f1')]); // ends inside an element
  const hashLast = Buffer.concat([str('v1'), str('f2'), str('v2')]);
  const bytes = new RdbBuilder(9)
    .selectDb(4)
    .raw(tagged(7, setFirst))
    .selectDb(6)
    .raw(tagged(9, hashFirst))
    .object(0, 'between', str('b'))
    .raw(journalBlob(journalCommand(['SET', 'j', '1'], { db: 6 })))
    .raw(tagged(7, setMid))
    .raw(lz4Blob(tagged(9, hashLast)))
    .raw(tagged(7, setLast))
    .end('zero');
  const res = decodeAllWays(bytes, { maxPieceElements: 2 });
  const show = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString() : (v as Buffer[]).map(String).join(','));
  // A piece is emitted when it is full and the next item arrives (or at the end of the object).
  assert.deepEqual(
    res.entries.map((e) => `${e.db}/${e.key} ${e.isFirst ? 'F' : '-'}${e.isLast ? 'L' : '-'} ${show(e.value)}`),
    ['6/between FL b', '4/bigset F- m1,m2', '6/bighash FL f1,v1,f2,v2', '4/bigset -- m3,m4', '4/bigset -L m5'],
  );
  assert.equal(res.entries[1]!.expireAtMs, 1_900_000_000_000);
  // the hash fits one piece: its rdbValue is the concatenated payload minus type and key
  assert.deepEqual(res.entries[2]!.rdbValue, Buffer.concat([len(2), str('f1'), hashLast]));
});

test('TAGGED_CHUNK errors: payload longer than the object, object incomplete at EOF', () => {
  const extra = new RdbBuilder(9).raw(tagged(1, Buffer.concat([Buffer.from([0]), str('k'), str('v'), Buffer.from([0])]))).end('zero');
  assert.throws(() => decodeWithCuts(extra, []), { code: 'BAD_CHUNK' });
  const pending = new RdbBuilder(9).raw(tagged(1, Buffer.concat([Buffer.from([2]), str('k'), len(2), str('a')]))).end('zero');
  assert.throws(() => decodeWithCuts(pending, []), { code: 'BAD_CHUNK' });
});

test('memory stays bounded: a 20 MiB string and a 100 000-member set fed in 16 KiB chunks', () => {
  const big = Buffer.alloc(20 << 20, 7);
  const b = new RdbBuilder(9).object(0, 'big', str(big)).object(2, 'set', len(100_000));
  for (let i = 0; i < 100_000; i++) b.raw(str(`member:${i}`));
  const bytes = b.end('zero');
  let maxBacking = 0;
  let strBytes = 0;
  let members = 0;
  const d = new RdbDecoder(
    {
      onEntry(e) {
        if (e.valueKind === 'string') {
          strBytes += e.value.length;
          maxBacking = Math.max(maxBacking, e.value.buffer.byteLength);
        } else if (e.valueKind === 'set') {
          members += e.value.length;
          for (const m of e.value) maxBacking = Math.max(maxBacking, m.buffer.byteLength);
        }
      },
    },
    { maxPieceBytes: 256 * 1024 },
  );
  for (let p = 0; p < bytes.length; p += 16384) d.push(bytes.subarray(p, p + 16384));
  d.end();
  assert.equal(strBytes, big.length);
  assert.equal(members, 100_000);
  // pieces of the input chunk (the fixture buffer itself) or of a buffer holding ≤ ~2 pieces
  assert.ok(maxBacking <= 1024 * 1024 || maxBacking === bytes.buffer.byteLength, `backing buffer of ${maxBacking} bytes`);
});

test('memory stays bounded: a 2 MB listpack hash (100 000 fields) is parsed from the stream, not buffered', () => {
  const items: Array<string | number> = [];
  for (let i = 0; i < 100_000; i++) items.push(`field:${i}`, i);
  const bytes = new RdbBuilder(11).object(16, 'h', str(listpack(items))).end();
  let maxBacking = 0;
  let fields = 0;
  let pieces = 0;
  const d = new RdbDecoder({
    onEntry(e) {
      pieces++;
      const v = e.value as Buffer[];
      fields += v.length / 2;
      for (const b of v) if (b.buffer !== bytes.buffer) maxBacking = Math.max(maxBacking, b.buffer.byteLength);
    },
  });
  for (let p = 0; p < bytes.length; p += 16384) d.push(bytes.subarray(p, p + 16384));
  d.end();
  assert.equal(fields, 100_000);
  assert.equal(pieces, Math.ceil(100_000 / 1024));
  assert.ok(maxBacking <= 256 * 1024, `backing buffer of ${maxBacking} bytes`);
});

test('memory stays bounded: a 4 MiB LZF string is decompressed piece by piece', () => {
  const v = Buffer.from('lorem ipsum dolor sit amet, '.repeat(150_000));
  const c = lzfCompress(v)!;
  const bytes = new RdbBuilder(9).object(0, 'lzf', Buffer.from([0xc3]), len(c.length), len(v.length), c).end();
  const pieces: Buffer[] = [];
  const d = new RdbDecoder({ onEntry: (e) => pieces.push(e.value as Buffer) }, { maxPieceBytes: 256 * 1024 });
  for (let p = 0; p < bytes.length; p += 16384) d.push(bytes.subarray(p, p + 16384));
  d.end();
  assert.deepEqual(Buffer.concat(pieces), v);
  assert.ok(pieces.length >= 16);
  for (const piece of pieces) assert.ok(piece.buffer.byteLength <= 256 * 1024 + 8192, `backing ${piece.buffer.byteLength}`);
});

test('truncated input: every prefix ends in a typed TRUNCATED error from end(), never a hang', () => {
  const bytes = new RdbBuilder(9)
    .aux('k', 'v')
    .object(0, 's', str('value'))
    .object(18, 'l', len(1), len(2), str(listpack(['a', 1])))
    .raw(tagged(3, Buffer.concat([Buffer.from([2]), str('t'), len(1), str('m')])))
    .raw(lz4Blob(new RdbBuilder(9).object(0, 'z', str('zz')).bytes().subarray(9)))
    .end('zero');
  for (let cut = 0; cut < bytes.length; cut++) {
    const d = new RdbDecoder({ onEntry() {} });
    d.push(bytes.subarray(0, cut));
    assert.throws(() => d.end(), (e: unknown) => e instanceof RdbError && e.code === 'TRUNCATED', `cut ${cut}`);
    assert.throws(() => d.push(Buffer.from([0])), RdbError, 'dead after an error');
  }
});

test('flipped bytes: every single-byte corruption is decoded or rejected with an RdbError', () => {
  const bytes = new RdbBuilder(9)
    .object(0, 's', str('value'))
    .object(4, 'h', len(2), str('f'), str('v'), str('g'), str('w'))
    .object(18, 'l', len(1), len(2), str(listpack(['a', 1, 'bbbb'])))
    .object(17, 'z', str(listpack(['m', 1, 'n', '2.5'])))
    .object(25, 'hx', le64(5), str(listpack(['f', 'v', 1_900_000_000_000])))
    .object(11, 'is', str(Buffer.from([2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0])))
    .object(21, 'st', len(0), len(0), len(0), len(0), len(0), len(0), len(0), len(0), len(0), len(0))
    .raw(tagged(3, Buffer.concat([Buffer.from([2]), str('t'), len(1), str('m')])))
    .raw(lz4Blob(new RdbBuilder(9).object(0, 'z', str('zz')).bytes().subarray(9)))
    .end('zero');
  for (let i = 9; i < bytes.length; i++) {
    for (const x of [0x01, 0x80, 0xff]) {
      const bad = Buffer.from(bytes);
      bad[i]! ^= x;
      for (const options of [{}, { maxBlobBytes: 0 }, { skipValues: true }]) {
        try {
          decodeWithCuts(bad, [i], options);
        } catch (e) {
          assert.ok(e instanceof RdbError, `byte ${i} ^ ${x}: ${String(e)}`);
        }
      }
    }
  }
});

test('a declared length of 2^40 fails fast with BAD_LENGTH (no waiting, no allocation)', () => {
  const head = new RdbBuilder(9).raw(Buffer.from([0]), str('k'), len(2n ** 40n)).bytes();
  const d = new RdbDecoder({ onEntry() {} });
  assert.throws(() => d.push(head), (e: unknown) => e instanceof RdbError && e.code === 'BAD_LENGTH' && e.key?.toString() === 'k');
  const blob = new RdbBuilder(9).raw(Buffer.from([202]), len(2n ** 40n)).bytes();
  assert.throws(() => new RdbDecoder({ onEntry() {} }).push(blob), { code: 'BAD_LENGTH' });
});

test('a JOURNAL_BLOB or compressed blob declaring 3 GiB fails at once with BAD_LENGTH naming the source (not a 3 GiB wait)', () => {
  for (const [op, what] of [
    [[210, 1], /journal blob of 3221225472 bytes exceeds the \d+-byte bound, at byte \d+, in flow 2/],
    [[202], /compressed blob of 3221225472 bytes exceeds the 67108864-byte bound, at byte \d+, in flow 2/],
  ] as const) {
    const bytes = new RdbBuilder(9).raw(Buffer.from(op), len(3 * 2 ** 30), Buffer.from('xx'), Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 0])).bytes();
    let ended = false;
    const d = new RdbDecoder({ onEntry() {}, onFullSyncEnd: () => void (ended = true) }, { source: 'flow 2' });
    assert.throws(() => d.push(bytes), (e: unknown) => e instanceof RdbError && e.code === 'BAD_LENGTH' && what.test(e.message));
    assert.equal(ended, false);
  }
});

test('bad header, unknown version, unknown opcode and type, corrupt LZ4 and LZF are typed errors', () => {
  const cases: Array<[Buffer, string]> = [
    [Buffer.from('RADIS0009'), 'BAD_HEADER'],
    [Buffer.from('REDIS0013'), 'BAD_HEADER'],
    [new RdbBuilder(9).op(199).bytes(), 'UNKNOWN_TYPE'],
    [new RdbBuilder(9).op(8).bytes(), 'UNKNOWN_TYPE'],
    [new RdbBuilder(9).op(230).bytes(), 'UNKNOWN_OPCODE'],
    [new RdbBuilder(9).op(246, Buffer.alloc(4)).bytes(), 'UNSUPPORTED_TYPE'],
    [new RdbBuilder(9).op(202, len(6), Buffer.from([4, 0x22, 0x4d, 0x18, 0x48, 0])).bytes(), 'DECOMPRESS'],
    [new RdbBuilder(9).op(201, len(4), Buffer.from([1, 2, 3, 4])).bytes(), 'DECOMPRESS'],
    [new RdbBuilder(9).object(0, 'k', Buffer.from([0xc3]), len(2), len(10), Buffer.from([0x20, 0x05])).bytes(), 'DECOMPRESS'],
    [new RdbBuilder(9).object(16, 'k', str(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]))).bytes(), 'BAD_ENCODING'],
  ];
  for (const [bytes, code] of cases) {
    assert.throws(() => new RdbDecoder({ onEntry() {} }).push(bytes), (e: unknown) => e instanceof RdbError && e.code === code, code);
  }
});

test('one-piece strings: the one-step path (whole input) and the object state machine (byte by byte) emit identical entries', () => {
  const bytes = new RdbBuilder(9)
    .object(0, 'short', str('v'))
    .expireMs(1_900_000_000_123)
    .object(0, 'k'.repeat(70), str('x'.repeat(300))) // 14-bit key and value lengths, with expiry
    .selectDb(2)
    .object(0, 'long', str('y'.repeat(20_000))) // 32-bit length: the state machine
    .object(0, 'int', intStr(12345)) // int-encoded: the state machine
    .object(0, 'lzf', Buffer.from([0xc3]), len(lzfCompress(Buffer.from('z'.repeat(200)))!.length), len(200), lzfCompress(Buffer.from('z'.repeat(200)))!)
    .object(0, 'empty', str(''))
    .object(0, 'last', str('w'))
    .end();
  const options = [{}, { captureStrings: false }, { skipValues: true }, { maxRestorePayloadBytes: 100 }, { maxPieceBytes: 64 }];
  for (const o of options) {
    const res = decodeAllWays(bytes, o, 0);
    const pieces = o.maxPieceBytes === undefined ? 7 : res.entries.length;
    assert.equal(res.entries.length, pieces, JSON.stringify(o));
    assert.deepEqual([...new Set(keysOf(res.entries))], ['0/short', `0/${'k'.repeat(70)}`, '2/long', '2/int', '2/lzf', '2/empty', '2/last']);
  }
  const whole = decodeWithCuts(bytes, []).entries;
  assert.equal(whole[1]!.expireAtMs, 1_900_000_000_123);
  assert.equal(whole[1]!.rdbValue?.length, 2 + 300); // 14-bit length + value, as RESTORE wants it
  assert.equal(decodeWithCuts(bytes, [], { captureStrings: false }).entries[1]!.rdbValue, undefined);
});

test('onString fast path: one-piece strings as ranges of the chunk (with expiry and db); false falls back to onEntry; captured payloads never take it', () => {
  const bytes = new RdbBuilder(11)
    .selectDb(2)
    .object(0, 'k1', str('v1'))
    .expireMs(1_900_000_001_000)
    .object(0, 'k2', str('x'.repeat(300)))
    .object(0, 'k3', str('v3'))
    .end();
  const seen: string[] = [];
  const entries: string[] = [];
  const decoder = new RdbDecoder({
    onEntry: (e) => entries.push(`${e.db}/${e.key.toString()}=${String(e.value)}@${e.expireAtMs}`),
    onString: (db, buf, ks, ke, vs, ve, exp) => {
      const key = buf.toString('latin1', ks, ke);
      if (key === 'k3') return false;
      seen.push(`${db}/${key}=${buf.toString('latin1', vs, ve).slice(0, 2)}:${ve - vs}@${exp}`);
      return true;
    },
  }, { captureStrings: false });
  decoder.push(bytes);
  decoder.end();
  assert.deepEqual(seen, ['2/k1=v1:2@-1', '2/k2=xx:300@1900000001000']);
  // Refused by the handler: the same string as an entry; the expiry was consumed by k2 only.
  assert.deepEqual(entries, ["2/k3=v3@-1"]);

  const captured: string[] = [];
  const capturing = new RdbDecoder(
    { onEntry: (e) => captured.push(e.key.toString()), onString: () => assert.fail('a captured string must come as an entry') },
    { captureStrings: true },
  );
  capturing.push(bytes);
  capturing.end();
  assert.deepEqual(captured, ['k1', 'k2', 'k3']);
});

test('onString fast path of LZF-compressed values: decompressed into ranges; refused → the same entry; corrupt data → DECOMPRESS; skipValues never decompresses', () => {
  const value = Buffer.from('abcabcabcabc'.repeat(20));
  const packed = lzfCompress(value)!;
  const lzfString = Buffer.concat([Buffer.from([0xc3]), len(packed.length), len(value.length), packed]);
  const bytes = new RdbBuilder(11).expireMs(1_900_000_001_000).object(0, 'k1', lzfString).object(0, 'k2', lzfString).end();
  const seen: string[] = [];
  const entries: SnapshotEntry[] = [];
  const decoder = new RdbDecoder(
    {
      onEntry: (e) => entries.push(e),
      onString: (db, buf, ks, ke, vs, ve, exp) => {
        const key = buf.toString('latin1', ks, ke);
        if (key === 'k2') return false;
        assert.ok(buf.subarray(vs, ve).equals(value));
        seen.push(`${db}/${key}@${exp}`);
        return true;
      },
    },
    { captureStrings: false },
  );
  decoder.push(bytes);
  decoder.end();
  assert.deepEqual(seen, ['0/k1@1900000001000']);
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.key.toString(), 'k2');
  assert.equal(entries[0]!.expireAtMs, -1);
  assert.ok((entries[0]!.value as Buffer).equals(value));

  const corrupt = Buffer.from(packed);
  corrupt[corrupt.length - 1] ^= 0xff; // the last literal's byte: wrong length or content either way
  const bad = new RdbBuilder(11).object(0, 'k', Buffer.concat([Buffer.from([0xc3]), len(packed.length), len(value.length + 5), corrupt])).end('none');
  const failing = new RdbDecoder({ onEntry: () => undefined, onString: () => true }, { captureStrings: false });
  assert.throws(() => failing.push(bad), (e: unknown) => e instanceof RdbError && e.code === 'DECOMPRESS');

  let calls = 0;
  const scan = new RdbDecoder({ onEntry: () => calls++, onString: () => assert.fail('skipValues: no decompression, no onString for LZF values') }, { skipValues: true });
  scan.push(bytes);
  scan.end();
  assert.equal(calls, 2);
});

test('chunks longer than the stitch head: the record cut by a chunk boundary is stitched, the chunk itself is parsed in place (not copied); CRC, captures, blobs and the bytes after EOF unchanged', () => {
  const b = new RdbBuilder(10);
  for (let i = 0; i < 700; i++) {
    if (i % 7 === 3) b.expireMs(1_900_000_000_000 + i);
    if (i % 97 === 5) b.object(0, `big:${i}`, str('B'.repeat(STITCH_HEAD_BYTES + 900))); // a unit longer than the head
    else if (i % 31 === 7) b.object(2, `set:${i}`, len(3), str('a'), str(`m${i}`), str('c')); // captured for RESTORE (retainFrom)
    else if (i % 211 === 9) b.raw(lz4Blob(Buffer.concat([Buffer.from([0]), str(`blob:${i}`), str('z'.repeat(500))])));
    else b.object(0, `key:${i}`, str('v'.repeat(10 + ((i * 37) % 300))));
  }
  const rdb = b.end();
  const trailer = Buffer.from('TRAILING-EOF-TOKEN-0123456789');
  const bytes = Buffer.concat([rdb, trailer]);
  for (const o of [{}, { captureStrings: false }, { maxRestorePayloadBytes: 0 }, { maxRestorePayloadBytes: 64 }]) {
    const whole = decodeWithCuts(rdb, [], o);
    assert.equal(whole.entries.length, 700);
    for (const size of [STITCH_HEAD_BYTES + 1, 6000, 10_007, 65_536]) {
      // Fresh copies: keys decoded in place are views of the pushed chunk's own memory.
      const pushed = new Set<ArrayBufferLike>();
      const entries: SnapshotEntry[] = [];
      const d = new RdbDecoder({ onEntry: (e) => entries.push(e) }, o);
      let consumed = 0;
      for (let at = 0; at < bytes.length; at += size) {
        const chunk = Buffer.from(bytes.subarray(at, at + size));
        pushed.add(chunk.buffer);
        consumed += d.push(chunk);
      }
      assert.ok(d.isDone);
      assert.equal(consumed, rdb.length, `chunks of ${size}: the trailer is not consumed`);
      assert.deepEqual(entries, whole.entries, `chunks of ${size}`);
      const inPlace = entries.filter((e) => pushed.has(e.key.buffer)).length;
      // All but the records in each chunk's stitched head (and the big values, copied as before).
      const expected = entries.length * ((size - STITCH_HEAD_BYTES) / size) * 0.8;
      assert.ok(inPlace > expected, `chunks of ${size}: ${inPlace} of ${entries.length} keys are views of the pushed chunks`);
    }
  }
  for (const at of [STITCH_HEAD_BYTES + 10, 6000 + 100, Math.floor(rdb.length / 2)]) {
    const flipped = Buffer.from(rdb);
    flipped[at]! ^= 0x20;
    assert.throws(() => decodeWithCuts(flipped, [5990, 6000, 12_000, 20_000, 30_000]), (e: unknown) => e instanceof RdbError, `flip at ${at}`);
    const cuts = Array.from({ length: Math.ceil(rdb.length / 6000) }, (_, i) => (i + 1) * 6000 - 3);
    assert.throws(() => decodeWithCuts(flipped, cuts), (e: unknown) => e instanceof RdbError, `flip at ${at}, chunks of 6000`);
  }
});
