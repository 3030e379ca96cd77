/**
 * Module-loader hooks (node:module `register`) that print every module URL node loads as a
 * `module-trace <url>` line on stderr. Used by test/integration/lazy-modules.test.ts through
 * {@link MODULE_TRACE_FLAGS}-style `--import`; not part of the product.
 */
type NextLoad = (url: string, context: unknown) => Promise<unknown>;

/** node:module `load` hook: reports `url`, then loads it unchanged. */
export async function load(url: string, context: unknown, next: NextLoad): Promise<unknown> {
  // Hooks run on their own thread: _rawDebug writes straight to fd 2 from there.
  (process as unknown as { _rawDebug(line: string): void })._rawDebug(`module-trace ${url}`);
  return next(url, context);
}
