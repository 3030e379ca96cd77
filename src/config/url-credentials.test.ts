import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeUrlPart, maskUrlPasswords, splitUrlList } from './url-credentials.js';

test('maskUrlPasswords: every URL shape, the password never survives', () => {
  const cases: Array<[string, string]> = [
    ['redis://user:secret@h:6379', 'redis://user:***@h:6379'],
    ['redis://:secret@h:6379/2', 'redis://:***@h:6379/2'],
    ['redis://secret@h', 'redis://***@h'],
    ['rediss://u:p%ss@h:6380', 'rediss://u:***@h:6380'],
    ['redis://:p@ss@h:1', 'redis://:***@h:1'],
    ['redis://:a/b:c@h:1', 'redis://:***@h:1'],
    ['redis://h:1/0', 'redis://h:1/0'],
    ['redis://:one@a:1,redis://u:two@b:2,rediss://three@c:3', 'redis://:***@a:1,redis://u:***@b:2,rediss://***@c:3'],
    ['invalid target URL "redis://:p@ss@h:99999": bad port', 'invalid target URL "redis://:***@h:99999": bad port'],
    ['no url here, user@example.com', 'no url here, user@example.com'],
  ];
  for (const [input, want] of cases) assert.equal(maskUrlPasswords(input), want, input);
});

test('decodeUrlPart: escapes decoded, a lone % kept, never throws', () => {
  assert.equal(decodeUrlPart('p%40ss'), 'p@ss');
  assert.equal(decodeUrlPart('50%off'), '50%off');
  assert.equal(decodeUrlPart('100%'), '100%');
  assert.equal(decodeUrlPart('%E2%82%AC%'), '€%');
  assert.equal(decodeUrlPart('%ff'), '%ff');
});

test('splitUrlList: a comma inside a password does not split the URL', () => {
  assert.deepEqual(splitUrlList('redis://:a,b@h:1, redis://h:2,'), ['redis://:a,b@h:1', 'redis://h:2']);
});
