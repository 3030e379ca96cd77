/**
 * One full garbage collection when a long-running command goes quiet after a burst of work.
 *
 * Why: V8 collects when JavaScript allocates. After a journal burst the replicator is idle, so
 * the burst's garbage (source read chunks, RESP slabs: tens of MB of `ArrayBuffer`s outside the
 * V8 heap) would stay until the next burst. A collection once the event loop is quiet returns it
 * to the allocator, which gives it back to the system when the chunks came from `mmap` (see the
 * launcher, bin/df2redis, and README "Memory").
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** Settings of {@link startIdleCollector}; every field has a default. */
export interface IdleCollectorOptions {
  /** How often the event loop's utilization and the RSS are sampled, ms. @default 1000 */
  intervalMs?: number;
  /** A sample below this event-loop utilization (0–1, over the last interval) counts as quiet. @default 0.1 */
  quietUtilization?: number;
  /** Collect only when the RSS grew at least this much above its lowest level since the last collection, bytes. @default 16 MiB */
  minGrowthBytes?: number;
  /** Called after each collection (tests, debug logs): RSS before it, bytes, and its duration, ms. */
  onCollect?: (rssBefore: number, durationMs: number) => void;
}

/**
 * Samples the process every `intervalMs` (an unref'd timer: it never keeps the process alive) and
 * runs one full, synchronous garbage collection when a sample is quiet and the RSS grew by
 * `minGrowthBytes` or more since its lowest level after the previous collection. A collection
 * that leaves the RSS where it was (memory the allocator keeps) does not repeat: the lowest level
 * restarts from the RSS after it. Costs one `process.memoryUsage.rss()` per interval otherwise.
 *
 * `gc` is the process's own when node runs with `--expose-gc`; else it is obtained once through
 * `v8.setFlagsFromString('--expose-gc')` and a new context (the flag stays off for user code).
 *
 * @returns a function that stops the sampling.
 */
export function startIdleCollector(options: IdleCollectorOptions = {}): () => void {
  const intervalMs = options.intervalMs ?? 1000;
  const quiet = options.quietUtilization ?? 0.1;
  const minGrowth = options.minGrowthBytes ?? 16 * 1024 * 1024;
  let gc: (() => void) | undefined;
  let lowest = process.memoryUsage.rss();
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    const rss = process.memoryUsage.rss();
    if (rss < lowest) lowest = rss;
    if (utilization >= quiet || rss - lowest < minGrowth) return;
    gc ??= exposedGc();
    const t0 = performance.now();
    gc();
    const durationMs = performance.now() - t0;
    // Freed chunks leave the RSS over the next moments (the ArrayBuffer sweeper runs after the GC).
    lowest = Infinity;
    options.onCollect?.(rss, durationMs);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** V8's `gc()`: the global one if exposed, else from a context created while `--expose-gc` is on. */
function exposedGc(): () => void {
  const global = (globalThis as { gc?: () => void }).gc;
  if (typeof global === 'function') return global;
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as () => void;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
