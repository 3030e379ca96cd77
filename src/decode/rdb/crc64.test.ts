import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc64, Crc64 } from './crc64.js';

/** Bit-at-a-time BigInt reference (Redis src/crc64.c `_crc64`, reflected). */
function naiveCrc64(crc: bigint, buf: Uint8Array): bigint {
  const poly = 0x95ac9329ac4bc9b5n; // 0xad93d23594c935a9 reflected
  for (const byte of buf) {
    crc ^= BigInt(byte);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc;
}

test('crc64 matches the Redis test vector', () => {
  assert.equal(crc64(0n, Buffer.from('123456789')), 0xe9c6d914c4b8d9can);
});

test('crc64 matches the bit-wise reference on random data, incrementally at any split', () => {
  const data = Buffer.alloc(1000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + 13) & 0xff;
  const expected = naiveCrc64(0n, data);
  assert.equal(crc64(0n, data), expected);
  for (const split of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    const c = new Crc64().update(data, 0, split).update(data, split, data.length);
    assert.equal(c.value, expected, `split ${split}`);
    assert.equal(crc64(crc64(0n, data.subarray(0, split)), data.subarray(split)), expected);
  }
  const out = Buffer.alloc(8);
  new Crc64().update(data).writeLE(out, 0);
  assert.equal(out.readBigUInt64LE(0), expected);
});

test('crc64 is the same at every buffer alignment (word-wise fast path)', () => {
  const data = Buffer.alloc(300);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  for (let k = 0; k < 9; k++) {
    const view = data.subarray(k);
    assert.equal(crc64(0n, view), naiveCrc64(0n, view), `offset ${k}`);
    assert.equal(new Crc64().update(data, k, data.length - k).value, naiveCrc64(0n, data.subarray(k, data.length - k)));
  }
});
