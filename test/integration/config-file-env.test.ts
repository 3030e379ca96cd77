/**
 * Options from flags, `DF2REDIS_*` variables and a `--config` YAML file: precedence, errors that
 * name the bad value's source, secrets masked by `df2redis config`, and the generic mechanism that
 * picks up an option a command adds with commander.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { addConfigLayers, applyConfigLayers, optionSourcesOf } from '../../src/cli/config-layers.js';
import { ConfigError } from '../../src/errors.js';
import { redisCli, startRedisServer } from '../helpers/redis-server.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const DEMO_RDB = fileURLToPath(new URL('../../../assets/demo.rdb', import.meta.url));

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the binary with `env` added to a clean environment (no DF2REDIS_* of the caller). */
function df2redis(env: Record<string, string>, ...args: string[]): Promise<RunResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DF2REDIS_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000, env: { ...base, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
const file = (name: string, text: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'df2redis-config-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The `key: value  # source` line of `df2redis config` output for `key`. */
function line(stdout: string, key: string): string {
  const l = stdout.split('\n').find((x) => x.startsWith(`${key}:`));
  assert.ok(l !== undefined, `${key} missing from:\n${stdout}`);
  return l;
}

test('precedence: flag > DF2REDIS_* variable > config file > default, each value shown with its source', async () => {
  const cfg = file(
    'precedence.yaml',
    ['# df2redis', 'source: redis://10.0.0.1:6379', 'target: redis://10.0.0.2:6379', 'on-existing: skip', 'unsupported: skip', 'restore-max-bytes: 1024', 'dbs: [3, 0]', 'source-timeout: 45s', ''].join('\n'),
  );
  const r = await df2redis(
    { DF2REDIS_CONFIG: cfg, DF2REDIS_UNSUPPORTED: 'fail', DF2REDIS_RESTORE_MAX_BYTES: '4k', DF2REDIS_TLS_INSECURE: 'yes' },
    'config', 'replicate', '--restore-max-bytes', '2k',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(line(r.stdout, 'on-existing'), `on-existing: skip  # ${cfg}:4: on-existing`);
  assert.equal(line(r.stdout, 'unsupported'), 'unsupported: fail  # DF2REDIS_UNSUPPORTED');
  assert.equal(line(r.stdout, 'restore-max-bytes'), 'restore-max-bytes: 2k  # --restore-max-bytes');
  assert.equal(line(r.stdout, 'tls-insecure'), 'tls-insecure: true  # DF2REDIS_TLS_INSECURE');
  assert.equal(line(r.stdout, 'dbs'), `dbs: 3,0  # ${cfg}:7: dbs`);
  assert.equal(line(r.stdout, 'progress'), 'progress: auto  # default');
  assert.equal(line(r.stdout, 'config'), `config: ${cfg}  # DF2REDIS_CONFIG`);
});

test('a bad value is named by its source: flag, variable, file line; unknown keys and YAML errors too', async () => {
  const good = file('good.yaml', 'source: dump.rdb\ntarget: redis://127.0.0.1:1\n');
  const cases: Array<[Record<string, string>, string[], RegExp]> = [
    [{}, ['--config', good, '--on-existing', 'merge'], /^df2redis: --on-existing must be one of replace, skip, fail; got "merge"\n$/],
    [{ DF2REDIS_ON_EXISTING: 'merge' }, ['--config', good], /^df2redis: DF2REDIS_ON_EXISTING must be one of replace, skip, fail; got "merge"\n$/],
    [{ DF2REDIS_SOURCE_TIMEOUT: 'soon' }, ['--config', good], /^df2redis: DF2REDIS_SOURCE_TIMEOUT must be a duration/],
    [{ DF2REDIS_TLS_INSECURE: 'maybe' }, ['--config', good], /^df2redis: DF2REDIS_TLS_INSECURE is a switch: true or false; got "maybe"\n$/],
    [{}, ['--config', file('bad-value.yaml', 'source: dump.rdb\n\ntarget: redis://127.0.0.1:1\nprogress: fancy\n')], /bad-value\.yaml:4: progress must be one of auto, bar, log, none; got "fancy"\n$/],
    [{}, ['--config', file('bad-key.yaml', 'source: dump.rdb\nonExisting: skip\n')], /bad-key\.yaml:2: unknown option "onExisting" \(write it as the flag: on-existing\)/],
    [{}, ['--config', file('bad-yaml.yaml', 'source: dump.rdb\ntarget: [unclosed\n')], /bad-yaml\.yaml:\d+: /],
    [{}, ['--config', file('bad-switch.yaml', 'source: dump.rdb\ntls-insecure: 3\n')], /bad-switch\.yaml:2: tls-insecure is a switch/],
    [{}, ['--config', path.join(dir, 'missing.yaml')], /^df2redis: --config .*missing\.yaml: cannot read it \(ENOENT\)\n$/],
    [{}, ['--config', good, '--target-password-file', path.join(dir, 'nope')], /^df2redis: --target-password-file cannot read ".*nope" \(ENOENT\)\n$/],
    [{ DF2REDIS_TARGET_PASSWORD: 'x' }, ['--config', good, '--target-password-file', file('pw', 'y\n')], /--target-password-file and DF2REDIS_TARGET_PASSWORD both give the target password/],
    [{}, ['--config', good, '--target-tls-cert', good], /--target-tls-cert needs --target-tls-key too/],
  ];
  const results = await Promise.all(cases.map(([env, args]) => df2redis(env, 'migrate', ...args)));
  cases.forEach(([, args, message], i) => {
    assert.equal(results[i]!.code, 2, `${args.join(' ')}: ${results[i]!.stderr}`);
    assert.match(results[i]!.stderr, message);
  });
});

test('df2redis config masks every secret: URL passwords, DF2REDIS_*_PASSWORD, password keys of the file', async () => {
  const cfg = file('secrets.yaml', 'target: redis://app:file-url-secret@10.0.0.2:6379\ntarget-password: file-key-secret\n');
  const r = await df2redis(
    { DF2REDIS_SOURCE_PASSWORD: 'env-secret' },
    'config', '--config', cfg, '--source', 'redis://:flag-url-secret@10.0.0.1:6379', '--target-user', 'app',
  );
  // Two passwords for the target (URL and key) are refused after printing: exit 2, secrets still masked.
  assert.equal(r.code, 2);
  assert.match(r.stderr, /the --target URL holds a password and one is also given/);
  for (const secret of ['file-url-secret', 'file-key-secret', 'env-secret', 'flag-url-secret']) {
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${secret} leaked:\n${r.stdout}${r.stderr}`);
  }
  assert.equal(line(r.stdout, 'source'), 'source: redis://:***@10.0.0.1:6379  # --source');
  assert.equal(line(r.stdout, 'source-password'), 'source-password: "***"  # DF2REDIS_SOURCE_PASSWORD');
  assert.equal(line(r.stdout, 'target-password'), `target-password: "***"  # ${cfg}:2: target-password`);
  assert.equal(line(r.stdout, 'target-user'), 'target-user: app  # --target-user');
});

test('migrate takes the target password from DF2REDIS_TARGET_PASSWORD, or from --target-password-file, never argv', async () => {
  const target = await startRedisServer();
  try {
    await redisCli(target.port, 'ACL', 'SETUSER', 'app', 'on', '>p@ss word', '~*', '&*', '+@all');
    await redisCli(target.port, 'ACL', 'SETUSER', 'default', 'off');
    const cli = (...a: string[]): Promise<string> => redisCli(target.port, '--no-auth-warning', '--user', 'app', '--pass', 'p@ss word', ...a);
    const cfg = file('job.yaml', `source: ${DEMO_RDB}\ntarget: ${target.url}\ntarget-user: app\nprogress: none\nlog-level: silent\n`);
    const viaEnv = await df2redis({ DF2REDIS_TARGET_PASSWORD: 'p@ss word' }, 'migrate', '--config', cfg);
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const keys = Number((await cli('DBSIZE')).trim());
    assert.ok(keys > 0);
    await cli('FLUSHALL');
    const viaFile = await df2redis({}, 'migrate', '--config', cfg, '--target-password-file', file('target.pw', 'p@ss word\n'));
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.equal(Number((await cli('DBSIZE')).trim()), keys);
    const wrong = await df2redis({ DF2REDIS_TARGET_PASSWORD: 'wrong' }, 'migrate', '--config', cfg);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /AUTH refused: WRONGPASS/);
  } finally {
    await target.stop();
  }
});

test('an option added to a command with commander is read from DF2REDIS_* and the file with no code of its own', () => {
  const cfg = file('generic.yaml', 'http-bind: 0.0.0.0\nhttp-token: from-file\ninterval: 2\n');
  const make = (): Command =>
    addConfigLayers(
      new Command('job')
        .option('--http-bind <addr>', 'bind', '127.0.0.1')
        .option('--http-token <token>', 'token')
        .option('--watch', 'flag', false)
        .option('--interval <s>', 'with its own parser', (v: string) => Number(v) * 1000, 5000),
    );
  const cmd = make();
  cmd.parse(['--config', cfg, '--watch'], { from: 'user' });
  applyConfigLayers(cmd, { DF2REDIS_HTTP_TOKEN: 'from-env', DF2REDIS_HTTP_BIND: '' });
  assert.deepEqual(
    { bind: cmd.opts().httpBind, token: cmd.opts().httpToken, watch: cmd.opts().watch, interval: cmd.opts().interval },
    { bind: '0.0.0.0', token: 'from-env', watch: true, interval: 2000 },
  );
  assert.deepEqual(optionSourcesOf(cmd.opts()), { httpBind: `${cfg}:1: http-bind`, httpToken: 'DF2REDIS_HTTP_TOKEN', watch: '--watch', interval: `${cfg}:3: interval` });
  const bad = make();
  bad.parse([], { from: 'user' });
  assert.throws(() => applyConfigLayers(bad, { DF2REDIS_WATCH: 'perhaps' }), (e: unknown) => e instanceof ConfigError && /DF2REDIS_WATCH is a switch/.test(e.message));
});
