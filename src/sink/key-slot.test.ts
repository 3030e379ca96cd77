import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keySlot, keySlotRange } from './key-slot.js';

test('keySlotRange agrees with keySlot on every kind of hash tag, inside a larger buffer', () => {
  // Known slots from the Redis Cluster specification and redis-cli CLUSTER KEYSLOT.
  const known: Array<[string, number]> = [['foo', 12182], ['123456789', 12739], ['{user1000}.following', 3443], ['{user1000}.followers', 3443], ['foo{}{bar}', 8363], ['foo{{bar}}zap', 4015], ['foo{bar}{zap}', 5061], ['', 0]];
  const pad = Buffer.from('xx{y}');
  for (const [key, slot] of known) {
    const buf = Buffer.concat([pad, Buffer.from(key), pad]);
    assert.equal(keySlotRange(buf, pad.length, pad.length + Buffer.byteLength(key)), slot, key);
    assert.equal(keySlot(Buffer.from(key)), slot, key);
  }
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const alphabet = Buffer.from('ab{}{}:0\xff');
  for (let i = 0; i < 20_000; i++) {
    const key = Buffer.alloc(rnd(12));
    for (let j = 0; j < key.length; j++) key[j] = alphabet[rnd(alphabet.length)]!;
    const buf = Buffer.concat([pad, key, pad]);
    assert.equal(keySlotRange(buf, pad.length, pad.length + key.length), keySlot(key), key.toString('latin1'));
  }
});
