/**
 * Dragonfly journal command → Redis commands (reference §6: "Commands that appear in the journal",
 * "Commands a Redis replayer must translate, drop or handle specially").
 *
 * Pure: no sockets, no logging. The pipeline executes what {@link JournalTranslator.translate}
 * returns and reports the drop / lossy counters in `/status`.
 */
// Upper-cased ASCII token of a short argument (command names, options; interned names from their table).
import { commandToken as token } from '../decode/journal/command-names.js';
import { floatIncrementCommand } from './float-increment.js';

/** What the target can do, as far as translation cares (a subset of the sink's TargetInfo). */
export interface TargetCapabilities {
  /** `redis_version` of the target, e.g. `7.0.15`. */
  redisVersion: string;
  /** Upper-case command names the target knows (e.g. from `COMMAND`); checked for module commands. */
  hasCommand(name: string): boolean;
}

/** One Redis command: argv (name first) and the key it writes, for routing and error messages. */
export interface TranslatedCommand {
  args: Buffer[];
  key: Buffer | undefined;
}

/**
 * What to do with one journal COMMAND.
 * - `write`: send `commands` in order (usually one, the journal argv itself).
 * - `restore`: a Dragonfly `RESTORE` (cross-shard RENAME/COPY): decode `payload` (type byte + value
 *   + LE16 RDB version + LE64 CRC64, `RdbSerializer::DumpValue`) and write it as a snapshot object.
 *   `expireAtMs` is absolute Unix ms, -1 for none.
 * - `global`: `FLUSHALL`/`FLUSHDB`, present on every flow with one txid: barrier, then once.
 * - `repair`: the journal lost the command's result (cross-shard `SORT … STORE`, §6.1 fact 12):
 *   read `keys` back from the master and write them.
 * - `drop`: nothing to send (Dragonfly-only or read-only command, or a module the target lacks).
 * `lossy` (on `write`) names a translation that loses information (e.g. member TTLs), for counting.
 */
export type Translation =
  | {
      action: 'write';
      commands: TranslatedCommand[];
      lossy?: string;
      /**
       * True for a plain `SET key value` (no option left): the applier may send a run of them as
       * one `MSET` (same effect: each key set, its TTL removed, in order; Redis t_string.c
       * `msetGenericCommand`).
       */
      isPlainSet?: boolean;
    }
  | { action: 'restore'; key: Buffer; payload: Buffer; expireAtMs: number; replace: boolean }
  | { action: 'global'; name: 'FLUSHALL' | 'FLUSHDB'; args: Buffer[] }
  | { action: 'repair'; keys: Buffer[] }
  | { action: 'drop'; reason: string };

const STICK = 'STICK';
const MCFLAGS = '_MCFLAGS';

/**
 * The clock of the relative TTLs of one record: `receivedAtMs` when given, else now (Unix ms).
 * Made only for the commands that have such TTLs, not per record.
 */
function clock(receivedAtMs: number | undefined): () => number {
  return () => receivedAtMs ?? Date.now();
}

/** Parses a decimal integer argument; NaN when not an integer. */
function intArg(arg: Buffer | undefined): number {
  if (arg === undefined) return Number.NaN;
  const s = arg.toString('latin1');
  return /^-?\d+$/.test(s) ? Number(s) : Number.NaN;
}

/** `major.minor` comparison of a `redis_version` string with a required version. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [maj = 0, min = 0] = version.split('.').map((p) => Number.parseInt(p, 10));
  return maj > major || (maj === major && min >= minor);
}

const MODULE_PREFIXES: ReadonlyArray<[string, string]> = [
  ['JSON.', 'JSON.SET'],
  ['BF.', 'BF.ADD'],
  ['CF.', 'CF.ADD'],
  ['CMS.', 'CMS.INCRBY'],
  ['TOPK.', 'TOPK.ADD'],
];

/**
 * Translates journal commands for one target. Stateless apart from the capabilities it was built
 * with; safe to share between flows.
 */
export class JournalTranslator {
  readonly #caps: TargetCapabilities;
  readonly #hasFieldTtl: boolean;
  readonly #moduleAvailable = new Map<string, boolean>();

  constructor(caps: TargetCapabilities) {
    this.#caps = caps;
    this.#hasFieldTtl = versionAtLeast(caps.redisVersion, 7, 4);
    for (const [prefix, probe] of MODULE_PREFIXES) this.#moduleAvailable.set(prefix, caps.hasCommand(probe));
  }

  /**
   * Translates one journal COMMAND's argv (`args[0]` = command name, any case) with its `txid`
   * (0 = single-shard). `receivedAtMs` is when the record was read from the flow (Unix ms; default
   * now): the relative field TTLs Dragonfly journals as typed (`HSETEX`, `FIELDEXPIRE`, `HEXPIRE`,
   * `HPEXPIRE`, `HGETEX`/`HSETEX … EX|PX`) become absolute from that instant (`HPEXPIREAT`, `PXAT`),
   * so replay lag does not stretch them (DESIGN invariant 5). Never throws for unknown commands:
   * they pass through unchanged and the target decides (an error reply then names the command and key).
   */
  translate(args: Buffer[], txid: bigint, receivedAtMs?: number): Translation {
    const name = token(args[0]);
    switch (name) {
      case 'SET':
        return this.#set(args);
      case 'RESTORE':
        return this.#restore(args);
      case 'FLUSHALL':
      case 'FLUSHDB':
        return { action: 'global', name, args };
      case 'STICK':
      case 'SHRINK':
        return { action: 'drop', reason: 'dragonfly-only, no effect on redis' };
      case 'SCRIPT':
        return token(args[1]) === 'FLAGS'
          ? { action: 'drop', reason: 'dragonfly-only SCRIPT FLAGS' }
          : { action: 'write', commands: [{ args, key: undefined }] };
      case 'DFLYCLUSTER':
        return { action: 'drop', reason: 'dragonfly cluster management' };
      case 'SADDEX':
        return this.#saddex(args);
      case 'HSETEX':
        return this.#hsetex(args, clock(receivedAtMs));
      case 'FIELDEXPIRE':
        return this.#fieldexpire(args, clock(receivedAtMs));
      case 'HEXPIRE':
      case 'HPEXPIRE': {
        const ms = relativeMs(args[2], name === 'HEXPIRE' ? 1000 : 1);
        if (args[1] === undefined || ms === undefined) return { action: 'write', commands: [{ args, key: args[1] }] };
        return { action: 'write', commands: [{ args: [Buffer.from('HPEXPIREAT'), args[1], Buffer.from(String((receivedAtMs ?? Date.now()) + ms)), ...args.slice(3)], key: args[1] }] };
      }
      case 'HGETEX':
        return { action: 'write', commands: [{ args: absoluteExPx(args, 2, clock(receivedAtMs)), key: args[1] }] };
      case 'PREPEND':
        return {
          action: 'write',
          commands: [
            {
              args: [
                Buffer.from('EVAL'),
                PREPEND_SCRIPT,
                Buffer.from('1'),
                args[1] ?? Buffer.alloc(0),
                args[2] ?? Buffer.alloc(0),
              ],
              key: args[1],
            },
          ],
        };
      case 'INCRBYFLOAT':
      case 'HINCRBYFLOAT': {
        // Dragonfly's double arithmetic and formatting, not Redis's long double (float-increment.ts).
        const cmd = floatIncrementCommand(args, name === 'HINCRBYFLOAT');
        return { action: 'write', commands: [{ args: cmd ?? args, key: args[1] }] };
      }
      case 'SORT':
        return this.#sort(args, txid);
      case 'ZRANGESTORE':
        return this.#zrangestore(args);
      case 'ZUNIONSTORE':
      case 'ZINTERSTORE':
      case 'ZDIFFSTORE':
        return this.#zstore(args);
      case 'LMPOP':
        return this.#mpop(args, ['LEFT', 'RIGHT']);
      case 'ZMPOP':
        return this.#mpop(args, ['MIN', 'MAX']);
      case 'GEORADIUS':
      case 'GEORADIUSBYMEMBER':
      case 'GEORADIUS_RO':
      case 'GEORADIUSBYMEMBER_RO':
        return this.#hasAnyToken(args, 2, ['STORE', 'STOREDIST'])
          ? { action: 'write', commands: [{ args, key: args[1] }] }
          : { action: 'drop', reason: 'read-only' };
      case 'CL.THROTTLE':
        return this.#caps.hasCommand('CL.THROTTLE')
          ? { action: 'write', commands: [{ args, key: args[1] }] }
          : { action: 'drop', reason: 'needs redis-cell' };
      default:
        break;
    }
    if (name.startsWith('FT.')) return { action: 'drop', reason: 'dragonfly search index (per shard)' };
    for (const [prefix] of MODULE_PREFIXES) {
      if (name.startsWith(prefix)) {
        return this.#moduleAvailable.get(prefix) === true
          ? { action: 'write', commands: [{ args, key: args[1] }] }
          : { action: 'drop', reason: `target has no ${prefix.slice(0, -1)} module` };
      }
    }
    return { action: 'write', commands: [{ args, key: args[1] }] };
  }

  /** `SET k v [PXAT ms] [KEEPTTL] [STICK] [_MCFLAGS n]` → without the Dragonfly-only tail. */
  #set(args: Buffer[]): Translation {
    let cut = -1;
    for (let i = 3; i < args.length; i++) {
      const t = token(args[i]);
      if (t === STICK || t === MCFLAGS) {
        cut = i;
        break;
      }
    }
    if (cut < 0) return { action: 'write', commands: [{ args, key: args[1] }], isPlainSet: args.length === 3 };
    const kept = args.slice(0, cut);
    for (let i = cut; i < args.length; i++) {
      const t = token(args[i]);
      if (t === MCFLAGS) i++;
      else if (t !== STICK) kept.push(args[i]!);
    }
    return { action: 'write', commands: [{ args: kept, key: args[1] }], isPlainSet: kept.length === 3 };
  }

  /** `RESTORE k ttl payload [REPLACE] [ABSTTL] [STICK] …` (Dragonfly `Renamer::DeserializeDest`). */
  #restore(args: Buffer[]): Translation {
    const key = args[1];
    const payload = args[3];
    const ttl = intArg(args[2]);
    if (key === undefined || payload === undefined || Number.isNaN(ttl)) {
      return { action: 'write', commands: [{ args, key }] };
    }
    let replace = false;
    let absTtl = false;
    for (let i = 4; i < args.length; i++) {
      const t = token(args[i]);
      if (t === 'REPLACE') replace = true;
      else if (t === 'ABSTTL') absTtl = true;
    }
    // A relative TTL can only be re-evaluated at replay time (the record carries no timestamp).
    const expireAtMs = ttl === 0 ? -1 : absTtl ? ttl : Date.now() + ttl;
    return { action: 'restore', key, payload, expireAtMs, replace };
  }

  /** `SADDEX k [KEEPTTL] ttl m…` → `SADD k m…` (member TTLs do not exist in Redis). */
  #saddex(args: Buffer[]): Translation {
    let i = 2;
    if (token(args[i]) === 'KEEPTTL') i++;
    i++; // ttl
    if (args.length <= i) return { action: 'drop', reason: 'malformed SADDEX' };
    return {
      action: 'write',
      commands: [{ args: [Buffer.from('SADD'), args[1]!, ...args.slice(i)], key: args[1] }],
      lossy: 'SADDEX',
    };
  }

  /**
   * Dragonfly `HSETEX k [NX|FNX|FXX] [KEEPTTL] ttl f v…` → `HSET`/`HSETNX` + `HEXPIRE` (Redis ≥ 7.4),
   * else `HSET` only (lossy). The Redis 8 form (with `FIELDS`) passes through on Redis ≥ 8.0.
   */
  #hsetex(args: Buffer[], at: () => number): Translation {
    const key = args[1];
    if (key === undefined) return { action: 'drop', reason: 'malformed HSETEX' };
    if (this.#hasAnyToken(args, 2, ['FIELDS'])) {
      return versionAtLeast(this.#caps.redisVersion, 8, 0)
        ? { action: 'write', commands: [{ args: absoluteExPx(args, 2, at), key }] }
        : { action: 'drop', reason: 'redis 8 HSETEX form needs redis >= 8.0' };
    }
    let i = 2;
    let onlyNew = false;
    let keepTtl = false;
    for (;;) {
      const t = token(args[i]);
      if (t === 'NX' || t === 'FNX') onlyNew = true;
      else if (t === 'KEEPTTL') keepTtl = true;
      else if (t !== 'FXX') break;
      i++;
    }
    const ttl = args[i];
    const pairs = args.slice(i + 1);
    if (ttl === undefined || pairs.length === 0 || pairs.length % 2 !== 0) return { action: 'drop', reason: 'malformed HSETEX' };
    const commands: TranslatedCommand[] = [];
    if (onlyNew) {
      for (let p = 0; p < pairs.length; p += 2) commands.push({ args: [Buffer.from('HSETNX'), key, pairs[p]!, pairs[p + 1]!], key });
    } else {
      commands.push({ args: [Buffer.from('HSET'), key, ...pairs], key });
    }
    if (!this.#hasFieldTtl) return { action: 'write', commands, lossy: 'HSETEX' };
    const ms = relativeMs(ttl, 1000);
    if (!keepTtl && ms !== undefined) {
      const fields: Buffer[] = [];
      for (let p = 0; p < pairs.length; p += 2) fields.push(pairs[p]!);
      commands.push({
        args: [Buffer.from('HPEXPIREAT'), key, Buffer.from(String(at() + ms)), Buffer.from('FIELDS'), Buffer.from(String(fields.length)), ...fields],
        key,
      });
    }
    return { action: 'write', commands };
  }

  /** `FIELDEXPIRE k ttl f…` → `HEXPIRE k ttl FIELDS n f…` on Redis ≥ 7.4, else dropped. */
  #fieldexpire(args: Buffer[], at: () => number): Translation {
    const key = args[1];
    const ms = relativeMs(args[2], 1000);
    if (key === undefined || ms === undefined || args.length < 4) return { action: 'drop', reason: 'malformed FIELDEXPIRE' };
    if (!this.#hasFieldTtl) return { action: 'drop', reason: 'field TTLs need redis >= 7.4' };
    const fields = args.slice(3);
    return {
      action: 'write',
      commands: [
        { args: [Buffer.from('HPEXPIREAT'), key, Buffer.from(String(at() + ms)), Buffer.from('FIELDS'), Buffer.from(String(fields.length)), ...fields], key },
      ],
      lossy: 'FIELDEXPIRE',
    };
  }

  /**
   * `SORT src … STORE dst` (same shard) passes through; a multi-shard `SORT … STORE` reaches each
   * flow as `SORT <its key>` with a non-zero txid and no `STORE` — its result is only on the master
   * (§6.1 fact 12), so it is read back. A read-only `SORT` (txid 0, no `STORE`) is dropped.
   * Masters v1.31–v1.36 register `SORT` with every argument as a key (first 1, last -1), so the
   * per-shard subset of a multi-shard `SORT` may hold option tokens too (recorded on v1.34.8:
   * `SORT STORE` on a third flow), even `SORT src STORE`: with a non-zero txid every argument is
   * read back (a name that is no key on the master is deleted on the target, as on the master).
   */
  #sort(args: Buffer[], txid: bigint): Translation {
    if (txid !== 0n && args.length >= 2) return { action: 'repair', keys: args.slice(1) };
    if (this.#hasAnyToken(args, 2, ['STORE'])) return { action: 'write', commands: [{ args, key: args[1] }] };
    return { action: 'drop', reason: 'read-only' };
  }

  /**
   * `ZRANGESTORE dst src min max …` (≥ 5 arguments: one shard, or a master that rewrites it) passes
   * through. Masters up to v1.34 (recorded on v1.34.8; `NO_AUTOJOURNAL` from v1.35.0, see
   * `src/source/dragonfly-versions.ts`) also auto-journal a multi-shard `ZRANGESTORE` as per-shard key subsets — `ZRANGESTORE dst` on
   * the destination's flow, `ZRANGESTORE src` on the source's — which Redis refuses: like the
   * multi-shard `SORT`, each such key is read back from the master.
   */
  #zrangestore(args: Buffer[]): Translation {
    if (args.length >= 5) return { action: 'write', commands: [{ args, key: args[1] }] };
    if (args.length < 2) return { action: 'drop', reason: 'malformed ZRANGESTORE' };
    return { action: 'repair', keys: args.slice(1) };
  }

  /**
   * `ZUNIONSTORE|ZINTERSTORE|ZDIFFSTORE dst numkeys key… [options]`. Masters from v1.34 rewrite
   * these as `DEL dst` + `ZADD dst …` and never journal them; masters up to v1.33 auto-journal them
   * (`kStoreMask` without `NO_AUTOJOURNAL`, zset_family.cc): on one shard the full command, which
   * passes through (Redis recomputes it); on several shards each flow gets its key subset only
   * (`ZUNIONSTORE dst`, `ZUNIONSTORE src1 src2`), which Redis refuses or misreads. A record whose
   * `numkeys` is not an integer ≥ 1 followed by that many keys is such a subset: every argument is
   * a key, read back from the master (table `COMMAND_JOURNAL` in `src/source/dragonfly-versions.ts`).
   */
  #zstore(args: Buffer[]): Translation {
    const n = intArg(args[2]);
    if (n >= 1 && args.length >= 3 + n) return { action: 'write', commands: [{ args, key: args[1] }] };
    if (args.length < 2) return { action: 'drop', reason: `malformed ${token(args[0])}` };
    return { action: 'repair', keys: args.slice(1) };
  }

  /**
   * `LMPOP|ZMPOP numkeys key… LEFT|RIGHT|MIN|MAX [COUNT n]`. Masters rewrite them as `LPOP`/`RPOP`
   * (LMPOP from v1.34) and `ZPOPMIN`/`ZPOPMAX k n` (ZMPOP from v1.32); older masters auto-journal
   * them: the full command on one shard (passes through: Redis pops the same elements), or each
   * flow's key subset on several shards (`LMPOP k1`, `LMPOP k2`), recognised by the missing
   * `numkeys`/direction and read back from the master key by key.
   */
  #mpop(args: Buffer[], directions: string[]): Translation {
    const n = intArg(args[1]);
    if (n >= 1 && args.length >= 3 + n && directions.includes(token(args[2 + n]))) return { action: 'write', commands: [{ args, key: args[2] }] };
    if (args.length < 2) return { action: 'drop', reason: `malformed ${token(args[0])}` };
    return { action: 'repair', keys: args.slice(1) };
  }

  #hasAnyToken(args: Buffer[], from: number, tokens: string[]): boolean {
    for (let i = from; i < args.length; i++) if (tokens.includes(token(args[i]))) return true;
    return false;
  }
}

/** Dragonfly `PREPEND k v` (memcache): prepend to the string, creating it if missing, keeping its TTL. */
const PREPEND_SCRIPT = Buffer.from(
  "local v = redis.call('GET', KEYS[1]) or ''; redis.call('SET', KEYS[1], ARGV[1] .. v, 'KEEPTTL'); return 1",
);

/** A relative TTL argument (decimal, > 0) in ms, given its unit in ms (1000 for seconds); undefined if it is not one. */
function relativeMs(arg: Buffer | undefined, unitMs: number): number | undefined {
  if (arg === undefined) return undefined;
  const text = arg.toString('latin1');
  if (!/^\d{1,15}$/.test(text)) return undefined;
  const n = Number(text);
  return n > 0 ? n * unitMs : undefined;
}

/**
 * `args` with a relative `EX <s>` / `PX <ms>` option (from argument `from` on, up to `FIELDS`)
 * replaced by `PXAT <at() + ttl>` (Redis 8 `HGETEX` / `HSETEX` form); unchanged when it has none.
 */
function absoluteExPx(args: Buffer[], from: number, at: () => number): Buffer[] {
  for (let i = from; i < args.length - 1; i++) {
    const t = token(args[i]);
    if (t === 'FIELDS') break;
    if (t !== 'EX' && t !== 'PX') continue;
    const ms = relativeMs(args[i + 1], t === 'EX' ? 1000 : 1);
    if (ms === undefined) break;
    const out = args.slice();
    out[i] = Buffer.from('PXAT');
    out[i + 1] = Buffer.from(String(at() + ms));
    return out;
  }
  return args;
}
