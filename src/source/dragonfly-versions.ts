/**
 * Dragonfly master versions: parsing the version the master reports, the minimum df2redis supports,
 * and a small table of what differs on the wire between the versions it supports.
 *
 * Sources: reference `dragonfly-replication.md` §2.3 (DflyVersion numbers), §9 (older versions),
 * §6.1 (journal rewrites, v1.40.1), the `types-v1.34` recording (a real v1.34.8 master), and a few
 * targeted looks at Dragonfly's source at release tags (`git show vX:src/server/…`): the command
 * registrations of `ZRANGESTORE` (zset_family.cc) and `SORT` (generic_family.cc),
 * `JournalXReadGroupIfNeeded` (stream_family.cc),
 * and the journal writer of v1.27.0 (journal/serializer.cc, journal_slice.cc, streamer.cc), and a
 * walk of every command the v1.40 reference lists as rewritten through the tags v1.27.0 … v1.40.1
 * ({@link COMMAND_JOURNAL}).
 */
import { ReplicationError } from '../errors.js';

/** A Dragonfly release, `major.minor.patch`. */
export interface DragonflyVersion {
  major: number;
  minor: number;
  patch: number;
  /** The text the master reported (e.g. `df-v1.34.8`, `df-v1.40.1-offline`). */
  text: string;
}

/** Oldest master df2redis replicates from: v1.27.0 (the oldest in 2025–26 bug reports). */
export const MIN_SUPPORTED_VERSION: Readonly<DragonflyVersion> = { major: 1, minor: 27, patch: 0, text: 'v1.27.0' };

/**
 * Parses a Dragonfly version text: `INFO server` → `dragonfly_version` (`df-v1.34.8`), the RDB AUX
 * `df-ver` (`df-v1.40.1-offline`), or plain `v1.34.8` / `1.34.8`. Returns undefined for anything
 * else (e.g. a development build without a version).
 */
export function parseDragonflyVersion(text: string): DragonflyVersion | undefined {
  const m = /^(?:df-)?v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), text: text.trim() };
}

/** Orders two versions: negative when `a` is older than `b`, 0 when equal, positive when newer. */
export function compareVersions(a: Pick<DragonflyVersion, 'major' | 'minor' | 'patch'>, b: Pick<DragonflyVersion, 'major' | 'minor' | 'patch'>): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/**
 * The `dragonfly_version` line of an `INFO server` reply (a bulk string of `key:value` lines), or
 * undefined when the reply has none (not Dragonfly, or INFO refused).
 */
export function versionFromInfo(info: string): DragonflyVersion | undefined {
  const m = /(?:^|\r?\n)dragonfly_version:([^\r\n]*)/.exec(info);
  return m ? parseDragonflyVersion(m[1]!) : undefined;
}

/** How a master journals a multi-shard `ZRANGESTORE` (row `ZRANGESTORE` of {@link COMMAND_JOURNAL}). */
export type ZrangestoreJournal =
  /** Only the auto-journaled per-shard key subsets (v1.27–v1.33): read back from the master. */
  | 'key-subsets'
  /** `DEL dst` + `ZADD dst …`, nothing else (v1.40.1, reference §6.1). */
  | 'rewritten'
  /** `DEL dst` + `ZADD dst …` and then the auto-journaled per-shard key subsets `ZRANGESTORE dst` /
   *  `ZRANGESTORE src` (recorded on v1.34.8; up to v1.34, `NO_AUTOJOURNAL` from v1.35.0): the
   *  subsets are read back from the master. */
  | 'rewritten-plus-key-subsets';

/** What differs on the wire for one range of master versions (see {@link versionTraits}). */
export interface VersionTraits {
  /** Elements of the reply to `REPLCONF capa dragonfly`: 5 (with lineage id) from v1.40.0, else 4. */
  capaReplyLength: 4 | 5;
  /** `DflyVersion` ordinal the master puts in the capa reply (§2.3; v1.22+ numbering). */
  dflyVersion: number;
  /**
   * Journal opcodes the master writes (§5.1): SELECT 6, EXPIRED 9, COMMAND 10, PING 13, LSN 15 for
   * every supported version. v1.27–v1.30 still define NOOP 0 and (to v1.28) FIN 14 (§9), but v1.27.0
   * never writes them: NOOP is an internal flush item with no data, FIN is only read.
   */
  journalOpcodes: ReadonlyArray<number>;
  /** `shard_cnt` of a COMMAND record: the transaction's real shard count (≤ v1.37) or always 1. */
  shardCountIsReal: boolean;
  /** TAGGED_CHUNK (opcode 224) for big values: absent ≤ v1.38, off by default v1.39, on from v1.40. */
  taggedChunks: 'absent' | 'off-by-default' | 'on-by-default';
  /** Largest `DFLY FLOW` arity after `FLOW`: 4 up to v1.29, 5 from v1.30 (§3.1). */
  flowMaxArgs: 4 | 5;
  /** How a multi-shard `ZRANGESTORE` is journaled (key subsets up to v1.34, recorded on v1.34.8; from {@link COMMAND_JOURNAL}). */
  zrangestore: ZrangestoreJournal;
  /**
   * `SORT`: no `STORE` (read-only, v1.27–v1.30); every argument registered as a key (v1.31–v1.36:
   * a multi-shard SORT's per-shard subsets may hold option tokens, all read back); the key and the
   * `STORE` destination only (v1.37+, `STORE_LAST_KEY`). From generic_family.cc at the tags.
   */
  sortKeys: 'no-store' | 'every-argument' | 'store-last-key';
  /** `XREADGROUP … >` journals its effects (`XCLAIM … FORCE JUSTID`, `XGROUP SETID … ENTRIESREAD`):
   *  from v1.37.0 (`JournalXReadGroupIfNeeded`); before, the PEL and entries-read exist only on the
   *  master (recorded on v1.34.8). */
  journalsXreadgroup: boolean;
}

/**
 * The wire traits of master `v` (≥ {@link MIN_SUPPORTED_VERSION}); undefined `v` (the master did not
 * say) is treated as the newest known (v1.40). The translator does not branch on the version: the
 * repairs act on the shape of the records (a `ZRANGESTORE` with fewer than 4 arguments), so a
 * wrong or missing version cannot turn a v1.40 record into a repair.
 */
export function versionTraits(v: Pick<DragonflyVersion, 'major' | 'minor' | 'patch'> | undefined): VersionTraits {
  const at = (minor: number): boolean => v === undefined || compareVersions(v, { major: 1, minor, patch: 0 }) >= 0;
  return {
    capaReplyLength: at(40) ? 5 : 4,
    dflyVersion: at(37) ? 5 : at(30) ? 4 : 3,
    journalOpcodes: [6, 9, 10, 13, 15],
    shardCountIsReal: !at(38),
    taggedChunks: at(40) ? 'on-by-default' : at(39) ? 'off-by-default' : 'absent',
    flowMaxArgs: at(30) ? 5 : 4,
    zrangestore: commandJournal('ZRANGESTORE', v).form as ZrangestoreJournal,
    journalsXreadgroup: commandJournal('XREADGROUP', v).form !== 'not-journaled',
    sortKeys: commandJournal('SORT', v).form as VersionTraits['sortKeys'],
  };
}

/** The master is older than {@link MIN_SUPPORTED_VERSION}: refused at the handshake (exit code 1). */
export class UnsupportedSourceVersionError extends ReplicationError {
  readonly version: DragonflyVersion;
  constructor(version: DragonflyVersion, peer: string) {
    super(
      `the source ${peer} runs Dragonfly ${version.text}, older than the oldest supported version ${MIN_SUPPORTED_VERSION.text}: ` +
        `upgrade the master to ${MIN_SUPPORTED_VERSION.text} or later`,
    );
    this.version = version;
  }
}

/**
 * Refuses a master older than {@link MIN_SUPPORTED_VERSION}. An unknown version (INFO refused or
 * without `dragonfly_version`) is accepted.
 * @throws UnsupportedSourceVersionError naming the master's version, the minimum and `peer`.
 */
export function checkSupportedVersion(version: DragonflyVersion | undefined, peer: string): void {
  if (version !== undefined && compareVersions(version, MIN_SUPPORTED_VERSION) < 0) throw new UnsupportedSourceVersionError(version, peer);
}

/** A `major.minor.patch` release, ordered by {@link compareVersions}. */
export type Release = Readonly<Pick<DragonflyVersion, 'major' | 'minor' | 'patch'>>;

const v = (minor: number, patch = 0): Release => ({ major: 1, minor, patch });

/**
 * What a version range of a command's journaling means for the Redis target:
 * - `same`: journaled as in v1.40.1 (reference §6.1), or differently with the same effect on Redis;
 * - `handled`: journaled differently, and df2redis translates or repairs it (read back from the master);
 * - `known-difference`: the target may diverge from the master; listed in the README;
 * - `absent`: the command does not exist on these masters.
 */
export type JournalStatus = 'same' | 'handled' | 'known-difference' | 'absent';

/** One version range of one row of reference §6.1 (see {@link COMMAND_JOURNAL}). */
export interface CommandJournalRange {
  /** First release of the range (inclusive). */
  from: Release;
  /** First release after the range (exclusive); undefined = up to the newest (v1.40.1 checked). */
  until: Release | undefined;
  /** Short identifier of the journal form, used by the code (e.g. `key-subsets`, `rewritten`). */
  form: string;
  /** How the master journals the command in this range (journal record shapes). */
  journal: string;
  status: JournalStatus;
  /** What df2redis does with those records. */
  handling: string;
  /** Where in Dragonfly's source (file, function) at the range's tags. */
  source: string;
}

/** One row of reference §6.1 (or of its "not rewritten" paragraph): its client commands and ranges. */
export interface CommandJournal {
  /** Row id, the first client command of the row (upper case), used by {@link commandJournal}. */
  id: string;
  /** Client commands of the row, as in §6.1. */
  commands: string;
  /** Version ranges, oldest first, contiguous from {@link MIN_SUPPORTED_VERSION} to the newest. */
  ranges: ReadonlyArray<CommandJournalRange>;
}

const AUTO = 'transaction.cc `LogAutoJournalOnShard` (full args on one shard, the shard\'s keys only on several)';

/**
 * How each command the v1.40 reference (§6.1) lists as rewritten — and the two float increments of
 * its "not rewritten" paragraph — is journaled per range of master versions. Walked in Dragonfly's
 * source at the tags v1.27.0 … v1.40.1 (every minor tag; `git grep` of `RecordJournal`,
 * `NO_AUTOJOURNAL`, `ReviveAutoJournal`, `journal_rewrite`, `RecordDelete` in
 * src/server/*_family.cc, tx_base.cc, transaction.cc, diffed tag to tag), patch tags where a change
 * was back-ported (`XADD`/`XTRIM` in v1.27.4). The registration flags of the other commands of
 * the "not rewritten" paragraph did not change between v1.27.0 and v1.40.1 (auto-journaled as-is).
 */
export const COMMAND_JOURNAL: ReadonlyArray<CommandJournal> = [
  row('SET', 'SET, SETEX, PSETEX', [[v(27), undefined, 'pxat', '`SET k v [PXAT ms] [KEEPTTL] [STICK] [_MCFLAGS n]`', 'same', 'STICK/_MCFLAGS stripped; a run of plain `SET k v` goes as one `MSET` (standalone target)', 'string_family.cc `SetCmd::RecordJournal`']]),
  row('SETNX', 'SETNX, GETSET', [[v(27), undefined, 'as-is', 'as-is (auto-journal)', 'same', 'passed through', AUTO]]),
  row('MSET', 'MSET, MSETNX', [[v(27), undefined, 'shard-pairs', '`MSET k v …`, this shard\'s stored pairs', 'same', 'passed through (split by slot on a cluster)', 'string_family.cc `OpMSet`']]),
  row('GETEX', 'GETEX', [[v(27), undefined, 'pexpireat', '`PEXPIREAT k ms` / `PERSIST k`', 'same', 'passed through', 'string_family.cc `GetEx` (`CmdGetEx` from v1.36)']]),
  row('GAT', 'GAT (memcache)', [
    [v(27), v(31), 'absent', 'no such command', 'absent', '—', 'string_family.cc registry'],
    [v(31), undefined, 'pexpireat', '`PEXPIREAT k ms`, or `DEL k` if already past', 'same', 'passed through', 'string_family.cc `GAT` / `FindKeyAndSetExpiry`'],
  ]),
  row('EXPIRE', 'EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT', [[v(27), undefined, 'pexpireat', '`PEXPIREAT k ms`, or `DEL k` if past (NX/XX/GT/LT for EXPIREAT/PEXPIRE/PEXPIREAT only from v1.30)', 'same', 'passed through', 'generic_family.cc `OpExpire`']]),
  row('DEL', 'DEL, UNLINK', [
    [v(27), v(40), 'auto-subset', '`DEL k…` / `UNLINK k…` with this shard\'s keys, existing or not (auto-journal)', 'same', 'passed through (deleting a missing key is a no-op)', AUTO],
    [v(40), undefined, 'deleted-keys', '`DEL k…`, this shard\'s keys that existed', 'same', 'passed through', 'generic_family.cc `OpDelV2`'],
  ]),
  row('RM', 'RM <pattern> (Dragonfly)', [
    [v(27), v(38), 'absent', 'no such command', 'absent', '—', 'generic_family.cc registry'],
    [v(38), undefined, 'del-per-key', '`DEL k` per key, txid 0', 'same', 'passed through', 'generic_family.cc `OpScanAndDelete`'],
  ]),
  row('EXPIRY', 'active/passive expiry, eviction', [[v(27), undefined, 'del', '`DEL k`, txid 0', 'same', 'passed through', 'db_slice.cc `RecordExpiry`, tx_base.cc `RecordDelete` (v1.38+)']]),
  row('RENAME', 'RENAME, RENAMENX (one shard)', [[v(27), undefined, 'as-is', 'as-is (`ReviveAutoJournal`)', 'same', 'passed through (DUMP+RESTORE across slots on a cluster)', 'generic_family.cc `RenameGeneric`']]),
  row('RENAME-CROSS', 'RENAME, RENAMENX (two shards)', [[v(27), undefined, 'del-restore', 'src: `DEL src`; dst: `RESTORE dst <abs ms|0> <dump> REPLACE ABSTTL [STICK]` (v1.36+: also `DEL dst` when every field expired during the restore)', 'same', 'RESTORE payload decoded and written natively', 'generic_family.cc `Renamer::DelSrc`, `DeserializeDest`']]),
  row('COPY', 'COPY', [
    [v(27), v(30), 'absent', 'no such command', 'absent', '—', 'generic_family.cc registry'],
    [v(30), undefined, 'restore', '`RESTORE dst <abs ms|0> <dump> REPLACE ABSTTL [STICK]`', 'same', 'RESTORE payload decoded and written natively', 'generic_family.cc `Renamer::DeserializeDest`'],
  ]),
  row('MOVE', 'MOVE', [[v(27), undefined, 'as-is', '`MOVE k db` on the key\'s shard', 'same', 'passed through (database filter applies)', 'generic_family.cc `Move`']]),
  row('SPOP', 'SPOP', [[v(27), undefined, 'srem', '`SREM k m…` or `DEL k`', 'same', 'passed through', 'set_family.cc `OpPop`']]),
  row('SMOVE', 'SMOVE', [[v(27), undefined, 'srem-sadd', '`SREM src m` + `SADD dst m`', 'same', 'passed through', 'set_family.cc `Mover`']]),
  row('SINTERSTORE', 'SINTERSTORE, SUNIONSTORE, SDIFFSTORE', [[v(27), undefined, 'del-sadd', '`DEL dst` + `SADD dst m…`', 'same', 'passed through', 'set_family.cc `OpAdd(…, journal_update)`']]),
  row('ZUNIONSTORE', 'ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE (ZDIFFSTORE from v1.28)', [
    [v(27), v(34), 'key-subsets', 'auto-journal: one shard → as-is; several shards → each flow\'s keys only (`ZUNIONSTORE dst`, `ZUNIONSTORE src…`)', 'handled', 'one shard: passed through (Redis recomputes, exact scores); key subsets: every key read back from the master', `zset_family.cc \`kStoreMask\` without NO_AUTOJOURNAL; ${AUTO}`],
    [v(34), undefined, 'rewritten', '`DEL dst` + `ZADD dst score m…` (scores with 6 significant digits)', 'handled', 'destination read back from the master (exact scores)', 'zset_family.cc `OpAdd(…, journal_update)`'],
  ]),
  row('ZRANGESTORE', 'ZRANGESTORE', [
    [v(27), v(34), 'key-subsets', 'auto-journal: one shard → as-is; several shards → `ZRANGESTORE dst` / `ZRANGESTORE src`', 'handled', 'one shard: passed through; key subsets: read back from the master', AUTO],
    [v(34), v(35), 'rewritten-plus-key-subsets', '`DEL dst` + `ZADD dst …`, then the auto-journaled key subsets too (recorded on v1.34.8)', 'handled', '`DEL`+`ZADD` applied, key subsets read back from the master', 'zset_family.cc `ZRangeStore` (registered without NO_AUTOJOURNAL)'],
    [v(35), undefined, 'rewritten', '`DEL dst` + `ZADD dst …`', 'handled', 'destination read back from the master (exact scores)', 'zset_family.cc `OpAdd(…, journal_update)`'],
  ]),
  row('BZPOPMIN', 'BZPOPMIN, BZPOPMAX', [[v(27), undefined, 'zpop', '`ZPOPMIN k` / `ZPOPMAX k`', 'same', 'passed through', 'zset_family.cc `OpBZPop`']]),
  row('ZMPOP', 'ZMPOP, BZMPOP (BZMPOP from v1.32)', [
    [v(27), v(32), 'key-subsets', 'ZMPOP auto-journaled: one shard → as-is; several shards → `ZMPOP k…` (keys only)', 'handled', 'one shard: passed through (Redis pops the same members); key subsets: read back from the master', AUTO],
    [v(32), undefined, 'zpop-count', '`ZPOPMIN|ZPOPMAX k <count>`', 'same', 'passed through', 'zset_family.cc `ZPopMinMaxInternal`/`ZMPop`'],
  ]),
  row('BLPOP', 'BLPOP, BRPOP', [[v(27), undefined, 'pop', '`LPOP k` / `RPOP k`', 'same', 'passed through', 'list_family.cc `OpBPop`']]),
  row('LMPOP', 'LMPOP, BLMPOP (BLMPOP from v1.32)', [
    [v(27), v(34), 'key-subsets', 'LMPOP auto-journaled: one shard → as-is (with COUNT); several shards → `LMPOP k…` (keys only). BLMPOP (v1.32+): `LPOP|RPOP k` without count', 'handled', 'one shard: passed through; key subsets: read back from the master; BLMPOP as v1.34+', `list_family.cc \`LMPop\` (\`OpPop(…, journal_rewrite=false)\`); ${AUTO}`],
    [v(34), undefined, 'pop-no-count', '`LPOP k` / `RPOP k` without count, whatever was popped (Dragonfly bug)', 'known-difference', 'passed through: with COUNT > 1 the target pops one element only, as Dragonfly\'s own replica', 'list_family.cc `OpPop(…, journal_rewrite=true)`'],
  ]),
  row('LMOVE', 'LMOVE, BLMOVE, RPOPLPUSH, BRPOPLPUSH', [
    [v(27), v(34), 'as-is-or-pop-push', 'one shard: `LMOVE`/`RPOPLPUSH` as-is (blocking forms as `LMOVE src dst dir dir`); two shards: `LPOP|RPOP src` + `LPUSH|RPUSH dst v`', 'same', 'passed through', 'list_family.cc `MoveGeneric` (`ReviveAutoJournal`), `BPopPusher::RunSingle`, `MoveTwoShards`'],
    [v(34), undefined, 'pop-push', '`LPOP|RPOP src` + `LPUSH|RPUSH dst v` (one or two shards)', 'same', 'passed through', 'list_family.cc `MoveGeneric`, `BPopPusher`, `MoveTwoShards`'],
  ]),
  row('XADD', 'XADD', [
    [v(27), v(27, 4), 'minid-eq-last-deleted', 'approx/MAXLEN trim: `XADD k MINID = <last deleted id> …`', 'known-difference', 'passed through: Redis keeps the last entry the master trimmed (MINID keeps ids ≥ it), one extra entry per trimming XADD', 'stream_family.cc `OpAdd` (fixed by #4591, v1.27.4/v1.28.0)'],
    [v(27, 4), undefined, 'minid-first', '`XADD k [NOMKSTREAM] [exact trim] <id> f v…`; approx/MAXLEN trim → `MINID <new first id>` or `MAXLEN 0`', 'same', 'passed through', 'stream_family.cc `OpAdd`'],
  ]),
  row('XTRIM', 'XTRIM', [
    [v(27), v(27, 4), 'minid-eq-last-deleted', 'approx/MAXLEN: `XTRIM k MINID = <last deleted id>`', 'known-difference', 'passed through: Redis keeps the last entry the master trimmed', 'stream_family.cc `OpTrim` (fixed by #4591)'],
    [v(27, 4), undefined, 'minid-first', 'approx/MAXLEN: `XTRIM k MINID <first id>` / `XTRIM k MAXLEN 0`; exact MINID as-is', 'same', 'passed through', 'stream_family.cc `OpTrim`, `CmdXTrim`'],
  ]),
  row('XREADGROUP', 'XREADGROUP … >', [
    [v(27), v(37), 'not-journaled', 'nothing (read command)', 'known-difference', 'pending entries, consumers and entries-read stay on the master; `replicate` warns', 'stream_family.cc registry (`kReadFlags`)'],
    [v(37), undefined, 'xclaim-setid', '`XCLAIM … FORCE JUSTID LASTID`, `XGROUP SETID … ENTRIESREAD`, `XGROUP CREATECONSUMER`', 'same', 'passed through', 'stream_family.cc `JournalXReadGroupIfNeeded`'],
  ]),
  row('PFMERGE', 'PFMERGE', [[v(27), undefined, 'set-every-shard', '`SET dst <dense HLL>` on every shard of the transaction', 'same', 'passed through (idempotent repeat)', 'hll_family.cc `PFMergeInternal`']]),
  row('BITOP', 'BITOP', [[v(27), undefined, 'set-or-del', '`SET dst v` or `DEL dst`', 'same', 'passed through', 'bitops_family.cc `BitOp`']]),
  row('JSON.MSET', 'JSON.MSET', [[v(27), undefined, 'shard-triplets', '`JSON.MSET` with this shard\'s triplets', 'same', 'passed through when the target has JSON', 'json_family.cc `OpJsonMSet`']]),
  row('LAZY-EXPIRY', 'lazily expired hash fields / set members', [
    [v(27), v(29), 'not-journaled', 'nothing', 'same', 'field TTLs are HPEXPIREAT on Redis ≥ 7.4, which expires the fields itself', 'hset_family.cc'],
    [v(29), v(40), 'del-when-empty', '`DEL k` when a hash emptied by lazy field expiry is deleted; expired fields otherwise not journaled', 'same', 'as above', 'hset_family.cc `DeleteKey`'],
    [v(40), undefined, 'hdel-srem', '`HDEL k f…` / `SREM k m…`, or `DEL k` if emptied', 'same', 'passed through', 'hset_family.cc, generic_family.cc `OpFieldExpire`'],
  ]),
  row('SCRIPT', 'SCRIPT LOAD, SCRIPT FLAGS', [[v(27), undefined, 'as-is', 'as-is, flow 0 only', 'same', 'SCRIPT LOAD passed through, SCRIPT FLAGS dropped', 'script_mgr.cc']]),
  row('FLUSHALL', 'FLUSHALL, FLUSHDB', [[v(27), undefined, 'global', 'as-is on every flow, same txid (FLUSHDB takes ASYNC/SYNC from v1.30)', 'same', 'barrier, applied once', `server_family.cc (GLOBAL_TRANS); ${AUTO}`]]),
  row('SORT', 'SORT … STORE', [
    [v(27), v(31), 'no-store', 'no STORE option (read-only SORT, not journaled)', 'absent', '—', 'generic_family.cc registry (`CO::READONLY`)'],
    [v(31), v(37), 'every-argument', 'auto-journal, every argument a key: several shards → per-shard subsets that may hold option tokens', 'handled', 'multi-shard records: every argument read back from the master', `generic_family.cc registry (first 1, last -1); ${AUTO}`],
    [v(37), undefined, 'store-last-key', 'one shard: as-is; several shards: `SORT dst` / `SORT src` (STORE lost)', 'handled', 'multi-shard records read back from the master', `generic_family.cc registry (\`STORE_LAST_KEY\`); ${AUTO}`],
  ]),
  row('INCRBYFLOAT', 'INCRBYFLOAT, HINCRBYFLOAT (not rewritten)', [[v(27), undefined, 'as-is', 'as-is (auto-journal)', 'handled', 'computed with Dragonfly\'s double formatting and written as SET/HSET', 'string_family.cc, hset_family.cc registry']]),
];

function row(id: string, commands: string, ranges: Array<[Release, Release | undefined, string, string, JournalStatus, string, string]>): CommandJournal {
  return { id, commands, ranges: ranges.map(([from, until, form, journal, status, handling, source]) => ({ from, until, form, journal, status, handling, source })) };
}

/** The release text `v1.27.4` of `r`. */
export function releaseText(r: Release): string {
  return `v${r.major}.${r.minor}.${r.patch}`;
}

/**
 * How master `version` journals the §6.1 row `id` (e.g. `ZRANGESTORE`, `LMPOP`; see
 * {@link COMMAND_JOURNAL}); undefined `version` = the newest. Versions below the minimum get the
 * oldest range.
 * @throws Error when `id` is not a row of the table (a programming error).
 */
export function commandJournal(id: string, version: Release | undefined): CommandJournalRange {
  const entry = COMMAND_JOURNAL.find((c) => c.id === id);
  if (entry === undefined) throw new Error(`no journal table row ${id}`);
  if (version === undefined) return entry.ranges[entry.ranges.length - 1]!;
  for (let i = entry.ranges.length - 1; i >= 0; i--) if (compareVersions(version, entry.ranges[i]!.from) >= 0) return entry.ranges[i]!;
  return entry.ranges[0]!;
}
