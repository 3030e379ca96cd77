import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRedisServer, freePort, type RedisServer } from '../helpers/redis-server.js';
import { RedisConnection } from '../../src/sink/redis-connection.js';
import { parseRedisUrl } from '../../src/sink/target-url.js';
import { ConnectionError } from '../../src/errors.js';

let dir: string;
let server: RedisServer;
let tlsPort: number;
let caPem: string;

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with openssl. */
function makeCertificates(d: string): void {
  const run = (...args: string[]): void => void execFileSync('openssl', args, { cwd: d, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=df2redis test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(path.join(d, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'ext.cnf');
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'df2redis-tls-'));
  makeCertificates(dir);
  caPem = readFileSync(path.join(dir, 'ca.crt'), 'utf8');
  tlsPort = await freePort();
  server = await startRedisServer({
    config: {
      'tls-port': String(tlsPort),
      'tls-cert-file': path.join(dir, 'server.crt'),
      'tls-key-file': path.join(dir, 'server.key'),
      'tls-ca-cert-file': path.join(dir, 'ca.crt'),
      'tls-auth-clients': 'no',
    },
  });
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('rediss:// verifies the certificate: unknown CA fails', async () => {
  await assert.rejects(
    RedisConnection.connect(parseRedisUrl(`rediss://127.0.0.1:${tlsPort}`), { connectTimeoutMs: 5000 }),
    (e) => e instanceof ConnectionError && /certificate/i.test(e.message),
  );
});

test('rediss:// with tlsInsecure skips verification', async () => {
  const conn = await RedisConnection.connect(parseRedisUrl(`rediss://127.0.0.1:${tlsPort}/3`), { tlsInsecure: true });
  conn.send(['SET', 'tls', 'yes']);
  await conn.flush();
  assert.deepEqual(await conn.call(['GET', 'tls']), Buffer.from('yes'));
  await conn.close();
});

test('rediss:// trusts a CA given as the ca option', async () => {
  const conn = await RedisConnection.connect(parseRedisUrl(`rediss://localhost:${tlsPort}`), { ca: caPem });
  assert.equal(await conn.call(['PING']), 'PONG');
  await conn.close();
});

test('rediss:// trusts a CA given with NODE_EXTRA_CA_CERTS', () => {
  const script = `
    import { RedisConnection } from ${JSON.stringify(new URL('../../src/sink/redis-connection.js', import.meta.url).href)};
    import { parseRedisUrl } from ${JSON.stringify(new URL('../../src/sink/target-url.js', import.meta.url).href)};
    const c = await RedisConnection.connect(parseRedisUrl('rediss://127.0.0.1:${tlsPort}'));
    console.log(await c.call(['PING']));
    await c.close();`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.crt') },
    encoding: 'utf8',
  });
  assert.equal(out.trim(), 'PONG');
});
