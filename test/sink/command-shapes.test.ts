/**
 * Commands the writer sends to targets this machine has no server for (Redis 7.4 hash field TTLs,
 * RedisJSON): checked on a recording RESP endpoint that answers +OK to everything.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RespReader, type RespValue } from '../../src/decode/resp/resp-reader.js';
import { StandaloneRouter } from '../../src/sink/router.js';
import { SnapshotWriter } from '../../src/sink/snapshot-writer.js';
import type { TargetInfo } from '../../src/sink/target-info.js';
import { RDB_TYPE_HASH_LISTPACK_EX, RDB_TYPE_HASH_WITH_EXPIRY, RDB_TYPE_JSON, type SnapshotEntry } from '../../src/entry/entry.js';

let server: net.Server;
let port: number;
const received: string[][] = [];

before(async () => {
  server = net.createServer((sock) => {
    const reader = new RespReader((v: RespValue) => {
      received.push((v as Buffer[]).map((b) => b.toString('latin1')));
      sock.write('+OK\r\n');
    });
    sock.on('data', (d) => reader.push(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const redis74: TargetInfo = { redisVersion: '7.4.1', rdbVersion: 12, clusterEnabled: false, modules: new Set(['rejson']), hasCommand: () => true };

function base(key: string, over: Partial<SnapshotEntry>): SnapshotEntry {
  return { kind: 'snapshot', db: 0, key: Buffer.from(key), expireAtMs: -1, isFirst: true, isLast: true, rdbVersion: 9, ...over } as SnapshotEntry;
}

test('hash with field TTLs: HSET of live fields, HPEXPIREAT per expiry, PEXPIREAT for the key; JSON.SET of the whole document', async () => {
  received.length = 0;
  const router = await StandaloneRouter.connect({ host: '127.0.0.1', port, tls: false, db: 0 });
  const w = new SnapshotWriter(router, redis74, { onExisting: 'replace', unsupported: 'fail', restoreMaxBytes: 1024, nowMs: () => 1000 });
  const b = (...s: string[]): Buffer[] => s.map((x) => Buffer.from(x));
  assert.equal(w.unsupportedReason(base('h', { valueKind: 'hash-ttl', rdbType: RDB_TYPE_HASH_WITH_EXPIRY, value: { fields: [], expireAtMs: [] } } as never)), undefined);
  w.write(base('h', {
    valueKind: 'hash-ttl', rdbType: RDB_TYPE_HASH_WITH_EXPIRY, expireAtMs: 9000,
    value: { fields: b('f1', 'v1', 'f2', 'v2', 'gone', 'x', 'f3', 'v3'), expireAtMs: [5000, -1, 999, 5000] },
  } as never));
  w.write(base('j', { valueKind: 'json', rdbType: RDB_TYPE_JSON, value: Buffer.from('{"a":'), isLast: false } as never));
  w.write(base('j', { valueKind: 'json', rdbType: RDB_TYPE_JSON, value: Buffer.from('[1,2]}'), isFirst: false } as never));
  // A Redis 7.4 listpack-with-TTL hash restores on a 7.4 target.
  w.write(base('r', { valueKind: 'hash-ttl', rdbType: RDB_TYPE_HASH_LISTPACK_EX, rdbValue: Buffer.from('xyz'), value: { fields: [], expireAtMs: [] } } as never));
  await w.flush();
  await router.close();
  assert.deepEqual(received.slice(0, 6), [
    ['DEL', 'h'],
    ['HSET', 'h', 'f1', 'v1', 'f2', 'v2', 'f3', 'v3'],
    ['HPEXPIREAT', 'h', '5000', 'FIELDS', '2', 'f1', 'f3'],
    ['PEXPIREAT', 'h', '9000'],
    ['DEL', 'j'],
    ['JSON.SET', 'j', '$', '{"a":[1,2]}'],
  ]);
  const restore = received[6]!;
  assert.deepEqual([restore[0], restore[1], restore[2], restore[4], restore[5]], ['RESTORE', 'r', '0', 'ABSTTL', 'REPLACE']);
  const payload = Buffer.from(restore[3]!, 'latin1');
  assert.equal(payload[0], RDB_TYPE_HASH_LISTPACK_EX);
  assert.equal(payload.subarray(1, 4).toString(), 'xyz');
  assert.equal(payload.readUInt16LE(4), 12);
});
