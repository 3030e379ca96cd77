import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lzfCompress, lzfDecompress } from './lzf.js';

test('lzf round-trips compressible data, including overlapping back-references', () => {
  const inputs = [
    Buffer.from('a'.repeat(1000)),
    Buffer.from('hello hello hello world world world '.repeat(50)),
    Buffer.from(Array.from({ length: 20000 }, (_, i) => (i % 251) & 0xff)),
  ];
  for (const input of inputs) {
    const c = lzfCompress(input);
    assert.ok(c !== undefined && c.length < input.length);
    assert.deepEqual(lzfDecompress(c, input.length), input);
  }
});

test('lzf decodes a hand-written block (literal run + back-reference)', () => {
  // literal "abc" (ctrl 2), then back-ref len 3+2=5? ctrl = (3<<5)|0, off byte 2 → ref = op-3
  const block = Buffer.from([2, 0x61, 0x62, 0x63, (3 << 5) | 0, 2]);
  assert.equal(lzfDecompress(block, 8)?.toString(), 'abcabcab');
});

test('lzf rejects corrupt input instead of reading out of bounds', () => {
  assert.equal(lzfDecompress(Buffer.from([0x20, 0x05]), 10), undefined); // ref before start
  assert.equal(lzfDecompress(Buffer.from([5, 1, 2]), 6), undefined); // literal past input
  assert.equal(lzfDecompress(Buffer.from([0, 0x61]), 2), undefined); // wrong length
});
