/**
 * Waiting in tests: poll a condition until it holds, with a deadline (never a timed assertion).
 */

/** Resolves after `ms` milliseconds. */
export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `cond` (sync or async) every 10 ms until it is true.
 * @throws Error `timed out waiting for <what>` after `timeoutMs` (default 15 s).
 */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}
