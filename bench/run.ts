/**
 * `npm run bench`: runs every benchmark module in sequence and prints one table of their results.
 * Each module (one per hot path) exports `run(): Promise<Record<string, number | string>>`.
 * Exits non-zero if any benchmark fails (or cannot be loaded); the others still run.
 *
 * Run a subset: `npm run bench -- decode sink`.
 */

/** Benchmark modules, by file name under bench/. */
const BENCHMARKS = ['decode', 'sink', 'migrate', 'replicate', 'cluster', 'float', 'check'] as const;

/** What a benchmark module exports. */
interface BenchModule {
  run(): Promise<Record<string, number | string>>;
}

type Outcome = { name: string; ms: number } & ({ result: Record<string, number | string> } | { error: unknown });

async function runOne(name: string): Promise<Outcome> {
  const start = performance.now();
  try {
    const mod = (await import(`./${name}.js`)) as Partial<BenchModule>;
    if (typeof mod.run !== 'function') throw new Error(`bench/${name}.ts does not export run()`);
    const result = await mod.run();
    return { name, ms: performance.now() - start, result };
  } catch (error) {
    return { name, ms: performance.now() - start, error };
  }
}

function formatValue(v: number | string): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return v.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** One row per metric: benchmark | metric | value. */
function table(outcomes: Outcome[]): string {
  const rows: string[][] = [['benchmark', 'metric', 'value']];
  for (const o of outcomes) {
    if ('error' in o) {
      const msg = o.error instanceof Error ? o.error.message : String(o.error);
      rows.push([o.name, 'FAILED', msg.split('\n')[0]!]);
      continue;
    }
    for (const [metric, value] of Object.entries(o.result)) rows.push([o.name, metric, formatValue(value)]);
    rows.push([o.name, 'wall time (s)', (o.ms / 1000).toFixed(1)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

const selected = process.argv.slice(2);
const unknown = selected.filter((n) => !(BENCHMARKS as readonly string[]).includes(n));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHMARKS.join(', ')}\n`);
  process.exit(2);
}
const outcomes: Outcome[] = [];
for (const name of selected.length > 0 ? selected : BENCHMARKS) {
  process.stderr.write(`bench: ${name}…\n`);
  const outcome = await runOne(name);
  if ('error' in outcome) {
    const e = outcome.error;
    process.stderr.write(`bench: ${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
  outcomes.push(outcome);
}
process.stdout.write(`${table(outcomes)}\n`);
process.exit(outcomes.some((o) => 'error' in o) ? 1 : 0);
