import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRate } from './human-units.js';

test('formatRate: rounded, thousands separated, ? when not finite', () => {
  assert.equal(formatRate(12345.6), '12,346');
  assert.equal(formatRate(999.4), '999');
  assert.equal(formatRate(1000), '1,000');
  assert.equal(formatRate(1_234_567_890), '1,234,567,890');
  assert.equal(formatRate(0), '0');
  assert.equal(formatRate(Number.POSITIVE_INFINITY), '?');
  assert.equal(formatRate(Number.NaN), '?');
});
