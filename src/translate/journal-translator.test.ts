import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JournalTranslator, versionAtLeast, type TargetCapabilities } from './journal-translator.js';

const b = (...xs: string[]): Buffer[] => xs.map((x) => Buffer.from(x));
const str = (args: Buffer[]): string[] => args.map((a) => a.toString());
const redis70: TargetCapabilities = { redisVersion: '7.0.15', hasCommand: () => false };
const redis74json: TargetCapabilities = { redisVersion: '7.4.1', hasCommand: (n) => n === 'JSON.SET' };
const redis80: TargetCapabilities = { redisVersion: '8.0.2', hasCommand: () => false };
/** A fixed receive time (Unix ms) for the relative-TTL translations. */
const READ_AT = 1_900_000_000_000;

test('SET strips the Dragonfly-only STICK and _MCFLAGS tail and keeps PXAT/KEEPTTL', () => {
  const t = new JournalTranslator(redis70).translate(b('SET', 'k', 'v', 'PXAT', '1900000000005', 'STICK', '_MCFLAGS', '7'), 0n);
  assert.equal(t.action, 'write');
  if (t.action !== 'write') return;
  assert.deepEqual(str(t.commands[0]!.args), ['SET', 'k', 'v', 'PXAT', '1900000000005']);
  const plain = b('set', 'k', 'v');
  const t2 = new JournalTranslator(redis70).translate(plain, 0n);
  assert.ok(t2.action === 'write' && t2.commands[0]!.args === plain, 'untouched argv is passed through without copying');
});

test('FLUSHALL and FLUSHDB are global barriers', () => {
  const tr = new JournalTranslator(redis70);
  assert.deepEqual(tr.translate(b('FLUSHALL'), 5n).action, 'global');
  const t = tr.translate(b('flushdb', 'ASYNC'), 6n);
  assert.ok(t.action === 'global' && t.name === 'FLUSHDB');
});

test('Dragonfly-only commands are dropped with a reason', () => {
  const tr = new JournalTranslator(redis70);
  for (const args of [b('STICK', 'k'), b('SHRINK', 'k'), b('SCRIPT', 'FLAGS', 'abc', 'allow-undeclared-keys'), b('FT.CREATE', 'idx'), b('DFLYCLUSTER', 'FLUSHSLOTS', '0', '10')]) {
    assert.equal(tr.translate(args, 0n).action, 'drop', str(args).join(' '));
  }
  assert.equal(tr.translate(b('SCRIPT', 'LOAD', 'return 1'), 0n).action, 'write');
});

test('module commands pass only when the target has the module', () => {
  assert.equal(new JournalTranslator(redis70).translate(b('JSON.SET', 'k', '$', '1'), 0n).action, 'drop');
  assert.equal(new JournalTranslator(redis74json).translate(b('JSON.SET', 'k', '$', '1'), 0n).action, 'write');
  assert.equal(new JournalTranslator(redis74json).translate(b('BF.ADD', 'k', 'x'), 0n).action, 'drop');
});

test('RESTORE becomes a decode-and-write with absolute expiry', () => {
  const payload = Buffer.from([0, 1, 0x61, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const t = new JournalTranslator(redis70).translate([Buffer.from('RESTORE'), Buffer.from('dst'), Buffer.from('1900000000000'), payload, Buffer.from('REPLACE'), Buffer.from('ABSTTL'), Buffer.from('STICK')], 3n);
  assert.ok(t.action === 'restore');
  assert.equal(t.expireAtMs, 1900000000000);
  assert.equal(t.replace, true);
  assert.equal(t.payload, payload);
  const noTtl = new JournalTranslator(redis70).translate([Buffer.from('RESTORE'), Buffer.from('dst'), Buffer.from('0'), payload, Buffer.from('REPLACE'), Buffer.from('ABSTTL')], 3n);
  assert.ok(noTtl.action === 'restore' && noTtl.expireAtMs === -1);
});

test('SADDEX becomes a lossy SADD', () => {
  const t = new JournalTranslator(redis70).translate(b('SADDEX', 's', 'KEEPTTL', '100', 'm1', 'm2'), 0n);
  assert.ok(t.action === 'write');
  assert.deepEqual(str(t.commands[0]!.args), ['SADD', 's', 'm1', 'm2']);
  assert.equal(t.lossy, 'SADDEX');
});

test('HSETEX: HSET (+HPEXPIREAT from the time the record was read, on Redis >= 7.4), HSETNX per field for NX', () => {
  const t70 = new JournalTranslator(redis70).translate(b('HSETEX', 'h', '100000000', 'f', 'v', 'g', 'w'), 0n);
  assert.ok(t70.action === 'write');
  assert.deepEqual(t70.commands.map((c) => str(c.args)), [['HSET', 'h', 'f', 'v', 'g', 'w']]);
  assert.equal(t70.lossy, 'HSETEX');
  const t74 = new JournalTranslator(redis74json).translate(b('HSETEX', 'h', 'NX', '60', 'f', 'v'), 0n, READ_AT);
  assert.ok(t74.action === 'write');
  assert.deepEqual(t74.commands.map((c) => str(c.args)), [['HSETNX', 'h', 'f', 'v'], ['HPEXPIREAT', 'h', String(READ_AT + 60_000), 'FIELDS', '1', 'f']]);
  assert.equal(t74.lossy, undefined);
});

test('FIELDEXPIRE is dropped before Redis 7.4 and becomes HPEXPIREAT (from the time the record was read) after', () => {
  assert.equal(new JournalTranslator(redis70).translate(b('FIELDEXPIRE', 'h', '5', 'f'), 0n).action, 'drop');
  const t = new JournalTranslator(redis74json).translate(b('FIELDEXPIRE', 'h', '5', 'f', 'g'), 0n, READ_AT);
  assert.ok(t.action === 'write');
  assert.deepEqual(str(t.commands[0]!.args), ['HPEXPIREAT', 'h', String(READ_AT + 5000), 'FIELDS', '2', 'f', 'g']);
});

test('relative field TTLs journaled as typed become absolute from the time the record was read (replay lag does not stretch them)', () => {
  const tr = new JournalTranslator(redis80);
  const one = (...a: string[]): string[] => {
    const t = tr.translate(b(...a), 0n, READ_AT);
    assert.ok(t.action === 'write');
    return str(t.commands[0]!.args);
  };
  assert.deepEqual(one('HEXPIRE', 'h', '10', 'NX', 'FIELDS', '1', 'f'), ['HPEXPIREAT', 'h', String(READ_AT + 10_000), 'NX', 'FIELDS', '1', 'f']);
  assert.deepEqual(one('HPEXPIRE', 'h', '250', 'FIELDS', '1', 'f'), ['HPEXPIREAT', 'h', String(READ_AT + 250), 'FIELDS', '1', 'f']);
  assert.deepEqual(one('HGETEX', 'h', 'EX', '7', 'FIELDS', '1', 'f'), ['HGETEX', 'h', 'PXAT', String(READ_AT + 7000), 'FIELDS', '1', 'f']);
  assert.deepEqual(one('HSETEX', 'h', 'FNX', 'PX', '1500', 'FIELDS', '1', 'f', 'v'), ['HSETEX', 'h', 'FNX', 'PXAT', String(READ_AT + 1500), 'FIELDS', '1', 'f', 'v']);
  // Absolute forms and PERSIST stay as they are.
  assert.deepEqual(one('HGETEX', 'h', 'PXAT', '1900000000000', 'FIELDS', '1', 'f'), ['HGETEX', 'h', 'PXAT', '1900000000000', 'FIELDS', '1', 'f']);
  assert.deepEqual(one('HGETEX', 'h', 'PERSIST', 'FIELDS', '1', 'f'), ['HGETEX', 'h', 'PERSIST', 'FIELDS', '1', 'f']);
  // Without a receive time, now is used.
  const t = tr.translate(b('HPEXPIRE', 'h', '1000', 'FIELDS', '1', 'f'), 0n);
  assert.ok(t.action === 'write');
  const abs = Number(t.commands[0]!.args[2]!.toString());
  assert.ok(abs >= Date.now() && abs <= Date.now() + 1000, String(abs));
});

test('SORT: STORE passes, multi-shard SORT without STORE is repaired by read-back, read-only SORT dropped', () => {
  const tr = new JournalTranslator(redis70);
  assert.equal(tr.translate(b('SORT', 'src', 'STORE', 'dst'), 0n).action, 'write');
  const r = tr.translate(b('SORT', 'j:sorted'), 17n);
  assert.ok(r.action === 'repair');
  assert.deepEqual(str(r.keys), ['j:sorted']);
  assert.equal(tr.translate(b('SORT', 'k'), 0n).action, 'drop');
  // v1.34: every SORT argument is a key, so a shard's subset may keep option tokens: all are read back.
  const v134 = tr.translate(b('SORT', 'j:sortme', 'STORE'), 24n);
  assert.ok(v134.action === 'repair');
  assert.deepEqual(str(v134.keys), ['j:sortme', 'STORE']);
  assert.equal(tr.translate(b('GEORADIUS', 'g', '1', '2', '3', 'km'), 0n).action, 'drop');
  assert.equal(tr.translate(b('GEORADIUS', 'g', '1', '2', '3', 'km', 'STORE', 'd'), 0n).action, 'write');
});

test('ZRANGESTORE: the full command passes; a per-shard key subset (Dragonfly <= v1.34 auto-journal) is repaired by read-back', () => {
  const tr = new JournalTranslator(redis70);
  const full = tr.translate(b('ZRANGESTORE', 'dst', 'src', '0', '-1'), 0n);
  assert.ok(full.action === 'write');
  assert.deepEqual(str(full.commands[0]!.args), ['ZRANGESTORE', 'dst', 'src', '0', '-1']);
  const dst = tr.translate(b('ZRANGESTORE', 'j:zr'), 22n);
  assert.ok(dst.action === 'repair');
  assert.deepEqual(str(dst.keys), ['j:zr']);
  const src = tr.translate(b('zrangestore', 'j:z'), 22n);
  assert.ok(src.action === 'repair');
  assert.deepEqual(str(src.keys), ['j:z']);
  assert.equal(tr.translate(b('ZRANGESTORE'), 22n).action, 'drop');
});

test('PREPEND is emulated with a script that keeps the TTL', () => {
  const t = new JournalTranslator(redis70).translate(b('PREPEND', 'k', 'pre'), 0n);
  assert.ok(t.action === 'write');
  const args = str(t.commands[0]!.args);
  assert.equal(args[0], 'EVAL');
  assert.match(args[1]!, /KEEPTTL/);
  assert.deepEqual(args.slice(2), ['1', 'k', 'pre']);
});

test('versionAtLeast compares major.minor', () => {
  assert.ok(versionAtLeast('7.4.0', 7, 4));
  assert.ok(versionAtLeast('8.0.1', 7, 4));
  assert.ok(!versionAtLeast('7.2.9', 7, 4));
});
