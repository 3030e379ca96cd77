/**
 * `GET /metrics`: every df2redis metric in one place, in the Prometheus text format (prom-client).
 *
 * Nothing here is incremented on the hot path: each metric has a `collect()` callback that reads
 * one {@link ReplicationStatus} taken per scrape (the same document as `/status`). The registry is
 * our own, never prom-client's global one, so two runs in one process (tests) do not collide.
 * Names follow the Prometheus conventions: `df2redis_` prefix, base units (`_seconds`, `_bytes`),
 * counters end in `_total`. Process metrics (RSS, heap, event-loop delay…) are prom-client's
 * default metrics under the same prefix.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { ReplicationStatus } from '../pipeline/replicate.js';

/** What the HTTP server needs: the text of one scrape and its content type. */
export interface MetricsRegistry {
  /** Renders every metric from a fresh status snapshot. */
  metrics(): Promise<string>;
  readonly contentType: string;
}

type Labels = Record<string, string | number>;
type Sample = [labels: Labels, value: number];

/**
 * A registry reading `status()` once per scrape. `status` must not throw.
 */
export function createMetricsRegistry(status: () => ReplicationStatus): MetricsRegistry {
  const registry = new Registry();
  let s: ReplicationStatus | undefined;
  const current = (): ReplicationStatus => (s ??= status());

  const gauge = (name: string, help: string, labelNames: string[], samples: (st: ReplicationStatus) => Sample[]): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, v] of samples(current())) this.set(labels, v);
      },
    });
  };
  const counter = (name: string, help: string, labelNames: string[], samples: (st: ReplicationStatus) => Sample[]): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, v] of samples(current())) this.inc(labels, v);
      },
    });
  };
  const byName = (m: Record<string, number>, label: string): Sample[] => Object.entries(m).map(([k, v]) => [{ [label]: k }, v]);

  // The run
  gauge('df2redis_phase', 'Phase of the run: 1 for the current one (handshake, full-sync, stable-sync, reconnecting, stopped).', ['phase'], (st) =>
    PHASES.map((p) => [{ phase: p }, st.phase === p ? 1 : 0]),
  );
  gauge('df2redis_start_time_seconds', 'When the run started, in Unix seconds.', [], (st) => [[{}, Date.parse(st.startedAt) / 1000]]);
  counter('df2redis_applied_records_total', 'Journal records acknowledged by the target, summed over the flows (LSN numbering: PINGs included).', [], (st) => [
    [{}, Number(st.opsApplied)],
  ]);
  counter('df2redis_full_syncs_total', 'Full syncs started, the first one included.', [], (st) => [[{}, st.resyncs.full]]);
  counter('df2redis_partial_syncs_total', 'Partial syncs (resumes from saved LSNs) done.', [], (st) => [[{}, st.resyncs.partial]]);
  counter('df2redis_reconnects_total', 'Reconnects after a lost source or target connection (each resumes from the checkpoint on the target).', [], (st) => [[{}, st.reconnects]]);
  gauge('df2redis_longest_pause_seconds', 'Longest time a flow socket was paused because the target was behind.', [], (st) => [[{}, st.longestPauseMs / 1000]]);

  // Per flow
  gauge('df2redis_flow_phase', 'Phase of each flow: 1 for its current one.', ['flow', 'phase'], (st) =>
    st.flows.flatMap((f) => FLOW_PHASES.map((p): Sample => [{ flow: f.id, phase: p }, f.phase === p ? 1 : 0])),
  );
  gauge('df2redis_flow_received_lsn', 'Next journal LSN not yet handed to the target, per flow.', ['flow'], (st) => st.flows.map((f) => [{ flow: f.id }, Number(f.receivedLsn)]));
  gauge('df2redis_flow_applied_lsn', 'Next journal LSN not yet acknowledged by the target (what REPLCONF ACK sends), per flow.', ['flow'], (st) =>
    st.flows.map((f) => [{ flow: f.id }, Number(f.lsn)]),
  );
  gauge('df2redis_flow_master_lsn', "The master's next journal LSN of the flow's shard (DFLY REPLICAOFFSET, polled every second).", ['flow'], (st) =>
    st.flows.filter((f) => f.masterLsn !== null).map((f) => [{ flow: f.id }, Number(f.masterLsn)]),
  );
  gauge('df2redis_flow_lag_records', 'Journal records handed to the target and not yet acknowledged, per flow.', ['flow'], (st) =>
    st.flows.map((f) => [{ flow: f.id }, f.lagRecords]),
  );
  gauge('df2redis_flow_lag_seconds', 'Age of the oldest record handed to the target and not yet acknowledged, per flow (0 = none).', ['flow'], (st) =>
    st.flows.map((f) => [{ flow: f.id }, f.lagMs / 1000]),
  );
  counter('df2redis_flow_snapshot_keys_total', 'Snapshot keys acknowledged by the target, per flow.', ['flow'], (st) => st.flows.map((f) => [{ flow: f.id }, f.snapshotKeys]));
  counter('df2redis_flow_received_bytes_total', 'Bytes received from the master, per flow (snapshot, then journal).', ['flow'], (st) =>
    st.flows.map((f) => [{ flow: f.id }, f.snapshotBytes]),
  );
  counter('df2redis_flow_paused_seconds_total', 'Time the flow socket spent paused because the target was behind.', ['flow'], (st) =>
    st.flows.map((f) => [{ flow: f.id }, f.pausedMs / 1000]),
  );

  // Per target node
  const nodes = (st: ReplicationStatus, pick: (n: ReplicationStatus['target']['nodes'][number]) => number): Sample[] =>
    st.target.nodes.map((n) => [{ node: n.node }, pick(n)]);
  counter('df2redis_target_commands_total', 'Commands sent to the target node (every flow).', ['node'], (st) => nodes(st, (n) => n.commandsSent));
  counter('df2redis_target_sent_bytes_total', 'RESP bytes sent to the target node.', ['node'], (st) => nodes(st, (n) => n.bytesSent));
  counter('df2redis_target_replies_total', 'Replies received from the target node (error replies included).', ['node'], (st) => nodes(st, (n) => n.replies));
  counter('df2redis_target_error_replies_total', 'Error replies from the target node by their first word (MOVED, ASK, ERR, WRONGTYPE…).', ['node', 'prefix'], (st) =>
    st.target.nodes.flatMap((n) => Object.entries(n.errorReplies).map(([prefix, v]): Sample => [{ node: n.node, prefix }, v])),
  );
  gauge('df2redis_target_inflight_bytes', 'Bytes sent to the target node and not yet replied to.', ['node'], (st) => nodes(st, (n) => n.inflightBytes));
  counter('df2redis_target_reconnects_total', 'Connections to the target node opened again after a loss.', ['node'], (st) => nodes(st, (n) => n.reconnects));
  counter('df2redis_target_moved_total', 'MOVED redirections followed (Redis Cluster target).', [], (st) => [[{}, st.target.moved]]);
  counter('df2redis_target_ask_total', 'ASK redirections followed (Redis Cluster target).', [], (st) => [[{}, st.target.asked]]);
  counter('df2redis_target_retries_total', 'Commands retried after TRYAGAIN, CLUSTERDOWN or LOADING (Redis Cluster target).', [], (st) => [[{}, st.target.retried]]);
  counter('df2redis_target_resent_total', 'Commands resent after a lost node connection (Redis Cluster target).', [], (st) => [[{}, st.target.resentAfterLoss]]);

  // What was not copied as is
  counter('df2redis_dropped_commands_total', 'Journal commands dropped (no Redis counterpart, or a module the target lacks), by command.', ['command'], (st) =>
    byName(st.dropped, 'command'),
  );
  counter('df2redis_lossy_commands_total', 'Journal commands applied with a lossy translation, by command.', ['command'], (st) => byName(st.lossy, 'command'));
  counter('df2redis_repaired_records_total', 'Journal records replaced by a read-back of their key from the master, by command.', ['command'], (st) =>
    byName(st.repaired, 'command'),
  );
  counter('df2redis_skipped_keys_total', 'Snapshot keys not written, by reason (expired, existing, unsupported, other_db).', ['reason'], (st) => [
    [{ reason: 'expired' }, st.skipped.expired],
    [{ reason: 'existing' }, st.skipped.existing],
    [{ reason: 'unsupported' }, st.skipped.unsupported],
    [{ reason: 'other_db' }, st.skippedOtherDbs],
  ]);

  collectDefaultMetrics({ register: registry, prefix: 'df2redis_' });
  return {
    contentType: registry.contentType,
    async metrics() {
      s = undefined;
      try {
        return await registry.metrics();
      } finally {
        s = undefined;
      }
    },
  };
}

const PHASES: ReadonlyArray<ReplicationStatus['phase']> = ['handshake', 'full-sync', 'stable-sync', 'reconnecting', 'stopped'];
const FLOW_PHASES = ['full-sync', 'stable-sync', 'stopped'] as const;
