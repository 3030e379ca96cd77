import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../errors.js';
import { DEFAULT_OPTIONS, validateMigrateOptions } from './options.js';

const required = { source: 'dump.rdb', target: 'redis://127.0.0.1:6379' };

test('validateMigrateOptions fills every default from DEFAULT_OPTIONS', () => {
  assert.deepEqual(validateMigrateOptions(required), { ...required, ...DEFAULT_OPTIONS });
});

test('validateMigrateOptions accepts given values and byte units', () => {
  const o = validateMigrateOptions({
    ...required,
    onExisting: 'skip',
    unsupported: 'skip',
    restoreMaxBytes: '1m',
    isTlsInsecure: true,
    progress: 'log',
    logLevel: 'debug',
  });
  assert.equal(o.onExisting, 'skip');
  assert.equal(o.unsupported, 'skip');
  assert.equal(o.restoreMaxBytes, 1 << 20);
  assert.equal(o.isTlsInsecure, true);
  assert.equal(validateMigrateOptions({ ...required, restoreMaxBytes: '512k' }).restoreMaxBytes, 524288);
  assert.equal(validateMigrateOptions({ ...required, restoreMaxBytes: '0' }).restoreMaxBytes, 0);
});

test('source time limits: ms by default, ms/s/m units, 0 = no limit', () => {
  assert.equal(validateMigrateOptions({ ...required, sourceTimeoutMs: '2500' }).sourceTimeoutMs, 2500);
  assert.equal(validateMigrateOptions({ ...required, sourceTimeoutMs: '500ms' }).sourceTimeoutMs, 500);
  assert.equal(validateMigrateOptions({ ...required, sourceTimeoutMs: '45s' }).sourceTimeoutMs, 45_000);
  assert.equal(validateMigrateOptions({ ...required, fullSyncStallTimeoutMs: '2m' }).fullSyncStallTimeoutMs, 120_000);
  assert.equal(validateMigrateOptions({ ...required, fullSyncStallTimeoutMs: '0' }).fullSyncStallTimeoutMs, 0);
});

test('validateMigrateOptions names the option in its ConfigError', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ target: required.target }, /^--source is required$/],
    [{ source: 'x', target: '' }, /^--target is required$/],
    [{ ...required, onExisting: 'merge' }, /^--on-existing must be one of replace, skip, fail; got "merge"$/],
    [{ ...required, unsupported: 'ignore' }, /^--unsupported must be one of fail, skip/],
    [{ ...required, restoreMaxBytes: '-1' }, /^--restore-max-bytes must be a byte count/],
    [{ ...required, restoreMaxBytes: '12 parsecs' }, /^--restore-max-bytes/],
    [{ ...required, progress: 'fancy' }, /^--progress must be one of auto, bar, log, none/],
    [{ ...required, logLevel: 'loud' }, /^--log-level must be one of/],
    [{ ...required, sourceTimeoutMs: '-5' }, /^--source-timeout must be a duration in ms such as 30000, 30s or 2m \(0 = no limit\); got "-5"$/],
    [{ ...required, fullSyncStallTimeoutMs: 'soon' }, /^--full-sync-stall-timeout must be a duration/],
  ];
  for (const [raw, message] of cases) {
    assert.throws(() => validateMigrateOptions(raw), (e: unknown) => e instanceof ConfigError && message.test(e.message));
  }
});
