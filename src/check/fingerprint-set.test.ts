import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fingerprint, FingerprintSet, upperBound } from './fingerprint-set.js';
import { formatPercent } from './checker.js';

test('upperBound: 0 of 100,000 sampled keys → at most 0.003 % (rule of three), and the exact Clopper–Pearson bound for k > 0', () => {
  assert.equal(formatPercent(upperBound(0, 100_000)), '0.003 %');
  assert.ok(Math.abs(upperBound(0, 100_000) - 3 / 100_000) < 1e-6);
  // Reference values of the one-sided 95 % Clopper–Pearson upper bound (beta quantile).
  assert.ok(Math.abs(upperBound(1, 100) - 0.0466) < 5e-4, String(upperBound(1, 100)));
  assert.ok(Math.abs(upperBound(5, 1000) - 0.01051) < 5e-4, String(upperBound(5, 1000)));
  assert.equal(upperBound(10, 10), 1);
  assert.ok(upperBound(2, 100) > upperBound(1, 100));
});

test('FingerprintSet: holds what was added across growth, nothing else; the database is part of the fingerprint', () => {
  const set = new FingerprintSet();
  for (let i = 0; i < 100_000; i++) set.add(...fingerprint(0, Buffer.from(`key:${i}`), 7));
  assert.equal(set.size, 100_000);
  for (let i = 0; i < 100_000; i++) assert.ok(set.has(...fingerprint(0, Buffer.from(`key:${i}`), 7)));
  let found = 0;
  for (let i = 100_000; i < 200_000; i++) if (set.has(...fingerprint(0, Buffer.from(`key:${i}`), 7))) found++;
  assert.equal(found, 0);
  assert.ok(!set.has(...fingerprint(1, Buffer.from('key:1'), 7)));
});
