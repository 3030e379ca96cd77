/**
 * The RDB decoder against every recorded Dragonfly full sync (../shared/fixtures/dragonfly): each
 * FULL flow decodes to EOF, the 40 bytes after it are the FLOW reply's token, the decoded objects
 * equal the master's final state (for keys no journal command touches later), and any split of the
 * input yields exactly the same entries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadExpected, loadSession, DECODE_SESSIONS, type ExpectedKey, type RecordedConnection } from '../helpers/recording.js';
import { digestOf } from '../helpers/expected.js';
import { RdbDecoder } from '../../src/decode/rdb/rdb-decoder.js';
import { JournalDecoder } from '../../src/decode/journal/journal-decoder.js';
import type { JournalEntry, SnapshotEntry } from '../../src/entry/entry.js';
import { canonicalValue, SnapshotModel, typeName } from './snapshot-model.js';

/** The FLOW reply, after the `+OK` of an AUTH when the master needs a password (`auth` session). */
const FULL_REPLY = /^(?:\+OK\r\n)?\*2\r\n\+(FULL|PARTIAL)\r\n\+([0-9a-f]{40})\r\n/;

function isFlow(conn: RecordedConnection): boolean {
  return conn.replicaBytes.includes('DFLY FLOW');
}

interface FlowResult {
  entries: SnapshotEntry[];
  journal: JournalEntry[];
  stable: JournalEntry[];
  fullSyncEnds: number;
  journalOffset: bigint | undefined;
}

function splitReply(conn: RecordedConnection): { kind: string; token: string; body: Buffer } {
  const m = FULL_REPLY.exec(conn.masterBytes.toString('latin1', 0, 80));
  assert.ok(m, `${conn.file}: no FLOW reply`);
  return { kind: m[1]!, token: m[2]!, body: conn.masterBytes.subarray(m[0].length) };
}

/** Decodes a FULL flow body fed in the given chunk sizes (cycled); returns entries and the rest. */
function decodeFlow(body: Buffer, token: string, chunkSizes: number[] = [body.length]): FlowResult {
  const res: FlowResult = { entries: [], journal: [], stable: [], fullSyncEnds: 0, journalOffset: undefined };
  const d = new RdbDecoder(
    {
      onEntry: (e) => res.entries.push(e),
      onJournal: (e) => res.journal.push(e),
      onFullSyncEnd: () => res.fullSyncEnds++,
      onJournalOffset: (lsn) => (res.journalOffset = lsn),
    },
    { source: 'recording' },
  );
  let pos = 0;
  let i = 0;
  let rest: Buffer | undefined;
  while (pos < body.length) {
    const n = Math.min(chunkSizes[i++ % chunkSizes.length]!, body.length - pos);
    const chunk = body.subarray(pos, pos + n);
    const used = d.push(chunk);
    pos += n;
    if (d.isDone) {
      rest = Buffer.concat([chunk.subarray(used), body.subarray(pos)]);
      break;
    }
    assert.equal(used, n);
  }
  assert.ok(d.isDone, 'decoder reached EOF');
  assert.equal(d.rdbVersion, 9);
  assert.equal(rest!.toString('latin1', 0, 40), token, 'EOF token follows the checksum');
  const jd = new JournalDecoder((e) => res.stable.push(e));
  jd.push(rest!.subarray(40));
  return res;
}

/** Pseudo-random chunk sizes in [1, max]. */
function randomSizes(seed: number, max: number, n = 997): number[] {
  const out: number[] = [];
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out.push(1 + (s % max));
  }
  return out;
}

function touchedKeys(journal: JournalEntry[], into: Set<string>): boolean {
  let flush = false;
  for (const e of journal) {
    if (e.op !== 'command') continue;
    const name = e.args[0]!.toString('latin1').toUpperCase();
    if (name === 'FLUSHALL' || name === 'FLUSHDB') flush = true;
    for (const a of e.args.slice(1)) into.add(a.toString('latin1'));
  }
  return flush;
}

/** Default piece limits: ≤ 1024 items (pairs for hashes) and ≤ 1 MiB of data (unless one item is bigger). */
function assertPieceBounds(e: SnapshotEntry): void {
  const v = e.value as unknown;
  let items = 0;
  let bytes = 0;
  if (Buffer.isBuffer(v)) {
    items = 1;
    bytes = v.length;
  } else if (Array.isArray(v)) {
    items = e.valueKind === 'hash' ? v.length / 2 : v.length;
    bytes = (v as Buffer[]).reduce((n, b) => n + b.length, 0);
  } else if (e.valueKind === 'zset') {
    items = e.value.members.length;
  } else if (e.valueKind === 'hash-ttl') {
    items = e.value.expireAtMs.length;
  } else if (e.valueKind === 'set-ttl') {
    items = e.value.members.length;
  } else if (e.valueKind === 'stream') {
    items = e.value.entries.length;
  }
  assert.ok(items <= 1024, `${e.key}: piece of ${items} items`);
  assert.ok(bytes <= 1_048_576 || items === 1, `${e.key}: piece of ${bytes} bytes`);
  if (!(e.isFirst && e.isLast)) assert.equal(e.rdbValue, undefined);
}

for (const name of DECODE_SESSIONS) {
  test(`recording ${name}: every FULL flow decodes to EOF and matches the master's state`, () => {
    const conns = loadSession(name);
    const model = new SnapshotModel();
    const touched = new Set<string>();
    let flushed = false;
    let flows = 0;
    for (const conn of conns) {
      if (!isFlow(conn)) continue;
      const { kind, token, body } = splitReply(conn);
      if (kind === 'PARTIAL') {
        const stable: JournalEntry[] = [];
        new JournalDecoder((e) => stable.push(e)).push(body);
        flushed = touchedKeys(stable, touched) || flushed;
        continue;
      }
      flows++;
      const res = decodeFlow(body, token);
      assert.equal(res.fullSyncEnds, 1, `${conn.file}: one FULLSYNC_END`);
      assert.ok(res.journalOffset !== undefined && res.journalOffset >= 1n, `${conn.file}: JOURNAL_OFFSET`);
      for (const e of res.entries) {
        model.add(e);
        assertPieceBounds(e);
      }
      flushed = touchedKeys(res.journal, touched) || flushed;
      flushed = touchedKeys(res.stable, touched) || flushed;
      if (name === 'during') assert.ok(res.journal.length > 1000, 'journal blobs decoded');
    }
    assert.ok(flows > 0);
    assert.equal(model.openCount, 0, 'no object left without its last piece');

    const expected = loadExpected(name);
    let compared = 0;
    for (const o of model.objects) {
      const keyText = o.key.toString('latin1');
      if (touched.has(keyText) || keyText === 'j:sorted') continue;
      const exp: ExpectedKey | undefined = expected[String(o.db)]?.[o.key.toString('base64')];
      if (exp === undefined) {
        // Only a FLUSH in the journal may remove an untouched snapshot key.
        assert.ok(flushed, `db ${o.db} key ${keyText}: decoded but not in expected.json`);
        continue;
      }
      const what = `${name} db ${o.db} key ${keyText}`;
      assert.equal(typeName(o.valueKind), exp.type, `${what}: type`);
      if (exp.pexpireat === -1) assert.equal(o.expireAtMs, -1, `${what}: no expiry`);
      else assert.ok(Math.abs(o.expireAtMs - exp.pexpireat) <= 2000, `${what}: pexpireat ${o.expireAtMs} vs ${exp.pexpireat}`);
      const value = canonicalValue(o);
      if (o.valueKind === 'stream') {
        if (exp.value !== undefined) {
          const ev = exp.value as { entries: unknown; groups: unknown[][] };
          assert.deepEqual((value as { entries: unknown }).entries, ev.entries, `${what}: stream entries`);
          assert.equal(o.meta!.groups.length, ev.groups.length, `${what}: group count`);
          for (const [i, g] of o.meta!.groups.entries()) {
            const eg = ev.groups[i]!;
            const field = (f: string): unknown => eg[eg.indexOf(f) + 1];
            assert.equal(g.name.toString(), field('name'));
            assert.equal(g.consumers.length, field('consumers'));
            assert.equal(g.pending.length, field('pending'));
            assert.equal(`${g.lastId.ms}-${g.lastId.seq}`, field('last-delivered-id'));
          }
        }
      } else if (o.valueKind === 'json' && exp.value !== undefined) {
        assert.deepEqual(JSON.parse(value as string), JSON.parse(exp.value as string), `${what}: json`);
      } else if (exp.value !== undefined) {
        assert.deepEqual(value, exp.value, `${what}: value`);
      } else if (exp.digest !== undefined) {
        assert.equal(digestOf(value), exp.digest, `${what}: digest`);
      }
      compared++;
    }
    assert.ok(compared > 0 || flushed, 'some keys compared');
  });
}

test('recordings: the same entries whatever the chunking (random splits everywhere, bytewise on small flows)', () => {
  for (const name of DECODE_SESSIONS) {
    for (const conn of loadSession(name)) {
      if (!isFlow(conn)) continue;
      const { kind, token, body } = splitReply(conn);
      if (kind !== 'FULL') continue;
      const whole = decodeFlow(body, token);
      const split = decodeFlow(body, token, randomSizes(conn.id + 7, body.length > 1e6 ? 70000 : 3000));
      assert.deepEqual(split.entries, whole.entries, `${name} ${conn.file}: random splits`);
      assert.deepEqual(split.journal, whole.journal, `${name} ${conn.file}: random splits (journal)`);
      if (body.length < 100_000) {
        const bytewise = decodeFlow(body, token, [1]);
        assert.deepEqual(bytewise.entries, whole.entries, `${name} ${conn.file}: byte by byte`);
      }
    }
  }
});

test('crc64 equals the trailer of every RESTORE payload Dragonfly journaled (CRC-64/Jones)', async () => {
  const { crc64 } = await import('../../src/decode/rdb/crc64.js');
  let checked = 0;
  for (const name of ['types', 'partial', 'zstd'] as const) {
    for (const conn of loadSession(name)) {
      if (!isFlow(conn)) continue;
      const { kind, token, body } = splitReply(conn);
      if (kind !== 'FULL') continue;
      for (const e of decodeFlow(body, token).stable) {
        if (e.op !== 'command' || e.args[0]!.toString('latin1').toUpperCase() !== 'RESTORE') continue;
        const payload = e.args[3]!;
        assert.equal(crc64(0n, payload.subarray(0, payload.length - 8)), payload.readBigUInt64LE(payload.length - 8));
        checked++;
      }
    }
  }
  assert.ok(checked > 0, 'the recordings contain RESTORE payloads');
});

/** A tiny model of the four commands the `during` workload journals (SET/INCR/RPUSH/HSET). */
interface MiniValue {
  type: 'string' | 'list' | 'hash';
  str: Buffer;
  list: Buffer[];
  hash: Map<string, Buffer>;
  expireAtMs: number;
}

function miniValue(type: MiniValue['type'], expireAtMs: number, str: Buffer = Buffer.alloc(0)): MiniValue {
  return { type, str, list: [], hash: new Map(), expireAtMs };
}

test('recording during: snapshot objects and journal blobs applied in stream order reproduce the master state', () => {
  const state = new Map<string, MiniValue>();
  const unknown = new Set<string>(); // keys written by commands this mini model does not implement
  const id = (db: number, key: Buffer): string => `${db}:${key.toString('base64')}`;
  const apply = (db: number, args: Buffer[]): void => {
    const cmd = args[0]!.toString('latin1').toUpperCase();
    const k = id(db, args[1] ?? Buffer.alloc(0));
    const cur = state.get(k);
    if (cmd === 'SET') {
      const opts = args.slice(3).map((a) => a.toString('latin1').toUpperCase());
      let expireAtMs = -1;
      if (opts.length === 2 && opts[0] === 'PXAT') expireAtMs = Number(opts[1]);
      else if (opts.length > 0) unknown.add(k);
      state.set(k, miniValue('string', expireAtMs, args[2]!));
    } else if (cmd === 'INCR') {
      const n = cur === undefined ? 0 : Number(cur.str.toString('latin1'));
      state.set(k, miniValue('string', cur?.expireAtMs ?? -1, Buffer.from(String(n + 1))));
    } else if (cmd === 'RPUSH') {
      const v = cur ?? miniValue('list', -1);
      v.list.push(...args.slice(2));
      state.set(k, v);
    } else if (cmd === 'HSET') {
      const v = cur ?? miniValue('hash', -1);
      for (let i = 2; i + 1 < args.length; i += 2) v.hash.set(args[i]!.toString('base64'), args[i + 1]!);
      state.set(k, v);
    } else if (cmd === 'DEL' || cmd === 'UNLINK') {
      for (const a of args.slice(1)) state.delete(id(db, a));
    } else if (cmd === 'FLUSHDB' || cmd === 'FLUSHALL') {
      for (const key of [...state.keys()]) if (cmd === 'FLUSHALL' || key.startsWith(`${db}:`)) state.delete(key);
    } else {
      for (const a of args.slice(1)) unknown.add(id(db, a));
    }
  };
  let blobCommands = 0;
  for (const conn of loadSession('during')) {
    if (!isFlow(conn)) continue;
    const { token, body } = splitReply(conn);
    const d = new RdbDecoder({
      onEntry: (e) => {
        const k = id(e.db, e.key);
        if (e.valueKind === 'string') state.set(k, miniValue('string', e.expireAtMs, e.value));
        else if (e.valueKind === 'list' || e.valueKind === 'hash') {
          const v = e.isFirst ? miniValue(e.valueKind, e.expireAtMs) : state.get(k)!;
          if (e.valueKind === 'list') v.list.push(...e.value);
          else for (let i = 0; i < e.value.length; i += 2) v.hash.set(e.value[i]!.toString('base64'), e.value[i + 1]!);
          state.set(k, v);
        } else unknown.add(k);
      },
      onJournal: (e) => {
        if (e.op !== 'command') return;
        blobCommands++;
        apply(e.db, e.args);
      },
    });
    const used = d.push(body);
    assert.equal(body.toString('latin1', used, used + 40), token);
    new JournalDecoder((e) => {
      if (e.op === 'command') apply(e.db, e.args);
    }).push(body.subarray(used + 40));
  }
  assert.ok(blobCommands > 20_000);
  const expected = loadExpected('during');
  let compared = 0;
  for (const [k, v] of state) {
    if (unknown.has(k)) continue;
    const [db, b64key] = k.split(':') as [string, string];
    const exp = expected[db]?.[b64key];
    assert.ok(exp !== undefined, `${Buffer.from(b64key, 'base64').toString()} missing in expected`);
    assert.equal(v.type, exp.type);
    const value =
      v.type === 'string'
        ? v.str.toString('base64')
        : v.type === 'list'
          ? v.list.map((b) => b.toString('base64'))
          : [...v.hash].map(([f, x]) => [f, x.toString('base64')]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
    if (exp.value !== undefined) assert.deepEqual(value, exp.value, `${Buffer.from(b64key, 'base64').toString()}`);
    else assert.equal(digestOf(value), exp.digest);
    if (exp.pexpireat === -1) assert.equal(v.expireAtMs, -1);
    else assert.ok(Math.abs(v.expireAtMs - exp.pexpireat) <= 2000);
    compared++;
  }
  const total = Object.values(expected).reduce((n, keys) => n + Object.keys(keys).length, 0);
  assert.ok(compared > total - 200, `compared ${compared} of ${total} keys`);
});

test('recording types, corrupted: random byte flips and truncations give a typed RdbError or a clean decode', async () => {
  const { RdbError } = await import('../../src/errors.js');
  const conn = loadSession('types').find((c) => isFlow(c))!;
  const { body } = splitReply(conn);
  let s = 99;
  const rand = (n: number): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % n;
  };
  let errors = 0;
  for (let k = 0; k < 300; k++) {
    const bad = Buffer.from(body);
    for (let j = 0; j < 3; j++) bad[9 + rand(bad.length - 9)]! ^= 1 + rand(255);
    const d = new RdbDecoder({ onEntry() {} }, { maxBlobBytes: k % 2 === 0 ? 65536 : 0 });
    try {
      for (let p = 0; p < bad.length && !d.isDone; p += 1000) d.push(bad.subarray(p, p + 1000));
      d.end();
    } catch (e) {
      assert.ok(e instanceof RdbError, `trial ${k}: ${String(e)}`);
      errors++;
    }
  }
  assert.ok(errors > 0);
  const rdbLength = new RdbDecoder({ onEntry() {} }).push(body);
  for (let k = 0; k < 100; k++) {
    const cut = 1 + rand(rdbLength - 1);
    const d = new RdbDecoder({ onEntry() {} });
    d.push(body.subarray(0, cut));
    assert.throws(() => d.end(), (e: unknown) => e instanceof RdbError && e.code === 'TRUNCATED');
  }
});
