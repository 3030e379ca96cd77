/**
 * The cut-over of a running `replicate`: pause writes on the Dragonfly master, wait until the
 * target holds every write the master journaled before the pause, verify, then hold the pause for
 * the application's switch (or lift it at once). Any failure lifts the pause before returning.
 *
 * Upstream facts (Dragonfly v1.40.1): `CLIENT PAUSE <ms> [WRITE|ALL]` pauses every non-privileged
 * connection's writes (journaled commands, writable EVAL, EXEC with writes) and disables expiry
 * while paused, and lifts itself after `<ms>` (src/server/server_family.cc `ClientPauseCmd`,
 * `Pause`; src/server/main_service.cc `CheckPauseState`); `CLIENT UNPAUSE` lifts it.
 * `DFLY REPLICAOFFSET` answers the next journal LSN of every shard (src/server/dflycmd.cc
 * `DflyCmd::ReplicaOffset`), which is the value a flow's acknowledged LSN reaches once the replica
 * applied everything journaled before (reference §5.4).
 *
 * Where "the target holds it" is read: the replicator's `/status` (`flows[].lsn`, the next LSN whose
 * effects the target acknowledged, DESIGN invariant 6), or, without a status URL, the replicator's
 * checkpoint on the target itself (src/pipeline/checkpoint.ts: `lsn:<i>` is never ahead of the
 * data, and its phase says whether every flow is in stable sync).
 */
import { ReplicationError } from '../errors.js';
import { openRouter, resolveTarget } from '../sink/connect-target.js';
import { RedisConnection } from '../sink/redis-connection.js';
import type { Router } from '../sink/router.js';
import { parseRedisUrl } from '../sink/target-url.js';
import { checkpointKey, DEFAULT_CHECKPOINT_PREFIX, readCheckpoint } from './checkpoint.js';

/** Options of {@link runCutover}. Times in ms. */
export interface CutoverOptions {
  /** The Dragonfly master, `redis://…` / `rediss://…`. */
  source: string;
  /**
   * The running replicator's status endpoint, e.g. `http://127.0.0.1:9121` (its `/status` is read);
   * undefined = read the replicator's checkpoint on {@link target} instead.
   */
  statusUrl: string | undefined;
  /** The target (its checkpoint is read when there is no {@link statusUrl}). */
  target?: string;
  /** The checkpoint's key prefix, as given to `replicate`. @default 'df2redis:' */
  checkpointPrefix?: string;
  /** Longest wait for the target to catch up with the paused master. */
  timeoutMs: number;
  /** How long the master stays paused after a successful verdict (0 = lifted at once). */
  holdMs: number;
  /** Longest time the final check may take; part of the safety bound of the pause. */
  checkTimeoutMs: number;
  /** Accept any TLS certificate from a `rediss://` source. */
  isTlsInsecure?: boolean;
  /** Poll interval of `/status` while waiting. @default 20 */
  pollMs?: number;
}

/** Outcome of the final verification. */
export interface CutoverCheck {
  /** Keys that differ (0 = the target equals the source). */
  differences: number;
  /** One human-readable paragraph (the check's summary). */
  summary: string;
}

/** What {@link runCutover} reports. */
export interface CutoverResult {
  ok: boolean;
  /** Why it failed (undefined on success). */
  reason?: string;
  /** The master's next LSN per shard, read right after the pause. */
  offsets: bigint[];
  /** Acknowledged LSN per flow when the target caught up (or when it gave up). */
  acked: bigint[];
  /** From the pause to the end of the verdict (ms): the write pause the application saw before the hold. */
  pauseToVerdictMs: number;
  /** From the pause to its lift (ms), hold included. */
  writePauseMs: number;
  check?: CutoverCheck;
}

/** Hooks of {@link runCutover}. */
export interface CutoverDeps {
  /** The final check of the target against the (paused) source. */
  check(): Promise<CutoverCheck>;
  /** Progress lines for the operator. */
  say(line: string): void;
}

interface StatusFlow {
  id: number;
  phase: string;
  lsn: number | string;
}

interface Status {
  phase: string;
  flows: StatusFlow[];
}

/**
 * Where the replication's progress is read: `/status`, or the checkpoint on the target (its phase
 * `stable` stands for every flow in stable sync, its `lsn:<i>` for the acknowledged LSNs).
 */
interface ProgressSource {
  read(): Promise<Status>;
  close(): Promise<void>;
}

function statusSource(statusUrl: string): ProgressSource {
  return { read: () => readStatus(statusUrl), close: async () => undefined };
}

/** @throws ReplicationError when the target holds no checkpoint of a replication. */
async function checkpointSource(target: string, prefix: string, isTlsInsecure: boolean): Promise<ProgressSource> {
  const resolved = await resolveTarget(target, { tlsInsecure: isTlsInsecure });
  const router: Router = await openRouter(resolved, { role: 'target (checkpoint)', tlsInsecure: isTlsInsecure });
  const key = checkpointKey(prefix);
  return {
    async read(): Promise<Status> {
      const cp = await readCheckpoint(router, key);
      if (cp === undefined) throw new ReplicationError(`the target holds no replication checkpoint (${key.toString()}): give --status-url of the running replicate`);
      const phase = cp.phase === 'stable' ? 'stable-sync' : 'full-sync';
      return { phase, flows: cp.lsns.map((lsn, id) => ({ id, phase, lsn: String(lsn ?? 0) })) };
    },
    close: () => router.close(),
  };
}

/** Reads `/status` of the replicator. @throws ReplicationError when unreachable or not JSON. */
async function readStatus(statusUrl: string): Promise<Status> {
  const url = new URL('/status', statusUrl);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new ReplicationError(`cannot reach the replicator's status at ${url.href}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new ReplicationError(`the replicator's status at ${url.href} answered HTTP ${res.status}`);
  return (await res.json()) as Status;
}

/**
 * Runs the cut-over. Never leaves the master paused on failure: the pause is lifted (and it lifts
 * itself anyway after `timeoutMs + checkTimeoutMs + holdMs + 10 s`, should this process die).
 * @throws ReplicationError only before the pause (replicator unreachable, not in stable sync,
 *   source unreachable or refusing `CLIENT PAUSE`); later failures are reported in the result.
 */
export async function runCutover(options: CutoverOptions, deps: CutoverDeps): Promise<CutoverResult> {
  if (options.statusUrl === undefined && options.target === undefined) throw new ReplicationError('cutover needs the status URL or the target');
  const checkpoint =
    options.target !== undefined ? await checkpointSource(options.target, options.checkpointPrefix ?? DEFAULT_CHECKPOINT_PREFIX, options.isTlsInsecure === true) : undefined;
  try {
    if (options.statusUrl === undefined) return await cutover(options, deps, checkpoint!);
    // Both when both are known: the checkpoint on the target must say stable sync too.
    const stable = await checkpoint?.read();
    if (stable !== undefined && stable.phase !== 'stable-sync') {
      throw new ReplicationError(`the checkpoint on the target says the replication is not in stable sync (phase ${stable.phase}): nothing was paused`);
    }
    return await cutover(options, deps, statusSource(options.statusUrl));
  } finally {
    await checkpoint?.close().catch(() => undefined);
  }
}

async function cutover(options: CutoverOptions, deps: CutoverDeps, progress: ProgressSource): Promise<CutoverResult> {
  const before = await progress.read();
  const notStable = before.flows.filter((f) => f.phase !== 'stable-sync');
  if (before.phase !== 'stable-sync' || before.flows.length === 0 || notStable.length > 0) {
    throw new ReplicationError(
      `the replication is not in stable sync (phase ${before.phase}${notStable.length > 0 ? `; flows ${notStable.map((f) => `${f.id}: ${f.phase}`).join(', ')}` : ''}): nothing was paused`,
    );
  }
  const conn = await RedisConnection.connect(parseRedisUrl(options.source), { role: 'source', tlsInsecure: options.isTlsInsecure });
  const safetyMs = options.timeoutMs + options.checkTimeoutMs + options.holdMs + 10_000;
  let pausedAt = 0;
  let isPaused = false;
  const unpause = async (): Promise<void> => {
    if (!isPaused) return;
    isPaused = false;
    await conn.call(['CLIENT', 'UNPAUSE']);
  };
  try {
    await conn.call(['CLIENT', 'PAUSE', String(safetyMs), 'WRITE']);
    pausedAt = performance.now();
    isPaused = true;
    deps.say(`paused writes on the source (lifts itself after ${Math.round(safetyMs / 1000)} s at the latest)`);
    const reply = await conn.call(['DFLY', 'REPLICAOFFSET']);
    if (!Array.isArray(reply)) throw new ReplicationError(`DFLY REPLICAOFFSET answered ${JSON.stringify(reply)}, not an array`);
    const offsets = reply.map((v) => BigInt(String(v)));
    deps.say(`master offsets: ${offsets.map((o, i) => `flow ${i} ${o}`).join(', ')}`);
    const result = (ok: boolean, acked: bigint[], reason?: string, check?: CutoverCheck): CutoverResult => ({
      ok,
      reason,
      offsets,
      acked,
      pauseToVerdictMs: Math.round(performance.now() - pausedAt),
      writePauseMs: 0,
      check,
    });

    // Wait until every flow acknowledged everything journaled before the pause.
    const deadline = performance.now() + options.timeoutMs;
    let acked: bigint[] = [];
    for (;;) {
      const s = await progress.read();
      acked = offsets.map((_, i) => BigInt(s.flows.find((f) => f.id === i)?.lsn ?? 0));
      if (s.flows.length !== offsets.length) {
        return await finish(result(false, acked, `the replicator has ${s.flows.length} flows, the master ${offsets.length} shards`));
      }
      if (acked.every((a, i) => a >= offsets[i]!)) break;
      if (performance.now() > deadline) {
        const behind = acked.map((a, i) => `flow ${i} at ${a} of ${offsets[i]}`).filter((_, i) => acked[i]! < offsets[i]!);
        return await finish(result(false, acked, `the target did not catch up within ${options.timeoutMs} ms (${behind.join(', ')})`));
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 20));
    }
    deps.say(`the target holds every write journaled before the pause (${Math.round(performance.now() - pausedAt)} ms after it)`);

    let check: CutoverCheck;
    try {
      check = await withTimeout(deps.check(), options.checkTimeoutMs, `the final check did not finish within ${options.checkTimeoutMs} ms`);
    } catch (err) {
      return await finish(result(false, acked, `the final check failed: ${(err as Error).message}`));
    }
    if (check.differences > 0) return await finish(result(false, acked, `the final check found ${check.differences} differing key(s)`, check));
    const ok = result(true, acked, undefined, check);
    if (options.holdMs > 0) {
      deps.say(`verified; the source stays paused for ${options.holdMs} ms: switch the application now`);
      await new Promise((r) => setTimeout(r, options.holdMs));
    }
    return await finish(ok);

    /** Lifts the pause (measuring it) and returns `r`. */
    async function finish(r: CutoverResult): Promise<CutoverResult> {
      await unpause();
      r.writePauseMs = Math.round(performance.now() - pausedAt);
      return r;
    }
  } catch (err) {
    await unpause().catch(() => undefined);
    throw err;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** `p`, or a rejection with `message` after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
