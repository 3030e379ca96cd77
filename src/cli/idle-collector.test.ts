import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startIdleCollector } from './idle-collector.js';

test('once the process is quiet after its RSS grew, the idle collector runs one full GC (garbage of a burst is freed)', { timeout: 20_000 }, async () => {
  const collections: number[] = [];
  const stop = startIdleCollector({ intervalMs: 100, minGrowthBytes: 16 * 2 ** 20, onCollect: (rss) => collections.push(rss) });
  try {
    // A burst: 48 MiB of 1 MiB Buffers, written (resident), then dropped. Nothing allocates after it,
    // so V8 has no reason to collect them by itself.
    const chunks: WeakRef<ArrayBuffer>[] = [];
    (() => {
      for (let i = 0; i < 48; i++) chunks.push(new WeakRef(Buffer.alloc(2 ** 20, i).buffer));
    })();
    const deadline = Date.now() + 15_000;
    while (collections.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(collections.length, 1, 'one collection once quiet');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(chunks.filter((w) => w.deref() !== undefined).length, 0, 'the burst\'s buffers were collected');
    // Quiet, no new growth: no second collection.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(collections.length, 1);
  } finally {
    stop();
  }
});
