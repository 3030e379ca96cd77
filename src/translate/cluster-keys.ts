import { keySlot } from '../sink/key-slot.js';
import type { TranslatedCommand } from './journal-translator.js';

/**
 * Key positions of Redis commands and the plan that keeps a journal write off CROSSSLOT on a Redis
 * Cluster target.
 *
 * Pure: no sockets, no logging. The key table is a literal taken from the `COMMAND` reply of
 * redis-server 7.0.15 (generated from Redis src/commands/*.json key specs), plus the Redis 7.2–8.0
 * and module commands listed by hand below. Keys are found the way Redis's cluster check finds
 * them (src/cluster.c `getNodeByQuery` → src/db.c `getKeysFromCommand`): the legacy
 * (first, last, step) range, or the command's own `*GetKeys` function for `movablekeys` commands.
 */

/**
 * Legacy key range of one command, as in `COMMAND`'s first-key / last-key / step: keys at
 * `first, first + step, …` up to `last` (negative: counted from the end, -1 = last argument).
 * `step` 0 = no keys at these positions.
 */
interface CommandRule {
  readonly first: number;
  readonly last: number;
  readonly step: number;
  /** Movable keys: the command's key finder (Redis src/db.c `*GetKeys`), used instead of the range. */
  readonly keysOf?: (args: Buffer[]) => Buffer[];
  /** Container command: rule per lower-case subcommand; subcommands not listed are keyless. */
  readonly subcommands?: ReadonlyMap<string, CommandRule>;
  /** What to do when the keys span slots; absent = `cross-slot`. */
  readonly onSpan?: SpanAction;
  /** Keyless, but must run on every master (scripts, functions, flushes). */
  readonly isAllMasters?: boolean;
}

type SpanAction = 'split-each' | 'split-set' | 'split-json-set' | 'move' | 'move-nx';

/**
 * Commands by legacy key range `[first, last, step, names]`: the top-level commands of
 * redis-server 7.0.15 `COMMAND` without the `movablekeys` flag, grouped, then additions by hand.
 */
const RANGE_GROUPS: ReadonlyArray<readonly [first: number, last: number, step: number, names: string]> = [
  [
    1, 1, 1,
    'append bitcount bitfield bitfield_ro bitpos decr decrby dump expire expireat expiretime geoadd geodist ' +
      'geohash geopos georadius_ro georadiusbymember_ro geosearch get getbit getdel getex getrange getset hdel ' +
      'hexists hget hgetall hincrby hincrbyfloat hkeys hlen hmget hmset hrandfield hscan hset hsetnx hstrlen hvals ' +
      'incr incrby incrbyfloat lindex linsert llen lpop lpos lpush lpushx lrange lrem lset ltrim move persist ' +
      'pexpire pexpireat pexpiretime pfadd psetex pttl restore restore-asking rpop rpush rpushx sadd scard set ' +
      'setbit setex setnx setrange sismember smembers smismember spop spublish srandmember srem sscan strlen ' +
      'substr ttl type xack xadd xautoclaim xclaim xdel xlen xpending xrange xrevrange xsetid xtrim zadd zcard ' +
      'zcount zincrby zlexcount zmscore zpopmax zpopmin zrandmember zrange zrangebylex zrangebyscore zrank zrem ' +
      'zremrangebylex zremrangebyrank zremrangebyscore zrevrange zrevrangebylex zrevrangebyscore zrevrank zscan ' +
      'zscore',
  ],
  [1, -1, 1, 'del exists mget pfcount pfmerge sdiff sdiffstore sinter sinterstore ssubscribe sunion sunionstore sunsubscribe touch unlink watch'],
  [1, 2, 1, 'blmove brpoplpush copy geosearchstore lcs lmove rename renamenx rpoplpush smove zrangestore'],
  [1, -2, 1, 'blpop brpop bzpopmax bzpopmin'],
  [1, -1, 2, 'mset msetnx'],
  [2, -1, 1, 'bitop'],
  [2, 2, 1, 'pfdebug'],
  // SORT_RO is `movablekeys` in 7.0, but its finder (db.c `sortROGetKeys`) returns argv[1] only.
  [1, 1, 1, 'sort_ro'],
  [
    0, 0, 0,
    'acl asking auth bgrewriteaof bgsave client cluster command config dbsize debug discard echo exec failover ' +
      'hello info keys lastsave latency lolwut module monitor multi pfselftest ping psubscribe psync publish ' +
      'pubsub punsubscribe quit randomkey readonly readwrite replconf replicaof reset role save scan select ' +
      'shutdown slaveof slowlog subscribe swapdb sync time unsubscribe unwatch wait',
  ],
  // MIGRATE moves keys away from the node it runs on; it is never a write to replay, so its keys
  // (db.c `migrateGetKeys`) do not matter for routing.
  [0, 0, 0, 'migrate'],
  // Redis 7.2 (src/commands/waitaof.json), 7.4 hash-field TTLs (hexpire.json …), 8.0 HSETEX/HGETEX/HGETDEL.
  [0, 0, 0, 'waitaof'],
  [1, 1, 1, 'hexpire hexpireat hexpiretime hpersist hpexpire hpexpireat hpexpiretime hpttl httl hsetex hgetex hgetdel'],
  // RedisJSON, RedisBloom (bloom, cuckoo, count-min sketch, top-k): key at 1 unless noted.
  [
    1, 1, 1,
    'json.arrappend json.arrindex json.arrinsert json.arrlen json.arrpop json.arrtrim json.clear json.del ' +
      'json.forget json.get json.merge json.numincrby json.nummultby json.numpowby json.objkeys json.objlen ' +
      'json.resp json.set json.strappend json.strlen json.toggle json.type',
  ],
  [1, -2, 1, 'json.mget'],
  [1, -1, 3, 'json.mset'],
  [
    1, 1, 1,
    'bf.add bf.card bf.debug bf.exists bf.info bf.insert bf.loadchunk bf.madd bf.mexists bf.reserve bf.scandump ' +
      'cf.add cf.addnx cf.compact cf.count cf.debug cf.del cf.exists cf.info cf.insert cf.insertnx cf.loadchunk ' +
      'cf.mexists cf.reserve cf.scandump cms.incrby cms.info cms.initbydim cms.initbyprob cms.query ' +
      'topk.add topk.count topk.incrby topk.info topk.list topk.query topk.reserve',
  ],
];

/** Movable-key commands and their key finders (Redis src/db.c, 7.0). */
const MOVABLE: ReadonlyArray<readonly [names: string, keysOf: (args: Buffer[]) => Buffer[]]> = [
  // `genericGetKeys(0, 1, 2, 1)`: sintercardGetKeys, zunionInterDiffGetKeys, lmpopGetKeys, zmpopGetKeys.
  ['zunion zinter zdiff sintercard zintercard lmpop zmpop', (args) => numkeysKeys(args, 0, 1, 2)],
  // `genericGetKeys(0, 2, 3, 1)`: evalGetKeys, functionGetKeys, blmpopGetKeys, bzmpopGetKeys.
  ['eval eval_ro evalsha evalsha_ro fcall fcall_ro blmpop bzmpop', (args) => numkeysKeys(args, 0, 2, 3)],
  // `genericGetKeys(1, 2, 3, 1)`: zunionInterDiffStoreGetKeys; RedisBloom's
  // `CMS.MERGE dest numKeys src… [WEIGHTS w…]` has the same shape.
  ['zunionstore zinterstore zdiffstore cms.merge', (args) => numkeysKeys(args, 1, 2, 3)],
  ['sort', sortKeys],
  ['georadius georadiusbymember', georadiusKeys],
  ['xread xreadgroup', xreadKeys],
];

const KEYLESS: CommandRule = { first: 0, last: 0, step: 0 };
const KEY_AT_2: CommandRule = { first: 2, last: 2, step: 1 };
const ON_ALL_MASTERS: CommandRule = { first: 0, last: 0, step: 0, isAllMasters: true };

/** Container commands: the subcommands that have a key or must reach every master. */
const CONTAINERS: ReadonlyArray<readonly [name: string, subcommands: string, rule: CommandRule]> = [
  ['script', 'load flush', ON_ALL_MASTERS],
  ['function', 'load delete flush restore', ON_ALL_MASTERS],
  ['xgroup', 'create createconsumer delconsumer destroy setid', KEY_AT_2],
  ['xinfo', 'consumers groups stream', KEY_AT_2],
  ['object', 'encoding freq idletime refcount', KEY_AT_2],
  ['memory', 'usage', KEY_AT_2],
  ['json.debug', 'memory', KEY_AT_2],
];

/** Multi-key commands that can be rewritten when their keys span slots. */
const SPAN_ACTIONS: ReadonlyArray<readonly [name: string, action: SpanAction]> = [
  ['del', 'split-each'],
  ['unlink', 'split-each'],
  ['touch', 'split-each'],
  ['mset', 'split-set'],
  // MSETNX is journaled only when it set every key, so replaying it is an MSET.
  ['msetnx', 'split-set'],
  ['json.mset', 'split-json-set'],
  ['rename', 'move'],
  ['renamenx', 'move-nx'],
];

/** Lower-case command name → rule; built once. */
const RULES = buildRules();
/** Longer first arguments cannot be a known name: skip the string conversion. */
const MAX_NAME_LENGTH = 32;

function buildRules(): Map<string, CommandRule> {
  const rules = new Map<string, CommandRule>();
  const add = (names: string, rule: CommandRule): void => {
    for (const name of names.split(' ')) rules.set(name, rule);
  };
  for (const [first, last, step, names] of RANGE_GROUPS) add(names, step === 0 ? KEYLESS : { first, last, step });
  for (const [names, keysOf] of MOVABLE) add(names, { first: 0, last: 0, step: 0, keysOf });
  for (const [name, subs, rule] of CONTAINERS) {
    const subcommands = new Map<string, CommandRule>();
    for (const sub of subs.split(' ')) subcommands.set(sub, rule);
    rules.set(name, { ...KEYLESS, subcommands });
  }
  // A flush must empty every master, not the one node the router happens to pick.
  add('flushall flushdb', ON_ALL_MASTERS);
  for (const [name, onSpan] of SPAN_ACTIONS) rules.set(name, { ...rules.get(name)!, onSpan });
  return rules;
}

function lowerName(arg: Buffer | undefined): string | undefined {
  return arg === undefined || arg.length > MAX_NAME_LENGTH ? undefined : arg.toString('latin1').toLowerCase();
}

/** The rule for `args`, following a container into its subcommand; undefined for unknown names. */
function ruleOf(args: Buffer[]): CommandRule | undefined {
  const name = lowerName(args[0]);
  const rule = name === undefined ? undefined : RULES.get(name);
  if (rule?.subcommands === undefined) return rule;
  const sub = lowerName(args[1]);
  return (sub === undefined ? undefined : rule.subcommands.get(sub)) ?? KEYLESS;
}

/** Number of keys a range rule yields for `argc` arguments (db.c `getKeysUsingLegacyRangeSpec`). */
function rangeCount(rule: CommandRule, argc: number): number {
  if (rule.step === 0) return 0;
  const last = rule.last >= 0 ? rule.last : argc + rule.last;
  // Too few arguments: Redis returns no keys and lets the command report the arity error.
  if (last >= argc || last < rule.first) return 0;
  return Math.floor((last - rule.first) / rule.step) + 1;
}

function keysOfRule(rule: CommandRule, args: Buffer[]): Buffer[] {
  if (rule.keysOf !== undefined) return rule.keysOf(args);
  const n = rangeCount(rule, args.length);
  const keys = new Array<Buffer>(n);
  for (let i = 0; i < n; i++) keys[i] = args[rule.first + i * rule.step]!;
  return keys;
}

/**
 * Key arguments of a command as journaled: `args` is the argv, name first, in any case. Returns the
 * keys in argv order (the same Buffers, not copies); `[]` for keyless commands.
 *
 * Follows what Redis Cluster checks for CROSSSLOT (src/cluster.c `getNodeByQuery`, which calls
 * src/db.c `getKeysFromCommand`): the legacy key range of src/commands/*.json, or for `movablekeys`
 * commands the `*GetKeys` function (`genericGetKeys` numkeys forms, `sortGetKeys` — BY/GET patterns
 * are not keys — `georadiusGetKeys` — the last STORE/STOREDIST destination — and `xreadGetKeys`).
 * A numkeys out of range, or too few arguments, yields `[]` as in Redis (the target then reports
 * the syntax error). Containers (XGROUP CREATE, OBJECT ENCODING, …) have their key at argv[2].
 * Exceptions: MIGRATE is treated as keyless (never replayed as a write).
 *
 * Unknown command names are assumed to have a single key at argv[1] when present: every unlisted
 * Redis or module write we know of is `NAME key …`, and a wrong guess only misroutes one command,
 * which the target answers with MOVED, while guessing "keyless" would hide real keys.
 */
export function commandKeys(args: Buffer[]): Buffer[] {
  const rule = ruleOf(args);
  if (rule === undefined) return args.length > 1 ? [args[1]!] : [];
  return keysOfRule(rule, args);
}

/**
 * How to send one (translated) command to a Redis Cluster target:
 * - `single`: 0 or 1 key, or every key in one slot: send as is, routed by `key` when given (the
 *   first key is not argv[1]: EVAL, XREADGROUP, ZUNIONSTORE's numkeys forms, XGROUP…), else by
 *   the command's own `key` (keyless: any node).
 * - `all-masters`: keyless, and its effect must exist on every master: SCRIPT LOAD/FLUSH,
 *   FUNCTION LOAD/DELETE/FLUSH/RESTORE, FLUSHALL/FLUSHDB.
 * - `split`: same effect as the original, as single-key commands in argv order, each with
 *   `key` = its one key (DEL/UNLINK/TOUCH per key, MSET/MSETNX → SET, JSON.MSET → JSON.SET).
 * - `move`: RENAME (`nx` false) or RENAMENX (`nx` true) whose two keys are in different slots.
 * - `cross-slot`: keys in ≥ 2 slots and no equivalent single-slot form; `reason` names the command
 *   and the slots, `keys` are all its keys.
 */
export type ClusterPlan =
  | { kind: 'single'; key?: Buffer }
  | { kind: 'all-masters' }
  | { kind: 'split'; commands: TranslatedCommand[] }
  | { kind: 'move'; src: Buffer; dst: Buffer; nx: boolean }
  | { kind: 'cross-slot'; reason: string; keys: Buffer[] };

const SINGLE: ClusterPlan = Object.freeze({ kind: 'single' });
const ALL_MASTERS: ClusterPlan = Object.freeze({ kind: 'all-masters' });
const SET_NAME = Buffer.from('SET');
const JSON_SET_NAME = Buffer.from('JSON.SET');

/**
 * Plans `args` (argv, name first, any case; already translated to Redis form) for a Redis Cluster
 * target so that it never gets a CROSSSLOT reply (Redis src/cluster.c `getNodeByQuery`: every key
 * of a command must hash to one slot). Keys are those of {@link commandKeys}; slots are computed
 * only when there are ≥ 2 keys, so a single-key command costs one table lookup. The returned
 * `single` / `all-masters` objects are shared and frozen; split commands reuse the input Buffers.
 */
export function planForCluster(args: Buffer[]): ClusterPlan {
  const rule = ruleOf(args);
  if (rule === undefined) return SINGLE;
  if (rule.isAllMasters === true) return ALL_MASTERS;
  if (rule.keysOf === undefined && rangeCount(rule, args.length) < 2) {
    return rule.first === 1 || rangeCount(rule, args.length) === 0 ? SINGLE : { kind: 'single', key: args[rule.first]! };
  }
  const keys = keysOfRule(rule, args);
  if (keys.length === 0) return SINGLE;
  if (keys.length === 1 || distinctSlots(keys).length === 1) return keys[0] === args[1] ? SINGLE : { kind: 'single', key: keys[0]! };
  const slots = distinctSlots(keys);
  const name = args[0]!.toString('latin1').toUpperCase();
  const reason = `${name} keys span slots ${slots.join(', ')}`;
  switch (rule.onSpan) {
    case 'split-each': {
      const nameArg = Buffer.from(name);
      return { kind: 'split', commands: keys.map((key) => ({ args: [nameArg, key], key })) };
    }
    case 'split-set':
      return splitTuples(args, 2, SET_NAME) ?? { kind: 'cross-slot', reason: `${reason} (malformed: odd argument count)`, keys };
    case 'split-json-set':
      return (
        splitTuples(args, 3, JSON_SET_NAME) ??
        { kind: 'cross-slot', reason: `${reason} (malformed: arguments not in key/path/value triples)`, keys }
      );
    case 'move':
    case 'move-nx':
      return { kind: 'move', src: keys[0]!, dst: keys[1]!, nx: rule.onSpan === 'move-nx' };
    default:
      return { kind: 'cross-slot', reason, keys };
  }
}

/** `NAME k a [b] k a [b] …` → `[as] k a [b]` per tuple; undefined if the tuples are incomplete. */
function splitTuples(args: Buffer[], width: number, as: Buffer): ClusterPlan | undefined {
  if ((args.length - 1) % width !== 0) return undefined;
  const commands: TranslatedCommand[] = [];
  for (let i = 1; i < args.length; i += width) {
    commands.push({ args: [as, ...args.slice(i, i + width)], key: args[i] });
  }
  return { kind: 'split', commands };
}

/** The distinct slots of `keys`, in order of first appearance. */
function distinctSlots(keys: Buffer[]): number[] {
  const slots: number[] = [];
  for (const key of keys) {
    const slot = keySlot(key);
    if (!slots.includes(slot)) slots.push(slot);
  }
  return slots;
}

/** C `atoi` of an argument, as Redis parses numkeys: optional sign, leading digits, else 0. */
function atoi(arg: Buffer | undefined): number {
  if (arg === undefined) return 0;
  let i = 0;
  while (i < arg.length && (arg[i] === 0x20 || (arg[i]! >= 0x09 && arg[i]! <= 0x0d))) i++;
  const isNegative = arg[i] === 0x2d; /* - */
  if (isNegative || arg[i] === 0x2b /* + */) i++;
  let n = 0;
  for (; i < arg.length && n <= 0x7fffffff; i++) {
    const digit = arg[i]! - 0x30;
    if (digit < 0 || digit > 9) break;
    n = n * 10 + digit;
  }
  return isNegative ? -n : n;
}

/** Case-insensitive comparison of an argument with a lower-case ASCII word, without allocating. */
function isWord(arg: Buffer, word: string): boolean {
  if (arg.length !== word.length) return false;
  for (let i = 0; i < arg.length; i++) {
    const c = arg[i]!;
    if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * db.c `genericGetKeys`: the destination at `storeAt` (0 = none) and `numkeys` (at `countAt`) keys
 * from `firstAt`; `[]` when numkeys is < 1 or more than the arguments left. Argv order.
 */
function numkeysKeys(args: Buffer[], storeAt: number, countAt: number, firstAt: number): Buffer[] {
  const n = atoi(args[countAt]);
  if (n < 1 || n > args.length - firstAt) return [];
  const keys = storeAt > 0 ? [args[storeAt]!] : [];
  for (let i = firstAt; i < firstAt + n; i++) keys.push(args[i]!);
  return keys;
}

/**
 * db.c `sortGetKeys`: argv[1], plus the argument after the last STORE. LIMIT skips 2 arguments,
 * GET and BY skip 1 (their patterns are not keys for slot purposes).
 */
function sortKeys(args: Buffer[]): Buffer[] {
  if (args.length < 2) return [];
  let store: Buffer | undefined;
  for (let i = 2; i < args.length; i++) {
    const arg = args[i]!;
    if (isWord(arg, 'limit')) i += 2;
    else if (isWord(arg, 'get') || isWord(arg, 'by')) i += 1;
    else if (isWord(arg, 'store') && i + 1 < args.length) store = args[i + 1];
  }
  return store === undefined ? [args[1]!] : [args[1]!, store];
}

/** db.c `georadiusGetKeys`: argv[1], plus the argument after the last STORE or STOREDIST (from argv[5]). */
function georadiusKeys(args: Buffer[]): Buffer[] {
  if (args.length < 2) return [];
  let store: Buffer | undefined;
  for (let i = 5; i < args.length; i++) {
    const arg = args[i]!;
    if ((isWord(arg, 'store') || isWord(arg, 'storedist')) && i + 1 < args.length) store = args[++i];
  }
  return store === undefined ? [args[1]!] : [args[1]!, store];
}

/**
 * db.c `xreadGetKeys` (XREAD and XREADGROUP): skip BLOCK n, COUNT n, GROUP g c, NOACK up to the first
 * STREAMS; the keys are the first half of what follows (the IDs are the second half). `[]` when
 * there is no STREAMS or an odd or zero count follows.
 */
function xreadKeys(args: Buffer[]): Buffer[] {
  let streamsAt = -1;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    if (isWord(arg, 'block') || isWord(arg, 'count')) i++;
    else if (isWord(arg, 'group')) i += 2;
    else if (isWord(arg, 'noack')) continue;
    else {
      if (isWord(arg, 'streams')) streamsAt = i;
      break;
    }
  }
  const rest = streamsAt === -1 ? 0 : args.length - streamsAt - 1;
  if (rest === 0 || rest % 2 !== 0) return [];
  return args.slice(streamsAt + 1, streamsAt + 1 + rest / 2);
}
