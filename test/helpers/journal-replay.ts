/**
 * Journal records through a live replication into a real target: one flow of the fake master
 * (fake-master.ts, for hand-made records the recordings do not hold), a {@link Replicator} with
 * the defaults, until the target acknowledged every record. Shared by the tests of how single
 * journal commands land (test/replicate/float-increments.test.ts, set-runs.test.ts).
 */
import pino from 'pino';
import { Replicator, REPLICATE_DEFAULTS, type ReplicateOptions } from '../../src/pipeline/replicate.js';
import { FakeMaster, type FakeFlow } from './fake-master.js';
import { until } from './replicate-session.js';

const silent = pino({ level: 'silent' });

/**
 * Replicates from a fresh fake master (1 flow, empty snapshot) into `target`, writes `records`
 * (encoded journal records, e.g. `journalCommand(…)`, one LSN each) in one socket write once the
 * flow is in stable sync, and resolves when the flow's acknowledged LSN passed them all; the
 * replicator and the master are stopped either way.
 * @throws Error when the replicator stops first (its error is the run's) or a wait times out.
 */
export async function replayJournal(target: string, records: Buffer[], options: Partial<ReplicateOptions> = {}): Promise<void> {
  const m = await FakeMaster.start({ numFlows: 1 });
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: m.url, target, statusPort: undefined, ...options }, silent);
  const running = r.run();
  running.catch(() => undefined);
  try {
    await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync');
    // The journal offset itself is acknowledged once the snapshot (and the checkpoint written
    // after it) is: read the starting LSN only then.
    await until(() => r.status().flows[0]!.lsn > 0n, 'the journal offset acknowledged');
    const start = r.status().flows[0]!.lsn;
    (m.flows[0] as FakeFlow).write(Buffer.concat(records));
    await Promise.race([
      until(() => r.status().flows[0]!.lsn === start + BigInt(records.length), 'every record acknowledged'),
      running.then(() => {
        throw new Error('replicator stopped early');
      }),
    ]);
  } finally {
    await r.stop().catch(() => undefined);
    await m.close();
  }
}
