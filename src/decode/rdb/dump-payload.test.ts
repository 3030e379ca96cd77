import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SnapshotEntry } from '../../entry/entry.js';
import { RdbError } from '../../errors.js';
import { Crc64 } from './crc64.js';
import { decodeDumpPayload } from './dump-payload.js';

/** A payload as Redis `DUMP` makes it: type, value, LE16 version, LE64 CRC64 over all before. */
function dumpPayload(typeAndValue: Buffer, version = 9): Buffer {
  const body = Buffer.concat([typeAndValue, Buffer.from([version & 0xff, version >> 8])]);
  const out = Buffer.alloc(body.length + 8);
  body.copy(out);
  new Crc64().update(body).writeLE(out, body.length);
  return out;
}

test('a string payload decodes to one entry with the given key, db and absolute expiry', () => {
  const entries: SnapshotEntry[] = [];
  decodeDumpPayload(dumpPayload(Buffer.from([0, 7, ...Buffer.from('copy-me')])), Buffer.from('j:c2'), 3, 1900000000000, (e) => entries.push(e));
  assert.equal(entries.length, 1);
  const e = entries[0]!;
  assert.equal(e.valueKind, 'string');
  assert.equal(e.key.toString(), 'j:c2');
  assert.equal(e.db, 3);
  assert.equal(e.expireAtMs, 1900000000000);
  assert.ok(e.isFirst && e.isLast);
  assert.equal((e.value as Buffer).toString(), 'copy-me');
});

test('a set payload decodes its members; no expiry gives -1', () => {
  const entries: SnapshotEntry[] = [];
  decodeDumpPayload(dumpPayload(Buffer.from([2, 2, 1, 0x61, 1, 0x62])), Buffer.from('s'), 0, -1, (e) => entries.push(e));
  assert.equal(entries[0]!.valueKind, 'set');
  assert.deepEqual((entries[0]!.value as Buffer[]).map(String).sort(), ['a', 'b']);
  assert.equal(entries[0]!.expireAtMs, -1);
});

test('a corrupted payload is a typed BAD_CRC error naming the key', () => {
  const p = dumpPayload(Buffer.from([0, 1, 0x78]));
  p[2] = 0x79;
  assert.throws(() => decodeDumpPayload(p, Buffer.from('k'), 0, -1, () => {}), (e: unknown) => e instanceof RdbError && e.code === 'BAD_CRC' && e.message.includes('"k"'));
  assert.throws(() => decodeDumpPayload(Buffer.from([0, 1]), Buffer.from('k'), 0, -1, () => {}), (e: unknown) => e instanceof RdbError && e.code === 'BAD_LENGTH');
});
