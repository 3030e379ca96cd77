/**
 * Replicating a recorded Dragonfly session (served byte for byte by the replay master) into a
 * target, and judging the result against the master's final state (`expected.json.gz`) with the
 * documented exceptions. Shared by the standalone and the cluster recording tests.
 */
import pino from 'pino';
import { Replicator, REPLICATE_DEFAULTS, type ReplicateOptions, type ReplicateSummary } from '../../src/pipeline/replicate.js';
import type { ExpectedState } from './expected.js';
import { ReplayMaster, type ReplayMasterOptions } from './replay-master.js';

const silent = pino({ level: 'silent' });

/** Types a Redis 7.0 without modules cannot hold (skipped with --unsupported skip). */
export const MODULE_TYPES = new Set(['ReJSON-RL', 'MBbloom--', 'MBbloomCF', 'CMSk-TYPE', 'TopK-TYPE']);
/** Snapshot objects with per-field / per-member TTLs: Redis 7.0 has no such thing (skipped). */
export const MEMBER_TTL_KEY = /^d\d:(hash:fieldttl|set:memberttl)$/;
/**
 * Differences that are not the replicator's to fix, each asserted as the exact diff line:
 * - `j:x`: `XGROUP SETID j:x grp 0` without ENTRIESREAD resets Redis's `entries-read` to unknown
 *   (null) while Dragonfly keeps 4: a Redis/Dragonfly semantic difference in the journaled command.
 */
export const KNOWN_DIFFS: RegExp[] = [/^db 0 key "j:x": value differs: .*"entries-read",null,.*"entries-read",4,/];

/** Polls `cond` every 20 ms until true, or fails after `timeoutMs`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Replicates session `name` into `target` until every flow's recorded bytes were sent and every
 * received record was acknowledged by the target, then stops gracefully. `options` override the
 * replicator's (e.g. `dbs`), `masterOptions` the replay master's (its default time shift replays the
 * session as on the day it was recorded; compare with `master.expected()`). The caller closes the
 * returned master.
 */
export async function replicateSession(
  name: string,
  target: string,
  options: Partial<ReplicateOptions> = {},
  masterOptions: ReplayMasterOptions = {},
): Promise<{ summary: ReplicateSummary; master: ReplayMaster; replicator: Replicator }> {
  const master = await ReplayMaster.start(name, masterOptions);
  try {
    const replicator = new Replicator({ ...REPLICATE_DEFAULTS, source: master.url, target, unsupported: 'skip', statusPort: undefined, ...options }, silent);
    const running = replicator.run();
    running.catch(() => undefined);
    const flowsDone = new Set<number>();
    master.on('flow-done', (log: { flowId: number }) => flowsDone.add(log.flowId));
    // 'flow-done' fires when the master has written its last byte, not when the replica has read it:
    // also wait until each flow acknowledged what the real replica acknowledged last.
    const finalLsn = recordedFinalAcks(master);
    await Promise.race([
      until(() => {
        const s = replicator.status();
        return (
          s.phase === 'stable-sync' &&
          s.flows.length > 0 &&
          flowsDone.size === s.flows.length &&
          s.flows.every((f) => f.lsn === f.receivedLsn && f.lsn >= (finalLsn.get(f.id) ?? 0n))
        );
      }, `${name}: all flows replayed and acknowledged`),
      running.then(() => {
        throw new Error('replicator stopped early');
      }),
    ]);
    await replicator.stop();
    return { summary: await running, master, replicator };
  } catch (err) {
    await master.close();
    throw err;
  }
}

/**
 * The differences `compareState` found that the documented exceptions do not explain, and the
 * number of documented exceptions `expected` holds (module types, member/field TTL objects) which
 * must all be among the differences.
 */
export function unexplainedDiffs(diffs: string[], expected: ExpectedState): { unexplained: string[]; explainedKeys: string[]; knownCount: number } {
  const unexplained = diffs.filter((d) => {
    const m = /^db (\d+) key (.*?): missing \(expected (.*)\)$/.exec(d);
    if (KNOWN_DIFFS.some((re) => re.test(d))) return false;
    if (!m) return true;
    const key = JSON.parse(m[2]!) as string;
    return !(MODULE_TYPES.has(m[3]!) || MEMBER_TTL_KEY.test(key));
  });
  const explainedKeys = Object.values(expected).flatMap((db) =>
    Object.entries(db)
      .filter(([k, v]) => MODULE_TYPES.has(v.type) || MEMBER_TTL_KEY.test(Buffer.from(k, 'base64').toString()))
      .map(([k]) => k),
  );
  return { unexplained, explainedKeys, knownCount: diffs.filter((d) => KNOWN_DIFFS.some((re) => re.test(d))).length };
}

/** The last `REPLCONF ACK` the real replica sent on each flow of the recording's first phase, by flow id. */
export function recordedFinalAcks(master: ReplayMaster): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const [id, f] of master.phases[0]!.flows) {
    const acks = [...f.conn.replicaBytes.toString('latin1').matchAll(/REPLCONF ACK (\d+)/g)];
    if (acks.length > 0) out.set(id, BigInt(acks[acks.length - 1]![1]!));
  }
  return out;
}

/**
 * Checks the final ACK of every flow: it equals the flow's acknowledged LSN, and what the real
 * Dragonfly replica acknowledged last in the recording. Returns the mismatches.
 */
export function finalAckMismatches(summary: ReplicateSummary, master: ReplayMaster): string[] {
  const out: string[] = [];
  const recorded = recordedFinalAcks(master);
  for (const f of summary.flows) {
    const log = master.flowLogs(0).find((l) => l.flowId === f.id)!;
    if (log.acks.length === 0) out.push(`flow ${f.id} sent no ACK`);
    else if (log.acks.at(-1)!.lsn !== f.lsn) out.push(`flow ${f.id}: last ACK ${log.acks.at(-1)!.lsn} != acknowledged LSN ${f.lsn}`);
    else if (recorded.has(f.id) && recorded.get(f.id) !== f.lsn) out.push(`flow ${f.id}: last ACK ${f.lsn} != the real replica's ${recorded.get(f.id)}`);
  }
  return out;
}
