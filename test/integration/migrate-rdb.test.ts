/**
 * End to end: `df2redis migrate --source dump.rdb --target redis://…` with dumps made by the real
 * redis-server for each encoding profile (test/helpers/rdb-factory.ts), into a second real
 * redis-server; then the whole keyspace must be equal (DEBUG DIGEST, every key's type, value and
 * TTL, stream pending entries, function libraries). And corrupt dumps (truncated, flipped bytes,
 * wrong CRC) must fail with a message naming the byte offset, leaving no key half-written.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer, redisCli, type RedisServer } from '../helpers/redis-server.js';
import { buildDump, ENCODING_PROFILES, type RdbDump } from '../helpers/rdb-factory.js';
import { readState, compareState, describeKey } from '../helpers/expected.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/src/cli/main.js migrate --source … --target … --progress none [extra…]`. */
function migrate(source: string, target: RedisServer, ...extra: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'migrate', '--source', source, '--target', target.url, '--progress', 'none', ...extra],
      { timeout: 180_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function explain(r: CliResult): string {
  return `exit ${r.code}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-4000)}`;
}

async function flushTarget(t: RedisServer): Promise<void> {
  await redisCli(t.port, 'FLUSHALL');
  await redisCli(t.port, 'FUNCTION', 'FLUSH');
}

async function debugDigest(port: number): Promise<string> {
  const out = (await redisCli(port, 'DEBUG', 'DIGEST')).trim();
  assert.match(out, /^[0-9a-f]{40}$/, `DEBUG DIGEST: ${out}`);
  return out;
}

async function keyCount(port: number): Promise<number> {
  const info = await redisCli(port, 'INFO', 'keyspace');
  return [...info.matchAll(/keys=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

/** Per stream: each group's pending entries (id, consumer, delivery count) and its consumers' names and pending counts. */
async function streamGroups(port: number, db: number, key: string): Promise<string> {
  const out: string[] = [];
  const groups = (await redisCli(port, '-n', String(db), 'XINFO', 'GROUPS', key)).trim().split('\n');
  for (let j = 0; j < groups.length; j++) {
    if (groups[j] !== 'name') continue;
    const g = groups[j + 1]!;
    // XPENDING extended: id, consumer, idle ms (differs, dropped), delivery count.
    const pending = await redisCli(port, '-n', String(db), 'XPENDING', key, g, '-', '+', '1000');
    const lines = pending.trim().split('\n');
    for (let i = 0; i + 3 < lines.length; i += 4) out.push(`${g} ${lines[i]} ${lines[i + 1]} ${lines[i + 3]}`);
    const consumers = await redisCli(port, '-n', String(db), 'XINFO', 'CONSUMERS', key, g);
    const c = consumers.trim().split('\n');
    for (let i = 0; i < c.length; i++) if (c[i] === 'name') out.push(`${g} consumer ${c[i + 1]} pending ${c[i + 3]}`);
  }
  return out.join('\n');
}

async function functionList(port: number): Promise<string> {
  return redisCli(port, 'FUNCTION', 'LIST', 'WITHCODE');
}

let target: RedisServer;

before(async () => {
  target = await startRedisServer({ config: { 'enable-debug-command': 'yes' } });
});
after(async () => {
  await target?.stop();
});

for (const profile of ENCODING_PROFILES) {
  describe(`migrate ${profile.name} dump`, () => {
    let dump: RdbDump;
    before(async () => {
      // 100 K elements per big collection (not the factory's 300 K): every big value keeps the
      // encoding it has at 300 K (quicklist, hashtable, skiplist) and stays well above
      // `--restore-max-bytes` (512 KiB; the smallest, list:big, DUMPs to ~750 KB), so it is still
      // rewritten into many bounded commands and read across many 256 KiB file chunks.
      dump = await buildDump(profile, { bigElements: 100_000 });
    });
    after(async () => {
      await dump?.server.stop();
    });

    // Commands only (every value rewritten from its decoded elements) for the profiles whose
    // encodings decode the most differently (ziplist/listpack + LZF, quicklist nodes compressed);
    // listpack and hashtable decoding are covered key by key by test/decode (the suite's time budget).
    const modes = [{ name: 'default (RESTORE for small values)', args: [] as string[] }];
    if (profile.name === 'default' || profile.name === 'compressed-lists') modes.push({ name: 'commands only (--restore-max-bytes 0)', args: ['--restore-max-bytes', '0'] });
    for (const mode of modes) {
      test(mode.name, { timeout: 240_000 }, async () => {
        await flushTarget(target);
        const r = await migrate(dump.path, target, ...mode.args);
        assert.equal(r.code, 0, explain(r));
        const total = await keyCount(dump.server.port);
        const m = /migrated (\d+) of (\d+) keys/.exec(r.stdout);
        assert.ok(m, `no summary on stdout:\n${explain(r)}`);
        assert.equal(Number(m[1]), total);
        assert.equal(Number(m[2]), total);

        assert.equal(await keyCount(target.port), total);
        const [actualDigest, expectedDigest] = await Promise.all([debugDigest(target.port), debugDigest(dump.server.port)]);
        assert.equal(actualDigest, expectedDigest, 'DEBUG DIGEST differs');

        const [expected, actual] = await Promise.all([readState(dump.server.port), readState(target.port)]);
        assert.deepEqual(Object.keys(actual).sort(), ['0', '1', '15']);
        const diffs = compareState(actual, expected, { ttlToleranceMs: 2000 });
        assert.deepEqual(diffs, [], diffs.slice(0, 30).join('\n'));
        // Fixed absolute expiries survive exactly (PEXPIREAT end to end, DESIGN.md invariant 5).
        assert.equal((await redisCli(target.port, 'PEXPIRETIME', 'str:ttl')).trim(), (await redisCli(dump.server.port, 'PEXPIRETIME', 'str:ttl')).trim());
        assert.equal((await redisCli(target.port, 'PEXPIRETIME', 'hash:big')).trim(), (await redisCli(dump.server.port, 'PEXPIRETIME', 'hash:big')).trim());

        for (const [db, key] of [[0, 'stream:main'], [0, 'stream:empty-with-group'], [0, 'stream:all-deleted'], [1, 'db1:stream']] as const) {
          const want = await streamGroups(dump.server.port, db, key);
          assert.equal(await streamGroups(target.port, db, key), want, `stream groups of ${key}`);
        }
        assert.match(await streamGroups(target.port, 0, 'stream:main'), /carol/);
        assert.equal(await functionList(target.port), await functionList(dump.server.port));
      });
    }
  });
}

describe('migrate rejects corrupt dumps', () => {
  let dump: RdbDump;
  let dir: string;
  let original: Buffer;
  /** Offset of the type byte of `list:big` (RDB_TYPE_LIST_QUICKLIST_2 = 18, then the key `\x08list:big`). */
  let bigListAt: number;
  /** Offset just past the end of `list:big`'s value: where the next object's type byte starts. */
  let afterBigList: number;
  let sourceState: Awaited<ReturnType<typeof readState>>;

  before(async () => {
    dump = await buildDump(ENCODING_PROFILES.find((p) => p.name === 'default')!);
    dir = mkdtempSync(path.join(tmpdir(), 'df2redis-corrupt-'));
    original = readFileSync(dump.path);
    bigListAt = original.indexOf(Buffer.from('\x12\x08list:big', 'latin1'));
    assert.ok(bigListAt > 0, 'list:big not found in the dump');
    // The end of list:big's value: the nearest following object header (a known printable key,
    // length-prefixed and never compressed, behind its type byte) or SELECTDB (0xFE) of the next db
    // followed by RESIZEDB (0xFB).
    const keys = (await redisCli(dump.server.port, '--scan')).trim().split('\n').filter((k) => /^[\x21-\x7e]+$/.test(k) && k !== 'list:big');
    const candidates = [original.indexOf(Buffer.from([0xfe, 0x01, 0xfb]), bigListAt + 10)];
    for (const k of keys) candidates.push(original.indexOf(Buffer.concat([Buffer.from([k.length]), Buffer.from(k, 'latin1')]), bigListAt + 10) - 1);
    afterBigList = Math.min(...candidates.filter((c) => c > bigListAt));
    assert.ok(afterBigList - bigListAt > 1_000_000, `list:big spans ${afterBigList - bigListAt} bytes, expected > 1 MB`);
    sourceState = await readState(dump.server.port);
  });
  after(async () => {
    await dump?.server.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Every key on the target must be whole: identical to the source (no partial value anywhere). */
  async function assertNothingHalfWritten(): Promise<void> {
    const actual = await readState(target.port);
    for (const [db, keys] of Object.entries(actual)) {
      for (const [k, v] of Object.entries(keys)) {
        const want = sourceState[db]?.[k];
        assert.ok(want, `db ${db} key ${describeKey(k)} on the target is not in the source`);
        assert.equal(v.type, want.type);
        assert.equal(v.digest, want.digest, `db ${db} key ${describeKey(k)} is half-written`);
      }
    }
    const llen = Number((await redisCli(target.port, 'LLEN', 'list:big')).trim());
    assert.ok(llen === 0 || llen === 300_000, `list:big has ${llen} elements: half-written`);
  }

  async function runCorrupt(name: string, bytes: Buffer): Promise<{ r: CliResult; offset: number | undefined }> {
    const file = path.join(dir, `${name}.rdb`);
    writeFileSync(file, bytes);
    await flushTarget(target);
    const r = await migrate(file, target);
    assert.notEqual(r.code, 0, `${name}: exit 0 on a corrupt dump\n${explain(r)}`);
    assert.ok(r.code !== 70, `${name}: internal error instead of a typed error\n${explain(r)}`);
    const m = /at byte (\d+)/.exec(r.stderr);
    return { r, offset: m ? Number(m[1]) : undefined };
  }

  const truncations: Array<[string, (n: number) => number]> = [
    ['inside the magic', () => 5],
    ['inside the aux fields', () => 30],
    ['at the type byte of list:big', () => bigListAt + 1],
    ['inside list:big (1 MB in)', () => bigListAt + 1_000_000],
    ['right after list:big', () => afterBigList],
    ['before the EOF opcode', (n) => n - 9],
    ['inside the CRC', (n) => n - 3],
  ];
  for (const [what, at] of truncations) {
    test(`truncated ${what}: non-zero exit naming a byte offset within the file, nothing half-written`, { timeout: 120_000 }, async () => {
      const len = at(original.length);
      const { r, offset } = await runCorrupt(`trunc-${len}`, original.subarray(0, len));
      assert.match(r.stderr, /truncat|unexpected end|eof/i, explain(r));
      assert.ok(offset !== undefined, `no "at byte N" in stderr:\n${explain(r)}`);
      assert.ok(offset <= len, `offset ${offset} is past the truncated length ${len}`);
      await assertNothingHalfWritten();
    });
  }

  test('unknown type byte on list:big: error names that offset; list:big absent or whole', { timeout: 120_000 }, async () => {
    const bad = Buffer.from(original);
    bad[bigListAt] = 0x63; // no RDB type 99
    const { r, offset } = await runCorrupt('bad-type', bad);
    assert.ok(offset !== undefined, `no "at byte N" in stderr:\n${explain(r)}`);
    assert.ok(Math.abs(offset - bigListAt) <= 16, `offset ${offset}, corrupted byte at ${bigListAt}\n${explain(r)}`);
    await assertNothingHalfWritten();
  });

  test('flipped byte inside a listpack node header of list:big: non-zero exit, list:big absent or whole', { timeout: 120_000 }, async () => {
    // After type (1) + key (9) + node count (len-encoded) + container (1) + node length (len-encoded)
    // come the node bytes, which start with the listpack total-bytes u32: break that.
    const bad = Buffer.from(original);
    const nodeStart = bigListAt + 1 + 9;
    for (let i = nodeStart; i < nodeStart + 16; i++) bad[i] ^= 0xff;
    const { r } = await runCorrupt('bad-node', bad);
    assert.match(r.stderr, /at byte \d+/, explain(r));
    await assertNothingHalfWritten();
  });

  test('wrong CRC: non-zero exit, message names the checksum', { timeout: 120_000 }, async () => {
    const bad = Buffer.from(original);
    bad[bad.length - 1] ^= 0x01;
    const { r } = await runCorrupt('bad-crc', bad);
    assert.match(r.stderr, /checksum|crc/i, explain(r));
    assert.match(r.stderr, /at byte \d+/, explain(r));
  });

  test('flipped byte inside a string value (only the CRC can tell): non-zero exit', { timeout: 120_000 }, async () => {
    const at = original.indexOf(Buffer.from('str:random-64k'));
    assert.ok(at > 0);
    const bad = Buffer.from(original);
    bad[at + 14 + 5 + 1000] ^= 0x55; // past the key, the value's 5-byte length (RDB_32BITLEN), 1000 bytes into the value
    const { r } = await runCorrupt('bad-value', bad);
    assert.match(r.stderr, /checksum|crc/i, explain(r));
  });
});

describe('migrate onto keys that already exist on the target', () => {
  let dump: RdbDump;
  let source: Awaited<ReturnType<typeof readState>>;
  const existing = ['str:int:small', 'list:medium', 'hash:small'];

  before(async () => {
    dump = await buildDump(ENCODING_PROFILES.find((p) => p.name === 'default')!, { bigElements: 0, bigStringBytes: 0 });
    source = await readState(dump.server.port);
  });
  after(async () => {
    await dump?.server.stop();
  });

  /** Fresh target holding three keys of the dump with other values (one of another type). */
  async function preset(): Promise<void> {
    await flushTarget(target);
    await redisCli(target.port, 'SET', 'str:int:small', 'target-value');
    await redisCli(target.port, 'SET', 'list:medium', 'not-a-list');
    await redisCli(target.port, 'HSET', 'hash:small', 'only-on-target', 'x');
  }

  async function assertPresetUntouched(): Promise<void> {
    assert.equal((await redisCli(target.port, 'GET', 'str:int:small')).trim(), 'target-value');
    assert.equal((await redisCli(target.port, 'GET', 'list:medium')).trim(), 'not-a-list');
    assert.equal(await redisCli(target.port, 'HGETALL', 'hash:small'), 'only-on-target\nx\n');
  }

  test('--on-existing replace (default): the target ends equal to the source', { timeout: 120_000 }, async () => {
    await preset();
    const r = await migrate(dump.path, target);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(compareState(await readState(target.port), source, { ttlToleranceMs: 2000 }), []);
  });

  for (const restoreArgs of [[], ['--restore-max-bytes', '0']]) {
    test(`--on-existing skip ${restoreArgs.join(' ')}: existing keys kept and counted, the rest copied, no temporary keys left`, { timeout: 120_000 }, async () => {
      await preset();
      const r = await migrate(dump.path, target, '--on-existing', 'skip', ...restoreArgs);
      assert.equal(r.code, 0, explain(r));
      assert.match(r.stdout, /\b3 existing\b/, explain(r));
      await assertPresetUntouched();
      assert.deepEqual(compareState(await readState(target.port), source, { ttlToleranceMs: 2000, ignoreKeys: existing }), []);
    });

    test(`--on-existing fail ${restoreArgs.join(' ')}: non-zero exit naming an existing key, existing keys untouched`, { timeout: 120_000 }, async () => {
      await preset();
      const r = await migrate(dump.path, target, '--on-existing', 'fail', ...restoreArgs);
      assert.notEqual(r.code, 0, explain(r));
      assert.notEqual(r.code, 70, explain(r));
      assert.match(r.stderr, /str:int:small|list:medium|hash:small/, explain(r));
      await assertPresetUntouched();
    });
  }
});
