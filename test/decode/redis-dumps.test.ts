/**
 * The RDB decoder against real `dump.rdb` files written by the Debian `redis-server` (7.0, RDB 10),
 * one per encoding profile (test/helpers/rdb-factory.ts): listpacks/intsets, hash tables/skiplists,
 * one-element quicklist nodes, LZF-compressed quicklist nodes, LZF strings, CRC on and off. Every
 * decoded key must equal what the still-running server holds (type, value, expiry), and any split
 * of the file must give the same entries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildDump, ENCODING_PROFILES } from '../helpers/rdb-factory.js';
import { digestOf, readState } from '../helpers/expected.js';
import { RdbDecoder, type RdbDecoderOptions } from '../../src/decode/rdb/rdb-decoder.js';
import type { SnapshotEntry } from '../../src/entry/entry.js';
import { canonicalValue, SnapshotModel, typeName } from './snapshot-model.js';

function decodeFile(bytes: Buffer, chunk: number, functions: string[], options?: RdbDecoderOptions): { entries: SnapshotEntry[]; version: number } {
  const entries: SnapshotEntry[] = [];
  const d = new RdbDecoder({ onEntry: (e) => entries.push(e), onFunction: (c) => functions.push(c.toString()) }, { source: 'dump.rdb', ...options });
  for (let p = 0; p < bytes.length; p += chunk) assert.equal(d.push(bytes.subarray(p, p + chunk)), Math.min(chunk, bytes.length - p));
  d.end();
  assert.ok(d.isDone);
  return { entries, version: d.rdbVersion };
}

for (const profile of ENCODING_PROFILES) {
  test(`redis-server dump (${profile.name}): every key decodes to what the server holds`, async () => {
    const dump = await buildDump(profile, { bigElements: 20_000, bigStringBytes: 3 * 1024 * 1024 });
    try {
      const bytes = readFileSync(dump.path);
      const functions: string[] = [];
      const { entries, version } = decodeFile(bytes, 65_536, functions);
      assert.equal(version, 10);
      assert.equal(functions.length, 1);
      assert.match(functions[0]!, /df2redis_echo/);
      assert.deepEqual(decodeFile(bytes, 4093, []).entries, entries, 'same entries with another chunk size');
      assert.deepEqual(decodeFile(bytes, 4093, [], { maxBlobBytes: 0 }).entries, entries, 'same entries with streamed containers');

      if (profile.config.rdbcompression === 'yes') {
        // the 3 MiB string is LZF-compressed by Redis: decoded by the incremental LZF path
        const at = bytes.indexOf('\x07str:big', 0, 'latin1');
        assert.ok(at > 0 && bytes[at + 8] === 0xc3, 'str:big is an LZF string');
        assert.ok(entries.filter((e) => e.key.toString() === 'str:big').length >= 3);
      }
      const model = new SnapshotModel();
      for (const e of entries) model.add(e);
      assert.equal(model.openCount, 0);
      const types = new Set(model.objects.map((o) => o.rdbType));
      if (profile.name === 'listpack') for (const t of [11, 16, 17]) assert.ok(types.has(t), `type ${t} present`);
      if (profile.name === 'hashtable') for (const t of [2, 4, 5, 18]) assert.ok(types.has(t), `type ${t} present`);

      const expected = await readState(dump.server.port, dump.dbs);
      let compared = 0;
      for (const o of model.objects) {
        const what = `${profile.name} db ${o.db} key ${o.key.toString('latin1')} (type ${o.rdbType})`;
        const exp = expected[String(o.db)]?.[o.key.toString('base64')];
        assert.ok(exp !== undefined, `${what}: decoded but not on the server`);
        assert.equal(typeName(o.valueKind), exp.type, `${what}: type`);
        if (exp.pexpireat === -1) assert.equal(o.expireAtMs, -1, `${what}: expiry`);
        else assert.ok(Math.abs(o.expireAtMs - exp.pexpireat) <= 2000, `${what}: pexpireat ${o.expireAtMs} vs ${exp.pexpireat}`);
        const value = canonicalValue(o);
        if (o.valueKind === 'stream') {
          const ev = exp.value as { entries: unknown; groups: unknown[] } | undefined;
          if (ev !== undefined) {
            assert.deepEqual((value as { entries: unknown }).entries, ev.entries, `${what}: entries`);
            assert.equal(o.meta!.groups.length, ev.groups.length, `${what}: groups`);
          } else {
            assert.ok(o.entries.length > 0);
          }
        } else if (exp.value !== undefined) {
          assert.deepEqual(value, exp.value, `${what}: value`);
        } else {
          assert.equal(digestOf(value), exp.digest, `${what}: digest`);
        }
        compared++;
      }
      const expectedCount = Object.values(expected).reduce((n, keys) => n + Object.keys(keys).length, 0);
      assert.equal(compared, expectedCount, 'every key on the server was decoded');
    } finally {
      await dump.server.stop();
    }
  });
}
