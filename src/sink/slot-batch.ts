/**
 * Exactly-once batches on a Redis Cluster (issue "Resume and reconnect, exactly once").
 *
 * A flow's stable-sync batch is split by slot. Each slot's commands carry a checkpoint of their own:
 * the hash `<prefix>cp:{<tag>}` whose hash tag puts it **in that slot** ({@link slotHashTag}), field
 * `lsn:<flow>` = the next LSN of the flow whose effect on that slot is not on the target. The slot
 * groups owned by one master go in **one `EVALSHA`** of {@link SLOT_BATCH_SCRIPT} (flag
 * `allow-cross-slot-keys`, Redis ≥ 7.0: one script may touch several slots of the node it runs on),
 * so a batch and its checkpoints are applied on that master together or not at all (a script is
 * atomic, and replicated to the master's replicas as one `MULTI … EXEC` of its effects).
 *
 * Why per slot: a slot's keys and its checkpoint move together when the slot moves (resharding:
 * `MIGRATE` moves every key of the slot, the checkpoint too), and are replicated together (failover).
 * So on resume a record's effect on slot `s` was applied exactly when its LSN is below the
 * checkpoint of `s` — whichever master holds `s` now.
 *
 * Each slot group starts with a check that its slot is served by this node and not being migrated
 * away from it: `EXISTS` of the slot's *probe* key `<prefix>probe:{<tag>}`, which never exists, is
 * an error exactly then (Redis src/script.c `scriptVerifyClusterState` → src/cluster.c
 * `getNodeByQuery`: a key of a slot not served, or missing from a migrating slot, is refused).
 * Without it such an error would come only when a command touches a key, too late to undo the
 * group's commands before it. A group whose check fails is not applied; its commands' elements of
 * the reply are `DF2REDIS_SPLIT slot …` errors, and the router, after re-reading the slot table and a
 * backoff, sends that group again, alone, to its slot's owner. The other groups are applied: a slot
 * that fails the check fails it for every later script on that connection too (until the move is
 * over, when it is not served there at all), so each slot's groups stay in order — refusing the
 * whole script instead would let a later script apply a group of a slot whose earlier group waits
 * for a resend. (`CLUSTER NODES` once per script would also tell, but costs ~45 µs on Redis 7.0.)
 *
 * Resends (a redirection, a lost connection) run in *idempotent* mode: a slot group whose checkpoint
 * already counts it (`>=` its next LSN) was applied and is skipped. Within a run the groups resent
 * are exactly the ones sent, so this check is exact.
 *
 * Order: a group may also carry `prev`, the checkpoint the slot must show before it: the `next` of
 * the flow's previous group of that slot, when that one was not acknowledged as applied yet at the
 * time (the router's choice: the check costs an `HGET`, and an applied predecessor needs none). A
 * group whose slot shows anything else is not applied: its elements are `DF2REDIS_ORDER slot …:
 * checkpoint <c|none>, expected <prev>` errors and the router resends it behind its predecessor
 * (or, when the predecessor had been acknowledged, stops: acknowledged writes were lost). Without
 * it a group refused for a moment (a slot unassigned and assigned again, CLUSTERDOWN while a node's
 * view heals) whose later group of the same slot, already written behind it, was applied, would be
 * resent and then skipped as "applied": a silent loss (seen in CI around a CLUSTER FAILOVER).
 *
 * Commands run with `redis.pcall`: one refused command (WRONGTYPE…) does not stop the others, as in
 * `MULTI … EXEC`. The reply is `0`, or, when some command was refused or some group not applied, an
 * array with one element per command (`0` or the error), so that error elements map back to their
 * commands (and groups).
 */
import { createHash } from 'node:crypto';
import { FLOAT_INCR_SCRIPT } from '../translate/float-increment.js';
import type { CommandArg, CommandSink } from './redis-connection.js';
import { keySlot } from './key-slot.js';

/**
 * Name under which the script runs a float increment (the journal's `INCRBYFLOAT`/`HINCRBYFLOAT`,
 * translated to `EVAL` of {@link FLOAT_INCR_SCRIPT}: a script cannot call `EVAL`, so the batch script
 * holds that script's body as a function, src/translate/float-increment.ts).
 */
export const FLOAT_INCR_OP = 'DF2REDIS.FLOATINCR';

/**
 * Commands a script may not run (Redis `noscript` flag, src/commands/*.json); a batch holding one is
 * sent as plain commands.
 */
const NOSCRIPT_COMMANDS = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO', 'MULTI', 'EXEC', 'DISCARD', 'WATCH', 'UNWATCH', 'SCRIPT', 'FUNCTION', 'CLIENT', 'SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'MONITOR', 'SYNC', 'PSYNC', 'REPLICAOF', 'SLAVEOF', 'SAVE', 'BGSAVE', 'SHUTDOWN']);

/** Largest argument count of one command inside the script (Lua 5.1 `unpack` is bounded by `LUAI_MAXCSTACK` = 8000). */
export const MAX_SCRIPT_COMMAND_ARGS = 7000;

/**
 * `EVAL` body. ARGV: `mode` (`0` apply, `1` idempotent), `field` (`lsn:<flow>`), `next` (LSN), then per
 * slot group: its slot, its probe key, its checkpoint key, `prev` (the checkpoint the slot must show
 * first, or empty), `ncmds`, then per command `argc` and its arguments.
 */
export const SLOT_BATCH_SCRIPT = `#!lua flags=allow-cross-slot-keys
local function floatIncr(KEYS, ARGV)
${FLOAT_INCR_SCRIPT.body.toString()}
end
local a = ARGV
local mode, field, nxt = a[1], a[2], a[3]
local nnum = tonumber(nxt)
local pc, up = redis.pcall, unpack
local out = nil
local idx = 0
local i = 4
local n = #a
while i <= n do
  local slot, probe, cp, prev, nc = a[i], a[i + 1], a[i + 2], a[i + 3], tonumber(a[i + 4])
  i = i + 5
  local state = 0
  local r = pc('EXISTS', probe)
  if type(r) == 'table' then
    state = 'DF2REDIS_SPLIT slot ' .. slot .. ': ' .. r.err
  elseif mode == '1' or prev ~= '' then
    local c = redis.call('HGET', cp, field)
    local cn = c and tonumber(c) or -1
    if mode == '1' and cn >= nnum then
      state = 1
    elseif prev ~= '' and c ~= prev then
      state = 'DF2REDIS_ORDER slot ' .. slot .. ': checkpoint ' .. (c or 'none') .. ', expected ' .. prev
    end
  end
  for _ = 1, nc do
    local argc = tonumber(a[i])
    idx = idx + 1
    local e = nil
    if state == 0 then
      local x
      if a[i + 1] == '${FLOAT_INCR_OP}' then
        local ok, res = pcall(floatIncr, { a[i + 2] }, { up(a, i + 3, i + argc) })
        if ok then x = res elseif type(res) == 'table' and res.err then x = res else x = { err = tostring(res) } end
      else
        x = pc(up(a, i + 1, i + argc))
      end
      if type(x) == 'table' and x.err then e = x end
    elseif state ~= 1 then
      e = { err = state }
    end
    if e ~= nil then
      if out == nil then
        out = {}
        for z = 1, idx - 1 do out[z] = 0 end
      end
      out[idx] = e
    elseif out ~= nil then
      out[idx] = 0
    end
    i = i + 1 + argc
  end
  if state == 0 then redis.call('HSET', cp, field, nxt) end
end
if out == nil then return 0 end
return out
`;

/** SHA1 of {@link SLOT_BATCH_SCRIPT} (`EVALSHA`; the router `SCRIPT LOAD`s it on every master connection). */
export const SLOT_BATCH_SHA = createHash('sha1').update(SLOT_BATCH_SCRIPT).digest('hex');

let slotTags: string[] | undefined;

/**
 * A short string whose CRC16 puts a key `…{tag}…` in `slot` (0–16383): the first of `0`, `1`, … (base
 * 36) that hashes there. The table is built once (≈ 170 K hashes, a few ms).
 */
export function slotHashTag(slot: number): string {
  if (slotTags === undefined) {
    const tags = new Array<string>(16384);
    let left = 16384;
    for (let n = 0; left > 0; n++) {
      const t = n.toString(36);
      const s = keySlot(Buffer.from(t));
      if (tags[s] === undefined) {
        tags[s] = t;
        left--;
      }
    }
    slotTags = tags;
  }
  return slotTags[slot]!;
}

function isNoScript(name: CommandArg | undefined): boolean {
  if (name === undefined) return false;
  const n = Buffer.isBuffer(name) ? name.toString('latin1', 0, Math.min(name.length, 16)) : String(name);
  return n.length <= 10 && NOSCRIPT_COMMANDS.has(n.toUpperCase());
}

/** One command of a batch: its arguments (no copy of the caller's Buffers), name and key (errors). */
export interface BatchCommand {
  args: CommandArg[];
  /** The command as sent outside a script, when {@link args} is the script's own form (float increments). */
  plainArgs?: CommandArg[];
  name: CommandArg | undefined;
  key: Buffer | undefined;
}

/** The commands of one slot within a batch. */
export interface SlotGroup {
  slot: number;
  commands: BatchCommand[];
  /**
   * The slot's checkpoint (next LSN, decimal) this group must find before it applies: the `next`
   * of the flow's previous group of the slot while that one is not acknowledged; undefined: no check.
   */
  prev?: string;
}

/**
 * One flow's open batch: commands grouped by slot in arrival order (a slot's commands keep their
 * order; commands of different slots touch different keys, so their relative order does not matter).
 */
export class SlotBatch {
  readonly groups = new Map<number, SlotGroup>();
  /**
   * A command the script cannot run is in the batch (more than {@link MAX_SCRIPT_COMMAND_ARGS}
   * arguments, or a `noscript` command): the batch is sent as plain commands.
   */
  isOversized = false;

  add(slot: number, cmd: BatchCommand): void {
    let g = this.groups.get(slot);
    if (g === undefined) {
      g = { slot, commands: [] };
      this.groups.set(slot, g);
    }
    const args = cmd.args;
    if (args[1] === FLOAT_INCR_SCRIPT.body) {
      // EVAL <float script> 1 key [field] delta (src/translate/float-increment.ts, the only maker of
      // that Buffer) → the script's own float increment.
      cmd = { ...cmd, args: [FLOAT_INCR_OP, ...args.slice(3)], plainArgs: args };
    } else if (args.length > MAX_SCRIPT_COMMAND_ARGS || isNoScript(args[0])) this.isOversized = true;
    g.commands.push(cmd);
  }

  /** No command was added (a group exists only once it holds one). */
  get isEmpty(): boolean {
    return this.groups.size === 0;
  }
}

/**
 * `EVALSHA` arguments applying `groups` with their checkpoints `keys.cp(slot)` set to `next` in field
 * `field` (`keys.probe(slot)`: the slot's probe key); `idempotent`: skip groups whose checkpoint
 * already counts them (a resend). A group with `prev` applies only on a checkpoint equal to it.
 */
export function slotBatchEval(
  groups: readonly SlotGroup[],
  field: string,
  next: bigint,
  keys: { cp(slot: number): Buffer; probe(slot: number): Buffer },
  idempotent: boolean,
): CommandArg[] {
  const argv: CommandArg[] = ['EVALSHA', SLOT_BATCH_SHA, 0, idempotent ? '1' : '0', field, next.toString()];
  for (const g of groups) {
    argv.push(g.slot, keys.probe(g.slot), keys.cp(g.slot), g.prev ?? '', g.commands.length);
    for (const c of g.commands) {
      argv.push(c.args.length);
      for (const x of c.args) argv.push(x);
    }
  }
  return argv;
}

/**
 * A {@link CommandSink} that adds each command to a {@link SlotBatch} under the slot set in
 * {@link slot} instead of sending it. The allocation-free form is collected into an argument array;
 * `raw` only inside `beginBulk`/`endBulk` (pre-encoded arguments, the snapshot writer's MSET stage,
 * never reach a batch: that stage is sent before any journal record).
 */
export class BatchSink implements CommandSink {
  batch: SlotBatch | undefined;
  slot = 0;
  /** Commands of a record to drop (resume: the record's effect on this slot is on the target already). */
  isDropping = false;
  dropped = 0;
  #args: CommandArg[] = [];
  #bulk: Uint8Array[] | undefined;

  send(args: ReadonlyArray<CommandArg>, key?: Buffer): void {
    if (this.isDropping) {
      this.dropped++;
      return;
    }
    this.batch!.add(this.slot, { args: args.slice(), name: args[0], key });
  }

  begin(_argc: number): void {
    this.#args = [];
  }

  arg(a: CommandArg): void {
    this.#args.push(a);
  }

  beginBulk(_len: number): void {
    this.#bulk = [];
  }

  raw(b: Uint8Array): void {
    this.#bulk!.push(b);
  }

  endBulk(): void {
    this.#args.push(Buffer.concat(this.#bulk!));
    this.#bulk = undefined;
  }

  end(name: string, key?: Buffer): void {
    const args = this.#args;
    this.#args = [];
    if (this.isDropping) {
      this.dropped++;
      return;
    }
    this.batch!.add(this.slot, { args, name, key });
  }
}
