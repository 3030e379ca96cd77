/**
 * The replay master's answers to a replicator's read-back of a key (src/pipeline/read-back.ts):
 * `DFLY REPLICAOFFSET`, `MULTI`, `DUMP`, `PEXPIRETIME`, `EXEC`, served from the recording's final
 * state (`expected.json.gz`).
 *
 * That state holds the effect of every record of the recording, so the journal offsets answered
 * are past any LSN the recording holds (INT64_MAX per shard): every later record of a key read back
 * is already in its value, and the replicator skips them all — which is exact for a final state.
 *
 * DUMP payloads are written here as Dragonfly writes them (`RdbSerializer::DumpValue`): type byte
 * + value + LE16 RDB version 9 + LE64 CRC64 (reference §6.2), with the plain RDB encodings every
 * decoder reads (string 0, list 1, set 2, zset 5, hash 4). Keys whose value the recording did not
 * keep (big values, streams, module types) are answered with an error reply naming the key.
 */
import { Crc64 } from '../decode/rdb/crc64.js';
import { rdbLength } from '../decode/rdb/dump-payload.js';
import type { ExpectedKey, ExpectedState } from './recording.js';
import { respError, respSimple } from './command-reader.js';

/** Commands queued by `MULTI`, per connection (keyed by any object unique to the connection). */
const queued = new WeakMap<object, Buffer[]>();

const OFFSET_PAST_END = '9223372036854775807';

/**
 * The reply to `args` (`args[0]` upper-cased by the caller in `cmd`) on the connection `conn` whose
 * selected database is `selectedDb`, or undefined when it is not a read this file serves.
 * `numShards`: the recording's flow count (the length of `DFLY REPLICAOFFSET`'s array).
 */
export function replayRead(expected: ExpectedState, args: string[], selectedDb: string, conn: object, numShards: number): Buffer | undefined {
  const cmd = (args[0] ?? '').toUpperCase();
  if (cmd === 'DFLY' && args[1]?.toUpperCase() === 'REPLICAOFFSET') {
    return Buffer.from(`*${numShards}\r\n${`:${OFFSET_PAST_END}\r\n`.repeat(numShards)}`);
  }
  const inMulti = queued.get(conn);
  if (cmd === 'MULTI') {
    if (inMulti !== undefined) return respError('ERR MULTI calls can not be nested');
    queued.set(conn, []);
    return respSimple('OK');
  }
  if (cmd === 'EXEC') {
    if (inMulti === undefined) return respError('ERR EXEC without MULTI');
    queued.delete(conn);
    return Buffer.concat([Buffer.from(`*${inMulti.length}\r\n`), ...inMulti]);
  }
  if ((cmd !== 'DUMP' && cmd !== 'PEXPIRETIME') || args[1] === undefined) return undefined;
  const k = expected[selectedDb]?.[Buffer.from(args[1], 'latin1').toString('base64')];
  let reply: Buffer;
  if (cmd === 'PEXPIRETIME') reply = Buffer.from(`:${k === undefined ? -2 : k.pexpireat < 0 ? -1 : k.pexpireat}\r\n`);
  else if (k === undefined) reply = Buffer.from('$-1\r\n');
  else {
    const payload = dumpPayload(k);
    reply = payload === undefined ? respError(`ERR replay master: no value recorded for ${args[1]} (${k.type})`) : bulk(payload);
  }
  if (inMulti === undefined) return reply;
  inMulti.push(reply);
  return respSimple('QUEUED');
}

/** Dragonfly-style DUMP payload of a recorded value, or undefined when the recording did not keep it. */
export function dumpPayload(k: ExpectedKey): Buffer | undefined {
  const v = k.value as unknown;
  const str = (b64: string): Buffer => {
    const b = Buffer.from(b64, 'base64');
    return Buffer.concat([rdbLength(b.length), b]);
  };
  let body: Buffer[];
  if (k.type === 'string' && typeof v === 'string') body = [Buffer.from([0]), str(v)];
  else if ((k.type === 'list' || k.type === 'set') && Array.isArray(v)) {
    body = [Buffer.from([k.type === 'list' ? 1 : 2]), rdbLength(v.length), ...(v as string[]).map(str)];
  } else if (k.type === 'hash' && Array.isArray(v)) {
    body = [Buffer.from([4]), rdbLength(v.length), ...(v as string[][]).flatMap(([f, x]) => [str(f!), str(x!)])];
  } else if (k.type === 'zset' && Array.isArray(v)) {
    body = [Buffer.from([5]), rdbLength(v.length)];
    for (const [m, score] of v as string[][]) {
      const d = Buffer.alloc(8);
      d.writeDoubleLE(Number(score!.replace(/^(-?)inf$/, '$1Infinity')));
      body.push(str(m!), d);
    }
  } else return undefined;
  const version = Buffer.from([9, 0]);
  const head = Buffer.concat([...body, version]);
  const crc = new Crc64().update(head);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc.lo, 0);
  trailer.writeUInt32LE(crc.hi, 4);
  return Buffer.concat([head, trailer]);
}

function bulk(b: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')]);
}
