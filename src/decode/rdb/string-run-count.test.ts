import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countStringRun, type StringRunCount } from './string-run-count.js';

/** `rdbSaveLen` of a 6- or 14-bit length. */
function len(n: number): Buffer {
  return n < 0x40 ? Buffer.from([n]) : Buffer.from([0x40 | (n >> 8), n & 0xff]);
}

function record(key: number, value: number): Buffer {
  return Buffer.concat([Buffer.from([0]), len(key), Buffer.alloc(key, 0x6b), len(value), Buffer.alloc(value, 0x76)]);
}

// Lengths at each encoding's edges: 0, 63 (last 6-bit), 64 (first 14-bit), 16383 (last 14-bit).
const RECORDS = [record(1, 0), record(63, 64), record(64, 63), record(3, 16_383), record(16_383, 2), record(0, 1)];

/**
 * `buf` holds `records` from `start` on: for every end from `start` to the buffer's, the run counted
 * from `start` is exactly the records that end by then, and its bytes are theirs.
 */
function assertCountsAtEveryEnd(buf: Buffer, start: number, records: Buffer[]): void {
  const ends: number[] = [];
  let at = start;
  for (const r of records) ends.push((at += r.length));
  const count: StringRunCount = { records: -1 };
  for (let end = start; end <= buf.length; end++) {
    const whole = ends.filter((e) => e <= end);
    assert.equal(countStringRun(buf, start, end, count), (whole.at(-1) ?? start) - start, `end ${end}`);
    assert.equal(count.records, whole.length, `end ${end}`);
  }
}

test('counts whole plain string records up to any end, never past it', () => {
  const buf = Buffer.concat([Buffer.from([0xfe, 0x00]), ...RECORDS]); // a SELECTDB before the run
  assertCountsAtEveryEnd(buf, 2, RECORDS);
  const count: StringRunCount = { records: -1 };
  assert.equal(countStringRun(buf, 0, buf.length, count), 0, 'a SELECTDB opcode is not a string record');
  assert.equal(count.records, 0);
});

test('stops before any record it does not take', () => {
  const plain = record(5, 10);
  const others: Record<string, Buffer> = {
    'an expiry opcode (0xFC) before another type': Buffer.from([0xfc, 1, 2, 3, 4, 5, 6, 7, 8, 0x0e, 0x01]),
    'an expiry opcode (0xFC) before a key with a 32-bit length': Buffer.from([0xfc, 1, 2, 3, 4, 5, 6, 7, 8, 0x00, 0x80, 0, 0, 0, 1, 0x6b, 0x01, 0x76]),
    'an expiry in seconds (0xFD)': Buffer.concat([Buffer.from([0xfd, 1, 2, 3, 4]), record(5, 10)]),
    'another type (a list)': Buffer.from([0x0e, 0x01]),
    'an LZF-encoded value with a 32-bit length': Buffer.from([0x00, 0x01, 0x6b, 0xc3, 0x80, 0, 0, 0, 0x02, 0x03, 0x01, 0x61, 0x62]),
    'an unknown value encoding (0xC4)': Buffer.from([0x00, 0x01, 0x6b, 0xc4, 0x07]),
    'a 32-bit value length': Buffer.concat([Buffer.from([0x00, 0x01, 0x6b, 0x80, 0, 0, 0x40, 0]), Buffer.alloc(0x4000)]),
    'an unknown key encoding (0xC5)': Buffer.from([0x00, 0xc5, 0x07, 0x01, 0x76]),
  };
  const count: StringRunCount = { records: -1 };
  for (const [what, other] of Object.entries(others)) {
    const buf = Buffer.concat([plain, plain, other, plain]);
    assert.equal(countStringRun(buf, 0, buf.length, count), 2 * plain.length, what);
    assert.equal(count.records, 2, what);
  }
});

test('records with an expiry (0xFC <LE64 ms>, any time) are counted, and never cut: a run ends before an expiry whose record is not whole', () => {
  const expiry = (ms: bigint): Buffer => {
    const b = Buffer.alloc(9);
    b[0] = 0xfc;
    b.writeBigInt64LE(ms, 1);
    return b;
  };
  // Past, future, negative and huge times: the pre-scan counts keys, not their fate.
  const parts = [record(3, 4), Buffer.concat([expiry(1n), record(5, 6)]), Buffer.concat([expiry(2n ** 62n), record(64, 63)]), record(1, 0), Buffer.concat([expiry(-5n), record(2, 2)])];
  assertCountsAtEveryEnd(Buffer.concat(parts), 0, parts);
  // Starting at an expiry opcode, as the decoder offers runs.
  const count: StringRunCount = { records: -1 };
  const fromExpiry = Buffer.concat(parts.slice(1));
  assert.equal(countStringRun(fromExpiry, 0, fromExpiry.length, count), fromExpiry.length);
  assert.equal(count.records, 4);
});

test('int-encoded (1, 2, 4 bytes) and LZF-encoded keys and values are counted by their encoded lengths, never past the end', () => {
  const key = Buffer.from([0x01, 0x6b]);
  const records = [
    Buffer.concat([Buffer.from([0x00]), key, Buffer.from([0xc0, 0x07])]),
    Buffer.concat([Buffer.from([0x00]), key, Buffer.from([0xc1, 0x39, 0x30])]),
    Buffer.concat([Buffer.from([0x00]), key, Buffer.from([0xc2, 1, 2, 3, 4])]),
    // LZF: clen 3, ulen 5 (the data is not decompressed: the main pass checks it)
    Buffer.concat([Buffer.from([0x00]), key, Buffer.from([0xc3, 0x03, 0x05, 0x01, 0x61, 0x62])]),
    // LZF with 14-bit lengths: clen 70, ulen 300
    Buffer.concat([Buffer.from([0x00]), key, Buffer.from([0xc3, 0x40, 70, 0x41, 0x2c]), Buffer.alloc(70, 0x61)]),
    record(2, 3),
    // int-encoded keys, and an LZF-encoded key (clen 3, ulen 22)
    Buffer.from([0x00, 0xc0, 0x07, 0x01, 0x76]),
    Buffer.from([0x00, 0xc2, 1, 2, 3, 4, 0xc1, 5, 6]),
    Buffer.concat([Buffer.from([0x00, 0xc3, 0x03, 0x16, 0x01, 0x61, 0x62]), Buffer.from([0x01, 0x76])]),
  ];
  const withExpiry = Buffer.concat([Buffer.from([0xfc, 1, 2, 3, 4, 5, 6, 7, 8]), records[3]!]);
  const parts = [...records, withExpiry];
  assertCountsAtEveryEnd(Buffer.concat(parts), 0, parts);
});
