/**
 * The journal decoder on the real recordings: every FULL flow's bytes after EOF + token, and every
 * PARTIAL flow's bytes after its FLOW reply, decode to the last byte, and every LSN record equals
 * the replica-side counter (reference §5.4): next_lsn starts at JOURNAL_OFFSET (FULL) or at the
 * requested LSN (PARTIAL), +1 per COMMAND/PING, and an LSN record carries next_lsn − 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JournalDecoder } from '../../src/decode/journal/journal-decoder.js';
import { DECODE_SESSIONS, type RecordedConnection } from '../helpers/recording.js';
import { loadRecordedSession, recordedFlowReply } from '../helpers/replay-master.js';

/** Splits a flow's master bytes: FLOW reply, RDB part, JOURNAL_OFFSET, journal (FULL flows). */
function splitFlow(conn: RecordedConnection): { full: boolean; token: string; journalStart: number; journalOffset?: bigint } {
  const fr = recordedFlowReply(conn.masterBytes);
  const replyLen = fr.end;
  if (fr.kind === 'PARTIAL') return { full: false, token: fr.token, journalStart: replyLen };
  const eof = Buffer.concat([Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(fr.token, 'latin1')]);
  const at = conn.masterBytes.indexOf(eof, replyLen);
  assert.ok(at > 0, `${conn.file}: EOF + token`);
  // The real replica's first ACK is JOURNAL_OFFSET when nothing was pending (reference fact #1).
  const firstAck = /REPLCONF ACK (\d+)\r\n/.exec(conn.replicaBytes.toString('latin1'));
  let journalOffset: bigint;
  if (conn.masterBytes[at - 9] === 0xd3) {
    journalOffset = conn.masterBytes.readBigUInt64LE(at - 8);
    if (firstAck) assert.ok(BigInt(firstAck[1]!) >= journalOffset, `${conn.file}: first ACK ≥ JOURNAL_OFFSET`);
  } else {
    // `during`: JOURNAL_OFFSET was the last record of an LZ4 blob; the frame ends with LZ4's
    // mandatory literal tail (here the whole 9-byte record) and the end mark `00 00 00 00`.
    assert.equal(conn.masterBytes[at - 13], 0xd3, `${conn.file}: JOURNAL_OFFSET as the literal tail of an LZ4 frame`);
    assert.equal(conn.masterBytes.readUInt32LE(at - 4), 0, `${conn.file}: LZ4 end mark`);
    journalOffset = conn.masterBytes.readBigUInt64LE(at - 12);
  }
  return { full: true, token: fr.token, journalStart: at + eof.length, journalOffset };
}

for (const name of DECODE_SESSIONS) {
  test(`journal of every flow of '${name}' decodes to the last byte with consistent LSNs`, () => {
    for (const conn of loadRecordedSession(name)) {
      if (conn.flowId === undefined) continue;
      const { full, journalStart, journalOffset } = splitFlow(conn);
      let next = full ? journalOffset! : conn.requestedLsn!;
      assert.ok(next !== undefined);
      let commands = 0;
      let lsnRecords = 0;
      const decoder = new JournalDecoder(
        (e) => {
          if (e.op === 'lsn') {
            assert.equal(e.lsn, next - 1n, `${name} ${conn.file}: LSN record after ${commands} commands`);
            lsnRecords++;
          } else {
            next++;
            if (e.op === 'command') {
              commands++;
              assert.ok(e.args.length >= 1 && e.args[0]!.length > 0);
            }
          }
        },
        { source: `${name} flow ${conn.flowId}` },
      );
      // Feed with the recorded TCP read boundaries, the first one cut at the journal start.
      let pos = 0;
      for (const f of conn.frames) {
        if (!f.fromMaster) continue;
        const from = Math.max(pos, journalStart);
        const to = pos + f.payload.length;
        if (to > from) decoder.push(f.payload.subarray(from - pos, to - pos));
        pos = to;
      }
      assert.equal(decoder.bytesConsumed, conn.masterBytes.length - journalStart, `${name} ${conn.file}: consumed to the last byte`);
      assert.equal(decoder.bufferedBytes, 0);
      if (commands > 0) assert.ok(lsnRecords > 0, `${name} ${conn.file}: LSN records seen`);
      // The final ACK the real replica sent equals the counter (when it acked at all).
      const acks = [...conn.replicaBytes.toString('latin1').matchAll(/REPLCONF ACK (\d+)\r\n/g)].map((a) => BigInt(a[1]!));
      if (acks.length > 0 && conn.closedBy !== 'proxy-kill') assert.ok(acks[acks.length - 1]! <= next);
    }
  });
}
