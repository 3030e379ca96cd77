import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSession, DECODE_SESSIONS } from './recording.js';

test('every recorded session parses into frames whose byte counts match connections.json', () => {
  for (const name of DECODE_SESSIONS) {
    for (const conn of loadSession(name)) {
      assert.equal(conn.masterBytes.length, conn.s2cBytes, `${name} ${conn.file} s2c`);
      assert.equal(conn.replicaBytes.length, conn.c2sBytes, `${name} ${conn.file} c2s`);
    }
  }
});
