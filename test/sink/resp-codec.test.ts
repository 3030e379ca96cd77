import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RespEncoder, LARGE_ARG_BYTES } from '../../src/sink/resp-encoder.js';
import { ReplyScanner, type ReplySink } from '../../src/sink/reply-scanner.js';
import { parseRedisUrl } from '../../src/sink/target-url.js';
import { formatScore } from '../../src/sink/command-rewriter.js';
import { ConfigError, RespError } from '../../src/errors.js';

function encodeAll(enc: RespEncoder): Buffer {
  return Buffer.concat(enc.take());
}

test('RespEncoder writes RESP arrays of bulk strings byte for byte', () => {
  const enc = new RespEncoder();
  const want = Buffer.from('*7\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nvälue\r\n$1\r\n0\r\n$3\r\n-12\r\n$13\r\n1234567890123\r\n$3\r\n1.5\r\n');
  assert.equal(enc.encode(['SET', Buffer.from('k'), 'välue', 0, -12, 1234567890123, 1.5]), want.length);
  assert.deepEqual(encodeAll(enc), want);
  // Empty args, argc ≥ 10, a long string (not cached), a medium buffer (set() path).
  const long = 'x'.repeat(100);
  const medium = Buffer.alloc(300, 7);
  enc.encode(['A', '', Buffer.alloc(0), long, medium, '1', '2', '3', '4', '5']);
  const expected = Buffer.concat([
    Buffer.from(`*10\r\n$1\r\nA\r\n$0\r\n\r\n$0\r\n\r\n$100\r\n${long}\r\n$300\r\n`),
    medium,
    Buffer.from('\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n'),
  ]);
  assert.deepEqual(encodeAll(enc), expected);
});

test('RespEncoder passes large arguments by reference and survives slab turnover', () => {
  const enc = new RespEncoder();
  const big = Buffer.alloc(LARGE_ARG_BYTES, 1);
  enc.encode(['SET', 'k', big]);
  const segs = enc.take();
  assert.equal(segs.length, 3);
  assert.equal(segs[1], big, 'the value itself, not a copy');
  // Many batches through several 1 MiB slabs: earlier taken slices must stay intact.
  const taken: Buffer[] = [];
  const expected: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    const v = Buffer.alloc(1000, i & 0xff);
    enc.encode(['SET', `k${i}`, v]);
    expected.push(Buffer.from(`*3\r\n$3\r\nSET\r\n$${String(`k${i}`).length}\r\nk${i}\r\n$1000\r\n`), v, Buffer.from('\r\n'));
    if (i % 7 === 0) taken.push(...enc.take());
  }
  taken.push(...enc.take());
  assert.deepEqual(Buffer.concat(taken), Buffer.concat(expected));
});

test('RespEncoder.recycle: full slabs are reused only after it, and taken bytes are never overwritten before', () => {
  // Slabs of 4 KiB (smaller ones would come from Node's shared Buffer pool), 3 commands each.
  const enc = new RespEncoder(4096);
  const key = (i: number): string => `key:${String(i).padStart(4, '0')}`.padEnd(1200, '.');
  const cmd = (i: number): Buffer => Buffer.from(`*2\r\n$3\r\nGET\r\n$1200\r\n${key(i)}\r\n`);
  // A command cut by the end of a slab comes as two segments (one per slab), never copied.
  const taken: Array<{ segs: Buffer[]; want: Buffer }> = [];
  const buffersSeen = new Set<ArrayBufferLike>();
  // Nothing recycled yet: every slab is new.
  for (let i = 0; i < 30; i++) {
    enc.encode(['GET', key(i)]);
    const segs = enc.take();
    taken.push({ segs, want: cmd(i) });
    for (const seg of segs) buffersSeen.add(seg.buffer);
  }
  for (const t of taken) assert.deepEqual(Buffer.concat(t.segs), t.want);
  assert.ok(buffersSeen.size >= 10, `${buffersSeen.size} slabs without recycle`);
  // Recycled: from now on the encoder writes into at most the two remembered slabs and the current one.
  enc.recycle();
  const after = new Set<ArrayBufferLike>();
  for (let i = 30; i < 90; i++) {
    enc.encode(['GET', key(i)]);
    const segs = enc.take();
    assert.deepEqual(Buffer.concat(segs), cmd(i));
    for (const seg of segs) after.add(seg.buffer);
    enc.recycle();
  }
  assert.ok(after.size <= 4, `${after.size} slabs with recycle after every take`);
});

test('RespEncoder.recycleTaken: a slab is reused once the takes that handed out its bytes were declared written, never before', () => {
  const enc = new RespEncoder(4096);
  const key = (i: number): string => `key:${String(i).padStart(4, '0')}`.padEnd(1200, '.');
  const cmd = (i: number): Buffer => Buffer.from(`*2\r\n$3\r\nGET\r\n$1200\r\n${key(i)}\r\n`);
  const live: Array<{ segs: Buffer[]; want: Buffer; take: number }> = [];
  const slabs = new Set<ArrayBufferLike>();
  let takes = 0;
  for (let i = 0; i < 300; i++) {
    enc.encode(['GET', key(i)]);
    const segs = enc.take();
    takes++;
    live.push({ segs, want: cmd(i), take: takes });
    for (const seg of segs) slabs.add(seg.buffer);
    // Two takes stay "in the socket"; the ones before are written (their slices dropped).
    const written = takes - 2;
    if (written > 0) enc.recycleTaken(written);
    while (live.length > 0 && live[0]!.take <= written) live.shift();
    // Every slice not yet declared written still holds its own bytes.
    for (const l of live) assert.deepEqual(Buffer.concat(l.segs), l.want, `take ${l.take} overwritten at take ${takes}`);
  }
  // 300 takes of 1.2 KB through 4 KiB slabs: ~100 slabs without reuse.
  assert.ok(slabs.size <= 5, `${slabs.size} slabs`);
});

test('RespEncoder: a batch held while the socket waits spans standard slabs as segments, never copied into a grown slab; recycle keeps a slab whose segment is not taken', () => {
  const enc = new RespEncoder();
  const value = Buffer.alloc(1000, 0x62);
  const want: Buffer[] = [];
  for (let i = 0; i < 4000; i++) {
    enc.encode(['SET', `k${i}`, value]); // ~4 MB untaken
    want.push(Buffer.from(`*3\r\n$3\r\nSET\r\n$${String(`k${i}`).length}\r\nk${i}\r\n$1000\r\n`), value, Buffer.from('\r\n'));
  }
  assert.equal(enc.slabsAllocated, 4, 'four 1 MiB slabs, none grown');
  // Answered before this batch was taken: the slabs holding its segments must not be reused yet.
  enc.recycle();
  enc.encode(['PING']);
  const segs = enc.take();
  assert.equal(segs.length, 4);
  for (const seg of segs) assert.ok(seg.buffer.byteLength <= 1024 * 1024);
  assert.deepEqual(Buffer.concat(segs), Buffer.concat([...want, Buffer.from('*1\r\n$4\r\nPING\r\n')]));
  // Written and answered: from now on the spare slabs are reused.
  enc.recycle();
  for (let i = 0; i < 4000; i++) enc.encode(['SET', `k${i}`, value]);
  assert.ok(enc.slabsAllocated <= 6, `${enc.slabsAllocated} slabs: the two spare ones reused (8 without)`);
});

test('RespEncoder begin/arg and beginBulk/raw/endBulk compose one command', () => {
  const enc = new RespEncoder();
  enc.begin(3);
  enc.arg('RESTORE');
  enc.arg(Buffer.from('k'));
  enc.beginBulk(5);
  enc.raw(Buffer.from('ab'));
  enc.raw(Buffer.from('cde'));
  enc.endBulk();
  assert.equal(encodeAll(enc).toString(), '*3\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$5\r\nabcde\r\n');
});

class Collect implements ReplySink {
  errors: Array<[number, string]> = [];
  captured: Array<[number, string]> = [];
  onErrorReply(i: number, m: string): void {
    this.errors.push([i, m]);
  }
  onCapturedReply(i: number, b: Buffer): void {
    this.captured.push([i, b.toString('latin1')]);
  }
}

const replies =
  '+OK\r\n' +
  '-ERR wrong number\r\n' +
  ':42\r\n' +
  '$5\r\nhe\r\nl\r\n' +
  '$-1\r\n' +
  '*3\r\n:1\r\n*2\r\n$1\r\na\r\n-nested err\r\n$0\r\n\r\n' +
  '*0\r\n' +
  '*-1\r\n' +
  '-BUSYKEY Target key name already exists.\r\n' +
  '%1\r\n+k\r\n_\r\n' +
  '+PONG\r\n';

test('ReplyScanner counts replies, reports top-level errors and captures requested replies, at every split', () => {
  const bytes = Buffer.from(replies, 'latin1');
  for (let split = 0; split <= bytes.length; split++) {
    const sink = new Collect();
    const sc = new ReplyScanner(sink);
    sc.captureIndex = 5;
    let n = sc.scan(bytes.subarray(0, split));
    sink.captured.length === 1 && (sc.captureIndex = -1);
    n += sc.scan(bytes.subarray(split));
    assert.equal(n, 11, `split ${split}`);
    assert.deepEqual(sink.errors, [
      [1, 'ERR wrong number'],
      [8, 'BUSYKEY Target key name already exists.'],
    ]);
    assert.deepEqual(sink.captured, [[5, '*3\r\n:1\r\n*2\r\n$1\r\na\r\n-nested err\r\n$0\r\n\r\n']]);
  }
  // Byte by byte.
  const sink = new Collect();
  const sc = new ReplyScanner(sink);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) n += sc.scan(bytes.subarray(i, i + 1));
  assert.equal(n, 11);
  assert.equal(sink.errors.length, 2);
});

test('ReplyScanner rejects a byte that cannot start a reply', () => {
  const sc = new ReplyScanner(new Collect());
  sc.scan(Buffer.from('+OK\r\n'));
  assert.throws(() => sc.scan(Buffer.from('?x\r\n')), (e) => e instanceof RespError && e.offset === 5);
});

test('parseRedisUrl reads scheme, credentials, port and db', () => {
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:7000'), { host: '127.0.0.1', port: 7000, tls: false, db: 0 });
  assert.deepEqual(parseRedisUrl('rediss://alice:p%40ss@example.com/3'), {
    host: 'example.com', port: 6379, tls: true, db: 3, hasDb: true, username: 'alice', password: 'p@ss',
  });
  assert.deepEqual(parseRedisUrl('redis://:secret@[::1]:6380/15'), { host: '::1', port: 6380, tls: false, db: 15, hasDb: true, password: 'secret' });
  assert.equal(parseRedisUrl('redis://h:1/0').hasDb, true, 'an explicit /0 names database 0');
  assert.throws(() => parseRedisUrl('http://x'), ConfigError);
  assert.throws(() => parseRedisUrl('redis://h/abc'), ConfigError);
  assert.throws(() => parseRedisUrl('redis://u:topsecret@h:99999'), (e) => e instanceof ConfigError && !e.message.includes('topsecret'));
});

test('formatScore round-trips doubles and spells infinities the ZADD way', () => {
  for (const n of [0, 1.5, -2.25, 0.1, 1e-17, 123456789.12345679, 1.7976931348623157e308, 5e-324, 2 ** 53 + 2]) {
    assert.equal(Number(formatScore(n)), n);
  }
  assert.equal(formatScore(Infinity), '+inf');
  assert.equal(formatScore(-Infinity), '-inf');
  assert.equal(formatScore(-0), '-0');
});

test('RespEncoder: the slabs of a batch spanning many of them (a socket waiting for drain) are reused by the next such batch once written; recycle() keeps two', () => {
  // As a target connection that is not retaining creates it: every taken batch declared written.
  const enc = new RespEncoder(4096, { isRecycled: true });
  const value = Buffer.alloc(1000, 0x63);
  const cmd = (i: number): Buffer => Buffer.concat([Buffer.from(`*3\r\n$3\r\nSET\r\n$${String(i).length}\r\n${i}\r\n$1000\r\n`), value, Buffer.from('\r\n')]);
  /** ~12 slabs of pending commands taken at once, as a connection does after 'drain'. */
  const batch = (from: number): { segs: Buffer[]; want: Buffer } => {
    const want: Buffer[] = [];
    for (let i = from; i < from + 48; i++) {
      enc.encode(['SET', String(i), value]);
      want.push(cmd(i));
    }
    return { segs: enc.take(), want: Buffer.concat(want) };
  };
  const first = batch(0);
  assert.deepEqual(Buffer.concat(first.segs), first.want);
  assert.ok(first.segs.length >= 10, `${first.segs.length} segments`);
  const afterFirst = enc.slabsAllocated;
  // Written: every slab of that batch may be reused (the 2 spares of old kept ~2 of them).
  enc.recycleTaken(1);
  const second = batch(1000);
  assert.deepEqual(Buffer.concat(second.segs), second.want);
  const firstSlabs = new Set(first.segs.map((s) => s.buffer));
  const reused = second.segs.filter((s) => firstSlabs.has(s.buffer)).length;
  assert.ok(reused >= first.segs.length - 1, `${reused} of the second batch's ${second.segs.length} segments in the first one's ${first.segs.length} slabs`);
  assert.equal(enc.slabsAllocated - afterFirst, second.segs.length - reused, 'fresh slabs only for what the first batch did not leave');
  // Everything answered: two spares stay, so a third batch allocates again.
  enc.recycle();
  const beforeThird = enc.slabsAllocated;
  const third = batch(2000);
  assert.deepEqual(Buffer.concat(third.segs), third.want);
  assert.ok(enc.slabsAllocated - beforeThird >= 8, `${enc.slabsAllocated - beforeThird} fresh slabs after recycle() trimmed the spares`);
});

test('RespEncoder: an encoder not declared recycled remembers 2 left slabs at most, so one never recycled keeps no more alive', () => {
  const enc = new RespEncoder(4096);
  const value = Buffer.alloc(1000, 0x64);
  for (let i = 0; i < 48; i++) enc.encode(['SET', String(i), value]);
  const first = enc.take();
  assert.ok(first.length >= 10);
  enc.recycleTaken(1);
  const before = enc.slabsAllocated;
  for (let i = 0; i < 48; i++) enc.encode(['SET', String(i), value]);
  const second = enc.take();
  const firstSlabs = new Set(first.map((s) => s.buffer));
  assert.ok(second.filter((s) => firstSlabs.has(s.buffer)).length <= 3, 'only the 2 remembered slabs (and the current one) are reused');
  assert.ok(enc.slabsAllocated - before >= second.length - 3);
});
