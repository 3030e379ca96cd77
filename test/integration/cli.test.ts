/**
 * The `df2redis` binary end to end, as a user runs it: help text, `demo`, error messages and exit
 * codes, and the unsupported-types policy against a real redis-server.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OPTIONS, OPTION_FLAGS, type MigrateOptionName } from '../../src/config/options.js';
import { redisCli, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { ReplayMaster } from '../helpers/replay-master.js';
import { rdbLength } from '../../src/decode/rdb/dump-payload.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/src/cli/main.js …args` and collects its exit code and output. */
function df2redis(...args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const rdbString = (s: string): Buffer => Buffer.concat([rdbLength(Buffer.byteLength(s)), Buffer.from(s)]);

/**
 * A Dragonfly-style RDB (version 9, CRC 0) holding two strings and one Dragonfly JSON object
 * (type 30, RDB_TYPE_JSON in Dragonfly src/server/rdb_extensions.h: the JSON text as an RDB string).
 */
function rdbWithJson(): Buffer {
  return Buffer.concat([
    Buffer.from('REDIS0009'),
    Buffer.from([0xfe, 0x00]), // SELECTDB 0
    Buffer.from([0x00]), rdbString('plain:a'), rdbString('1'),
    Buffer.from([30]), rdbString('doc:json'), rdbString('{"name":"df2redis","n":[1,2]}'),
    Buffer.from([0x00]), rdbString('plain:b'), rdbString('2'),
    Buffer.from([0xff]), Buffer.alloc(8), // EOF, checksum 0 = not checked
  ]);
}

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'df2redis-cli-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('--help of migrate lists every option, each optional one with its default', async () => {
  const { code, stdout } = await df2redis('migrate', '--help');
  assert.equal(code, 0);
  const flags = Object.values(OPTION_FLAGS);
  for (const [name, flag] of Object.entries(OPTION_FLAGS) as Array<[MigrateOptionName, string]>) {
    const at = stdout.indexOf(`${flag} `) >= 0 ? stdout.indexOf(`${flag} `) : stdout.indexOf(`${flag}\n`);
    assert.ok(at >= 0, `${flag} is missing from --help:\n${stdout}`);
    // This option's help runs until the next option (commander wraps long descriptions).
    const next = Math.min(...flags.map((f) => stdout.indexOf(`  ${f}`, at + flag.length)).filter((i) => i > 0), stdout.length);
    const text = stdout.slice(at, next).replace(/\s+/g, ' ');
    if (name === 'source' || name === 'target') {
      assert.match(text, /\(required\)/, `${flag} should say it is required: ${text}`);
    } else if (name === 'dbs') {
      assert.match(text, /\(default: every database\)/, `${flag} should say what it copies by default: ${text}`);
    } else {
      const def = DEFAULT_OPTIONS[name];
      const shown = typeof def === 'boolean' ? `(default: ${def})` : `(default: "${def}")`;
      assert.ok(text.includes(shown), `${flag} should show ${shown}: ${text}`);
    }
  }
});

test('--help of the program lists the commands', async () => {
  const { code, stdout } = await df2redis('--help');
  assert.equal(code, 0);
  assert.match(stdout, /^\s+migrate\b/m);
  assert.match(stdout, /^\s+demo\b/m);
});

test('demo replicates the bundled Dragonfly recording into a local redis-server, verifies every key and exits 0', async () => {
  const { code, stdout, stderr } = await df2redis('demo', '--progress', 'none');
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^flow 0: acknowledged lsn \d+/m);
  const verified = /^demo: verified, (\d+) keys equal the master's final state \(type, value and expiry\)/m.exec(stdout);
  // Every key of the recording Redis can hold (389), j:e2 (SET … EX 100, then PERSIST) included.
  assert.equal(Number(verified?.[1]), 389, stdout);
  assert.match(stdout, /its times moved [+-]\d+/);
  assert.doesNotMatch(stdout, /known difference/);
  const pid = Number(/pid (\d+)\)/.exec(stdout)?.[1]);
  assert.ok(pid > 0);
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the demo redis-server was stopped');
});

test('demo --rdb migrates the bundled RDB into a local redis-server and exits 0', async () => {
  const { code, stdout, stderr } = await df2redis('demo', '--rdb', '--progress', 'none');
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^migrated 20 of 20 keys/m);
  assert.match(stdout, /1 function library loaded/);
  assert.match(stdout, /^demo: verified, the target holds all 20 keys/m);
  const pid = Number(/pid (\d+)\)/.exec(stdout)?.[1]);
  assert.ok(pid > 0);
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the demo redis-server was stopped');
});

test('migrate with an unreachable --target fails with a clear message and no stack', async () => {
  const rdb = path.join(dir, 'json.rdb');
  writeFileSync(rdb, rdbWithJson());
  const { code, stderr, stdout } = await df2redis('migrate', '--source', rdb, '--target', 'redis://127.0.0.1:1', '--log-level', 'silent');
  assert.equal(code, 1, stderr);
  assert.equal(stdout, '');
  assert.match(stderr, /^df2redis: target connection to 127\.0\.0\.1:1: .*ECONNREFUSED/m);
  assert.doesNotMatch(stderr, /^\s+at /m);
});

test('migrate with a malformed --target or a missing --source is a usage error (exit 2)', async () => {
  const rdb = path.join(dir, 'json.rdb');
  writeFileSync(rdb, rdbWithJson());
  const bad = await df2redis('migrate', '--source', rdb, '--target', 'http://example.com');
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /^df2redis: --target/m);
  const missing = await df2redis('migrate', '--source', path.join(dir, 'nope.rdb'), '--target', 'redis://127.0.0.1:1');
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /^df2redis: --source .*nope\.rdb cannot be read: ENOENT/m);
  const policy = await df2redis('migrate', '--source', rdb, '--target', 'redis://127.0.0.1:1', '--on-existing', 'merge');
  assert.equal(policy.code, 2);
  assert.match(policy.stderr, /--on-existing must be one of replace, skip, fail; got "merge"/);
});

test('migrate refuses a cluster whose slots are not all served, naming the uncovered ranges, before writing anything', async () => {
  // One cluster-enabled node serving slots 0-5000 only: `INFO cluster` says cluster_enabled:1.
  const node = await startRedisServer({ config: { 'cluster-enabled': 'yes' } });
  try {
    await redisCli(node.port, 'CLUSTER', 'ADDSLOTSRANGE', '0', '5000');
    const rdb = path.join(dir, 'json.rdb');
    writeFileSync(rdb, rdbWithJson());
    const { code, stderr } = await df2redis('migrate', '--source', rdb, '--target', node.url, '--log-level', 'silent');
    assert.equal(code, 1, stderr);
    assert.match(stderr, /^df2redis: cluster: 11383 of 16384 slots are not served by any master \(5001-16383\)/m);
    assert.equal((await redisCli(node.port, 'DBSIZE')).trim(), '0');
  } finally {
    await node.stop();
  }
});

test('migrate --source redis://… runs a full sync of a Dragonfly master, then exits 0', async () => {
  // The replay master serves the recorded 'auth' session (a small one) byte for byte. At recorded
  // speed its stable-sync bytes come after the recorded gap, by when migrate has closed its flows:
  // at full speed the replay master writes into the closed sockets (unhandled EPIPE in the helper).
  const master = await ReplayMaster.start('auth', { speed: 'recorded' });
  const target = await startRedisServer();
  try {
    const { code, stdout, stderr } = await df2redis(
      'migrate', '--source', master.url, '--target', target.url, '--unsupported', 'skip', '--progress', 'none', '--log-level', 'silent',
    );
    assert.equal(code, 0, stderr);
    const written = Number(/^migrated (\d+) of \d+ keys \(/.exec(stdout)?.[1]);
    assert.ok(written > 0, stdout);
    assert.equal((await redisCli(target.port, 'DBSIZE')).trim(), String(written));
    assert.deepEqual(master.violations, []);
  } finally {
    await master.close();
    await target.stop();
  }
});

test('migrate --source with an unreachable Dragonfly fails naming the source connection', async () => {
  const target = await startRedisServer();
  try {
    const { code, stderr } = await df2redis('migrate', '--source', 'redis://127.0.0.1:1', '--target', target.url, '--log-level', 'silent');
    assert.equal(code, 1, stderr);
    assert.match(stderr, /^df2redis: .*127\.0\.0\.1:1.*ECONNREFUSED/m);
    assert.doesNotMatch(stderr, /cannot be read/);
  } finally {
    await target.stop();
  }
});

describe('unsupported types (Dragonfly JSON into a Redis without RedisJSON)', () => {
  let server: RedisServer;
  let rdb: string;
  before(async () => {
    server = await startRedisServer();
    rdb = path.join(dir, 'json.rdb');
    writeFileSync(rdb, rdbWithJson());
  });
  after(() => server.stop());
  beforeEach(() => redisCli(server.port, 'FLUSHALL'));

  test('by default the job fails listing the key before writing anything', async () => {
    const { code, stderr, stdout } = await df2redis('migrate', '--source', rdb, '--target', server.url, '--log-level', 'silent');
    assert.equal(code, 3, stderr);
    assert.equal(stdout, '');
    assert.match(stderr, /cannot hold 1 key\(s\)/);
    assert.match(stderr, /db 0 "doc:json" \(json\)/);
    assert.match(stderr, /--unsupported skip/);
    assert.equal((await redisCli(server.port, 'DBSIZE')).trim(), '0', 'nothing was written');
  });

  test('--unsupported skip writes the rest and reports the skipped count', async () => {
    const { code, stderr, stdout } = await df2redis(
      'migrate', '--source', rdb, '--target', server.url, '--unsupported', 'skip', '--progress', 'none', '--log-level', 'silent',
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^migrated 2 of 3 keys/m);
    assert.match(stdout, /1 unsupported/);
    assert.equal((await redisCli(server.port, 'DBSIZE')).trim(), '2');
    assert.equal((await redisCli(server.port, 'GET', 'plain:b')).trim(), '2');
    assert.equal((await redisCli(server.port, 'EXISTS', 'doc:json')).trim(), '0');
  });

  test('--on-existing fail: an existing key is a non-zero exit naming the key; the target keeps its value', async () => {
    await redisCli(server.port, 'SET', 'plain:a', 'mine');
    const { code, stderr, stdout } = await df2redis(
      'migrate', '--source', rdb, '--target', server.url, '--unsupported', 'skip', '--on-existing', 'fail', '--log-level', 'silent',
    );
    assert.equal(code, 1, stderr);
    assert.equal(stdout, '');
    assert.match(stderr, /^df2redis: target refused \w+ for key "plain:a": BUSYKEY/m);
    assert.equal((await redisCli(server.port, 'GET', 'plain:a')).trim(), 'mine');
  });

  test('an unsupported object spanning several pre-scan reads is named exactly (its read buffers are not reused under it)', async () => {
    // 1.5 MiB of strings, then a JSON object of 3.5 MiB: its key is read in one 1 MiB pre-scan
    // chunk and the object ends three chunks later; the strings around it are whole records.
    const strings = (from: number, n: number): Buffer[] =>
      Array.from({ length: n }, (_, i) => Buffer.concat([Buffer.from([0x00]), rdbString(`s:${from + i}`), rdbString('v'.repeat(100))]));
    const key = `doc:big:${'0123456789abcdef'.repeat(4)}`;
    const big = path.join(dir, 'big-json.rdb');
    writeFileSync(
      big,
      Buffer.concat([
        Buffer.from('REDIS0009'),
        Buffer.from([0xfe, 0x00]),
        ...strings(0, 14_000),
        Buffer.from([30]), rdbString(key), rdbString(JSON.stringify({ text: 'x'.repeat(3_500_000) })),
        ...strings(14_000, 1000),
        Buffer.from([0xff]), Buffer.alloc(8),
      ]),
    );
    const { code, stderr } = await df2redis('migrate', '--source', big, '--target', server.url, '--log-level', 'silent');
    assert.equal(code, 3, stderr);
    assert.ok(stderr.includes(`db 0 "${key}" (json)`), stderr);
    assert.equal((await redisCli(server.port, 'DBSIZE')).trim(), '0', 'nothing was written');
  });

  test('a truncated file fails in the pre-scan, before anything is written', async () => {
    const cut = path.join(dir, 'cut.rdb');
    const full = rdbWithJson();
    writeFileSync(cut, full.subarray(0, full.length - 20));
    const { code, stderr } = await df2redis('migrate', '--source', cut, '--target', server.url, '--unsupported', 'skip', '--log-level', 'silent');
    assert.equal(code, 1, stderr);
    assert.match(stderr, /^df2redis: rdb truncated/m);
    assert.equal((await redisCli(server.port, 'DBSIZE')).trim(), '0');
  });
});
