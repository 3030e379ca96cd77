/**
 * TLS per side from the command line: `--target-tls-ca/-cert/-key` against a redis-server built
 * with TLS that requires client certificates (`tls-auth-clients yes`), `--target-tls-insecure`,
 * and the same for a Dragonfly source behind a TLS terminator that requires a client certificate,
 * with the source password from `DF2REDIS_SOURCE_PASSWORD`. Certificates are made with openssl.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { dragonflyAux, FakeMaster, type FakeFlow, fullSyncEnd, rdbHeader, rdbSelectDb, rdbString } from '../helpers/fake-master.js';
import { freePort, redisCli, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { spliceTo } from '../helpers/splice.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const DEMO_RDB = fileURLToPath(new URL('../../../assets/demo.rdb', import.meta.url));

let dir: string;
let server: RedisServer;
let tlsPort: number;
const pem = (name: string): string => path.join(dir, name);

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates(): void {
  const run = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=df2redis test CA');
  writeFileSync(pem('server.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=df2redis test ${who}`);
    const ext = who === 'server' ? ['-extfile', 'server.cnf'] : [];
    run('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.crt`, '-days', '1', ...ext);
  }
}

function df2redis(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DF2REDIS_')));
  return new Promise((resolve) =>
    execFile(process.execPath, [MAIN, ...args, '--progress', 'none', '--log-level', 'silent'], { timeout: 60_000, env: { ...base, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'df2redis-tls-side-'));
  makeCertificates();
  tlsPort = await freePort();
  // The plain port stays open for the test's own redis-cli; df2redis only uses the TLS one.
  server = await startRedisServer({
    config: {
      'tls-port': String(tlsPort),
      'tls-cert-file': pem('server.crt'),
      'tls-key-file': pem('server.key'),
      'tls-ca-cert-file': pem('ca.crt'),
      'tls-auth-clients': 'yes',
    },
  });
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('target over mutual TLS: CA, client certificate and key from flags; each missing piece fails; --target-tls-insecure skips only verification', async () => {
  const target = `rediss://127.0.0.1:${tlsPort}`;
  const dbsize = async (): Promise<number> => Number((await redisCli(server.port, 'DBSIZE')).trim());
  const noCa = await df2redis({}, 'migrate', '--source', DEMO_RDB, '--target', target, '--target-tls-cert', pem('client.crt'), '--target-tls-key', pem('client.key'));
  assert.equal(noCa.code, 1);
  assert.match(noCa.stderr, /certificate/i);
  const noClientCert = await df2redis({}, 'migrate', '--source', DEMO_RDB, '--target', target, '--target-tls-ca', pem('ca.crt'));
  assert.equal(noClientCert.code, 1, noClientCert.stderr);
  assert.equal(await dbsize(), 0);
  // The source's TLS options do not apply to the target.
  const wrongSide = await df2redis({}, 'migrate', '--source', DEMO_RDB, '--target', target, '--source-tls-ca', pem('ca.crt'), '--source-tls-cert', pem('client.crt'), '--source-tls-key', pem('client.key'));
  assert.equal(wrongSide.code, 1);

  const ok = await df2redis({}, 'migrate', '--source', DEMO_RDB, '--target', target, '--target-tls-ca', pem('ca.crt'), '--target-tls-cert', pem('client.crt'), '--target-tls-key', pem('client.key'));
  assert.equal(ok.code, 0, ok.stderr);
  const keys = await dbsize();
  assert.ok(keys > 0);
  await redisCli(server.port, 'FLUSHALL');
  const insecure = await df2redis({}, 'migrate', '--source', DEMO_RDB, '--target', target, '--target-tls-insecure', '--target-tls-cert', pem('client.crt'), '--target-tls-key', pem('client.key'));
  assert.equal(insecure.code, 0, insecure.stderr);
  assert.equal(await dbsize(), keys);
  await redisCli(server.port, 'FLUSHALL');
});

test('Dragonfly source over mutual TLS with --source-tls-ca/-cert/-key, --source-user and DF2REDIS_SOURCE_PASSWORD', async () => {
  const master = await FakeMaster.start({
    numFlows: 2,
    username: 'repl',
    password: 'src secret',
    onSync: (m, reply) => {
      const [f0, f1] = m.flows as FakeFlow[];
      f0!.write(rdbHeader(dragonflyAux(0, 2)), rdbSelectDb(0), rdbString('a', '1'), fullSyncEnd());
      f1!.write(rdbHeader(dragonflyAux(1, 2)), rdbSelectDb(0), rdbString('b', '2'), fullSyncEnd());
      reply();
    },
  });
  // A TLS terminator in front of the fake master that requires a client certificate from our CA.
  let authorizedClients = 0;
  const terminator = tls.createServer(
    { key: readFileSync(pem('server.key')), cert: readFileSync(pem('server.crt')), ca: readFileSync(pem('ca.crt')), requestCert: true, rejectUnauthorized: true },
    (clear) => {
      if (clear.authorized) authorizedClients++;
      spliceTo(clear, master.port);
    },
  );
  terminator.listen(0, '127.0.0.1');
  await once(terminator, 'listening');
  const source = `rediss://127.0.0.1:${(terminator.address() as net.AddressInfo).port}`;
  const target = await startRedisServer();
  const env = { DF2REDIS_SOURCE_PASSWORD: 'src secret' };
  const tlsArgs = ['--source-tls-ca', pem('ca.crt'), '--source-tls-cert', pem('client.crt'), '--source-tls-key', pem('client.key')];
  try {
    const noCert = await df2redis(env, 'migrate', '--source', source, '--target', target.url, '--source-user', 'repl', '--source-tls-ca', pem('ca.crt'));
    assert.equal(noCert.code, 1);
    const wrongSide = await df2redis(env, 'migrate', '--source', source, '--target', target.url, '--source-user', 'repl', '--target-tls-insecure', '--source-tls-cert', pem('client.crt'), '--source-tls-key', pem('client.key'));
    assert.equal(wrongSide.code, 1);
    assert.match(wrongSide.stderr, /certificate/i);
    authorizedClients = 0;
    const ok = await df2redis(env, 'migrate', '--source', source, '--target', target.url, '--source-user', 'repl', ...tlsArgs);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^migrated 2 of 2 keys/);
    assert.ok(authorizedClients >= 3, `main, 2 flows (and read-back) over mutual TLS; saw ${authorizedClients}`);
    assert.equal((await redisCli(target.port, 'DBSIZE')).trim(), '2');
    assert.ok(!ok.stderr.includes('src secret'));
  } finally {
    terminator.close();
    await master.close();
    await target.stop();
  }
});
