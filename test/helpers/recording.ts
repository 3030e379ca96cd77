/**
 * The recorded Dragonfly sessions of `../shared/fixtures/dragonfly/` by name (readers in
 * src/demo/recording.ts). Test-only.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { loadExpectedDir, loadSessionDir, type ExpectedState, type RecordedConnection } from '../../src/demo/recording.js';

export { parseRecording } from '../../src/demo/recording.js';
export type { ExpectedKey, ExpectedState, RecordedConnection, RecordedConnectionInfo, RecordedFrame } from '../../src/demo/recording.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Absolute path of `shared/fixtures/dragonfly` (the repo's `../shared`). Works from `dist/test/helpers`
 * and from `test/helpers`.
 */
export function fixturesRoot(): string {
  let dir = here;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, '..', 'shared', 'fixtures', 'dragonfly');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`shared/fixtures/dragonfly not found above ${here}`);
}

/** Names of the recorded sessions. */
export const SESSIONS = ['types', 'big', 'big-untagged', 'during', 'partial', 'zstd', 'auth', 'flushall-uncompressed'] as const;
export type SessionName = (typeof SESSIONS)[number];

/**
 * {@link SESSIONS} plus the recordings of older masters (`types-v1.34`, Dragonfly v1.34.8): for the
 * tests of the decoders, split feeding and the replay master. Not in SESSIONS: the fake master
 * re-encodes journals as v1.40 writes them (`shard_cnt` 1) and the session test compares final ACKs
 * with the real replica's, which differ on v1.34 (test/replicate/replicate-v134.test.ts explains).
 */
export const DECODE_SESSIONS: readonly string[] = [...SESSIONS, 'types-v1.34'];

/** Folder of session `name`. */
export function sessionDir(name: string): string {
  return path.join(fixturesRoot(), name);
}

/** Loads every connection of a session, in the order the replica opened them. */
export function loadSession(name: string): RecordedConnection[] {
  return loadSessionDir(sessionDir(name));
}

/** Loads `expected.json.gz` of a session. */
export function loadExpected(name: string): ExpectedState {
  return loadExpectedDir(sessionDir(name));
}
