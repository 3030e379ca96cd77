import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JournalDecoder, decodeJournalBlob, MAX_JOURNAL_ARGC, MAX_JOURNAL_RECORD_BYTES } from './journal-decoder.js';
import type { JournalEntry } from '../../entry/entry.js';
import { JournalError } from '../../errors.js';
import { STITCH_HEAD_BYTES } from '../rdb/rdb-reader.js';
import { journalCommand, journalLsn, journalPing, puint } from '../../../test/helpers/fake-master.js';

/** Plain-data view of entries for deep comparison. */
function show(entries: JournalEntry[]): unknown[] {
  return entries.map((e) =>
    e.op === 'command' ? { op: 'command', db: e.db, txid: e.txid, args: e.args.map((a) => a.toString('latin1')) } : { ...e },
  );
}

function decodeChunks(chunks: Buffer[]): { entries: JournalEntry[]; decoder: JournalDecoder } {
  const entries: JournalEntry[] = [];
  const decoder = new JournalDecoder((e) => entries.push(e), { source: 'test' });
  for (const c of chunks) decoder.push(c);
  return { entries, decoder };
}

const big = Buffer.alloc(20_000, 0x61);
const stream = Buffer.concat([
  journalCommand(['SET', 'k', 'v']),
  journalLsn(1),
  journalCommand(['MSET', 'a', '1', 'b', '2'], { db: 5, txid: 7 }),
  journalPing(),
  journalCommand(['SET', 'big', big], { db: 0, txid: 2n ** 60n }),
  journalCommand(['DEL', Buffer.alloc(70, 0x62)], { db: null }),
  journalLsn(2n ** 64n - 1n),
  journalLsn(300),
]);
const expected = [
  { op: 'command', db: 0, txid: 0n, args: ['SET', 'k', 'v'] },
  { kind: 'journal', op: 'lsn', lsn: 1n },
  { op: 'command', db: 5, txid: 7n, args: ['MSET', 'a', '1', 'b', '2'] },
  { kind: 'journal', op: 'ping' },
  { op: 'command', db: 0, txid: 2n ** 60n, args: ['SET', 'big', big.toString('latin1')] },
  // no SELECT: the db selected before persists
  { op: 'command', db: 0, txid: 0n, args: ['DEL', 'b'.repeat(70)] },
  { kind: 'journal', op: 'lsn', lsn: 2n ** 64n - 1n },
  { kind: 'journal', op: 'lsn', lsn: 300n },
];

test('reference example bytes decode (§5.1)', () => {
  const bytes = Buffer.from([0x06, 0x00, 0x0a, 0x00, 0x01, 0x03, 0x05, 0x03, 0x53, 0x45, 0x54, 0x01, 0x6b, 0x01, 0x76, 0x0d, 0x0f, 0x40, 0x64]);
  const { entries, decoder } = decodeChunks([bytes]);
  assert.deepEqual(show(entries), [
    { op: 'command', db: 0, txid: 0n, args: ['SET', 'k', 'v'] },
    { kind: 'journal', op: 'ping' },
    { kind: 'journal', op: 'lsn', lsn: 100n },
  ]);
  assert.equal(decoder.bytesConsumed, bytes.length);
});

test('journal stream fed whole', () => {
  const { entries, decoder } = decodeChunks([stream]);
  assert.deepEqual(show(entries), expected);
  assert.equal(decoder.bytesConsumed, stream.length);
  assert.equal(decoder.bufferedBytes, 0);
});

test('journal stream fed byte by byte', () => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
  const { entries, decoder } = decodeChunks(chunks);
  assert.deepEqual(show(entries), expected);
  assert.equal(decoder.bytesConsumed, stream.length);
});

test('journal stream split at every offset', () => {
  const small = Buffer.concat([
    journalCommand(['SET', 'k', 'v']),
    journalLsn(1),
    journalCommand(['HSET', 'h', 'f', Buffer.alloc(100, 0x63)], { db: 3, txid: 70000 }),
    journalPing(),
    journalLsn(2n ** 40n),
  ]);
  const want = show(decodeChunks([small]).entries);
  assert.equal(want.length, 5);
  for (let i = 0; i <= small.length; i++) {
    const { entries, decoder } = decodeChunks([small.subarray(0, i), small.subarray(i)]);
    assert.deepEqual(show(entries), want, `split at ${i}`);
    assert.equal(decoder.bytesConsumed, small.length);
  }
  // Big stream: every split too (the 20 KB argument makes this the slow one; a stride keeps it fast).
  for (let i = 0; i <= stream.length; i += i < 200 || i > stream.length - 200 ? 1 : 97) {
    const { entries } = decodeChunks([stream.subarray(0, i), stream.subarray(i)]);
    assert.deepEqual(show(entries), expected, `split at ${i}`);
  }
});

test('args are views of the input (no copy) and entries come out synchronously in push', () => {
  const bytes = journalCommand(['SET', 'key', 'value']);
  const seen: JournalEntry[] = [];
  const d = new JournalDecoder((e) => seen.push(e));
  d.push(bytes);
  assert.equal(seen.length, 1);
  const e = seen[0]!;
  assert.ok(e.op === 'command');
  assert.equal(e.args[2]!.buffer, bytes.buffer);
});

test('a big record arriving in many chunks is buffered, not re-parsed per chunk', () => {
  const arg = Buffer.alloc(5_000_000, 0x7a);
  const bytes = journalCommand(['SET', 'k', arg]);
  const seen: JournalEntry[] = [];
  const d = new JournalDecoder((e) => seen.push(e));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < bytes.length; i += 1024) d.push(bytes.subarray(i, i + 1024));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(seen.length, 1);
  const e = seen[0]!;
  assert.ok(e.op === 'command');
  assert.ok(e.args[2]!.equals(arg));
  // ~4 900 chunks of a 5 MB record: concatenating per chunk would copy ~12 GB; once is instant.
  assert.ok(ms < 2000, `took ${ms} ms`);
});

test('unknown opcode → JournalError naming opcode, stream offset and source; decoder stays dead', () => {
  const good = journalCommand(['SET', 'k', 'v']);
  const bytes = Buffer.concat([good, Buffer.from([0x0b, 0x00])]);
  const d = new JournalDecoder(() => {}, { source: 'flow 3' });
  assert.throws(
    () => d.push(bytes),
    (err: unknown) =>
      err instanceof JournalError &&
      err.offset === good.length &&
      err.source === 'flow 3' &&
      /unknown opcode 11 \(0x0b\)/.test(err.message) &&
      /flow 3/.test(err.message),
  );
  assert.throws(() => d.push(good), JournalError);
});

test('error offsets count from the start of the stream across pushes and include baseOffset', () => {
  const good = journalCommand(['SET', 'k', 'v']);
  const d = new JournalDecoder(() => {}, { baseOffset: 1000 });
  d.push(good);
  d.push(good.subarray(0, 3));
  assert.throws(
    () => d.push(Buffer.concat([good.subarray(3), Buffer.from([0x0e])])),
    (err: unknown) => err instanceof JournalError && err.offset === 1000 + 2 * good.length,
  );
});

test('invalid PUINT first bytes (0x82..0xFF) are errors', () => {
  for (const first of [0x82, 0xbf, 0xc0, 0xff]) {
    assert.throws(() => decodeChunks([Buffer.from([first, 0, 0, 0, 0, 0, 0, 0, 0])]), /invalid packed integer/);
  }
});

test('total_bytes must equal the sum of argument lengths', () => {
  const hdr = (argc: number, total: number) => Buffer.concat([puint(10), puint(0), puint(1), puint(argc), puint(total)]);
  const args = Buffer.concat([puint(3), Buffer.from('SET'), puint(1), Buffer.from('k')]);
  assert.throws(() => decodeJournalBlob(Buffer.concat([hdr(2, 5), args, Buffer.alloc(8)]), 0), /sum to 4, total_bytes says 5/);
  assert.throws(() => decodeJournalBlob(Buffer.concat([hdr(2, 3), args]), 0), /exceed total_bytes 3/);
});

test('absurd lengths are rejected before any buffering', () => {
  const head = (argc: number | bigint, total: number | bigint) =>
    Buffer.concat([puint(10), puint(0), puint(1), puint(argc), puint(total)]);
  assert.throws(() => decodeChunks([head(MAX_JOURNAL_ARGC + 1, 10)]), /invalid argument count 1048577/);
  assert.throws(() => decodeChunks([head(0, 0)]), /invalid argument count 0/);
  assert.throws(() => decodeChunks([head(1, 2n ** 40n)]), /command of 1099511627776 bytes exceeds the 268435456-byte bound/);
  assert.throws(() => decodeChunks([head(1, 2 ** 29 + 1)]), /command of 536870913 bytes exceeds/);
  assert.throws(() => decodeChunks([head(3, 3 * 2 ** 30)]), /command of 3221225472 bytes exceeds/);
  // An argument longer than the cap inside a plausible total.
  const hugeArg = Buffer.concat([head(2, 5), puint(2 ** 29 + 1), Buffer.alloc(6)]);
  assert.throws(() => decodeChunks([hugeArg]), /argument 0 of an invalid length 536870913/);
  assert.throws(() => decodeChunks([Buffer.concat([puint(6), puint(2n ** 40n)])]), /SELECT of an invalid db/);
});

test('a record just above MAX_JOURNAL_RECORD_BYTES fails at once, naming the source and the record offset; one at the bound waits for its bytes', () => {
  const head = (total: number) => Buffer.concat([puint(10), puint(0), puint(1), puint(2), puint(total)]);
  const lead = journalCommand(['SET', 'a', 'b']);
  const d = new JournalDecoder(() => undefined, { source: 'flow 3' });
  d.push(lead);
  assert.throws(
    () => d.push(head(MAX_JOURNAL_RECORD_BYTES + 1)),
    (err: unknown) =>
      err instanceof JournalError && err.offset === lead.length && /command of 268435457 bytes exceeds .*at byte \d+, in flow 3$/.test(err.message),
  );
  const ok = new JournalDecoder(() => undefined, { source: 'flow 3' });
  ok.push(head(MAX_JOURNAL_RECORD_BYTES));
  assert.ok(ok.bufferedBytes > 0, 'a legitimate (if big) record is waited for, not refused');
});

test('decodeJournalBlob: whole records, local SELECT state, truncation is an error', () => {
  const blob = Buffer.concat([journalCommand(['INCR', 'c'], { db: 2 })]);
  assert.deepEqual(show(decodeJournalBlob(blob, 0)), [{ op: 'command', db: 2, txid: 0n, args: ['INCR', 'c'] }]);
  assert.deepEqual(show(decodeJournalBlob(journalCommand(['INCR', 'c'], { db: null }), 0)), [
    { op: 'command', db: 0, txid: 0n, args: ['INCR', 'c'] },
  ]);
  assert.deepEqual(show(decodeJournalBlob(journalPing(), 0)), [{ kind: 'journal', op: 'ping' }]);
  assert.throws(
    () => decodeJournalBlob(blob.subarray(0, blob.length - 1), 500, 'flow 1'),
    (err: unknown) => err instanceof JournalError && err.offset === 502 && /truncated/.test(err.message) && /flow 1/.test(err.message),
  );
});

test('EXPIRED (9) decodes like COMMAND', () => {
  const cmd = journalCommand(['DEL', 'k'], { db: null });
  cmd[0] = 9;
  assert.deepEqual(show(decodeJournalBlob(cmd, 0)), [{ op: 'command', db: 0, txid: 0n, args: ['DEL', 'k'] }]);
});

test('chunks longer than the stitch head: the record cut by a boundary is completed from the chunk head, the rest of the chunk is decoded in place (not copied)', () => {
  const records: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    if (i % 500 === 17) records.push(journalCommand(['SET', `big:${i}`, Buffer.alloc(STITCH_HEAD_BYTES + 700 + i, 0x62)], { db: i % 3, txid: BigInt(i) }));
    else if (i % 101 === 5) records.push(journalLsn(i));
    else records.push(journalCommand(['SET', `key:${i}`, 'v'.repeat(i % 200)], { db: i % 3, txid: BigInt(i) }));
  }
  const bytes = Buffer.concat(records);
  const whole = show(decodeChunks([bytes]).entries);
  for (const size of [STITCH_HEAD_BYTES + 1, 5000, 9_973, 65_536]) {
    const pushed = new Set<ArrayBufferLike>();
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += size) {
      const c = Buffer.from(bytes.subarray(at, at + size)); // fresh memory per chunk
      pushed.add(c.buffer);
      chunks.push(c);
    }
    const { entries, decoder } = decodeChunks(chunks);
    assert.deepEqual(show(entries), whole, `chunks of ${size}`);
    assert.equal(decoder.bytesConsumed, bytes.length);
    assert.equal(decoder.bufferedBytes, 0);
    const commands = entries.filter((e) => e.op === 'command');
    const inPlace = commands.filter((e) => e.op === 'command' && pushed.has(e.args[1]!.buffer)).length;
    // All but the records in each chunk's stitched head (and the big ones).
    assert.ok(inPlace > commands.length * ((size - STITCH_HEAD_BYTES) / size) * 0.8, `chunks of ${size}: ${inPlace} of ${commands.length} keys decoded in place`);
  }
  // The error offset of a corrupt record is the same whether it lies in a stitched head or in place.
  for (const at of [5000 + 10, 5000 * 7 + 2000]) {
    let start = 0;
    for (const r of records) {
      if (start + r.length > at) break;
      start += r.length;
    }
    const bad = Buffer.from(bytes);
    bad[start] = 0x3f; // unknown opcode 63
    const message = (() => {
      try {
        decodeChunks([bad]);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    })();
    assert.match(message, new RegExp(`at byte ${start},`));
    const cut: Buffer[] = [];
    for (let p = 0; p < bad.length; p += 5000) cut.push(bad.subarray(p, p + 5000));
    assert.throws(() => decodeChunks(cut), (e: unknown) => e instanceof JournalError && e.message === message);
  }
});
