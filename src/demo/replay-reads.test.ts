import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SnapshotEntry } from '../entry/entry.js';
import { decodeDumpPayload } from '../decode/rdb/dump-payload.js';
import { RespReader, type RespValue } from '../decode/resp/resp-reader.js';
import type { ExpectedState } from './recording.js';
import { dumpPayload, replayRead } from './replay-reads.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const expected: ExpectedState = {
  '1': {
    [b64('s')]: { type: 'string', pexpireat: 1_900_000_000_123, value: b64('v') },
    [b64('l')]: { type: 'list', pexpireat: -1, value: [b64('a'), b64('b')] },
    [b64('h')]: { type: 'hash', pexpireat: -1, value: [[b64('f'), b64('x')]] },
    [b64('z')]: { type: 'zset', pexpireat: -1, value: [[b64('m'), '1.5'], [b64('n'), '-inf']] },
    [b64('st')]: { type: 'stream', pexpireat: -1, digest: 'abc' },
  },
};

function parse(b: Buffer): RespValue {
  let v: RespValue = null;
  new RespReader((x) => (v = x)).push(b);
  return v;
}

function decode(payload: Buffer): SnapshotEntry[] {
  const out: SnapshotEntry[] = [];
  decodeDumpPayload(payload, Buffer.from('k'), 1, -1, (e) => out.push(e));
  return out;
}

test('replay reads: DUMP payloads of the recorded values decode back to them (CRC checked)', () => {
  const one = (k: string): SnapshotEntry => decode(dumpPayload(expected['1']![b64(k)]!)!)[0]!;
  assert.equal((one('s').value as Buffer).toString(), 'v');
  assert.deepEqual((one('l').value as Buffer[]).map(String), ['a', 'b']);
  assert.deepEqual((one('h').value as Buffer[]).map(String), ['f', 'x']);
  const z = one('z').value as { members: Buffer[]; scores: number[] };
  assert.deepEqual([z.members.map(String), z.scores], [['m', 'n'], [1.5, -Infinity]]);
  assert.equal(dumpPayload(expected['1']![b64('st')]!), undefined, 'no value recorded');
});

test('replay reads: MULTI + DUMP + PEXPIRETIME + EXEC in the selected db, offsets past every LSN, missing key', () => {
  const conn = {};
  const ask = (...args: string[]): RespValue => parse(replayRead(expected, args, '1', conn, 3)!);
  assert.deepEqual(ask('DFLY', 'REPLICAOFFSET'), [2n ** 63n - 1n, 2n ** 63n - 1n, 2n ** 63n - 1n], 'INT64_MAX per shard (bigint beyond 2^53)');
  assert.equal(ask('MULTI'), 'OK');
  assert.equal(ask('DUMP', 's'), 'QUEUED');
  assert.equal(ask('PEXPIRETIME', 's'), 'QUEUED');
  const [payload, exp] = ask('EXEC') as [Buffer, number];
  assert.equal((decode(payload)[0]!.value as Buffer).toString(), 'v');
  assert.equal(Number(exp), 1_900_000_000_123);
  assert.equal(parse(replayRead(expected, ['DUMP', 's'], '0', conn, 3)!), null, 'db 0 has no s');
  assert.equal(Number(parse(replayRead(expected, ['PEXPIRETIME', 's'], '0', conn, 3)!)), -2);
  assert.equal(replayRead(expected, ['GET', 's'], '1', conn, 3), undefined, 'not a read this file serves');
});
