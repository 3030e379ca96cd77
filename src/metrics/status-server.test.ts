import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStatusServer } from './status-server.js';

test('GET /status serves the current snapshot as JSON, bigints as numbers', async () => {
  let n = 0;
  const s = await startStatusServer(0, () => ({ phase: 'stable-sync', lsn: 42n, calls: ++n }));
  try {
    const r1 = await (await fetch(`http://127.0.0.1:${s.port}/status`)).json();
    const r2 = await (await fetch(`http://127.0.0.1:${s.port}/status`)).json();
    assert.deepEqual(r1, { phase: 'stable-sync', lsn: 42, calls: 1 });
    assert.equal(r2.calls, 2);
    assert.equal((await fetch(`http://127.0.0.1:${s.port}/other`)).status, 404);
  } finally {
    await s.close();
  }
});
