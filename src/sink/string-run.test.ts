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


/** RDB length: 6-bit when it fits (unless `wide`), else 14-bit (also non-canonical 14-bit for small ones). */
function rdbLen(n: number, wide: boolean): Buffer {
  if (n < 64 && !wide) return Buffer.from([n]);
  return Buffer.from([0x40 | (n >> 8), n & 0xff]);
}

function stringRecord(key: Buffer, value: Buffer, wideKey = false, wideValue = false): Buffer {
  return Buffer.concat([Buffer.from([0]), rdbLen(key.length, wideKey), key, rdbLen(value.length, wideValue), value]);
}

interface RunResult {
  records: number;
  consumed: number;
  reason: number;
  out: Buffer;
}

/** The rules of string-run.wat in JS, encoding with RespEncoder.argRange. */
function reference(input: Buffer, start: number, end: number, maxRecords: number, budget: number, maxKey: number, maxValue: number): RunResult {
  const enc = new RespEncoder(1 << 20);
  let p = start;
  let n = 0;
  let reason = 0;
  const len = (q: number): [number, number] | 'input' | 'other' => {
    if (q >= end) return 'input';
    const b = input[q]!;
    if (b < 0x40) return [b, q + 1];
    if (b >= 0x80) return 'other';
    if (q + 1 >= end) return 'input';
    return [((b & 0x3f) << 8) | input[q + 1]!, q + 2];
  };
  for (;;) {
    if (n >= maxRecords) {
      reason = RUN_STOP.KEYS;
      break;
    }
    if (enc.pendingBytes >= budget) {
      reason = RUN_STOP.BYTES;
      break;
    }
    if (p + 2 > end) {
      reason = RUN_STOP.INPUT;
      break;
    }
    if (input[p] !== 0) {
      reason = RUN_STOP.OTHER;
      break;
    }
    const k = len(p + 1);
    if (k === 'input' || k === 'other') {
      reason = k === 'input' ? RUN_STOP.INPUT : RUN_STOP.OTHER;
      break;
    }
    if (k[0] > maxKey) {
      reason = RUN_STOP.LIMIT;
      break;
    }
    const v = len(k[1] + k[0]);
    if (v === 'input' || v === 'other') {
      reason = v === 'input' ? RUN_STOP.INPUT : RUN_STOP.OTHER;
      break;
    }
    if (v[0] > maxValue) {
      reason = RUN_STOP.LIMIT;
      break;
    }
    if (v[1] + v[0] > end) {
      reason = RUN_STOP.INPUT;
      break;
    }
    enc.argRange(input, k[1], k[1] + k[0]);
    enc.argRange(input, v[1], v[1] + v[0]);
    p = v[1] + v[0];
    n++;
  }
  const parts = enc.take();
  return { records: n, consumed: p - start, reason, out: Buffer.concat(parts) };
}

function kernelRun(k: StringRunTranscoder, start: number, end: number, maxRecords: number, budget: number, maxKey: number, maxValue: number): RunResult {
  const records = k.run(start, end, maxRecords, budget, maxKey, maxValue);
  return { records, consumed: k.consumed, reason: k.reason, out: Buffer.from(k.output()) };
}

/** Random plain records (both length encodings) with, at random, a record each stop condition stops at. */
function randomInput(next: () => number, count: number, maxKeyLen: number, maxValueLen: number, withStops: boolean): Buffer {
  const parts: Buffer[] = [];
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
  for (let i = 0; i < count; i++) {
    const r = next();
    if (withStops && r < 0.08) {
      const stops = [
        Buffer.from([0xfc, 1, 2, 3, 4, 5, 6, 7, 8]), // EXPIRETIME_MS
        Buffer.from([0xfe, 1]), // SELECTDB
        Buffer.from([0xff]), // EOF
        Buffer.from([2, 1, 0x61, 1, 1, 0x62]), // a set
        Buffer.from([0, 0xc0, 7, 1, 0x61]), // int-encoded key
        Buffer.from([0, 1, 0x61, 0xc1, 0x39, 0x30]), // int-encoded value
        Buffer.from([0, 1, 0x61, 0xc3, 3, 5, 0, 0x61, 0x62, 0x63]), // LZF value
        Buffer.from([0, 0x80, 0, 0, 0, 1, 0x61, 1, 0x62]), // 32-bit key length
        Buffer.from([0, 1, 0x61, 0x81, 0, 0, 0, 0, 0, 0, 0, 1, 0x62]), // 64-bit value length
      ];
      parts.push(stops[Math.floor(next() * stops.length)]!);
      continue;
    }
    const klen = r < 0.5 ? Math.floor(next() * 20) : Math.floor(next() * (maxKeyLen + 1));
    const vlen = next() < 0.5 ? Math.floor(next() * 120) : Math.floor(next() * (maxValueLen + 1));
    parts.push(stringRecord(bytes(klen), bytes(vlen), next() < 0.2, next() < 0.2));
  }
  return Buffer.concat(parts);
}

test('string-run kernel: the RESP of random runs equals RespEncoder.argRange of each key and value, cut at every position of the input', () => {
  const k = new StringRunTranscoder();
  const next = rng(12);
  for (let round = 0; round < 6; round++) {
    const input = randomInput(next, 40, 80, 300, round % 2 === 1);
    assert.ok(input.length <= k.inputBytes);
    k.load(input, 0, input.length);
    for (let end = 0; end <= input.length; end++) {
      const want = reference(input, 0, end, 1000, 1 << 20, 1024, 8192);
      const got = kernelRun(k, 0, end, 1000, 1 << 20, 1024, 8192);
      assert.deepEqual(got, want, `round ${round}, input cut at ${end} of ${input.length}`);
      if (round % 2 === 0) assert.notEqual(got.reason, RUN_STOP.OTHER);
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
    const input = randomInput(next, 24, 1100, 8300, round >= 4);
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
  ];
  for (const [input, maxRecords, budget, reason] of cases) {
    k.load(input, 0, input.length);
    const got = kernelRun(k, 0, input.length, maxRecords, budget, 1024, 8192);
    assert.equal(got.reason, reason);
    assert.deepEqual(got, reference(input, 0, input.length, maxRecords, budget, 1024, 8192));
  }
});
