/**
 * Start-up cost (issue 12): a command loads its own modules only. `df2redis migrate` of a file
 * must not load the replicator (prom-client, the status server), the codecs of Dragonfly blobs,
 * the YAML parser (no --config), pino-pretty (JSON logs) or cli-progress (no bar); the top-level
 * help still lists every command. Checked on the modules tsc compiled and on the bundle the bin
 * runs (scripts/bundle.ts), whose chunks name each module they hold in a `// <path>` line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BUNDLE_MAIN = fileURLToPath(new URL('../../bundle/cli/main.js', import.meta.url));
const HOOKS = new URL('../helpers/module-trace-hooks.js', import.meta.url).href;
const REGISTER = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(HOOKS)})`;

/** Runs the CLI with the module trace; returns stdout and the loaded module URLs. */
function traced(main: string, ...args: string[]): Promise<{ stdout: string; modules: string[] }> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--import', REGISTER, main, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      const modules = stderr
        .split('\n')
        .filter((l) => l.startsWith('module-trace '))
        .map((l) => l.slice('module-trace '.length));
      resolve({ stdout, modules });
    }),
  );
}

const LAZY = ['/node_modules/prom-client/', '/node_modules/yaml/', '/node_modules/pino-pretty/', '/node_modules/cli-progress/', '/node_modules/lz4-napi/', '/node_modules/fzstd/'];
const REPLICATOR = pathToFileURL(fileURLToPath(new URL('../../src/pipeline/replicate.js', import.meta.url))).href;

test('migrate loads its own modules only; the top-level help still lists every command', async () => {
  const migrate = await traced(MAIN, 'migrate', '--help');
  assert.match(migrate.stdout, /--source/);
  assert.ok(migrate.modules.some((u) => u.endsWith('/pipeline/migrate-file.js')), 'the trace sees the modules migrate needs');
  for (const lazy of [...LAZY, REPLICATOR]) {
    assert.deepEqual(migrate.modules.filter((u) => u.includes(lazy)), [], `migrate --help loaded ${lazy}`);
  }
  const top = await traced(MAIN, '--help');
  for (const name of ['replicate', 'migrate', 'check', 'cutover', 'status', 'reset', 'demo', 'config']) {
    assert.match(top.stdout, new RegExp(`^  ${name}\\b`, 'm'), `--help lists ${name}`);
  }
});

test('the bundle keeps them lazy too: migrate loads no chunk that holds them', async () => {
  const migrate = await traced(BUNDLE_MAIN, 'migrate', '--help');
  assert.match(migrate.stdout, /--source/);
  const chunks = migrate.modules.filter((u) => u.includes('/dist/bundle/cli/'));
  const held = chunks.map((u) => readFileSync(fileURLToPath(u), 'utf8')).join('\n');
  assert.match(held, /^\/\/ dist\/src\/pipeline\/migrate-file\.js$/m, 'the chunks name the modules they hold');
  for (const lazy of [...LAZY, '/dist/src/pipeline/replicate.js']) {
    assert.deepEqual(migrate.modules.filter((u) => u.includes(lazy)), [], `migrate --help loaded ${lazy}`);
    const escaped = lazy.slice(1).replace(/[./]/g, '\\$&'); // `// node_modules/prom-client/lib/registry.js`
    assert.doesNotMatch(held, new RegExp(`^// ${escaped}`, 'm'), `a chunk migrate loaded holds ${lazy}`);
  }
});
