import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RespReader, type RespValue } from '../decode/resp/resp-reader.js';
import { JournalDecoder } from '../decode/journal/journal-decoder.js';
import type { JournalEntry } from '../entry/entry.js';
import { JournalTranslator } from '../translate/journal-translator.js';
import { describeError, EXIT_FAILED } from '../cli/exit-codes.js';
import { ReplicationError } from '../errors.js';
import { parseCapaReply } from './master-link.js';
import {
  MIN_SUPPORTED_VERSION,
  UnsupportedSourceVersionError,
  checkSupportedVersion,
  compareVersions,
  parseDragonflyVersion,
  versionFromInfo,
  versionTraits,
} from './dragonfly-versions.js';

const id = 'ef2e6b44cd4aee7847ad230c4111b91ed7b7c303';

/** Every RESP reply in `bytes`. */
function resp(bytes: string): RespValue[] {
  const out: RespValue[] = [];
  new RespReader((v) => void out.push(v)).push(Buffer.from(bytes, 'latin1'));
  return out;
}

/** `INFO server` bulk reply bytes as Dragonfly writes them. */
function infoBytes(dfVersion: string): string {
  const body = `# Server\r\nredis_version:6.2.11\r\ndragonfly_version:${dfVersion}\r\nredis_mode:standalone\r\n`;
  return `$${body.length}\r\n${body}\r\n`;
}

/** A journal COMMAND record (§5.1) with PUINT fields < 64. */
function command(txid: number, shardCnt: number, ...args: string[]): Buffer {
  const total = args.reduce((n, a) => n + a.length, 0);
  return Buffer.concat([Buffer.from([10, txid, shardCnt, args.length, total]), ...args.map((a) => Buffer.concat([Buffer.from([a.length]), Buffer.from(a, 'latin1')]))]);
}

test('version texts: INFO dragonfly_version, the df-ver AUX, plain tags; unknown shapes give undefined', () => {
  assert.deepEqual(parseDragonflyVersion('df-v1.34.8'), { major: 1, minor: 34, patch: 8, text: 'df-v1.34.8' });
  assert.deepEqual(parseDragonflyVersion('df-v1.40.1-offline'), { major: 1, minor: 40, patch: 1, text: 'df-v1.40.1-offline' });
  assert.deepEqual(parseDragonflyVersion('v1.27.0'), { major: 1, minor: 27, patch: 0, text: 'v1.27.0' });
  assert.equal(parseDragonflyVersion('dev'), undefined);
  assert.equal(versionFromInfo('# Server\r\nredis_version:7.0.15\r\n'), undefined, 'a Redis INFO has no dragonfly_version');
  assert.ok(compareVersions(parseDragonflyVersion('1.26.9')!, MIN_SUPPORTED_VERSION) < 0);
  assert.equal(compareVersions(parseDragonflyVersion('df-v1.27.0')!, MIN_SUPPORTED_VERSION), 0);
});

test('v1.34 handshake from synthetic bytes: 4-element capa reply (no lineage), DflyVersion 4, version read from INFO server', () => {
  const [info, capa] = resp(infoBytes('df-v1.34.8') + `*4\r\n+${id}\r\n+SYNC1\r\n:4\r\n:4\r\n`);
  const v = versionFromInfo((info as Buffer).toString('latin1'))!;
  assert.equal(v.text, 'df-v1.34.8');
  const t = versionTraits(v);
  const parsed = parseCapaReply(capa!);
  assert.deepEqual(parsed, { replid: id, syncId: 'SYNC1', numFlows: 4, version: 4, lineage: undefined });
  assert.equal((capa as RespValue[]).length, t.capaReplyLength);
  assert.equal(parsed.version, t.dflyVersion);
  assert.deepEqual(
    { shardCountIsReal: t.shardCountIsReal, taggedChunks: t.taggedChunks, flowMaxArgs: t.flowMaxArgs, zrangestore: t.zrangestore, journalsXreadgroup: t.journalsXreadgroup },
    { shardCountIsReal: true, taggedChunks: 'absent', flowMaxArgs: 5, zrangestore: 'rewritten-plus-key-subsets', journalsXreadgroup: false },
  );
  assert.deepEqual(t.journalOpcodes, [6, 9, 10, 13, 15]);
});

test('v1.40 handshake from synthetic bytes: 5-element capa reply with lineage, DflyVersion 5; an unknown version is treated as the newest', () => {
  const [info, capa] = resp(infoBytes('df-v1.40.1') + `*5\r\n+${id}\r\n+SYNC3\r\n:2\r\n:5\r\n+${id}\r\n`);
  const t = versionTraits(versionFromInfo((info as Buffer).toString('latin1')));
  const parsed = parseCapaReply(capa!);
  assert.equal((capa as RespValue[]).length, t.capaReplyLength);
  assert.equal(parsed.version, t.dflyVersion);
  assert.equal(parsed.lineage, id);
  assert.deepEqual([t.shardCountIsReal, t.taggedChunks, t.zrangestore, t.journalsXreadgroup], [false, 'on-by-default', 'rewritten', true]);
  assert.deepEqual(versionTraits(undefined), t);
});

test('version ranges of the table: capa shape, DflyVersion, opcodes, shard_cnt, tagged chunks, DFLY FLOW arity', () => {
  const at = (s: string) => versionTraits(parseDragonflyVersion(s));
  // v1.27: FIN (14) and NOOP (0) are defined but never written; DflyVersion VER4 (3), 4-arg DFLY FLOW.
  assert.deepEqual(at('1.27.0').journalOpcodes, [6, 9, 10, 13, 15]);
  assert.equal(at('1.28.2').dflyVersion, 3);
  assert.equal(at('1.29.0').flowMaxArgs, 4);
  assert.equal(at('1.30.0').flowMaxArgs, 5);
  assert.equal(at('1.30.0').dflyVersion, 4);
  assert.equal(at('1.34.8').zrangestore, 'rewritten-plus-key-subsets');
  assert.equal(at('1.35.0').zrangestore, 'rewritten');
  assert.equal(at('1.36.2').journalsXreadgroup, false);
  assert.equal(at('1.37.0').journalsXreadgroup, true);
  assert.deepEqual([at('1.30.0').sortKeys, at('1.31.0').sortKeys, at('1.36.0').sortKeys, at('1.37.0').sortKeys], ['no-store', 'every-argument', 'every-argument', 'store-last-key']);
  assert.equal(at('1.37.0').dflyVersion, 5);
  assert.equal(at('1.37.9').shardCountIsReal, true);
  assert.equal(at('1.38.0').shardCountIsReal, false);
  assert.equal(at('1.38.0').taggedChunks, 'absent');
  assert.equal(at('1.39.0').taggedChunks, 'off-by-default');
  assert.equal(at('1.39.0').capaReplyLength, 4);
  assert.equal(at('1.40.0').capaReplyLength, 5);
});

test('v1.34 journal from synthetic bytes: shard_cnt is the real shard count, ZRANGESTORE key subsets are read back', () => {
  // Flow of the destination: SELECT 0, DEL dst + ZADD dst … + `ZRANGESTORE dst` (txid 22, 2 shards).
  const bytes = Buffer.concat([
    Buffer.from([6, 0]),
    command(22, 2, 'DEL', 'j:zr'),
    command(22, 2, 'ZADD', 'j:zr', '5', 'a'),
    command(22, 2, 'ZRANGESTORE', 'j:zr'),
  ]);
  const entries: JournalEntry[] = [];
  new JournalDecoder((e) => void entries.push(e), { source: 'v1.34 flow 1' }).push(bytes);
  const cmds = entries.filter((e): e is Extract<JournalEntry, { op: 'command' }> => e.op === 'command');
  assert.equal(cmds.length, 3);
  const tr = new JournalTranslator({ redisVersion: '7.0.15', hasCommand: () => false });
  assert.deepEqual(cmds.map((c) => tr.translate(c.args, c.txid).action), ['write', 'write', 'repair']);
});

test('a master older than v1.27 is refused with a typed error naming its version and the minimum (exit code 1); unknown is accepted', () => {
  const old = parseDragonflyVersion('df-v1.26.3')!;
  assert.throws(
    () => checkSupportedVersion(old, '127.0.0.1:6379'),
    (e: unknown) =>
      e instanceof UnsupportedSourceVersionError &&
      e instanceof ReplicationError &&
      e.version === old &&
      /127\.0\.0\.1:6379 runs Dragonfly df-v1\.26\.3, older than the oldest supported version v1\.27\.0/.test(e.message),
  );
  assert.equal(describeError(new UnsupportedSourceVersionError(old, 'h:1')).exitCode, EXIT_FAILED);
  checkSupportedVersion(parseDragonflyVersion('df-v1.27.0'), 'h:1');
  checkSupportedVersion(undefined, 'h:1');
});
