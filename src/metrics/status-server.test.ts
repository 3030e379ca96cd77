import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStatusServer } from './status-server.js';

/** A raw GET (fetch cannot set Host), resolving to status, headers and body. */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET /status serves the current snapshot as JSON, bigints as numbers', async () => {
  let n = 0;
  const s = await startStatusServer({ port: 0, status: () => ({ phase: 'stable-sync', lsn: 42n, calls: ++n }) });
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

test('the dashboard and its assets are served from the package, uPlot from node_modules', async () => {
  const s = await startStatusServer({ port: 0, status: () => ({}) });
  try {
    const page = await get(s.port, '/');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'] ?? '', /text\/html/);
    assert.match(page.body, /<script src="dashboard.js">/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    for (const asset of ['/dashboard.js', '/dashboard.css', '/uplot.js', '/uplot.css']) assert.equal((await get(s.port, asset)).status, 200, asset);
    assert.match((await get(s.port, '/uplot.js')).body, /uPlot/);
  } finally {
    await s.close();
  }
});

test('Host header: an IP literal or localhost is served, any other name is refused (DNS rebinding)', async () => {
  const s = await startStatusServer({ port: 0, status: () => ({ ok: 1 }) });
  try {
    assert.equal((await get(s.port, '/status', { host: `localhost:${s.port}` })).status, 200);
    assert.equal((await get(s.port, '/status', { host: `[::1]:${s.port}` })).status, 200);
    for (const host of [`evil.example:${s.port}`, 'evil.example', `127.0.0.1.nip.io:${s.port}`]) {
      const r = await get(s.port, '/status', { host });
      assert.equal(r.status, 421, host);
      assert.doesNotMatch(r.body, /ok/);
    }
    assert.equal((await get(s.port, '/', { host: `rebind.attacker.test:${s.port}` })).status, 421);
    assert.equal((await get(s.port, '/healthz', { host: `rebind.attacker.test:${s.port}` })).status, 421);
  } finally {
    await s.close();
  }
});

test('token: every route but a bare /healthz needs it (Bearer, ?token= or the cookie ?token= sets)', async () => {
  const token = 's3cret-token';
  const s = await startStatusServer({ port: 0, token, status: () => ({ ok: 1 }), metrics: async () => 'm 1\n' });
  try {
    for (const path of ['/', '/status', '/metrics', '/dashboard.js', '/uplot.js', '/healthz?x=1', '/nothing']) {
      assert.equal((await get(s.port, path)).status, 401, `${path} without token`);
      assert.equal((await get(s.port, path, { authorization: 'Bearer wrong' })).status, 401, `${path} wrong token`);
    }
    const h = await get(s.port, '/healthz');
    assert.equal(h.status, 200);
    assert.equal(h.body, 'ok\n');
    assert.equal((await get(s.port, '/status', { authorization: `Bearer ${token}` })).status, 200);
    assert.equal((await get(s.port, '/metrics', { authorization: `Bearer ${token}` })).body, 'm 1\n');
    const page = await get(s.port, `/?token=${token}`);
    assert.equal(page.status, 200);
    const cookie = String(page.headers['set-cookie']?.[0]);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.doesNotMatch(page.body, new RegExp(token), 'the token is not written into the page');
    assert.equal((await get(s.port, '/status', { cookie: cookie.split(';')[0]! })).status, 200);
    assert.equal((await get(s.port, '/status', { cookie: 'df2redis_token=nope' })).status, 401);
  } finally {
    await s.close();
  }
});

test('a non-loopback bind without a token is refused; with one it is served', async () => {
  await assert.rejects(startStatusServer({ port: 0, bind: '0.0.0.0', status: () => ({}) }), {
    name: 'ConfigError',
    message: /--http-bind 0\.0\.0\.0 is not a loopback address: set a token with --http-token or DF2REDIS_HTTP_TOKEN/,
  });
  const s = await startStatusServer({ port: 0, bind: '0.0.0.0', token: 't', status: () => ({ ok: 1 }) });
  try {
    assert.equal((await get(s.port, '/status')).status, 401);
    assert.equal((await get(s.port, '/status', { authorization: 'Bearer t' })).status, 200);
  } finally {
    await s.close();
  }
});

test('/healthz answers 503 when not healthy; other methods are refused', async () => {
  let healthy = true;
  const s = await startStatusServer({ port: 0, status: () => ({}), isHealthy: () => healthy });
  try {
    assert.equal((await get(s.port, '/healthz')).status, 200);
    healthy = false;
    assert.equal((await get(s.port, '/healthz')).status, 503);
    assert.equal((await fetch(`http://127.0.0.1:${s.port}/status`, { method: 'POST' })).status, 405);
  } finally {
    await s.close();
  }
});
