/**
 * How the benchmarks start df2redis: through the package's bin (bin/df2redis, the launcher with
 * its memory defaults — V8's young generation, jemalloc when installed — running the bundle
 * dist/bundle/cli/main.js), as users do (`DF2REDIS_ALLOCATOR=glibc` in the bench's environment
 * reaches the bin: glibc's malloc).
 * `BENCH_LAUNCHER=0` runs `node dist/src/cli/main.js` directly instead (to compare: no launcher
 * defaults, no bundle).
 */
import { fileURLToPath } from 'node:url';

/** The CLI's entry script as tsc compiled it (the launcher runs its bundle). */
export const CLI_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/** The package's bin. */
export const CLI_BIN = fileURLToPath(new URL('../../bin/df2redis', import.meta.url));

/** The program and arguments that run `df2redis <args…>`: `[file, argv]` for `spawn`. */
export function cliCommand(args: readonly string[]): [string, string[]] {
  return process.env.BENCH_LAUNCHER === '0' ? [process.execPath, [CLI_MAIN, ...args]] : [CLI_BIN, [...args]];
}
