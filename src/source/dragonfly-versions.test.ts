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
  COMMAND_JOURNAL,
  MIN_SUPPORTED_VERSION,
  commandJournal,
  releaseText,
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

test('journal table: every §6.1 command present, per row ranges ordered from v1.27.0 to the newest with no gap or overlap', () => {
  const ids = COMMAND_JOURNAL.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length, 'row ids are unique');
  // Client commands of reference §6.1 (v1.40.1) and the float increments of its "not rewritten" paragraph.
  const section61 = ['SET', 'SETEX', 'PSETEX', 'SETNX', 'GETSET', 'MSET', 'MSETNX', 'GETEX', 'GAT', 'EXPIRE', 'PEXPIRE', 'EXPIREAT', 'PEXPIREAT',
    'DEL', 'UNLINK', 'RM', 'expiry', 'RENAME', 'RENAMENX', 'COPY', 'MOVE', 'SPOP', 'SMOVE', 'SINTERSTORE', 'SUNIONSTORE', 'SDIFFSTORE',
    'ZUNIONSTORE', 'ZINTERSTORE', 'ZDIFFSTORE', 'ZRANGESTORE', 'BZPOPMIN', 'BZPOPMAX', 'ZMPOP', 'BZMPOP', 'BLPOP', 'BRPOP', 'LMPOP', 'BLMPOP',
    'LMOVE', 'BLMOVE', 'RPOPLPUSH', 'BRPOPLPUSH', 'XADD', 'XTRIM', 'XREADGROUP', 'PFMERGE', 'BITOP', 'JSON.MSET', 'hash fields', 'SCRIPT LOAD',
    'SCRIPT FLAGS', 'FLUSHALL', 'FLUSHDB', 'SORT', 'INCRBYFLOAT', 'HINCRBYFLOAT'];
  for (const name of section61) {
    const re = new RegExp(`(^|[ ,(])${name.replace('.', '\\.')}([ ,)]|$)`);
    assert.ok(COMMAND_JOURNAL.some((c) => re.test(c.commands)), `${name} has a row`);
  }
  for (const c of COMMAND_JOURNAL) {
    assert.ok(c.ranges.length > 0, c.id);
    assert.equal(compareVersions(c.ranges[0]!.from, MIN_SUPPORTED_VERSION), 0, `${c.id} starts at the minimum`);
    assert.equal(c.ranges[c.ranges.length - 1]!.until, undefined, `${c.id} reaches the newest`);
    c.ranges.forEach((r, i) => {
      if (r.until !== undefined) assert.ok(compareVersions(r.from, r.until) < 0, `${c.id} ${releaseText(r.from)} before ${releaseText(r.until)}`);
      if (i > 0) assert.equal(compareVersions(c.ranges[i - 1]!.until!, r.from), 0, `${c.id}: range ${i} starts where ${i - 1} ends`);
      assert.ok(r.journal && r.handling && r.source && r.form, `${c.id} ${releaseText(r.from)} is filled in`);
    });
  }
});

test('journal table lookups: the form per version where the walk found a change', () => {
  const form = (id: string, ver: string) => commandJournal(id, parseDragonflyVersion(ver)).form;
  assert.deepEqual([form('ZUNIONSTORE', '1.27.0'), form('ZUNIONSTORE', '1.33.1'), form('ZUNIONSTORE', '1.34.0'), form('ZUNIONSTORE', '1.40.1')], ['key-subsets', 'key-subsets', 'rewritten', 'rewritten']);
  assert.deepEqual([form('ZRANGESTORE', '1.33.1'), form('ZRANGESTORE', '1.34.8'), form('ZRANGESTORE', '1.35.0')], ['key-subsets', 'rewritten-plus-key-subsets', 'rewritten']);
  assert.deepEqual([form('LMPOP', '1.33.1'), form('LMPOP', '1.34.0')], ['key-subsets', 'pop-no-count']);
  assert.deepEqual([form('ZMPOP', '1.31.2'), form('ZMPOP', '1.32.0')], ['key-subsets', 'zpop-count']);
  assert.deepEqual([form('LMOVE', '1.33.1'), form('LMOVE', '1.34.0')], ['as-is-or-pop-push', 'pop-push']);
  assert.deepEqual([form('XADD', '1.27.3'), form('XADD', '1.27.4'), form('XTRIM', '1.27.0'), form('XTRIM', '1.28.0')], ['minid-eq-last-deleted', 'minid-first', 'minid-eq-last-deleted', 'minid-first']);
  assert.deepEqual([form('DEL', '1.39.0'), form('DEL', '1.40.0')], ['auto-subset', 'deleted-keys']);
  assert.deepEqual([form('GAT', '1.30.3'), form('GAT', '1.31.0'), form('COPY', '1.29.0'), form('COPY', '1.30.0'), form('RM', '1.37.0'), form('RM', '1.38.0')], ['absent', 'pexpireat', 'absent', 'restore', 'absent', 'del-per-key']);
  assert.deepEqual([form('LAZY-EXPIRY', '1.28.0'), form('LAZY-EXPIRY', '1.29.0'), form('LAZY-EXPIRY', '1.40.0')], ['not-journaled', 'del-when-empty', 'hdel-srem']);
  assert.equal(form('SET', '1.27.0'), 'pxat');
  assert.equal(commandJournal('XREADGROUP', undefined).form, 'xclaim-setid', 'unknown version = newest');
  // versionTraits reads the same table.
  assert.equal(versionTraits(parseDragonflyVersion('1.33.1')).zrangestore, 'key-subsets');
  assert.equal(versionTraits(parseDragonflyVersion('1.27.0')).zrangestore, 'key-subsets');
  assert.throws(() => commandJournal('NOPE', undefined), /no journal table row NOPE/);
});

test('v1.33 journal from synthetic bytes: multi-shard Z*STORE / LMPOP / ZMPOP key subsets are read back, one-shard full commands pass through', () => {
  // One flow of a v1.27–v1.33 master: SELECT 0, then the auto-journaled records of a 2-shard
  // ZUNIONSTORE (dst's subset), ZINTERSTORE (two sources on this shard), LMPOP and ZMPOP subsets
  // (txid ≠ 0), and the full one-shard forms (txid 0).
  const bytes = Buffer.concat([
    Buffer.from([6, 0]),
    command(31, 2, 'ZUNIONSTORE', 'zu'),
    command(32, 2, 'ZINTERSTORE', 'za', 'zb'),
    command(33, 2, 'ZDIFFSTORE', 'zd', 'za'),
    command(34, 2, 'LMPOP', 'l1'),
    command(35, 3, 'LMPOP', 'l2', 'l3'),
    command(36, 2, 'ZMPOP', 'z1'),
    command(0, 1, 'ZUNIONSTORE', 'zu', '2', 'za', 'zb', 'WEIGHTS', '1', '2'),
    command(0, 1, 'LMPOP', '2', 'l1', 'l2', 'LEFT', 'COUNT', '5'),
    command(0, 1, 'ZMPOP', '1', 'z1', 'MAX'),
  ]);
  const entries: JournalEntry[] = [];
  new JournalDecoder((e) => void entries.push(e), { source: 'v1.33 flow 0' }).push(bytes);
  const cmds = entries.filter((e): e is Extract<JournalEntry, { op: 'command' }> => e.op === 'command');
  assert.equal(cmds.length, 9);
  const tr = new JournalTranslator({ redisVersion: '7.0.15', hasCommand: () => false });
  const out = cmds.map((c) => tr.translate(c.args, c.txid));
  const keys = (i: number) => {
    const t = out[i]!;
    assert.equal(t.action, 'repair', `record ${i}`);
    return t.action === 'repair' ? t.keys.map((k) => k.toString()) : [];
  };
  assert.deepEqual([keys(0), keys(1), keys(2), keys(3), keys(4), keys(5)], [['zu'], ['za', 'zb'], ['zd', 'za'], ['l1'], ['l2', 'l3'], ['z1']]);
  for (const i of [6, 7, 8]) {
    const t = out[i]!;
    assert.equal(t.action, 'write', `record ${i}`);
    if (t.action === 'write') assert.deepEqual(t.commands[0]!.args, cmds[i]!.args);
  }
  assert.equal(commandJournal('ZUNIONSTORE', parseDragonflyVersion('df-v1.33.1')).status, 'handled');
});
