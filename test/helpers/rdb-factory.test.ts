import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildDump, ENCODING_PROFILES, writeSetCommandsFile, redisCliPipe, FIXED_PEXPIREAT } from './rdb-factory.js';
import { startRedisServer, redisCli } from './redis-server.js';

const profile = (name: string) => ENCODING_PROFILES.find((p) => p.name === name)!;
const small = { bigElements: 2000, bigStringBytes: 100_000 };

async function encodings(port: number, keys: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const k of keys) out[k] = (await redisCli(port, 'OBJECT', 'ENCODING', k)).trim();
  return out;
}

test('default profile: small collections compact, medium ones not; a real RDB 10 dump with every db', async () => {
  const dump = await buildDump(profile('default'), small);
  try {
    const head = readFileSync(dump.path).subarray(0, 9).toString('latin1');
    assert.equal(head, 'REDIS0010'); // Redis 7.0 writes RDB version 10
    assert.equal(path.dirname(dump.path), dump.server.dir);
    assert.deepEqual(await encodings(dump.server.port, ['hash:small', 'hash:medium', 'zset:small', 'zset:medium', 'set:int:small', 'set:int:medium', 'list:small', 'str:int:small', 'str:lzf']), {
      'hash:small': 'listpack', 'hash:medium': 'hashtable', 'zset:small': 'listpack', 'zset:medium': 'skiplist',
      'set:int:small': 'intset', 'set:int:medium': 'hashtable', 'list:small': 'quicklist', 'str:int:small': 'int', 'str:lzf': 'raw',
    });
    assert.match(await redisCli(dump.server.port, 'INFO', 'keyspace'), /db0:keys=\d+.*\r\ndb1:keys=\d+.*\r\ndb15:keys=2,/s);
    assert.equal((await redisCli(dump.server.port, 'PEXPIRETIME', 'str:ttl')).trim(), String(FIXED_PEXPIREAT));
    assert.equal((await redisCli(dump.server.port, 'STRLEN', 'str:big')).trim(), '100000');
    assert.equal((await redisCli(dump.server.port, 'LLEN', 'list:big')).trim(), '2000');
    const pending = await redisCli(dump.server.port, 'XPENDING', 'stream:main', 'g1');
    assert.match(pending, /^13\n/); // 10 + 5 delivered, 2 acked
    assert.match(await redisCli(dump.server.port, 'FUNCTION', 'LIST'), /df2redis_test/);
    assert.deepEqual(dump.skippedConfig, []);
  } finally {
    await dump.server.stop();
  }
});

test('listpack profile: 5000-element collections stay listpack/intset; 7.0 skips set-max-listpack-*', async () => {
  const dump = await buildDump(profile('listpack'), { bigElements: 0, bigStringBytes: 0 });
  try {
    assert.deepEqual(await encodings(dump.server.port, ['hash:medium', 'zset:medium', 'set:int:medium', 'list:big']), {
      'hash:medium': 'listpack', 'zset:medium': 'listpack', 'set:int:medium': 'intset', 'list:big': '',
    });
    const version = (await redisCli(dump.server.port, 'INFO', 'server')).match(/redis_version:(\d+)\.(\d+)/)!;
    if (Number(version[1]) === 7 && Number(version[2]) < 2) assert.deepEqual(dump.skippedConfig, ['set-max-listpack-entries', 'set-max-listpack-value']);
    assert.equal(dump.bigListKey, undefined);
  } finally {
    await dump.server.stop();
  }
});

test('hashtable profile: nothing compact, no checksum (CRC 0)', async () => {
  const dump = await buildDump(profile('hashtable'), small);
  try {
    assert.deepEqual(await encodings(dump.server.port, ['hash:small', 'zset:small', 'set:int:small', 'set:mixed:small']), {
      'hash:small': 'hashtable', 'zset:small': 'skiplist', 'set:int:small': 'hashtable', 'set:mixed:small': 'hashtable',
    });
    const bytes = readFileSync(dump.path);
    assert.equal(bytes.readBigUInt64LE(bytes.length - 8), 0n);
    assert.equal(bytes[bytes.length - 9], 0xff); // RDB_OPCODE_EOF
  } finally {
    await dump.server.stop();
  }
});

test('writeSetCommandsFile + redisCliPipe load N SETs of the given size', async () => {
  const file = await writeSetCommandsFile({ count: 5000, valueBytes: 100 });
  const srv = await startRedisServer();
  try {
    const { summary } = await redisCliPipe(srv.port, file);
    assert.equal(summary, 'errors: 0, replies: 5000');
    assert.equal((await redisCli(srv.port, 'DBSIZE')).trim(), '5000');
    assert.equal((await redisCli(srv.port, 'STRLEN', 'key:0000004999')).trim(), '100');
  } finally {
    await srv.stop();
    rmSync(path.dirname(file), { recursive: true, force: true });
  }
});
