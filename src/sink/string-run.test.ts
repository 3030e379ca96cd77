/**
 * The string-run WebAssembly kernel (string-run.wat) against a JS reference built on
 * RespEncoder.argRange (the encoding the one-string-at-a-time path stages): same records, same
 * bytes, same consumed length and stop reason, on random runs cut at every position of the input
 * and stopped by each stop condition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RespEncoder } from './resp-encoder.js';
import { RUN_STOP, StringRunTranscoder } from './string-run.js';
import { rng } from '../../test/helpers/prng.js';
import { lzfCompress, lzfDecompress } from '../decode/rdb/lzf.js';


/** RDB length: 6-bit when it fits (unless `wide`), else 14-bit (also non-canonical 14-bit for small ones). */
function rdbLen(n: number, wide: boolean): Buffer {
  if (n < 64 && !wide) return Buffer.from([n]);
  return Buffer.from([0x40 | (n >> 8), n & 0xff]);
}

function stringRecord(key: Buffer, value: Buffer, wideKey = false, wideValue = false): Buffer {
  return Buffer.concat([Buffer.from([0]), rdbLen(key.length, wideKey), key, rdbLen(value.length, wideValue), value]);
}

/** An int-encoded string: RDB_ENC_INT8/16/32 (0xC0/0xC1/0xC2), signed little-endian. */
function intString(x: number, width: 1 | 2 | 4): Buffer {
  const v = Buffer.alloc(1 + width);
  v[0] = 0xc0 + (width === 1 ? 0 : width === 2 ? 1 : 2);
  if (width === 1) v.writeInt8(x, 1);
  else if (width === 2) v.writeInt16LE(x, 1);
  else v.writeInt32LE(x, 1);
  return v;
}

/** `s` LZF-compressed (RDB_ENC_LZF: 0xC3 <clen> <ulen> data), or with its plain length when it does not compress. */
function lzfString(s: Buffer, wide = false): Buffer {
  const c = lzfCompress(s);
  if (c === undefined) return Buffer.concat([rdbLen(s.length, wide), s]);
  return Buffer.concat([Buffer.from([0xc3]), rdbLen(c.length, wide), rdbLen(s.length, wide), c]);
}

/** A string record whose value is int-encoded; the key too when `intKey` is given. */
function intRecord(key: Buffer, x: number, width: 1 | 2 | 4, intKey?: [number, 1 | 2 | 4]): Buffer {
  const k = intKey === undefined ? Buffer.concat([rdbLen(key.length, false), key]) : intString(...intKey);
  return Buffer.concat([Buffer.from([0]), k, intString(x, width)]);
}

/** A string record whose value is LZF-compressed (plain when it does not compress); the key too with `lzfKey`. */
function lzfRecord(key: Buffer, value: Buffer, wide = false, lzfKey = false): Buffer {
  const k = lzfKey ? lzfString(key, wide) : Buffer.concat([rdbLen(key.length, false), key]);
  return Buffer.concat([Buffer.from([0]), k, lzfString(value, wide)]);
}

interface RunResult {
  records: number;
  consumed: number;
  reason: number;
  out: Buffer;
  /** SET … PXAT commands, back to back, and the key of each (hex). */
  ttl: Buffer;
  ttlKeys: string[];
  expired: number;
  /** Offset in the MSET output and length of the first MSET key (-1: none). */
  firstKey: [number, number];
}

/** The kernel's clock in these tests (unix ms). */
const NOW = 1_700_000_000_000;
/** Output areas of string-run.wat (MSET arguments; SET … PXAT commands) and its index bound. */
const AREA_BYTES = 81_408;
const MAX_TTL_COMMANDS = 5418;

/**
 * The rules of string-run.wat in JS, encoding as SnapshotWriter stages: MSET pairs with
 * RespEncoder.argRange, a record with a future expiry as `*5 SET key value PXAT ms` (argRange +
 * arg of the number), a past one skipped.
 */
function reference(input: Buffer, start: number, end: number, maxRecords: number, budget: number, maxKey: number, maxValue: number, now = NOW): RunResult {
  const enc = new RespEncoder(1 << 20);
  const ttl = new RespEncoder(1 << 20);
  const ttlKeys: string[] = [];
  let p = start;
  let n = 0;
  let reason = 0;
  let expired = 0;
  let firstKey: [number, number] = [-1, 0];
  const len = (q: number): [number, number] | 'input' | 'other' => {
    if (q >= end) return 'input';
    const b = input[q]!;
    if (b < 0x40) return [b, q + 1];
    if (b >= 0x80) return 'other';
    if (q + 1 >= end) return 'input';
    return [((b & 0x3f) << 8) | input[q + 1]!, q + 2];
  };
  /**
   * The string at `q` (Redis src/rdb.c `rdbGenericLoadStringObject`): 6/14-bit length, or an int
   * (decimal text) or LZF (decompressed) encoding with 6/14-bit lengths; longer than `max`: LIMIT.
   * Its bytes and where the input after it begins, or the stop reason.
   */
  const str = (q: number, max: number): { b: Buffer; next: number } | number => {
    if (q >= end) return RUN_STOP.INPUT;
    const b = input[q]!;
    if (b >= 0xc0 && b <= 0xc2) {
      const n = 1 << (b - 0xc0);
      if (q + 1 + n > end) return RUN_STOP.INPUT;
      const x = n === 1 ? input.readInt8(q + 1) : n === 2 ? input.readInt16LE(q + 1) : input.readInt32LE(q + 1);
      const text = Buffer.from(String(x));
      return text.length > max ? RUN_STOP.LIMIT : { b: text, next: q + 1 + n };
    }
    if (b === 0xc3) {
      const c = len(q + 1);
      if (c === 'input' || c === 'other') return c === 'input' ? RUN_STOP.INPUT : RUN_STOP.OTHER;
      const u = len(c[1]);
      if (u === 'input' || u === 'other') return u === 'input' ? RUN_STOP.INPUT : RUN_STOP.OTHER;
      if (u[0] > max) return RUN_STOP.LIMIT;
      if (u[1] + c[0] > end) return RUN_STOP.INPUT;
      const out = lzfDecompress(input.subarray(u[1], u[1] + c[0]), u[0]);
      return out === undefined ? RUN_STOP.OTHER : { b: out, next: u[1] + c[0] };
    }
    const v = len(q);
    if (v === 'input' || v === 'other') return v === 'input' ? RUN_STOP.INPUT : RUN_STOP.OTHER;
    if (v[0] > max) return RUN_STOP.LIMIT;
    if (v[1] + v[0] > end) return RUN_STOP.INPUT;
    return { b: input.subarray(v[1], v[1] + v[0]), next: v[1] + v[0] };
  };
  /** The string record at `q`: key and value bytes and where the next record starts, or the stop reason. */
  const record = (q: number): { k: Buffer; v: Buffer; next: number } | number => {
    if (q + 2 > end) return RUN_STOP.INPUT;
    if (input[q] !== 0) return RUN_STOP.OTHER;
    const k = str(q + 1, maxKey);
    if (typeof k === 'number') return k;
    const v = str(k.next, maxValue);
    return typeof v === 'number' ? v : { k: k.b, v: v.b, next: v.next };
  };
  for (;;) {
    if (n >= maxRecords) {
      reason = RUN_STOP.KEYS;
      break;
    }
    if (enc.pendingBytes + ttl.pendingBytes >= budget) {
      reason = RUN_STOP.BYTES;
      break;
    }
    if (p >= end) {
      reason = RUN_STOP.INPUT;
      break;
    }
    if (input[p] === 0xfc) {
      if (p + 9 > end) {
        reason = RUN_STOP.INPUT;
        break;
      }
      const ms = input.readBigUInt64LE(p + 1);
      if (ms >= 2n ** 53n) {
        reason = RUN_STOP.OTHER;
        break;
      }
      const r = record(p + 9);
      if (typeof r === 'number') {
        reason = r;
        break;
      }
      if (Number(ms) <= now) {
        expired++;
        p = r.next;
        continue;
      }
      if (ttl.pendingBytes + 64 + r.k.length + r.v.length > AREA_BYTES || ttlKeys.length >= MAX_TTL_COMMANDS) {
        reason = RUN_STOP.ROOM;
        break;
      }
      ttl.rawCopy(Buffer.from('*5\r\n$3\r\nSET\r\n'));
      ttl.argRange(r.k, 0, r.k.length);
      ttl.argRange(r.v, 0, r.v.length);
      ttl.arg('PXAT');
      ttl.arg(Number(ms));
      ttlKeys.push(r.k.toString('hex'));
      p = r.next;
      n++;
      continue;
    }
    const r = record(p);
    if (typeof r === 'number') {
      reason = r;
      break;
    }
    if (enc.pendingBytes + 20 + r.k.length + r.v.length > AREA_BYTES) {
      reason = RUN_STOP.ROOM;
      break;
    }
    // The first MSET key comes first in the output, after its `$<length>\r\n`.
    if (firstKey[0] < 0) firstKey = [`$${r.k.length}\r\n`.length, r.k.length];
    enc.argRange(r.k, 0, r.k.length);
    enc.argRange(r.v, 0, r.v.length);
    p = r.next;
    n++;
  }
  return { records: n, consumed: p - start, reason, out: Buffer.concat(enc.take()), ttl: Buffer.concat(ttl.take()), ttlKeys, expired, firstKey };
}

function kernelRun(k: StringRunTranscoder, start: number, end: number, maxRecords: number, budget: number, maxKey: number, maxValue: number, now = NOW): RunResult {
  const records = k.run(start, end, maxRecords, budget, maxKey, maxValue, now);
  const ttl = Buffer.from(k.ttlOutput());
  const ttlKeys: string[] = [];
  const cmd = { length: 0, keyStart: 0, keyEnd: 0 };
  let off = 0;
  for (let i = 0; i < k.ttlCount; i++) {
    k.ttlCommand(i, cmd);
    // Each command's length ends where the next one starts; its key lies inside it.
    assert.ok(cmd.keyStart > off && cmd.keyEnd < off + cmd.length, `command ${i}: key inside the command`);
    off += cmd.length;
    ttlKeys.push(ttl.toString('hex', cmd.keyStart, cmd.keyEnd));
  }
  assert.equal(off, ttl.length, 'the commands cover the SET … PXAT output');
  return {
    records,
    consumed: k.consumed,
    reason: k.reason,
    out: Buffer.from(k.output()),
    ttl,
    ttlKeys,
    expired: k.expired,
    firstKey: [k.firstKeyAt, k.firstKeyAt < 0 ? 0 : k.firstKeyLength],
  };
}

/** An RDB expiry record (EXPIRETIME_MS) in front of a plain string record. */
function ttlRecord(ms: bigint, key: Buffer, value: Buffer, wideKey = false, wideValue = false): Buffer {
  const fc = Buffer.alloc(9);
  fc[0] = 0xfc;
  fc.writeBigUInt64LE(ms, 1);
  return Buffer.concat([fc, stringRecord(key, value, wideKey, wideValue)]);
}

/** Random plain records (both length encodings) with, at random, a record each stop condition stops at. */
function randomInput(next: () => number, count: number, maxKeyLen: number, maxValueLen: number, withStops: boolean, withTtl = false): Buffer {
  const parts: Buffer[] = [];
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
  for (let i = 0; i < count; i++) {
    const r = next();
    if (withStops && r < 0.08) {
      const stops = [
        Buffer.from([0xfc, 1, 2, 3, 4, 5, 6, 7, 8]), // EXPIRETIME_MS ≥ 2^53
        ttlRecord(BigInt(NOW + 5000), Buffer.from('k'), Buffer.from('v')).subarray(0, 9 + 2), // then a cut string
        Buffer.concat([ttlRecord(BigInt(NOW + 5000), Buffer.from('k'), Buffer.from('v')).subarray(0, 9), Buffer.from([2, 1, 0x61, 1, 1, 0x62])]), // then a set
        Buffer.from([0xfe, 1]), // SELECTDB
        Buffer.from([0xff]), // EOF
        Buffer.from([2, 1, 0x61, 1, 1, 0x62]), // a set
        Buffer.from([0, 1, 0x61, 0xc3, 3, 5, 0, 0x61, 0x62, 0x63]), // corrupt LZF value (a back-reference cut short)
        Buffer.from([0, 1, 0x61, 0xc3, 2, 3, 0x20, 0]), // corrupt LZF value (a back-reference before the start)
        Buffer.from([0, 1, 0x61, 0xc3, 2, 3, 0, 0x61]), // LZF value one byte short of its length
        Buffer.from([0, 1, 0x61, 0xc3, 0x80, 0, 0, 0, 2, 2, 1, 0x61, 0x62]), // LZF with a 32-bit length
        Buffer.from([0, 1, 0x61, 0xc4, 1]), // an unknown encoding
        Buffer.from([0, 0x80, 0, 0, 0, 1, 0x61, 1, 0x62]), // 32-bit key length
        Buffer.from([0, 1, 0x61, 0x81, 0, 0, 0, 0, 0, 0, 0, 1, 0x62]), // 64-bit value length
      ];
      parts.push(stops[Math.floor(next() * stops.length)]!);
      continue;
    }
    const klen = r < 0.5 ? Math.floor(next() * 20) : Math.floor(next() * (maxKeyLen + 1));
    const vlen = next() < 0.5 ? Math.floor(next() * 120) : Math.floor(next() * (maxValueLen + 1));
    if (withTtl && next() < 0.3) {
      // Past, future (up to 16 digits), or not taken (≥ 2^53, negative as int64).
      const t = next();
      const ms = t < 0.3 ? BigInt(NOW - Math.floor(next() * 1e9)) : t < 0.6 ? BigInt(NOW + 1 + Math.floor(next() * 1e12)) : t < 0.8 ? BigInt(Math.floor(next() * 2 ** 53)) : t < 0.9 ? 2n ** 53n + BigInt(Math.floor(next() * 1000)) : 2n ** 64n - 1n - BigInt(Math.floor(next() * 1000));
      parts.push(ttlRecord(ms, bytes(klen), bytes(vlen), next() < 0.2, next() < 0.2));
      continue;
    }
    const form = next();
    if (form < 0.15) {
      // int-encoded: each width, its extremes and small values
      const width = ([1, 2, 4] as const)[Math.floor(next() * 3)]!;
      const bound = 2 ** (8 * width - 1);
      const x = next() < 0.2 ? (next() < 0.5 ? -bound : bound - 1) : Math.floor((next() * 2 - 1) * bound);
      const intKey = next() < 0.3 ? ([Math.floor((next() * 2 - 1) * 2 ** 31), 4] as [number, 4]) : undefined;
      parts.push(intRecord(bytes(klen), Math.max(-bound, Math.min(bound - 1, x)), width, intKey));
      continue;
    }
    if (form < 0.35) {
      // compressible: a short random pattern repeated (back-references at distances 1 to 40)
      const pattern = bytes(1 + Math.floor(next() * 40));
      const value = Buffer.alloc(vlen);
      for (let j = 0; j < vlen; j++) value[j] = next() < 0.05 ? Math.floor(next() * 256) : pattern[j % pattern.length]!;
      // keys: sometimes compressible too (LZF-encoded)
      const lzfKey = next() < 0.3;
      const key = lzfKey ? Buffer.from('ab'.repeat(11 + Math.floor(next() * 20)) + String(i)) : bytes(klen);
      parts.push(lzfRecord(key, value, next() < 0.2, lzfKey));
      continue;
    }
    parts.push(stringRecord(bytes(klen), bytes(vlen), next() < 0.2, next() < 0.2));
  }
  return Buffer.concat(parts);
}

test('string-run kernel: the RESP of random runs equals RespEncoder.argRange of each key and value, cut at every position of the input', () => {
  const k = new StringRunTranscoder();
  const next = rng(12);
  for (let round = 0; round < 8; round++) {
    const input = randomInput(next, 40, 80, 300, round % 2 === 1, round >= 4);
    assert.ok(input.length <= k.inputBytes);
    k.load(input, 0, input.length);
    for (let end = 0; end <= input.length; end++) {
      const want = reference(input, 0, end, 1000, 1 << 20, 1024, 8192);
      const got = kernelRun(k, 0, end, 1000, 1 << 20, 1024, 8192);
      assert.deepEqual(got, want, `round ${round}, input cut at ${end} of ${input.length}`);
      if (round % 2 === 0 && round < 4) assert.notEqual(got.reason, RUN_STOP.OTHER);
    }
    // Runs starting at every record boundary the whole-input run passed.
    const whole = reference(input, 0, input.length, 1000, 1 << 20, 1024, 8192);
    for (let start = 0; start < whole.consumed; start++) {
      assert.deepEqual(kernelRun(k, start, input.length, 1000, 1 << 20, 1024, 8192), reference(input, start, input.length, 1000, 1 << 20, 1024, 8192), `start ${start}`);
    }
  }
});

test('string-run kernel: lengths up to the MSET limits (6- and 14-bit), stopped by the key, value, record and byte limits', () => {
  const k = new StringRunTranscoder();
  const next = rng(7);
  for (let round = 0; round < 8; round++) {
    const input = randomInput(next, 24, 1100, 8300, round >= 4, round % 2 === 1);
    const n = Math.min(input.length, k.inputBytes);
    k.load(input, 0, n);
    for (const [maxRecords, budget, maxKey, maxValue] of [
      [1000, 1 << 20, 1024, 8192],
      [1, 1 << 20, 1024, 8192],
      [3, 1 << 20, 1024, 8192],
      [1000, 1, 1024, 8192],
      [1000, 5000, 1024, 8192],
      [1000, 65536, 1024, 8192],
      [1000, 1 << 20, 10, 8192],
      [1000, 1 << 20, 1024, 100],
      [1000, 1 << 20, 0, 0],
    ] as const) {
      const args = [0, n, maxRecords, budget, maxKey, maxValue] as const;
      const want = reference(input, ...args);
      assert.deepEqual(kernelRun(k, ...args), want, `round ${round}, limits ${args.join(' ')}`);
    }
  }
  // Each stop reason is reached.
  const key = Buffer.alloc(1025, 0x6b);
  const one = stringRecord(Buffer.from('k'), Buffer.alloc(8192, 0x76));
  const cases: [Buffer, number, number, number][] = [
    [Buffer.concat([one, one]), 1, 1 << 20, RUN_STOP.KEYS],
    [Buffer.concat([one, one]), 10, 100, RUN_STOP.BYTES],
    [one.subarray(0, one.length - 1), 10, 1 << 20, RUN_STOP.INPUT],
    [Buffer.concat([one, Buffer.from([0xfe, 0])]), 10, 1 << 20, RUN_STOP.OTHER],
    [Buffer.concat([one, stringRecord(key, Buffer.from('v'))]), 10, 1 << 20, RUN_STOP.LIMIT],
    [Buffer.concat([one, stringRecord(Buffer.from('k'), Buffer.alloc(8193))]), 10, 1 << 20, RUN_STOP.LIMIT],
    [Buffer.concat([one, lzfRecord(Buffer.from('k'), Buffer.alloc(8193, 0x61), true)]), 10, 1 << 20, RUN_STOP.LIMIT],
    [Buffer.concat([one, Buffer.from([0, 1, 0x61, 0xc3, 2, 3, 0x20, 0])]), 10, 1 << 20, RUN_STOP.OTHER],
  ];
  for (const [input, maxRecords, budget, reason] of cases) {
    k.load(input, 0, input.length);
    const got = kernelRun(k, 0, input.length, maxRecords, budget, 1024, 8192);
    assert.equal(got.reason, reason);
    assert.deepEqual(got, reference(input, 0, input.length, maxRecords, budget, 1024, 8192));
  }
});

test('string-run kernel: strings with an expiry become SET … PXAT (future) or are skipped (at or before now), byte for byte as staged in JS', () => {
  const k = new StringRunTranscoder();
  const key = (i: number): Buffer => Buffer.from(`key:${i}`);
  const input = Buffer.concat([
    stringRecord(key(0), Buffer.from('plain')),
    ttlRecord(BigInt(NOW), key(1), Buffer.from('expires now: skipped')),
    ttlRecord(BigInt(NOW + 1), key(2), Buffer.from('one ms later: written')),
    ttlRecord(0n, key(3), Buffer.from('epoch: skipped')),
    ttlRecord(2n ** 53n - 1n, key(4), Buffer.from('16 digits')),
    stringRecord(key(5), Buffer.from('plain again')),
    ttlRecord(2n ** 53n, key(6), Buffer.from('left to JS')),
  ]);
  k.load(input, 0, input.length);
  const got = kernelRun(k, 0, input.length, 1000, 1 << 20, 1024, 8192);
  assert.deepEqual(got, reference(input, 0, input.length, 1000, 1 << 20, 1024, 8192));
  assert.equal(got.records, 4);
  assert.equal(got.expired, 2);
  assert.equal(got.reason, RUN_STOP.OTHER);
  assert.equal(got.consumed, input.length - ttlRecord(2n ** 53n, key(6), Buffer.from('left to JS')).length);
  assert.deepEqual(got.ttlKeys, [key(2).toString('hex'), key(4).toString('hex')]);
  assert.equal(
    got.ttl.toString(),
    `*5\r\n$3\r\nSET\r\n$5\r\nkey:2\r\n$21\r\none ms later: written\r\n$4\r\nPXAT\r\n$13\r\n${NOW + 1}\r\n` +
      `*5\r\n$3\r\nSET\r\n$5\r\nkey:4\r\n$9\r\n16 digits\r\n$4\r\nPXAT\r\n$16\r\n${2 ** 53 - 1}\r\n`,
  );
  assert.equal(got.out.toString(), '$5\r\nkey:0\r\n$5\r\nplain\r\n$5\r\nkey:5\r\n$11\r\nplain again\r\n');
  assert.deepEqual(got.firstKey, ['$5\r\n'.length, 5]);
  // Only expiries, all past: consumed, nothing written, no first MSET key.
  const past = Buffer.concat([ttlRecord(1n, key(7), Buffer.from('a')), ttlRecord(2n, key(8), Buffer.from('b'))]);
  k.load(past, 0, past.length);
  const none = kernelRun(k, 0, past.length, 1000, 1 << 20, 1024, 8192);
  assert.deepEqual([none.records, none.expired, none.consumed, none.firstKey[0], none.reason], [0, 2, past.length, -1, RUN_STOP.INPUT]);
  // The byte budget counts both outputs.
  const many = Buffer.concat(Array.from({ length: 50 }, (_, i) => ttlRecord(BigInt(NOW + 10), key(i), Buffer.alloc(100, 0x61))));
  k.load(many, 0, many.length);
  for (const budget of [1, 500, 1000, 5000]) {
    assert.deepEqual(kernelRun(k, 0, many.length, 1000, budget, 1024, 8192), reference(many, 0, many.length, 1000, budget, 1024, 8192), `budget ${budget}`);
  }
});

test('string-run kernel: int-encoded keys and values become their decimal text and LZF ones their decompressed bytes (liblzf), corrupt ones are left to JS', () => {
  const k = new StringRunTranscoder();
  const key = (i: number): Buffer => Buffer.from(`key:${i}`);
  // DEBUG POPULATE's values ("value:N" padded with NULs: a back-reference at distance 1), a pattern
  // repeated at each distance from 2 to 9 (byte by byte below 8, by words from 8), a long match
  // (length byte), and literal runs of every length up to 32.
  const values = [
    Buffer.concat([Buffer.from('value:123'), Buffer.alloc(91)]),
    ...Array.from({ length: 8 }, (_, d) => Buffer.from('0123456789'.slice(0, d + 2).repeat(30))),
    Buffer.from('x'.repeat(300) + 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEF' + 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEF'),
    Buffer.from(Array.from({ length: 64 }, (_, i) => i * 37).map((b) => b & 0xff).concat(Array(40).fill(7))),
  ];
  const ints: Array<[number, 1 | 2 | 4]> = [[0, 1], [-128, 1], [127, 1], [-32768, 2], [12345, 2], [-2147483648, 4], [2147483647, 4], [-1, 4]];
  const input = Buffer.concat([
    ...values.map((v, i) => lzfRecord(key(i), v, i % 2 === 1)),
    ...ints.map(([x, w], i) => intRecord(key(100 + i), x, w)),
    ttlRecord(BigInt(NOW + 1), key(200), Buffer.alloc(0)).subarray(0, 9),
    intRecord(key(200), -42, 1),
    // Encoded keys: int (1, 2, 4 bytes) and LZF.
    intRecord(Buffer.alloc(0), 7, 1, [-5, 1]),
    intRecord(Buffer.alloc(0), 8, 1, [31337, 2]),
    intRecord(Buffer.alloc(0), 9, 1, [-2147483648, 4]),
    lzfRecord(Buffer.from('user:profile:user:profile:user:profile:1'), Buffer.from('v'), false, true),
    ttlRecord(BigInt(NOW + 2), key(0), Buffer.alloc(0)).subarray(0, 9),
    intRecord(Buffer.alloc(0), 10, 1, [4242, 2]),
    Buffer.from([0, 1, 0x61, 0xc3, 3, 5, 0, 0x61, 0x62, 0x63]),
  ]);
  assert.ok(input.includes(Buffer.from([0, 0xc3])), 'the LZF key compresses');
  for (const v of values) assert.ok(lzfCompress(v) !== undefined, 'every value compresses');
  k.load(input, 0, input.length);
  const got = kernelRun(k, 0, input.length, 1000, 1 << 20, 1024, 8192);
  assert.deepEqual(got, reference(input, 0, input.length, 1000, 1 << 20, 1024, 8192));
  assert.equal(got.records, values.length + ints.length + 6);
  assert.equal(got.reason, RUN_STOP.OTHER, 'the corrupt LZF record is left to the JS path, which names the error');
  const bulk = (b: Buffer): Buffer => Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')]);
  const want = Buffer.concat([
    ...values.flatMap((v, i) => [bulk(key(i)), bulk(v)]),
    ...ints.flatMap(([x], i) => [bulk(key(100 + i)), bulk(Buffer.from(String(x)))]),
    ...[['-5', '7'], ['31337', '8'], ['-2147483648', '9'], ['user:profile:user:profile:user:profile:1', 'v']].flatMap(([k, v]) => [bulk(Buffer.from(k!)), bulk(Buffer.from(v!))]),
  ]);
  assert.equal(got.out.toString('hex'), want.toString('hex'));
  assert.equal(
    got.ttl.toString(),
    `*5\r\n$3\r\nSET\r\n$7\r\nkey:200\r\n$3\r\n-42\r\n$4\r\nPXAT\r\n$13\r\n${NOW + 1}\r\n` +
      `*5\r\n$3\r\nSET\r\n$4\r\n4242\r\n$2\r\n10\r\n$4\r\nPXAT\r\n$13\r\n${NOW + 2}\r\n`,
  );
  assert.deepEqual(got.ttlKeys, [key(200).toString('hex'), Buffer.from('4242').toString('hex')]);
  // An encoded key first: the first MSET key is read from the output, not the input.
  const encodedFirst = Buffer.concat([intRecord(Buffer.alloc(0), 1, 1, [-77, 1]), stringRecord(key(1), Buffer.from('x'))]);
  k.load(encodedFirst, 0, encodedFirst.length);
  const first = kernelRun(k, 0, encodedFirst.length, 1000, 1 << 20, 1024, 8192);
  assert.deepEqual(first.firstKey, [4, 3]);
  assert.equal(first.out.subarray(4, 7).toString(), '-77');
});
