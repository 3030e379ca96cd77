/**
 * `df2redis check`: compares the target with the source, key by key, in both directions.
 *
 *   pass 1: source keys (SCAN batches of a live source, four in flight, or the RDB file through
 *     the decoder)
 *     ─► per batch, on both sides at once: TYPE + PEXPIRETIME + MEMORY USAGE (or, while most keys
 *        are strings, PEXPIRETIME + GETRANGE 0 4095), then GET (small strings) or DUMP (other
 *        small values, decoded by the project's RDB decoder; equal bytes need no decoding); big
 *        values are compared in windows afterwards (window-compare.ts)
 *     ─► a class per key: missing, type, value, ttl, unsupported (the target cannot hold it),
 *        lossy (equal but for what the translation drops), or equal
 *   pass 2: target keys (SCAN of every master) whose fingerprint pass 1 did not see ─► extra
 *     (a live source is asked again: the key may have been created since).
 *
 * A live source changes while it is read, so a difference is only reported after it survived
 * `rounds` re-checks: each waits `roundPauseMs`, or, for a Dragonfly source, until every flow's
 * acknowledged LSN passed the `DFLY REPLICAOFFSET` recorded when the key was read (the fence): a key
 * still in flight then reads equal. The acknowledged LSNs come from the replicator's `/status`
 * (`statusUrl`) or, without it, from the replicator's checkpoint on the target.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { RdbDecoder } from '../decode/rdb/rdb-decoder.js';
import type { SnapshotEntry, ValueKind } from '../entry/entry.js';
import { ConfigError, Df2RedisError, printableKey } from '../errors.js';
import { checkpointKey, DEFAULT_CHECKPOINT_PREFIX, parseCheckpoint } from '../pipeline/checkpoint.js';
import { resolveTarget, targetDbPlan, type ResolvedTarget } from '../sink/connect-target.js';
import { parseRedisUrl } from '../sink/target-url.js';
import { BatchClient, KEY_ARG, RespErrorReply, type RespValue } from './batch-client.js';
import { CanonicalBuilder, canonicalFromDump, diffCanonical, streamMetaItems, typeName, UNHOLDABLE_KINDS, type CanonicalValue } from './canonical-value.js';
import { fingerprint, FingerprintSet, upperBound } from './fingerprint-set.js';
import { ClusterIo, StandaloneIo, type KeyIo } from './key-io.js';
import { pieceOfEntry, readWindows, streamMetaFromCommands, WindowComparer, type WindowKind } from './window-compare.js';

/** Classes of a compared key. `unsupported` and `lossy` are reported but are not differences. */
export const CHECK_CLASSES = ['missing', 'extra', 'type', 'value', 'ttl', 'unsupported', 'lossy'] as const;
export type CheckClass = (typeof CHECK_CLASSES)[number];
/** Classes that make the check fail (exit 1). */
export const DIFFERENCE_CLASSES: ReadonlySet<CheckClass> = new Set(['missing', 'extra', 'type', 'value', 'ttl']);

/** Options of {@link runCheck}; defaults in {@link CHECK_DEFAULTS}. */
export interface CheckOptions {
  /** A live source `redis://…` (Dragonfly or any RESP server) or an RDB file path. */
  source: string;
  /** Target URL(s), as for `replicate`. */
  target: string;
  /** Source databases compared; undefined = every one. */
  dbs: readonly number[] | undefined;
  /** Largest accepted |source − target| absolute expiry, ms. @default 1000 */
  ttlToleranceMs: number;
  /** Share of keys checked, (0, 1]; the same keys on both sides (chosen by a seeded hash). @default 1 */
  sample: number;
  /** Re-checks of a differing key before it is reported (live sources). @default 1 */
  rounds: number;
  /** Pause before a re-check when no fence applies, ms. @default 1000 */
  roundPauseMs: number;
  /** The replicator's `/status` URL: fences re-checks of a Dragonfly source on acknowledged LSNs. */
  statusUrl: string | undefined;
  /** Longest wait for the fence, ms. @default 60000 */
  fenceTimeoutMs: number;
  /** Examples kept per class. @default 20 */
  maxKeys: number;
  /** Keys starting with this prefix are never compared (df2redis's own checkpoint keys). @default 'df2redis:' */
  skipPrefix: string;
  /** Values whose `MEMORY USAGE` is above this are compared in windows, not with DUMP. @default 262144 */
  windowAboveBytes: number;
  isTlsInsecure: boolean;
}

export const CHECK_DEFAULTS = Object.freeze({
  ttlToleranceMs: 1000,
  sample: 1,
  rounds: 1,
  roundPauseMs: 1000,
  fenceTimeoutMs: 60_000,
  maxKeys: 20,
  skipPrefix: 'df2redis:',
  windowAboveBytes: 256 * 1024,
  isTlsInsecure: false,
});

/** One reported key. */
export interface CheckExample {
  db: number;
  key: string;
  detail: string;
}

/** What a check found. */
export interface CheckResult {
  /** True when no key is in a {@link DIFFERENCE_CLASSES} class. */
  isEqual: boolean;
  /** Keys compared (sampled keys when sampling). */
  compared: number;
  /** Keys per class, over every db. */
  counts: Record<CheckClass, number>;
  /** Keys compared and per class, per source db. */
  byDb: Record<string, { compared: number } & Partial<Record<CheckClass, number>>>;
  /** Up to `maxKeys` examples per class. */
  examples: Partial<Record<CheckClass, CheckExample[]>>;
  /** With `sample` < 1: the share of keys checked and the 95 % upper bound of the share that differ. */
  sample?: { fraction: number; sampledKeys: number; differing: number; upperBound95: number; statement: string };
  /** Re-checks done, and whether a fence wait timed out (the keys were re-checked anyway). */
  rechecked: number;
  fenceTimedOut: boolean;
  /**
   * What fenced the re-checks of a Dragonfly source: the replicator's `/status` (`--status-url`),
   * the replicator's checkpoint on the target, or nothing (a pause); undefined = no re-check needed one.
   */
  fence?: 'status' | 'checkpoint' | 'none';
  /** Set when a database gained expiring keys during its pass on a side that read no expiry there (see `#noTtl`). */
  expiryNote?: string;
  elapsedMs: number;
}

/** Progress counters, sampled by the progress bar. */
export interface CheckProgress {
  keys: number;
  totalKeys: number;
  bytesRead: number;
  totalBytes: number;
}

/** A key's state on one side after round 1 and 2. */
interface SideKey {
  exists: boolean;
  expireAtMs: number;
  size: number;
  type: string;
  /** A small string's value (GET). */
  value?: Buffer;
  /** A small value of another type (DUMP). */
  payload?: Buffer;
}

/** A one-piece object of the file, waiting for its batch. */
interface FileSmall {
  db: number;
  key: Buffer;
  value: CanonicalValue;
  expireAtMs: number;
  entry: SnapshotEntry;
}

/** A key waiting for a re-check. */
interface Pending {
  db: number;
  key: Buffer;
  offsets: bigint[] | undefined;
  roundsLeft: number;
}

const BATCH_KEYS = 1000;
/** Strings shorter than this come whole with the first round when most keys are strings. */
const INLINE_STRING_BYTES = 4096;
const ROUND1_STRINGS = [['PEXPIRETIME'], ['GETRANGE', KEY_ARG, 0, INLINE_STRING_BYTES - 1]] as const;
const ROUND1_PEXPIRETIME = [['TYPE'], ['PEXPIRETIME'], ['MEMORY', 'USAGE']] as const;
const ROUND1_PTTL = [['TYPE'], ['PTTL'], ['MEMORY', 'USAGE']] as const;
/** Round 1 on a side whose database holds no expiring key (see {@link Checker} `#noTtl`). */
const ROUND1_NO_TTL = [['TYPE'], ['MEMORY', 'USAGE']] as const;
const ROUND1_STRINGS_NO_TTL = [['GETRANGE', KEY_ARG, 0, INLINE_STRING_BYTES - 1]] as const;
/** COUNT of the target SCAN of pass 2, which only needs names: fewer, bigger replies. */
const EXTRAS_SCAN_COUNT = 10_000;
/** SCAN batches compared at once (each holds at most {@link DUMP_BATCH_BYTES} of replies per side). */
const BATCHES_IN_FLIGHT = 4;
/** DUMP replies requested at once, in bytes (by MEMORY USAGE), per side. */
const DUMP_BATCH_BYTES = 8 * 1024 * 1024;
const LIVE_URL = /^rediss?:\/\//i;
/** TYPE replies of module types (and Dragonfly's types that answer like them). */
const MODULE_TYPES = new Set(['ReJSON-RL', 'MBbloom--', 'MBbloomCF', 'CMSk-TYPE', 'TopK-TYPE']);
const WINDOW_KINDS = new Set(['string', 'list', 'set', 'hash', 'zset', 'stream']);

function text(v: RespValue | undefined): string {
  return Buffer.isBuffer(v) ? v.toString('latin1') : String(v);
}

/** Runs the whole check. */
export class Checker {
  readonly progress: CheckProgress = { keys: 0, totalKeys: 0, bytesRead: 0, totalBytes: 0 };
  readonly #o: CheckOptions;
  #target!: KeyIo;
  #resolved!: ResolvedTarget;
  #source: StandaloneIo | undefined;
  #isDragonfly = false;
  #seen = new FingerprintSet();
  readonly #seed = randomInt(0, 2 ** 31);
  #targetDbOf: (db: number) => number = (db) => db;
  #sourceDbOf: (db: number) => number = (db) => db;
  #pexpire = { source: true, target: true };
  /**
   * Per side, the databases (that side's numbers) where `INFO keyspace` counted no key with an
   * expiry (`expires=0`) when their pass began: every key there has none, so round 1 does not ask
   * (one command per key fewer). Checked again when the pass ends: expiries that appeared meanwhile
   * are reported in {@link CheckResult.expiryNote}.
   */
  #noTtl = { source: new Set<number>(), target: new Set<number>() };
  /** Moving share of strings among the source's keys: picks the first round ({@link #round1Strings}). */
  #stringShare = 0;
  #pending: Pending[] = [];
  #result: CheckResult = {
    isEqual: true,
    compared: 0,
    counts: Object.fromEntries(CHECK_CLASSES.map((c) => [c, 0])) as Record<CheckClass, number>,
    byDb: {},
    examples: {},
    rechecked: 0,
    fenceTimedOut: false,
    elapsedMs: 0,
  };

  constructor(options: CheckOptions) {
    this.#o = options;
  }

  /**
   * Runs both passes and returns what was found.
   * @throws ConfigError bad URLs, an unreadable file, a target `/db` and several source databases.
   * @throws ConnectionError, ClusterError, RdbError (corrupt file), Df2RedisError (a server refused a read).
   */
  async run(): Promise<CheckResult> {
    const t0 = Date.now();
    const o = this.#o;
    this.#resolved = await resolveTarget(o.target, { tlsInsecure: o.isTlsInsecure });
    const ep = this.#resolved.endpoints[0]!;
    this.#target = this.#resolved.info.clusterEnabled
      ? await ClusterIo.connect(ep, o.isTlsInsecure)
      : new StandaloneIo(await BatchClient.connect(ep, { role: 'target', tlsInsecure: o.isTlsInsecure }));
    try {
      this.#pexpire.target = await this.#hasPexpireTime(this.#target);
      if (LIVE_URL.test(o.source)) await this.#runLive();
      else await this.#runFile();
    } finally {
      this.#target.close();
      this.#source?.close();
    }
    const r = this.#result;
    r.isEqual = [...DIFFERENCE_CLASSES].every((c) => r.counts[c] === 0);
    if (o.sample < 1) {
      const differing = [...DIFFERENCE_CLASSES].reduce((n, c) => n + (c === 'extra' ? 0 : r.counts[c]), 0);
      const bound = upperBound(differing, r.compared);
      r.sample = {
        fraction: o.sample,
        sampledKeys: r.compared,
        differing,
        upperBound95: bound,
        statement: `${differing.toLocaleString('en-US')} of ${r.compared.toLocaleString('en-US')} sampled keys differ: at most ${formatPercent(bound)} differ, 95 % confidence`,
      };
    }
    r.elapsedMs = Date.now() - t0;
    return r;
  }

  async #hasPexpireTime(io: KeyIo): Promise<boolean> {
    const [[r]] = (await io.exec(0, [Buffer.from('df2redis:probe')], (k) => [['PEXPIRETIME', k]])) as [[RespValue]];
    return !(r instanceof RespErrorReply);
  }

  #plan(sourceDbs: readonly number[] | undefined): readonly number[] {
    const plan = targetDbPlan(this.#resolved, this.#o.dbs, sourceDbs);
    if (plan.targetDb !== undefined) {
      const src = plan.dbs![0]!;
      const tgt = plan.targetDb;
      this.#targetDbOf = () => tgt;
      this.#sourceDbOf = () => src;
    }
    if (this.#resolved.info.clusterEnabled) {
      const dbs = plan.dbs ?? sourceDbs ?? [0];
      if (dbs.some((d) => d !== 0)) {
        throw new ConfigError(`the target is a Redis Cluster, which has only database 0, but the source has keys in databases ${dbs.join(', ')}; pass --dbs 0`);
      }
    }
    return plan.dbs ?? sourceDbs ?? [0];
  }

  #wanted(db: number, key: Buffer): boolean {
    if (this.#o.skipPrefix !== '' && key.length >= this.#o.skipPrefix.length && key.toString('latin1', 0, this.#o.skipPrefix.length) === this.#o.skipPrefix) return false;
    if (this.#o.sample >= 1) return true;
    const [hi] = fingerprint(db, key, this.#seed ^ 0x5bd1e995);
    return hi / 2 ** 32 < this.#o.sample;
  }

  // ---------------------------------------------------------------------------------- live source

  async #runLive(): Promise<void> {
    const o = this.#o;
    const client = await BatchClient.connect(parseRedisUrl(o.source), { role: 'source', tlsInsecure: o.isTlsInsecure });
    this.#source = new StandaloneIo(client);
    const [offsets] = await client.batch([['DFLY', 'REPLICAOFFSET']]);
    const [info] = await client.batch([['INFO', 'keyspace']]);
    this.#isDragonfly = Array.isArray(offsets);
    this.#pexpire.source = await this.#hasPexpireTime(this.#source);
    let sourceDbs: number[] | undefined;
    if (!(info instanceof RespErrorReply)) {
      const ks = [...text(info).matchAll(/^db(\d+):keys=(\d+)/gm)];
      sourceDbs = ks.filter((m) => m[2] !== '0').map((m) => Number(m[1]));
      const dbs = this.#plan(sourceDbs);
      this.progress.totalKeys = ks.filter((m) => dbs.includes(Number(m[1]))).reduce((n, m) => n + Number(m[2]), 0);
    }
    const dbs = this.#plan(sourceDbs);
    const inflight = new Set<Promise<void>>();
    for (const db of dbs) {
      await this.#probeExpiries(db, this.#targetDbOf(db), false);
      let cursor = '0';
      do {
        const replies = await client.batch([...(client.db !== db ? [['SELECT', db]] : []), ['SCAN', cursor, 'COUNT', BATCH_KEYS]]);
        const scan = replies[replies.length - 1] as [Buffer, Buffer[]];
        cursor = text(scan[0]);
        const keys = scan[1].filter((k) => this.#wanted(db, k));
        this.progress.keys += scan[1].length;
        for (const k of keys) {
          const [hi, lo] = fingerprint(db, k, this.#seed);
          this.#seen.add(hi, lo);
        }
        // Several batches in flight: the round trips of one overlap the decoding of another.
        if (keys.length > 0) {
          const p = this.#compareLive(db, keys, o.rounds).finally(() => inflight.delete(p));
          inflight.add(p);
          if (inflight.size >= BATCHES_IN_FLIGHT) await Promise.race(inflight);
        }
        if (this.#pending.length >= BATCH_KEYS) await this.#recheck();
      } while (cursor !== '0');
      await Promise.all(inflight);
      await this.#probeExpiries(db, this.#targetDbOf(db), true);
    }
    while (this.#pending.length > 0) await this.#recheck();
    await this.#extras(dbs, true);
    while (this.#pending.length > 0) await this.#recheck();
  }

  /** Round 1 with commands: `TYPE`, `PEXPIRETIME` (or `PTTL`), `MEMORY USAGE` per key. */
  async #round1(io: KeyIo, db: number, keys: readonly Buffer[], isSource: boolean): Promise<SideKey[]> {
    if ((isSource ? this.#noTtl.source : this.#noTtl.target).has(db)) {
      const r = await io.each(db, keys, ROUND1_NO_TTL);
      return keys.map((_, i) => {
        const ty = text(r[2 * i]!);
        const m = r[2 * i + 1];
        if (m instanceof RespErrorReply) throw new Df2RedisError(`MEMORY USAGE refused by the ${isSource ? 'source' : 'target'}: ${m.message}`);
        return { exists: m !== null && ty !== 'none', type: ty, expireAtMs: -1, size: m === null ? 0 : Number(m) };
      });
    }
    const pexpire = isSource ? this.#pexpire.source : this.#pexpire.target;
    const r1 = await io.each(db, keys, pexpire ? ROUND1_PEXPIRETIME : ROUND1_PTTL);
    const now = Date.now();
    return keys.map((_, i) => {
      const type = r1[3 * i];
      const t = r1[3 * i + 1];
      const m = r1[3 * i + 2];
      if (m instanceof RespErrorReply) throw new Df2RedisError(`MEMORY USAGE refused by the ${isSource ? 'source' : 'target'}: ${m.message}`);
      const ttl = Number(t);
      const ty = text(type);
      return { exists: m !== null && ty !== 'none', type: ty, expireAtMs: ttl < 0 ? -1 : pexpire ? ttl : now + ttl, size: m === null ? 0 : Number(m) };
    });
  }

  /**
   * Round 1 when most keys are strings: `PEXPIRETIME` and `GETRANGE key 0 4095` per key, one round
   * trip and two commands for a string up to 4 KiB (its whole value, replies bounded to 4 MiB per
   * batch). Keys of other types (`WRONGTYPE`), longer strings, and sides without PEXPIRETIME get
   * {@link #round1} as well.
   */
  async #round1Strings(io: KeyIo, db: number, keys: readonly Buffer[], isSource: boolean): Promise<SideKey[]> {
    if ((isSource ? this.#noTtl.source : this.#noTtl.target).has(db)) return this.#round1StringsNoTtl(io, db, keys, isSource);
    if (!(isSource ? this.#pexpire.source : this.#pexpire.target)) return this.#round1(io, db, keys, isSource);
    const r = await io.each(db, keys, ROUND1_STRINGS);
    const out: SideKey[] = new Array(keys.length);
    const rest: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const e = r[2 * i];
      const v = r[2 * i + 1];
      if (e === -2) out[i] = { exists: false, type: 'none', expireAtMs: -1, size: 0 };
      else if (Buffer.isBuffer(v) && v.length < INLINE_STRING_BYTES && typeof e === 'number') {
        out[i] = { exists: true, type: 'string', expireAtMs: e < 0 ? -1 : e, size: v.length, value: v };
      } else rest.push(i);
    }
    if (rest.length > 0) {
      const more = await this.#round1(io, db, rest.map((i) => keys[i]!), isSource);
      rest.forEach((i, j) => (out[i] = more[j]!));
    }
    return out;
  }

  /**
   * {@link #round1Strings} on a side whose database holds no expiring key: `GETRANGE key 0 4095`
   * alone. An empty reply (a missing key, or an empty string) and anything but a short string go
   * through {@link #round1}.
   */
  async #round1StringsNoTtl(io: KeyIo, db: number, keys: readonly Buffer[], isSource: boolean): Promise<SideKey[]> {
    const r = await io.each(db, keys, ROUND1_STRINGS_NO_TTL);
    const out: SideKey[] = new Array(keys.length);
    const rest: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const v = r[i];
      if (Buffer.isBuffer(v) && v.length > 0 && v.length < INLINE_STRING_BYTES) out[i] = { exists: true, type: 'string', expireAtMs: -1, size: v.length, value: v };
      else rest.push(i);
    }
    if (rest.length > 0) {
      const more = await this.#round1(io, db, rest.map((i) => keys[i]!), isSource);
      rest.forEach((i, j) => (out[i] = more[j]!));
    }
    return out;
  }

  /**
   * `expires=` of database `db` in `INFO keyspace` of every node of `io`, summed (0 when the
   * database is empty); undefined when a node refuses INFO.
   */
  async #expiringKeys(io: KeyIo, db: number): Promise<number | undefined> {
    let n = 0;
    for (const node of io.nodes) {
      const [info] = await node.batch([['INFO', 'keyspace']]);
      if (info instanceof RespErrorReply) return undefined;
      const m = new RegExp(`^db${db}:keys=\\d+,expires=(\\d+)`, 'm').exec(text(info));
      n += m === null ? 0 : Number(m[1]);
    }
    return n;
  }

  /**
   * Before a database's pass: which sides hold no expiring key in it ({@link #noTtl}). After it
   * (`isEnd`): a side that gained some meanwhile is named in {@link CheckResult.expiryNote}.
   */
  async #probeExpiries(sourceDb: number, targetDb: number, isEnd: boolean): Promise<void> {
    const sides = [
      ['source', this.#source, sourceDb, this.#noTtl.source],
      ['target', this.#target, targetDb, this.#noTtl.target],
    ] as const;
    for (const [name, io, db, set] of sides) {
      if (io === undefined) continue;
      const n = await this.#expiringKeys(io, db);
      if (!isEnd) {
        if (n === 0) set.add(db);
        else set.delete(db);
      } else if (set.has(db) && n !== 0) {
        set.delete(db);
        this.#result.expiryNote = `${this.#result.expiryNote ?? ''}keys of db ${db} on the ${name} gained an expiry during the check, which read none there: run it again to compare those expiries. `;
      }
    }
  }

  /**
   * Round 1 and 2 of a batch on one side: `TYPE`, `PEXPIRETIME` (`PTTL` before Redis 7) and
   * `MEMORY USAGE` of every key, then the value of the small ones — `GET` for a string (a quarter of
   * DUMP's cost on the server: no CRC, no LZF), `DUMP` for the rest — in groups of bounded bytes.
   * Big values are left for the windows.
   */
  async #read(io: KeyIo, db: number, keys: readonly Buffer[], isSource: boolean): Promise<SideKey[]> {
    const out = this.#stringShare >= 0.5 ? await this.#round1Strings(io, db, keys, isSource) : await this.#round1(io, db, keys, isSource);
    const strings = out.reduce((n, k) => n + (k.type === 'string' ? 1 : 0), 0);
    this.#stringShare = 0.5 * this.#stringShare + (0.5 * strings) / Math.max(1, keys.length);
    const small: number[] = [];
    out.forEach((s, i) => s.exists && s.size <= this.#o.windowAboveBytes && s.value === undefined && s.payload === undefined && small.push(i));
    let group: number[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      const idx = group;
      group = [];
      bytes = 0;
      if (idx.length === 0) return;
      const strings = idx.filter((i) => out[i]!.type === 'string');
      const others = idx.filter((i) => out[i]!.type !== 'string');
      const [gets, dumps] = await Promise.all([io.each(db, strings.map((i) => keys[i]!), [['GET']]), io.each(db, others.map((i) => keys[i]!), [['DUMP']])]);
      const reply = new Map<number, RespValue>();
      strings.forEach((i, j) => reply.set(i, gets[j]!));
      others.forEach((i, j) => reply.set(i, dumps[j]!));
      idx.forEach((i) => {
        const p = reply.get(i);
        if (!Buffer.isBuffer(p)) out[i]!.exists = false;
        else if (out[i]!.type === 'string') out[i]!.value = p;
        else out[i]!.payload = p;
      });
    };
    for (const i of small) {
      group.push(i);
      bytes += out[i]!.size;
      if (bytes >= DUMP_BATCH_BYTES) await flush();
    }
    await flush();
    return out;
  }

  async #compareLive(db: number, keys: readonly Buffer[], roundsLeft: number): Promise<void> {
    const tdb = this.#targetDbOf(db);
    const [src, tgt, offsets] = await Promise.all([
      this.#read(this.#source!, db, keys, true).then(async (s) => [s, this.#isDragonfly ? await this.#offsets() : undefined] as const),
      this.#read(this.#target, tdb, keys, false),
    ]).then(([[s, off], t]) => [s, t, off] as const);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const s = src[i]!;
      const t = tgt[i]!;
      let found: { cls: CheckClass; detail: string } | undefined;
      if (!s.exists && !t.exists) continue;
      if (!s.exists) found = { cls: 'extra', detail: `only on the target (${t.type})` };
      else if (s.value !== undefined && t.value !== undefined) {
        found = s.value.equals(t.value) ? this.#ttlFound(s, t) : { cls: 'value', detail: `string: ${diffCanonical(canonicalString(s.value), canonicalString(t.value))}` };
      } else if (s.payload !== undefined && t.payload !== undefined && samePayload(s.payload, t.payload)) {
        // Same value bytes: equal whatever the type, without decoding; only the expiry is left.
        found = this.#ttlFound(s, t);
      } else if ((s.value !== undefined || s.payload !== undefined) && (!t.exists || t.value !== undefined || t.payload !== undefined)) {
        found = this.#compareSmall(key, canonicalOf(s, key), t.exists ? canonicalOf(t, key) : undefined, s, t, false);
      } else {
        found = await this.#compareBig(db, key, s, t);
      }
      if (found !== undefined && DIFFERENCE_CLASSES.has(found.cls) && roundsLeft > 0) {
        this.#pending.push({ db, key, offsets, roundsLeft: roundsLeft - 1 });
        continue;
      }
      this.#record(db, key, found);
    }
  }

  async #offsets(): Promise<bigint[]> {
    const [v] = await this.#source!.client.batch([['DFLY', 'REPLICAOFFSET']]);
    return Array.isArray(v) ? v.map((x) => BigInt(x as number)) : [];
  }

  /** Classifies a key whose value both sides returned whole (or that is missing on the target). */
  #compareSmall(key: Buffer, s: CanonicalValue | Error, t: CanonicalValue | Error | undefined, sk: SideKey, tk: SideKey, isSameBytes: boolean): { cls: CheckClass; detail: string } | undefined {
    if (s instanceof Error) return { cls: 'unsupported', detail: `the source value cannot be decoded: ${s.message}` };
    if (UNHOLDABLE_KINDS.has(s.kind) && (t === undefined || t instanceof Error || t.kind !== s.kind)) {
      return { cls: 'unsupported', detail: `${s.kind} value the target cannot hold${t === undefined ? ' (absent on the target)' : ''}` };
    }
    if (t === undefined) return { cls: 'missing', detail: `${typeName(s.kind)} absent on the target` };
    if (t instanceof Error) return { cls: 'type', detail: `source ${typeName(s.kind)}, target value cannot be decoded (${t.message})` };
    if (typeName(s.kind) !== typeName(t.kind)) return { cls: 'type', detail: `source ${typeName(s.kind)}, target ${typeName(t.kind)}` };
    if (!isSameBytes) {
      const d = diffCanonical(s, t);
      if (d !== undefined) return { cls: 'value', detail: `${typeName(s.kind)}: ${d}` };
    }
    const ttl = this.#ttlDiff(sk.expireAtMs, tk.expireAtMs);
    if (ttl !== undefined) return { cls: 'ttl', detail: ttl };
    if (s.hasFieldTtl && !t.hasFieldTtl) return { cls: 'lossy', detail: 'hash fields with their own expiry on the source; the target holds them without' };
    return undefined;
  }

  #ttlFound(s: SideKey, t: SideKey): { cls: CheckClass; detail: string } | undefined {
    const ttl = this.#ttlDiff(s.expireAtMs, t.expireAtMs);
    return ttl === undefined ? undefined : { cls: 'ttl', detail: ttl };
  }

  #ttlDiff(s: number, t: number): string | undefined {
    if (s === -1 && t === -1) return undefined;
    if (s === -1 || t === -1) return `expiry: source ${s === -1 ? 'none' : new Date(s).toISOString()}, target ${t === -1 ? 'none' : new Date(t).toISOString()}`;
    if (Math.abs(s - t) <= this.#o.ttlToleranceMs) return undefined;
    return `expiry off by ${t - s} ms (source ${new Date(s).toISOString()}, target ${new Date(t).toISOString()})`;
  }

  /** A key too big for one DUMP on either side: TYPE, then windows. */
  async #compareBig(db: number, key: Buffer, s: SideKey, t: SideKey): Promise<{ cls: CheckClass; detail: string } | undefined> {
    const tdb = this.#targetDbOf(db);
    const st = s.type;
    if (MODULE_TYPES.has(st) && !t.exists) return { cls: 'unsupported', detail: `${st} value the target cannot hold (absent on the target)` };
    if (!t.exists) return { cls: 'missing', detail: `${st} absent on the target` };
    const tt = t.type;
    if (st !== tt) return { cls: 'type', detail: `source ${st}, target ${tt}` };
    if (!WINDOW_KINDS.has(st)) return { cls: 'unsupported', detail: `${st} values are not compared` };
    const cmp = new WindowComparer(this.#target, tdb, key, st as WindowKind);
    let diff: string | undefined;
    const count = await readWindows(this.#source!, db, key, st as WindowKind, async (p) => {
      diff = await cmp.feed(p);
      return diff === undefined;
    });
    if (diff === undefined) diff = await cmp.finish(count, st === 'stream' ? await streamMetaFromCommands(this.#source!, db, key) : undefined);
    if (diff !== undefined) return { cls: 'value', detail: `${st}: ${diff}` };
    const ttl = this.#ttlDiff(s.expireAtMs, t.expireAtMs);
    return ttl === undefined ? undefined : { cls: 'ttl', detail: ttl };
  }

  /** Waits for the fence (or the pause) and compares the pending keys again. */
  async #recheck(): Promise<void> {
    const batch = this.#pending.splice(0, BATCH_KEYS);
    if (batch.length === 0) return;
    this.#result.rechecked += batch.length;
    const withOffsets = batch.filter((p) => p.offsets !== undefined && p.offsets.length > 0);
    if (withOffsets.length > 0 && (this.#o.statusUrl !== undefined || (await this.#hasCheckpointFence()))) {
      const want: bigint[] = [];
      for (const p of withOffsets) p.offsets!.forEach((x, i) => (want[i] = want[i] === undefined || x > want[i]! ? x : want[i]!));
      if (this.#o.statusUrl !== undefined) this.#result.fence = 'status';
      if (!(await this.#waitFence(want))) this.#result.fenceTimedOut = true;
    } else {
      await new Promise((r) => setTimeout(r, this.#o.roundPauseMs));
    }
    const byDb = new Map<number, Pending[]>();
    for (const p of batch) {
      let g = byDb.get(p.db);
      if (g === undefined) byDb.set(p.db, (g = []));
      g.push(p);
    }
    for (const [db, ps] of byDb) {
      // Keys with the same rounds left go together (they all started in the same round).
      const rounds = Math.min(...ps.map((p) => p.roundsLeft));
      await this.#compareLive(db, ps.map((p) => p.key), rounds);
    }
  }

  /**
   * Without `--status-url`: whether the target holds the replicator's checkpoint (stable, every
   * flow's LSN; src/pipeline/checkpoint.ts), asked once. Its `lsn:<i>` is never ahead of what the
   * target holds, so it fences like the replicator's `/status`, and outlives the replicator.
   */
  async #hasCheckpointFence(): Promise<boolean> {
    if (this.#o.statusUrl !== undefined) return false;
    this.#result.fence ??= (await this.#checkpointLsns()) !== undefined ? 'checkpoint' : 'none';
    return this.#result.fence === 'checkpoint';
  }

  /** The checkpoint's next LSN per flow on the target, or undefined (none, not stable, unreadable). */
  async #checkpointLsns(): Promise<bigint[] | undefined> {
    const key = checkpointKey(this.#o.skipPrefix === '' ? DEFAULT_CHECKPOINT_PREFIX : this.#o.skipPrefix);
    const ep = this.#resolved.endpoints[0]!;
    const [[reply]] = (await this.#target.exec(ep.hasDb === true ? ep.db : 0, [key], (k) => [['HGETALL', k]])) as [[RespValue]];
    try {
      const cp = parseCheckpoint(reply);
      return cp !== undefined && cp.phase === 'stable' && cp.lsns.every((l) => l !== undefined) ? (cp.lsns as bigint[]) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Polls `/status` (or, without `--status-url`, the checkpoint on the target) until every flow's
   * acknowledged LSN reached `want[flow]`; false on timeout.
   */
  async #waitFence(want: bigint[]): Promise<boolean> {
    const deadline = Date.now() + this.#o.fenceTimeoutMs;
    if (this.#o.statusUrl === undefined) {
      for (;;) {
        const lsns = await this.#checkpointLsns();
        if (lsns !== undefined && want.every((w, i) => lsns[i] !== undefined && lsns[i]! >= w)) return true;
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    for (;;) {
      try {
        const res = await fetch(this.#o.statusUrl!);
        const body = (await res.json()) as { flows?: Array<{ id: number; lsn: number | string }> };
        const flows = body.flows ?? [];
        if (want.every((w, i) => { const f = flows.find((x) => x.id === i); return f !== undefined && BigInt(f.lsn) >= w; })) return true;
      } catch (err) {
        if (Date.now() > deadline) throw new Df2RedisError(`--status-url ${this.#o.statusUrl}: ${(err as Error).message}`, { cause: err });
      }
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // ---------------------------------------------------------------------------------- extras

  /** Pass 2: target keys not seen in pass 1. */
  async #extras(sourceDbs: readonly number[], isLive: boolean): Promise<void> {
    const tdbs = this.#resolved.info.clusterEnabled ? [0] : [...new Set(sourceDbs.map((d) => this.#targetDbOf(d)))];
    if (!this.#resolved.info.clusterEnabled && this.#o.dbs === undefined && !this.#resolved.endpoints[0]!.hasDb) {
      // Without --dbs every target database is compared: one the source does not use is all extra.
      const [info] = await this.#target.nodes[0]!.batch([['INFO', 'keyspace']]);
      for (const m of text(info).matchAll(/^db(\d+):keys=/gm)) if (!tdbs.includes(Number(m[1]))) tdbs.push(Number(m[1]));
    }
    for (const tdb of tdbs) {
      const db = this.#sourceDbOf(tdb);
      for (const node of this.#target.nodes) {
        let cursor = '0';
        do {
          const replies = await node.batch([...(node.db !== tdb ? [['SELECT', tdb]] : []), ['SCAN', cursor, 'COUNT', EXTRAS_SCAN_COUNT]]);
          const [next, keys] = replies[replies.length - 1] as [Buffer, Buffer[]];
          cursor = text(next);
          const unseen = keys.filter((k) => {
            const [hi, lo] = fingerprint(db, k, this.#seed);
            return !this.#seen.has(hi, lo) && this.#wanted(db, k);
          });
          if (unseen.length === 0) continue;
          if (isLive) await this.#compareLive(db, unseen, this.#o.rounds);
          else {
            const types = await this.#target.exec(tdb, unseen, (k) => [['TYPE', k]]);
            unseen.forEach((k, i) => {
              const t = text(types[i]![0]);
              if (t !== 'none') this.#record(db, k, { cls: 'extra', detail: `only on the target (${t})` });
            });
          }
        } while (cursor !== '0');
      }
    }
  }

  // ---------------------------------------------------------------------------------- file source

  async #runFile(): Promise<void> {
    const o = this.#o;
    let size: number;
    try {
      size = (await stat(o.source)).size;
    } catch (err) {
      throw new ConfigError(`--source ${o.source}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
    this.progress.totalBytes = size;
    // Pre-scan: databases and key count, values not built.
    const dbsSeen = new Set<number>();
    let keys = 0;
    await this.#readFile({ onEntry: (e) => (dbsSeen.add(e.db), keys++) }, { skipValues: true }, false);
    const dbs = this.#plan([...dbsSeen].sort((a, b) => a - b));
    this.progress.totalKeys = keys;
    this.progress.bytesRead = 0;
    for (const db of dbs) await this.#probeExpiries(db, this.#targetDbOf(db), false);

    let smalls: FileSmall[] = [];
    /** Bytes of the values in `smalls`: a batch is compared once it holds 1000 keys or this many bytes. */
    let smallBytes = 0;
    let pieces: SnapshotEntry[] = [];
    await this.#readFile(
      {
        onEntry: (e) => {
          if (!dbs.includes(e.db)) return;
          if (e.isFirst && e.isLast) {
            if (!this.#wanted(e.db, e.key)) return;
            const b = new CanonicalBuilder();
            b.add(e);
            const value = b.build();
            for (const it of value.items) smallBytes += it.length;
            smalls.push({ db: e.db, key: e.key, value, expireAtMs: e.expireAtMs, entry: e });
          } else pieces.push(e);
        },
      },
      {},
      true,
      async () => {
        if (smalls.length >= BATCH_KEYS || smallBytes >= DUMP_BATCH_BYTES || (pieces.length > 0 && smalls.length > 0)) {
          const s = smalls;
          smalls = [];
          smallBytes = 0;
          await this.#compareFileSmall(s);
        }
        if (pieces.length > 0) {
          const p = pieces;
          pieces = [];
          for (const e of p) await this.#feedFilePiece(e);
        }
      },
    );
    if (smalls.length > 0) await this.#compareFileSmall(smalls);
    for (const db of dbs) await this.#probeExpiries(db, this.#targetDbOf(db), true);
    await this.#extras(dbs, false);
  }

  /** Streams the file through a decoder; `between` runs after each chunk (async work, bounded by the chunk). */
  async #readFile(handler: { onEntry(e: SnapshotEntry): void }, options: { skipValues?: boolean }, countProgress: boolean, between?: () => Promise<void>): Promise<void> {
    const decoder = new RdbDecoder(handler, { source: this.#o.source, maxRestorePayloadBytes: 0, ...options });
    for await (const chunk of createReadStream(this.#o.source, { highWaterMark: 256 * 1024 })) {
      decoder.push(chunk as Buffer);
      if (countProgress) this.progress.bytesRead += (chunk as Buffer).length;
      if (between) await between();
    }
    decoder.end();
    if (between) await between();
  }

  async #compareFileSmall(items: FileSmall[]): Promise<void> {
    const byDb = new Map<number, typeof items>();
    for (const it of items) {
      let g = byDb.get(it.db);
      if (g === undefined) byDb.set(it.db, (g = []));
      g.push(it);
    }
    for (const [db, group] of byDb) {
      const tgt = await this.#read(this.#target, this.#targetDbOf(db), group.map((g) => g.key), false);
      for (let i = 0; i < group.length; i++) {
        const { key, value, expireAtMs, entry } = group[i]!;
        const t = tgt[i]!;
        if (t.exists && t.payload === undefined && t.value === undefined) {
          // Big on the target only: compared in windows, with the source value as one piece.
          await this.#feedFilePiece(entry);
          continue;
        }
        const [hi, lo] = fingerprint(db, key, this.#seed);
        this.#seen.add(hi, lo);
        this.progress.keys++;
        this.#record(db, key, this.#compareSmall(key, value, t.exists ? canonicalOf(t, key) : undefined, { exists: true, type: typeName(value.kind), expireAtMs, size: 0 }, t, false));
      }
    }
  }

  /** The file's object being compared piece by piece (see {@link #feedFilePiece}). */
  #big:
    | {
        db: number;
        key: Buffer;
        isSampled: boolean;
        cmp: WindowComparer | undefined;
        diff: string | undefined;
        /** Known from the first piece (missing, type, unsupported): the pieces are not compared. */
        decided: { cls: CheckClass; detail: string } | undefined;
        expireAtMs: number;
        sourceKind: ValueKind;
      }
    | undefined;

  /** One piece of a multi-piece (or big) object of the file, compared in windows. */
  async #feedFilePiece(e: SnapshotEntry): Promise<void> {
    if (e.isFirst) {
      const isSampled = this.#wanted(e.db, e.key);
      this.#big = { db: e.db, key: e.key, isSampled, cmp: undefined, diff: undefined, decided: undefined, expireAtMs: e.expireAtMs, sourceKind: e.valueKind };
      if (isSampled) {
        const [hi, lo] = fingerprint(e.db, e.key, this.#seed);
        this.#seen.add(hi, lo);
        const tdb = this.#targetDbOf(e.db);
        const [[type]] = await this.#target.exec(tdb, [e.key], (k) => [['TYPE', k]]);
        const tt = text(type);
        const sk = typeName(e.valueKind);
        if (UNHOLDABLE_KINDS.has(e.valueKind)) this.#big.decided = { cls: 'unsupported', detail: `${e.valueKind} value the target cannot hold` };
        else if (tt === 'none') this.#big.decided = { cls: 'missing', detail: `${sk} absent on the target` };
        else if (tt !== sk) this.#big.decided = { cls: 'type', detail: `source ${sk}, target ${tt}` };
        else this.#big.cmp = new WindowComparer(this.#target, tdb, e.key, sk as WindowKind);
      }
    }
    const big = this.#big!;
    if (big.cmp !== undefined && big.diff === undefined) {
      const p = pieceOfEntry(e);
      if (p !== undefined) big.diff = await big.cmp.feed(p);
    }
    if (!e.isLast) return;
    this.#big = undefined;
    if (!big.isSampled) return;
    this.progress.keys++;
    let found = big.decided;
    if (found === undefined && big.cmp !== undefined) {
      const meta = e.valueKind === 'stream' && e.value.meta !== undefined ? streamMetaItems(e.value.meta) : undefined;
      const diff = big.diff ?? (await big.cmp.finish(big.cmp.count, meta));
      if (diff !== undefined) found = { cls: 'value', detail: `${typeName(big.sourceKind)}: ${diff}` };
      else {
        const [[t]] = await this.#target.exec(this.#targetDbOf(big.db), [big.key], (k) => [[this.#pexpire.target ? 'PEXPIRETIME' : 'PTTL', k]]);
        const n = Number(t);
        const ttl = this.#ttlDiff(big.expireAtMs, n < 0 ? -1 : this.#pexpire.target ? n : Date.now() + n);
        if (ttl !== undefined) found = { cls: 'ttl', detail: ttl };
      }
    }
    this.#record(big.db, big.key, found);
  }

  // ---------------------------------------------------------------------------------- results

  #record(db: number, key: Buffer, found: { cls: CheckClass; detail: string } | undefined): void {
    const r = this.#result;
    const d = (r.byDb[String(db)] ??= { compared: 0 });
    r.compared++;
    d.compared++;
    if (found === undefined) return;
    r.counts[found.cls]++;
    d[found.cls] = (d[found.cls] ?? 0) + 1;
    const ex = (r.examples[found.cls] ??= []);
    if (ex.length < this.#o.maxKeys) ex.push({ db, key: printableKey(key) ?? '', detail: found.detail });
  }
}

function decodeSafe(payload: Buffer, key: Buffer): CanonicalValue | Error {
  try {
    return canonicalFromDump(payload, key);
  } catch (err) {
    return err as Error;
  }
}

function canonicalString(value: Buffer): CanonicalValue {
  return { kind: 'string', items: [value], hasFieldTtl: false };
}

/** A small value read on one side (GET or DUMP) in canonical form. */
function canonicalOf(k: SideKey, key: Buffer): CanonicalValue | Error {
  return k.value !== undefined ? canonicalString(k.value) : decodeSafe(k.payload!, key);
}

/** Two DUMP payloads with the same value bytes (their RDB version and CRC trailer aside). */
function samePayload(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && a.subarray(0, a.length - 10).equals(b.subarray(0, b.length - 10));
}

/**
 * A share as a percentage with two significant digits, rounded up (a bound must not shrink when
 * printed) and without trailing zeros: 2.9957e-5 → `0.003 %`, 0.0466 → `4.7 %`.
 */
export function formatPercent(share: number): string {
  const pct = share * 100;
  if (pct <= 0) return '0 %';
  const digits = Math.max(0, 1 - Math.floor(Math.log10(pct)));
  const factor = 10 ** digits;
  const up = Math.ceil(pct * factor - 1e-9) / factor;
  const fixed = up.toFixed(digits);
  return `${digits > 0 ? fixed.replace(/\.?0+$/, '') : fixed} %`;
}

/** Runs a check with {@link Checker}. */
export async function runCheck(options: CheckOptions): Promise<CheckResult> {
  return new Checker(options).run();
}
