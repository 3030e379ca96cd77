/**
 * Exactly-once batches on a Redis Cluster (issue "Resume and reconnect, exactly once").
 *
 * A flow's stable-sync batch is split by slot. Each slot's commands carry a checkpoint of their own:
 * the hash `<prefix>cp:{<tag>}` whose hash tag puts it **in that slot** ({@link slotHashTag}), field
 * `lsn:<flow>` = the next LSN of the flow whose effect on that slot is not on the target. The slot
 * groups owned by one master go in **one `EVAL`** of {@link SLOT_BATCH_SCRIPT} (flag
 * `allow-cross-slot-keys`, Redis ≥ 7.0: one script may touch several slots of the node it runs on),
 * so a batch and its checkpoints are applied on that master together or not at all (a script is
 * atomic, and replicated to the master's replicas as one `MULTI … EXEC` of its effects).
 *
 * Why per slot: a slot's keys and its checkpoint move together when the slot moves (resharding:
 * `MIGRATE` moves every key of the slot, the checkpoint too), and are replicated together (failover).
 * So on resume a record's effect on slot `s` was applied exactly when its LSN is below the
 * checkpoint of `s` — whichever master holds `s` now.
 *
 * The script first checks, with one `CLUSTER NODES` (its `myself` line: the slots this node serves,
 * and `[slot->-…]` / `[slot-<-…]` for slots being migrated or imported), that every group's slot is
 * served by this node and not moving, before writing anything: inside a script a key of a slot not
 * served, or missing from a migrating slot, is an error raised only when a command touches it
 * (Redis src/script.c `scriptVerifyClusterState` → `getNodeByQuery`), too late to undo the commands
 * before it. A slot not served returns `-DF2REDIS_SPLIT …` (the router re-reads the slot table and
 * sends each slot group as a script of its own, to its slot's owner); a moving slot returns
 * `-TRYAGAIN …` (the same, after a backoff, until the move is over).
 *
 * Resends (a redirection, a lost connection) run in *idempotent* mode: a slot group whose checkpoint
 * already counts it (`>=` its next LSN) was applied and is skipped. Within a run the groups resent
 * are exactly the ones sent, so this check is exact.
 *
 * Commands run with `redis.pcall`: one refused command (WRONGTYPE…) does not stop the others, as in
 * `MULTI … EXEC`. The reply is `0`, or, when some command was refused, an array with one element per
 * command (`0` or the error), so that error elements map back to their commands.
 */
import type { CommandArg, CommandSink } from './redis-connection.js';
import { keySlot } from './key-slot.js';

/** Largest argument count of one command inside the script (Lua 5.1 `unpack` is bounded by `LUAI_MAXCSTACK` = 8000). */
export const MAX_SCRIPT_COMMAND_ARGS = 7000;

/**
 * `EVAL` body. ARGV: `mode` (`0` apply, `1` idempotent), `field` (`lsn:<flow>`), `next` (LSN), then per
 * slot group: its slot, its checkpoint key, `ncmds`, then per command `argc` and its arguments.
 */
export const SLOT_BATCH_SCRIPT = `#!lua flags=allow-cross-slot-keys
local a = ARGV
local mode, field, nxt = a[1], a[2], tonumber(a[3])
local me
for line in string.gmatch(redis.call('CLUSTER', 'NODES'), '[^\\n]+') do
  if string.find(line, 'myself', 1, true) then me = line break end
end
local owned, busy, f = {}, {}, 0
for tok in string.gmatch(me or '', '%S+') do
  f = f + 1
  if f >= 9 then
    if string.sub(tok, 1, 1) == '[' then
      busy[tonumber(string.match(tok, '^%[(%d+)'))] = true
    else
      local x, y = string.match(tok, '^(%d+)-(%d+)$')
      if x then owned[#owned + 1] = { tonumber(x), tonumber(y) } else owned[#owned + 1] = { tonumber(tok), tonumber(tok) } end
    end
  end
end
local n = #a
local groups = {}
local i = 4
while i <= n do
  local slot, cp, nc = tonumber(a[i]), a[i + 1], tonumber(a[i + 2])
  if busy[slot] then return redis.error_reply('TRYAGAIN df2redis: slot ' .. slot .. ' is migrating or importing') end
  local isOwned = false
  for _, r in ipairs(owned) do
    if slot >= r[1] and slot <= r[2] then isOwned = true break end
  end
  if not isOwned then return redis.error_reply('DF2REDIS_SPLIT slot ' .. slot .. ' is not served by this node') end
  local skip = false
  if mode == '1' then
    local c = redis.call('HGET', cp, field)
    if c and tonumber(c) >= nxt then skip = true end
  end
  groups[#groups + 1] = { cp, i + 3, nc, skip }
  i = i + 3
  for _ = 1, nc do i = i + 1 + tonumber(a[i]) end
end
local out = nil
local idx = 0
for _, g in ipairs(groups) do
  local j = g[2]
  for _ = 1, g[3] do
    local argc = tonumber(a[j])
    idx = idx + 1
    if not g[4] then
      local r = redis.pcall(unpack(a, j + 1, j + argc))
      if type(r) == 'table' and r.err then
        if out == nil then
          out = {}
          for z = 1, idx - 1 do out[z] = 0 end
        end
        out[idx] = r
      elseif out ~= nil then
        out[idx] = 0
      end
    elseif out ~= nil then
      out[idx] = 0
    end
    j = j + 1 + argc
  end
  if not g[4] then redis.call('HSET', g[1], field, a[3]) end
end
if out == nil then return 0 end
return out
`;

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

/** One command of a batch: its arguments (no copy of the caller's Buffers), name and key (errors). */
export interface BatchCommand {
  args: CommandArg[];
  name: CommandArg | undefined;
  key: Buffer | undefined;
}

/** The commands of one slot within a batch. */
export interface SlotGroup {
  slot: number;
  commands: BatchCommand[];
}

/**
 * One flow's open batch: commands grouped by slot in arrival order (a slot's commands keep their
 * order; commands of different slots touch different keys, so their relative order does not matter).
 */
export class SlotBatch {
  readonly groups = new Map<number, SlotGroup>();
  /** A command longer than {@link MAX_SCRIPT_COMMAND_ARGS} arguments is in the batch. */
  isOversized = false;
  commandCount = 0;

  add(slot: number, cmd: BatchCommand): void {
    let g = this.groups.get(slot);
    if (g === undefined) {
      g = { slot, commands: [] };
      this.groups.set(slot, g);
    }
    g.commands.push(cmd);
    if (cmd.args.length > MAX_SCRIPT_COMMAND_ARGS) this.isOversized = true;
    this.commandCount++;
  }

  get isEmpty(): boolean {
    return this.commandCount === 0;
  }
}

/**
 * `EVAL` arguments applying `groups` with their checkpoints `cpKey(slot)` set to `next` in field
 * `field`; `idempotent`: skip groups whose checkpoint already counts them (a resend).
 */
export function slotBatchEval(groups: readonly SlotGroup[], field: string, next: bigint, cpKey: (slot: number) => Buffer, idempotent: boolean): CommandArg[] {
  const argv: CommandArg[] = ['EVAL', SLOT_BATCH_SCRIPT, 0, idempotent ? '1' : '0', field, next.toString()];
  for (const g of groups) {
    argv.push(g.slot, cpKey(g.slot), g.commands.length);
    for (const c of g.commands) {
      argv.push(c.args.length);
      for (const x of c.args) argv.push(x);
    }
  }
  return argv;
}

/**
 * A {@link CommandSink} that adds each command to a {@link SlotBatch} under the slot set in
 * {@link slot} instead of sending it. The allocation-free form is collected into an argument array.
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
