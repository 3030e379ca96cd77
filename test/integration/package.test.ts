/**
 * Packaging: `npm pack` makes a tarball that installs globally into an empty prefix (dependencies
 * from the npm registry, the local cache first) and whose `df2redis` runs `--help` and `demo`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
// A clean environment: no npm_* variables of an enclosing `npm test`, no DF2REDIS_* settings.
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|DF2REDIS_)/i.test(k)));

function run(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { cwd, env: ENV, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

test('npm pack → npm install -g into an empty prefix → df2redis --help and df2redis demo run', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'df2redis-pack-'));
  try {
    // dist/ is already built by the test run; --ignore-scripts skips the prepack build.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
    assert.equal(pack.code, 0, pack.stderr);
    const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = info!.files.map((f) => f.path);
    for (const f of ['dist/bundle/cli/main.js', 'dist/src/cli/main.js', 'assets/demo.rdb', 'README.md', 'package.json']) assert.ok(files.includes(f), `${f} missing from the tarball`);
    assert.deepEqual(files.filter((f) => /\.test\.|^test\/|^src\//.test(f)), [], 'no tests or TypeScript sources in the tarball');

    const prefix = path.join(dir, 'prefix');
    const install = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, info!.filename)], dir);
    assert.equal(install.code, 0, install.stderr);
    const bin = path.join(prefix, 'bin', 'df2redis');
    const help = await run(bin, ['--help'], dir, 30_000);
    assert.equal(help.code, 0, help.stderr);
    for (const command of ['replicate', 'migrate', 'demo', 'config']) assert.match(help.stdout, new RegExp(`\\n  ${command}\\b`));
    const demo = await run(bin, ['demo'], dir, 60_000);
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(demo.stdout, /demo: verified/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
