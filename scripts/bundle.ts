/**
 * Bundles the CLI that the package's bin runs (bin/df2redis): esbuild joins dist/src/cli/main.js
 * and the modules it imports, dependencies included, into a few ESM files under dist/bundle/cli/,
 * one chunk per command and per module shared by commands, so each dynamic `import()` of
 * src/cli/main.ts still loads only its command's code.
 *
 * Why (issue 12, bench/README.md): Node 20 has no compile cache, and loading ~250 small ES modules
 * (zod alone is ~100 files) costs ~0.2 CPU-seconds at every start; the bundle loads the same code
 * in about half of that.
 *
 * What stays outside: packages the source loads lazily with `createRequire` (yaml, pino-pretty,
 * cli-progress, lz4-napi's native addon, fzstd) and files read by path (assets/, package.json,
 * uplot): the bundle sits at the same depth below the package root as dist/src/<dir>/, so their
 * `import.meta.url`-relative paths resolve alike.
 *
 * `npm run build` runs it after tsc; `npm test` and `npm run bench` build first.
 */
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** Repository root (this file runs from dist/scripts/). */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where the bin looks for the bundle's entry (`main.js`), relative to the repository root. */
export const BUNDLE_DIR = 'dist/bundle/cli';

/**
 * Builds {@link BUNDLE_DIR} from the compiled dist/src/cli/main.js (run tsc first).
 * @throws Error esbuild's, with its messages, when a module cannot be resolved.
 */
export async function bundleCli(): Promise<void> {
  rmSync(REPO_ROOT + BUNDLE_DIR, { recursive: true, force: true });
  await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: ['dist/src/cli/main.js'],
    outdir: BUNDLE_DIR,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // A native addon: loaded by path at run time.
    external: ['lz4-napi'],
    // CommonJS dependencies bundled into ESM call `require` for node's built-in modules.
    banner: { js: "import { createRequire as __df2redisCreateRequire } from 'node:module'; const require = __df2redisCreateRequire(import.meta.url);" },
    // Maps to dist/src/*.js (node --enable-source-maps); their sources are in the package already.
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
  });
}

await bundleCli();
