import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDragonflyUrl } from './dragonfly-url.js';
import { ConfigError } from '../errors.js';

test('source URLs: host, port, TLS, user and password', () => {
  assert.deepEqual(parseDragonflyUrl('redis://df:6380'), { host: 'df', port: 6380, tls: false });
  assert.deepEqual(parseDragonflyUrl('rediss://df'), { host: 'df', port: 6379, tls: true });
  assert.deepEqual(parseDragonflyUrl('redis://:s3cret@127.0.0.1:7000'), { host: '127.0.0.1', port: 7000, tls: false, password: 's3cret' });
  assert.deepEqual(parseDragonflyUrl('redis://repl:p%20w@[::1]:7000/'), { host: '::1', port: 7000, tls: false, username: 'repl', password: 'p w' });
  assert.deepEqual(parseDragonflyUrl('redis://onlypass@h'), { host: 'h', port: 6379, tls: false, password: 'onlypass' });
});

test('bad source URLs are ConfigErrors with the password masked', () => {
  assert.throws(() => parseDragonflyUrl('http://h'), ConfigError);
  assert.throws(() => parseDragonflyUrl('redis://h:0'), /bad port/);
  assert.throws(() => parseDragonflyUrl('redis://h/2'), /no database path/);
  assert.throws(
    () => parseDragonflyUrl('redis://u:topsecret@h:99999'),
    (e: unknown) => e instanceof ConfigError && !e.message.includes('topsecret') && e.message.includes('***'),
  );
});
