/**
 * The replication checkpoint, kept **on the target** with the data (issue "Resume and reconnect").
 *
 * One hash, `<prefix>checkpoint` (default `df2redis:checkpoint`), in the target database that
 * receives database 0 (the target URL's `/db`, else 0):
 *
 * | field      | value                                                                  |
 * |------------|------------------------------------------------------------------------|
 * | `version`  | `1` (this layout)                                                       |
 * | `source`   | the master's `host:port` as given                                       |
 * | `replid`   | the master's replication id the LSNs belong to                          |
 * | `flows`    | the master's flow (shard) count                                         |
 * | `dbs`      | the source databases copied: `all` or `0,3`                             |
 * | `phase`    | `full-sync` (the target is being filled) or `stable` (every flow's LSN valid) |
 * | `lsn:<i>`  | flow `i`: the next LSN whose effect is not on the target                |
 *
 * How `lsn:<i>` can never be ahead of the data (nor behind it, with exactly-once):
 * - **exactly-once** (standalone target): each batch of a flow's journal records is sent as
 *   `MULTI … HSET <key> lsn:<i> <next> EXEC` on the flow's own ordered connection, so the records
 *   and the checkpoint that counts them are applied together or not at all (a client that dies in
 *   MULTI state has its queue discarded: Redis src/multi.c, `freeClient` → `freeClientMultiState`).
 * - **exactly-once on a Redis Cluster**: each slot has a checkpoint hash of its own,
 *   `<prefix>cp:{<tag>}` ({@link slotCheckpointKey}, in that slot), written by the batch script that
 *   applies the slot's commands (src/sink/slot-batch.ts); `lsn:<i>` above is then written as with
 *   at-least-once and is where a resume starts, the slots' checkpoints saying which records of each
 *   slot after it are on the target already.
 * - **at-least-once** (`--delivery at-least-once`): `HSET <key> lsn:<i> <next>`
 *   is sent once the target acknowledged every record below `<next>`; after a crash the records
 *   between the checkpoint and the crash are applied a second time.
 *
 * Nothing but `df2redis reset` deletes the hash (a FLUSHALL/FLUSHDB replayed from the journal is
 * applied in one transaction with a full rewrite of it). Its keys are never copied nor compared.
 *
 * Upstream analogue: the Dragonfly replica keeps the same per-flow "next LSN" in memory
 * (`DflyShardReplica::journal_rec_executed_`, src/server/replica.cc) and sends it in
 * `DFLY FLOW … <lsn>` to resume (reference §8).
 */
import { ClusterRouter } from '../sink/cluster-router.js';
import type { CommandArg, RespValue } from '../sink/redis-connection.js';
import type { Router } from '../sink/router.js';
import { slotHashTag } from '../sink/slot-batch.js';

/** Default {@link checkpointKey} prefix (`--checkpoint-prefix`). */
export const DEFAULT_CHECKPOINT_PREFIX = 'df2redis:';

/** Layout version stored in the `version` field. */
export const CHECKPOINT_VERSION = 1;

/** What the checkpoint says, as read from the target. */
export interface CheckpointState {
  version: number;
  /** The master's `host:port`. */
  source: string;
  replid: string;
  flows: number;
  /** `all` or a comma-separated ascending list of source databases. */
  dbs: string;
  phase: 'full-sync' | 'stable';
  /** Per flow id: the next LSN not on the target; undefined where the field is missing. */
  lsns: Array<bigint | undefined>;
}

/** The checkpoint hash's key for `prefix`. */
export function checkpointKey(prefix: string): Buffer {
  return Buffer.from(`${prefix}checkpoint`);
}

const slotKeyCache = new Map<string, Buffer[]>();

/** `<prefix><kind>:{<tag of slot>}`, built once per slot. */
function slotKey(prefix: string, kind: 'cp' | 'probe', slot: number): Buffer {
  const id = `${prefix}${kind}:`;
  let keys = slotKeyCache.get(id);
  if (keys === undefined) {
    keys = new Array<Buffer>(16384);
    slotKeyCache.set(id, keys);
  }
  return (keys[slot] ??= Buffer.from(`${id}{${slotHashTag(slot)}}`));
}

/**
 * The checkpoint hash of cluster slot `slot` (0–16383) for `prefix`: `<prefix>cp:{<tag>}`, where the
 * hash tag ({@link slotHashTag}) puts the key in that slot. Field `lsn:<flow>`: the flow's next LSN
 * whose effect on the slot is not on the target (exactly-once on a cluster).
 */
export function slotCheckpointKey(prefix: string, slot: number): Buffer {
  return slotKey(prefix, 'cp', slot);
}

/**
 * The probe key of cluster slot `slot`: `<prefix>probe:{<tag>}`, in that slot, never written. A batch
 * script checks with `EXISTS` of it that the slot is served by its node and not moving
 * (src/sink/slot-batch.ts).
 */
export function slotProbeKey(prefix: string, slot: number): Buffer {
  return slotKey(prefix, 'probe', slot);
}

/**
 * Reads every slot's checkpoint ({@link slotCheckpointKey}) through a cluster `router`: per flow
 * (0 … `flows`-1), slot → next LSN applied there (slots without one are absent).
 * @throws TargetCommandError, ConnectionError, ClusterError from the reads.
 */
export async function readSlotCheckpoints(router: Router, prefix: string, flows: number): Promise<Array<Map<number, bigint>>> {
  const out = Array.from({ length: flows }, () => new Map<number, bigint>());
  const take = (slot: number, reply: RespValue): void => {
    if (!Array.isArray(reply)) return;
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const m = /^lsn:(\d+)$/.exec(text(reply[i]!));
      const v = text(reply[i + 1]!);
      if (m !== null && Number(m[1]) < flows && /^\d+$/.test(v)) out[Number(m[1])]!.set(slot, BigInt(v));
    }
  };
  if (router instanceof ClusterRouter) {
    // One script per master over the slots it owns (3 round trips, not 16384).
    const t = router.topology;
    const conns = router.all();
    const bySlotOwner = conns.map(() => [] as number[]);
    for (let slot = 0; slot < 16384; slot++) bySlotOwner[t.owner[slot]!]?.push(slot);
    try {
      await Promise.all(
        conns.map(async (conn, i) => {
          const slots = bySlotOwner[i]!;
          const reply = await conn.call(['EVAL', READ_SLOT_CHECKPOINTS_SCRIPT, 0, ...slots.map((s) => slotCheckpointKey(prefix, s))]);
          if (!Array.isArray(reply)) return;
          for (let j = 0; j + 1 < reply.length; j += 2) take(slots[Number(reply[j]) - 1]!, reply[j + 1]!);
        }),
      );
      return out;
    } catch {
      for (const m of out) m.clear(); // the slot table changed meanwhile: key by key below
    }
  }
  const reads: Array<Promise<void>> = [];
  for (let slot = 0; slot < 16384; slot++) {
    const key = slotCheckpointKey(prefix, slot);
    reads.push(router.call(key, ['HGETALL', key]).then((reply) => take(slot, reply)));
  }
  await Promise.all(reads);
  return out;
}

/** Reads the hashes named in ARGV on one master: `[index, HGETALL reply, …]` for the non-empty ones. */
const READ_SLOT_CHECKPOINTS_SCRIPT = `#!lua flags=allow-cross-slot-keys,no-writes
local out = {}
for i = 1, #ARGV do
  local v = redis.call('HGETALL', ARGV[i])
  if #v > 0 then
    out[#out + 1] = i
    out[#out + 1] = v
  end
end
return out
`;

/** Sends `DEL` of every slot's checkpoint ({@link slotCheckpointKey}) through `router` (await its flush). */
export function deleteSlotCheckpoints(router: Router, prefix: string): void {
  for (let slot = 0; slot < 16384; slot++) {
    const key = slotCheckpointKey(prefix, slot);
    router.connectionFor(key, 0).send(['DEL', key], key);
  }
}

/** The `dbs` field for `--dbs` (undefined = all). */
export function dbsField(dbs: readonly number[] | undefined): string {
  return dbs === undefined ? 'all' : [...dbs].sort((a, b) => a - b).join(',');
}

/**
 * Parses the reply of `HGETALL <key>`: undefined for an empty hash (no checkpoint).
 * @throws Error naming the field when the hash is not a checkpoint of a layout this version knows.
 */
export function parseCheckpoint(reply: RespValue): CheckpointState | undefined {
  if (!Array.isArray(reply) || reply.length === 0) return undefined;
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(text(reply[i]!), text(reply[i + 1]!));
  const version = Number(fields.get('version'));
  if (version !== CHECKPOINT_VERSION) throw new Error(`checkpoint layout version ${fields.get('version') ?? '(none)'} is not ${CHECKPOINT_VERSION}`);
  const flows = Number(fields.get('flows'));
  if (!Number.isInteger(flows) || flows <= 0) throw new Error(`checkpoint field flows=${fields.get('flows') ?? '(none)'} is not a flow count`);
  const phase = fields.get('phase');
  if (phase !== 'full-sync' && phase !== 'stable') throw new Error(`checkpoint field phase=${phase ?? '(none)'} is not full-sync or stable`);
  const lsns: Array<bigint | undefined> = [];
  for (let i = 0; i < flows; i++) {
    const v = fields.get(`lsn:${i}`);
    lsns.push(v !== undefined && /^\d+$/.test(v) ? BigInt(v) : undefined);
  }
  return { version, source: fields.get('source') ?? '', replid: fields.get('replid') ?? '', flows, dbs: fields.get('dbs') ?? 'all', phase, lsns };
}

/**
 * Reads the checkpoint `key` through `router` (on a cluster, from the master owning its slot).
 * @throws Error from {@link parseCheckpoint} (not a checkpoint this version reads);
 *   TargetCommandError, ConnectionError from the read.
 */
export async function readCheckpoint(router: Router, key: Buffer): Promise<CheckpointState | undefined> {
  return parseCheckpoint(await router.call(key, ['HGETALL', key]));
}

/** `HSET <key> …` writing every field of `state` (lsn fields only where defined). */
export function fullCheckpointArgs(key: Buffer, state: CheckpointState): CommandArg[] {
  const args: CommandArg[] = ['HSET', key, 'version', String(state.version), 'source', state.source, 'replid', state.replid, 'flows', String(state.flows), 'dbs', state.dbs, 'phase', state.phase];
  state.lsns.forEach((lsn, i) => {
    if (lsn !== undefined) args.push(`lsn:${i}`, lsn.toString());
  });
  return args;
}

/**
 * How one flow's records and its checkpoint reach the target (see the module comment). The flow
 * calls {@link begin} before sending anything of a batch and {@link commit} once the batch's
 * records were handed over (with the next LSN), and {@link onAcked} when the target acknowledged
 * everything below an LSN.
 */
export interface FlowCheckpoint {
  /** True when each batch is one transaction with its checkpoint. */
  readonly isExactlyOnce: boolean;
  /**
   * Opens the batch (exactly-once: `MULTI`, once; cluster: a slot batch) before the commands of the
   * record with LSN `lsn` (undefined: not a journal record). Called again for each record.
   */
  begin(lsn?: bigint): void;
  /** Closes the batch: exactly-once `HSET lsn:<i> <nextLsn>` + `EXEC`; no-op if none is open. */
  commit(nextLsn: bigint): void;
  /** True while a batch is open. */
  readonly isOpen: boolean;
  /** Writes `lsn:<i>` now, outside any batch (a value already applied, e.g. a flow's journal offset). */
  write(nextLsn: bigint): void;
  /** The target acknowledged every record below `nextLsn` (at-least-once: write the checkpoint). */
  onAcked(nextLsn: bigint): void;
}

/** Least time between the starts of two `WAIT` rounds of one flow ({@link WaitReplicas}), in ms. */
export const WAIT_REPLICAS_INTERVAL_MS = 100;

/** Time a `WAIT` of {@link WaitReplicas} may block one target connection, in ms. */
export const WAIT_REPLICAS_TIMEOUT_MS = 5000;

/**
 * At-least-once only: before the checkpoint advances, `WAIT <count> <timeoutMs>` on every target
 * connection of the flow (every cluster master it writes to) must report at least `count` replicas
 * (Redis src/replication.c `waitCommand`). Then a master that fails over to one of those replicas
 * cannot lose writes the checkpoint already counts. A round that finds fewer replicas keeps the
 * checkpoint where it was and calls `onShort`.
 */
export interface WaitReplicas {
  count: number;
  timeoutMs: number;
  onShort?(replies: number[]): void;
}

/**
 * The {@link FlowCheckpoint} of flow `flowId` on `router`: exactly-once (standalone: MULTI/EXEC on
 * the flow's connection; cluster: slot batches with per-slot checkpoints under `prefix`, see
 * src/sink/slot-batch.ts) or at-least-once (optionally after {@link WaitReplicas}).
 */
export function flowCheckpoint(router: Router, key: Buffer, db: number, flowId: number, isExactlyOnce: boolean, wait?: WaitReplicas, prefix = DEFAULT_CHECKPOINT_PREFIX): FlowCheckpoint {
  if (isExactlyOnce && router instanceof ClusterRouter) {
    // The main hash's lsn:<i> is the resume point, written at least once; the slots' checkpoints
    // are written with the data.
    const atLeastOnce = flowCheckpoint(router, key, db, flowId, false, wait);
    router.enableSlotBatches({ cp: (slot) => slotCheckpointKey(prefix, slot), probe: (slot) => slotProbeKey(prefix, slot) }, `lsn:${flowId}`, (wait?.count ?? 0) > 0);
    return {
      isExactlyOnce: true,
      get isOpen() {
        return router.isBatchOpen;
      },
      begin: (lsn) => router.beginBatch(lsn),
      commit: (lsn) => router.commitBatch(lsn),
      write: atLeastOnce.write,
      onAcked: atLeastOnce.onAcked,
    };
  }
  const field = Buffer.from(`lsn:${flowId}`);
  const hset = (lsn: bigint): void => router.connectionFor(key, db).send(['HSET', key, field, lsn.toString()], key);
  if (!isExactlyOnce) {
    let last = -1n;
    let pending: bigint | undefined;
    let isWaiting = false;
    let lastRoundAt = -Infinity;
    const waitThenWrite = (): void => {
      // Redis blocks a client in WAIT until its replicas caught up, and the commands pipelined behind
      // it with it: one round per WAIT_REPLICAS_INTERVAL_MS at most leaves the connections free
      // between rounds (measured: back-to-back rounds cut a 3-master cluster's throughput to 0.57 ×).
      const early = lastRoundAt + WAIT_REPLICAS_INTERVAL_MS - performance.now();
      if (early > 0) {
        isWaiting = true;
        setTimeout(() => {
          isWaiting = false;
          lastRoundAt = -Infinity;
          if (pending !== undefined) waitThenWrite();
        }, early).unref();
        return;
      }
      lastRoundAt = performance.now();
      const lsn = pending!;
      pending = undefined;
      isWaiting = true;
      // Sent after everything the LSN counts, on each connection: WAIT covers exactly those writes.
      Promise.all(router.all().map((c) => c.call(['WAIT', wait!.count, wait!.timeoutMs]))).then(
        (replies) => {
          isWaiting = false;
          const counts = replies.map(Number);
          if (counts.every((n) => n >= wait!.count)) {
            last = lsn;
            hset(lsn);
          } else wait!.onShort?.(counts);
          if (pending !== undefined) waitThenWrite();
        },
        () => {
          isWaiting = false; // the connection failed: the run's error path takes over
        },
      );
    };
    return {
      isExactlyOnce: false,
      isOpen: false,
      begin: () => undefined,
      commit: () => undefined,
      write: hset,
      onAcked: (lsn) => {
        if (lsn === last) return;
        if (wait === undefined || wait.count <= 0) {
          last = lsn;
          hset(lsn);
          return;
        }
        pending = lsn;
        if (!isWaiting) waitThenWrite();
      },
    };
  }
  const conn = router.all()[0]!; // standalone: the one connection
  let isOpen = false;
  return {
    isExactlyOnce: true,
    get isOpen() {
      return isOpen;
    },
    begin: () => {
      if (isOpen) return;
      isOpen = true;
      conn.beginTransaction();
    },
    commit: (lsn) => {
      if (!isOpen) return;
      isOpen = false;
      hset(lsn);
      conn.commitTransaction();
    },
    write: hset,
    onAcked: () => undefined,
  };
}

function text(v: RespValue): string {
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}
