/**
 * The fake master's framing equals the recordings byte for byte for everything it shares with a
 * real v1.40.1 master: handshake replies, FLOW replies, RDB header + AUX, the flow tail, and the
 * journal records (decoded recorded journals re-encode to the identical bytes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import {
  FakeMaster,
  capaDragonflyReply,
  flowReply,
  flowTail,
  journalCommand,
  journalLsn,
  journalPing,
  rdbHeader,
} from '../helpers/fake-master.js';
import { loadRecordedSession, recordedFlowReply } from '../helpers/replay-master.js';
import { SESSIONS } from '../helpers/recording.js';
import { JournalDecoder } from '../../src/decode/journal/journal-decoder.js';

const CAPA = /\*5\r\n\+([0-9a-f]{40})\r\n\+(SYNC\d+)\r\n:(\d+)\r\n:(\d+)\r\n\+([0-9a-f]{40})\r\n/;

/** Reads the AUX records after `REDIS0009` (RSTR: plain or int-encoded) and where they end. */
function readAux(b: Buffer, p: number): { aux: Array<[string, string]>; end: number } {
  const aux: Array<[string, string]> = [];
  const rstr = (): string => {
    const first = b[p]!;
    if (first === 0xc0) return (p += 2), String(b.readInt8(p - 1));
    if (first === 0xc1) return (p += 3), String(b.readInt16LE(p - 2));
    if (first === 0xc2) return (p += 5), String(b.readInt32LE(p - 4));
    let len: number;
    if (first >> 6 === 0) (len = first), (p += 1);
    else if (first >> 6 === 1) (len = ((first & 0x3f) << 8) | b[p + 1]!), (p += 2);
    else throw new Error(`unexpected RSTR 0x${first.toString(16)}`);
    p += len;
    return b.toString('latin1', p - len, p);
  };
  while (b[p] === 0xfa) {
    p++;
    const k = rstr();
    aux.push([k, rstr()]);
  }
  return { aux, end: p };
}

test('capa and FLOW replies equal the recorded ones', () => {
  for (const name of SESSIONS) {
    for (const c of loadRecordedSession(name)) {
      if (c.flowId === undefined) {
        const m = CAPA.exec(c.masterBytes.toString('latin1'))!;
        assert.ok(m, `${name} ${c.file}`);
        const built = capaDragonflyReply({ replid: m[1]!, syncId: m[2]!, numFlows: Number(m[3]), version: Number(m[4]), lineage: m[5]! });
        assert.ok(built.equals(Buffer.from(m[0], 'latin1')));
        assert.equal(m[4], '5');
        assert.equal(m[5], m[1]);
      } else {
        const fr = recordedFlowReply(c.masterBytes);
        assert.ok(flowReply(fr.kind, fr.token).equals(c.masterBytes.subarray(fr.start, fr.end)), `${name} ${c.file}`);
      }
    }
  }
});

test('RDB header + AUX and the flow tail equal the recorded bytes', () => {
  let tails = 0;
  for (const name of SESSIONS) {
    for (const c of loadRecordedSession(name)) {
      if (c.flowId === undefined) continue;
      const fr = recordedFlowReply(c.masterBytes);
      if (fr.kind !== 'FULL') continue;
      const start = fr.end;
      assert.equal(c.masterBytes.toString('latin1', start, start + 9), 'REDIS0009');
      const { aux, end } = readAux(c.masterBytes, start + 9);
      assert.deepEqual(aux.map(([k]) => k), [
        'redis-ver', 'df-ver', 'redis-bits', 'ctime', 'used-mem', 'aof-preamble',
        ...(c.flowId === 0 ? ['shard-count', 'table-mem'] : []), 'shard-id',
      ]);
      assert.equal(aux[aux.length - 1]![1], String(c.flowId));
      assert.ok(rdbHeader(aux).equals(c.masterBytes.subarray(start, end)), `${name} ${c.file} header`);
      const tailAt = c.masterBytes.indexOf(Buffer.concat([Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(fr.token)])) - 9;
      if (c.masterBytes[tailAt] !== 0xd3) continue; // `during`: JOURNAL_OFFSET inside an LZ4 blob
      const lsn = c.masterBytes.readBigUInt64LE(tailAt + 1);
      assert.ok(flowTail(lsn, fr.token).equals(c.masterBytes.subarray(tailAt, tailAt + 58)), `${name} ${c.file} tail`);
      tails++;
    }
  }
  assert.ok(tails > 20);
});

test('decoded recorded journals re-encode to the identical bytes', () => {
  for (const name of SESSIONS) {
    for (const c of loadRecordedSession(name)) {
      if (c.flowId === undefined) continue;
      const fr = recordedFlowReply(c.masterBytes);
      let start = fr.end;
      if (fr.kind === 'FULL') start = c.masterBytes.indexOf(Buffer.concat([Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(fr.token)])) + 49;
      const journal = c.masterBytes.subarray(start);
      const parts: Buffer[] = [];
      new JournalDecoder((e) => {
        if (e.op === 'command') parts.push(journalCommand(e.args, { db: e.db, txid: e.txid }));
        else if (e.op === 'lsn') parts.push(journalLsn(e.lsn));
        else parts.push(journalPing());
      }).push(journal);
      assert.ok(Buffer.concat(parts).equals(journal), `${name} ${c.file}: ${journal.length} journal bytes`);
    }
  }
});

test('the fake master answers the recorded handshake with the recorded bytes', async () => {
  for (const name of ['types', 'auth'] as const) {
    const [main] = loadRecordedSession(name);
    const m = CAPA.exec(main!.masterBytes.toString('latin1'))!;
    const fake = await FakeMaster.start({ replid: m[1]!, numFlows: Number(m[3]), password: name === 'auth' ? 's3cret' : undefined });
    try {
      const sock = net.connect(fake.port, '127.0.0.1');
      await once(sock, 'connect');
      const hs = Buffer.concat(main!.frames.filter((f) => !f.fromMaster && !/DFLY/.test(f.payload.toString('latin1'))).map((f) => f.payload));
      const want = main!.masterBytes.subarray(0, main!.masterBytes.indexOf(m[0]) + m[0].length + 10); // + "+OK\r\n" ×2
      const got: Buffer[] = [];
      sock.on('data', (d: Buffer) => got.push(d));
      sock.write(hs);
      const deadline = Date.now() + 3000;
      while (Buffer.concat(got).length < want.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.ok(Buffer.concat(got).equals(want), `${name}: ${JSON.stringify(Buffer.concat(got).toString('latin1'))}`);
      assert.deepEqual(fake.violations, []);
      sock.destroy();
    } finally {
      await fake.close();
    }
  }
});
