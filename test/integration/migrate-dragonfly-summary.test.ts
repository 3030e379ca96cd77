/**
 * `migrate --source <dragonfly url>` reports what it skipped, in the same summary shape as a file
 * migration: keys written of keys seen, bytes, skipped by reason, time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dragonflyAux, FakeMaster, type FakeFlow, fullSyncEnd, rdbHeader, rdbSelectDb, rdbString, rstr } from '../helpers/fake-master.js';
import { redisCli, startRedisServer } from '../helpers/redis-server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('migrate --source <dragonfly> --unsupported skip: the summary counts written, expired and unsupported keys like a file migration', { timeout: 60_000 }, async () => {
  const master = await FakeMaster.start({
    numFlows: 2,
    onSync: (m, reply) => {
      const [f0, f1] = m.flows as FakeFlow[];
      // Dragonfly JSON (RDB type 30: the JSON text as an RDB string), which Redis 7.0 cannot hold.
      const json = Buffer.concat([Buffer.from([30]), rstr('doc'), rstr('{"a":1}')]);
      f0!.write(rdbHeader(dragonflyAux(0, 2)), rdbSelectDb(0), rdbString('a', '1'), json, fullSyncEnd());
      f1!.write(rdbHeader(dragonflyAux(1, 2)), rdbSelectDb(0), rdbString('b', '2'), rdbString('old', 'x', 1_000), fullSyncEnd());
      reply();
    },
  });
  const target = await startRedisServer();
  try {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [MAIN, 'migrate', '--source', master.url, '--target', target.url, '--unsupported', 'skip', '--progress', 'none', '--log-level', 'silent'],
        { timeout: 50_000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      ),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^migrated 2 of 4 keys \([\d.]+ (B|KiB)\) in [\d.]+ m?s, [\d,.]+ keys\/s\nskipped: 1 expired, 0 existing, 1 unsupported; 0 function libraries loaded\n$/);
    assert.equal((await redisCli(target.port, 'DBSIZE')).trim(), '2');
  } finally {
    await master.close();
    await target.stop();
  }
});
