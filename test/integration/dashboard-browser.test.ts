/**
 * The dashboard (`GET /`) in a real browser: Debian's chromium (`.ci/run` installs it) driven by
 * playwright-core, during a replication from the fake master into a redis-server. The page's
 * numbers must change as records arrive and end equal to `/status`; no secret is on the page.
 * A screenshot is kept in test-artifacts/dashboard.png (gitignored). Without chromium the test
 * fails: it is never skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { Replicator, REPLICATE_DEFAULTS } from '../../src/pipeline/replicate.js';
import { FakeMaster, type FakeFlow, journalCommand } from '../helpers/fake-master.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { until } from '../helpers/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const silent = pino({ level: 'silent' });

test('dashboard in chromium: phase, flow table and counters follow the replication and match /status; charts drawn; no secret on the page', { timeout: 60_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does it)`);
  const token = 'dash-T0KEN-secret';
  const master = await FakeMaster.start({ numFlows: 2, password: 'pw-S3CRET' });
  const target = await startRedisServer();
  const r = new Replicator({ ...REPLICATE_DEFAULTS, source: master.url, target: target.url, statusPort: 0, httpToken: token }, silent);
  const running = r.run();
  running.catch(() => undefined);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // playwright gives every launch a fresh temporary --user-data-dir of its own.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    await until(() => r.status().phase === 'stable-sync' && r.status().flows.every((f) => f.phase === 'stable-sync'), 'stable sync');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    const base = `http://127.0.0.1:${r.httpPort}`;
    await page.goto(`${base}/?token=${token}`);
    await page.waitForFunction(() => document.getElementById('phase')?.textContent === 'stable-sync');
    assert.equal(new URL(page.url()).search, '', 'the token is dropped from the address bar');
    const before = await page.textContent('#ops-applied');

    const [f0, f1] = master.flows as FakeFlow[];
    for (let i = 0; i < 20; i++) f0!.write(journalCommand(['SET', `a${i}`, 'x']));
    for (let i = 0; i < 7; i++) f1!.write(journalCommand(['SET', `b${i}`, 'y']));
    f1!.write(journalCommand(['STICK', 'b0']));
    await until(() => r.status().flows.every((f) => f.lsn === f.receivedLsn) && r.status().opsApplied >= 29n, 'records applied');
    const status = (await (await fetch(`${base}/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      opsApplied: number;
      flows: Array<{ id: number; lsn: number; receivedLsn: number; snapshotKeys: number }>;
    };
    // The page polls every second: wait until it shows what /status says.
    await page.waitForFunction((expected) => document.getElementById('ops-applied')?.textContent === expected, status.opsApplied.toLocaleString('en-US'));
    assert.notEqual(await page.textContent('#ops-applied'), before, 'the number changed');
    for (const f of status.flows) {
      const row = page.locator(`#flows tr[data-flow="${f.id}"]`);
      assert.equal(await row.locator('.flow-phase').textContent(), 'stable-sync');
      assert.equal(await row.locator('.flow-lsn').textContent(), f.lsn.toLocaleString('en-US'));
      assert.equal(await row.locator('.flow-received-lsn').textContent(), f.receivedLsn.toLocaleString('en-US'));
      assert.equal(await row.locator('.flow-lag-records').textContent(), '0');
    }
    assert.match((await page.textContent('#translations')) ?? '', /dropped STICK\s*1/);
    assert.match((await page.textContent('#target')) ?? '', /commands sent\s*\d+/);
    assert.match((await page.textContent('#target')) ?? '', /delivery\s*exactly-once.*reconnects\s*0.*full \/ partial syncs\s*1 \/ 0/s);
    // uPlot drew both charts (a CSP or script failure would leave them empty).
    assert.equal(await page.locator('#chart-throughput canvas').count(), 1);
    assert.equal(await page.locator('#chart-lag canvas').count(), 1);
    const html = await page.content();
    assert.ok(!html.includes('S3CRET') && !html.includes(token), 'no secret on the page');
    assert.deepEqual(problems, []);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
  } finally {
    await browser.close();
    await r.stop().catch(() => undefined);
    await master.close();
    await target.stop();
  }
});
