/** A full garbage collection from a test (the test runner starts node without `--expose-gc`). */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Runs V8's `gc()` once, synchronously: `--expose-gc` is on only while the function is fetched. */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  setFlagsFromString('--no-expose-gc');
  gc();
}
