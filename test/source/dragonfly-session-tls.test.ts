/**
 * `rediss://`: the main connection and every flow go over TLS (a TLS terminator in front of the
 * fake master, with a self-signed certificate made by openssl for the test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { DragonflySession } from '../../src/source/dragonfly-session.js';
import { ConnectionError } from '../../src/errors.js';
import { FakeMaster } from '../helpers/fake-master.js';
import { spliceTo } from '../helpers/splice.js';

test('rediss:// replicates over TLS on every connection; an unverifiable certificate is refused unless tlsInsecure', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-tls-'));
  const master = await FakeMaster.start({ numFlows: 2, password: 'pw' });
  let tlsConnections = 0;
  const server = tls.createServer(
    (() => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
      return { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) };
    })(),
    (clear) => {
      tlsConnections++;
      spliceTo(clear, master.port);
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `rediss://:pw@127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  try {
    const strict = new DragonflySession({ source: url, handler: { onSnapshotEntry: () => {}, onJournal: () => {}, onError: () => {} } });
    await assert.rejects(strict.start(), (e: unknown) => e instanceof ConnectionError && /source main/.test(e.message) && /self[- ]signed/i.test(e.message));
    tlsConnections = 0;
    const stable: number[] = [];
    const s = new DragonflySession({
      source: url,
      tlsInsecure: true,
      handler: { onSnapshotEntry: () => {}, onJournal: () => {}, onStable: (f) => void stable.push(f), onError: (e) => assert.fail(e) },
    });
    await s.start();
    const deadline = Date.now() + 5000;
    while (stable.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(stable.sort(), [0, 1]);
    assert.equal(tlsConnections, 3);
    assert.deepEqual(master.violations, []);
    await s.stop();
  } finally {
    server.close();
    await master.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
