import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandToken, internCommandName, MAX_INTERNED_NAME_BYTES } from './command-names.js';
import { JournalDecoder } from './journal-decoder.js';
import type { JournalEntry } from '../../entry/entry.js';
import { journalCommand } from '../../../test/helpers/fake-master.js';

/** A buffer of its own (`Buffer.from` of short data shares Node's pool, and so its `.buffer`). */
function unpooled(data: string | Buffer): Buffer {
  const src = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const b = Buffer.alloc(src.length);
  src.copy(b);
  return b;
}

test('a command name is interned: one buffer per spelling, a copy of its bytes (no view of the chunk), case kept', () => {
  const a = unpooled('xxSETyy');
  const b = unpooled('..SET..');
  const first = internCommandName(a, 2, 3);
  assert.equal(first.toString(), 'SET');
  assert.notEqual(first.buffer, a.buffer);
  assert.equal(internCommandName(b, 2, 3), first);
  a.fill(0); // the chunk is reused: the interned name is not
  assert.equal(first.toString(), 'SET');
  const lower = internCommandName(Buffer.from('set'), 0, 3);
  assert.equal(lower.toString(), 'set');
  assert.notEqual(lower, first);
  assert.equal(commandToken(lower), 'SET');
});

test('a name longer than the bound is a view of the input, and its token is empty as before', () => {
  const long = unpooled('X'.repeat(MAX_INTERNED_NAME_BYTES + 1));
  const v = internCommandName(long, 0, long.length);
  assert.equal(v.buffer, long.buffer);
  assert.equal(commandToken(v), '');
});

test('commandToken equals toString(latin1).toUpperCase() for interned, uninterned and colliding spellings', () => {
  const names = ['SET', 'hset', 'Zadd', 'JSON.SET', 'cl.throttle', 'STICK', '_MCFLAGS', '', 'é', '\xff\x00'];
  for (const n of names) internCommandName(Buffer.from(n, 'latin1'), 0, Buffer.byteLength(n, 'latin1'));
  // Interned ones, spelled by other buffers, and 2000 that were never interned (some share a hash bucket).
  for (const n of names) assert.equal(commandToken(Buffer.from(n, 'latin1')), n.toUpperCase());
  for (let i = 0; i < 2000; i++) {
    const s = `c${i.toString(36)}x`;
    assert.equal(commandToken(Buffer.from(s)), s.toUpperCase());
  }
  assert.equal(commandToken(undefined), '');
});

test('the journal decoder hands out the interned name as args[0]; the other arguments stay views of the input', () => {
  const seen: JournalEntry[] = [];
  const d = new JournalDecoder((e) => seen.push(e));
  const one = unpooled(journalCommand(['HSET', 'k', 'f', 'v']));
  const two = unpooled(journalCommand(['HSET', 'k2', 'f', 'v']));
  d.push(one);
  d.push(two);
  const [e1, e2] = seen;
  assert.ok(e1?.op === 'command' && e2?.op === 'command');
  assert.equal(e1.args[0], e2.args[0]);
  assert.equal(e1.args[0]!.toString(), 'HSET');
  assert.notEqual(e1.args[0]!.buffer, one.buffer);
  assert.equal(e2.args[1]!.buffer, two.buffer);
  one.fill(0);
  assert.equal(e1.args[0]!.toString(), 'HSET');
});
