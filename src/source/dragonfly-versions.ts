/**
 * Dragonfly master versions: parsing the version the master reports, the minimum df2redis supports,
 * and a small table of what differs on the wire between the versions it supports.
 *
 * Sources: reference `dragonfly-replication.md` §2.3 (DflyVersion numbers), §9 (older versions),
 * §6.1 (journal rewrites, v1.40.1), the `types-v1.34` recording (a real v1.34.8 master), and a few
 * targeted looks at Dragonfly's source at release tags (`git show vX:src/server/…`): the command
 * registrations of `ZRANGESTORE` (zset_family.cc) and `SORT` (generic_family.cc),
 * `JournalXReadGroupIfNeeded` (stream_family.cc),
 * and the journal writer of v1.27.0 (journal/serializer.cc, journal_slice.cc, streamer.cc). The
 * other commands the v1.40 reference lists as rewritten were NOT walked through the history.
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

/** How a master journals a multi-shard `ZRANGESTORE` (and the other `*STORE` commands of §6.1). */
export type ZrangestoreJournal =
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
  /** How a multi-shard `ZRANGESTORE` is journaled (key subsets up to v1.34, recorded on v1.34.8). */
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
    zrangestore: at(35) ? 'rewritten' : 'rewritten-plus-key-subsets',
    journalsXreadgroup: at(37),
    sortKeys: at(37) ? 'store-last-key' : at(31) ? 'every-argument' : 'no-store',
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
