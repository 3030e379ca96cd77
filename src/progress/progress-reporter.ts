/**
 * Progress of a running job: a bar on a terminal, a log line every few seconds otherwise, or
 * nothing. Pull model: the reporter samples the job's counters on its own timer, so the hot path
 * pays nothing per entry or per chunk.
 */
import { createRequire } from 'node:module';
import type { SingleBar } from 'cli-progress';
import type { Logger } from 'pino';
import { PROGRESS_LOG_INTERVAL_MS, type ProgressMode } from '../config/options.js';
import { formatBytes, formatDuration, formatRate } from './human-units.js';

/** cli-progress, loaded only when a bar is drawn (start-up CPU of every other run). */
const requireLazily = createRequire(import.meta.url);

/** What the job has done so far: input bytes read and keys the target acknowledged. */
export interface ProgressSample {
  bytesRead: number;
  keysWritten: number;
}

/** What the job will do in total (from the file size and the pre-scan). */
export interface ProgressTotals {
  totalBytes: number;
  totalKeys: number;
}

/** Shows progress between `start` and `stop`. `stop` is idempotent and leaves the terminal clean. */
export interface ProgressReporter {
  start(totals: ProgressTotals, sample: () => ProgressSample): void;
  stop(): void;
}

/** Where progress goes. */
export interface ProgressOutput {
  logger: Logger;
  /** The bar's stream. @default process.stderr */
  stream?: NodeJS.WriteStream;
  /** Interval of `log` mode lines. @default PROGRESS_LOG_INTERVAL_MS */
  logIntervalMs?: number;
  /** The bar's first word. @default 'migrating' */
  label?: string;
}

/**
 * A reporter for `mode`; `auto` is `bar` when the stream is a TTY, else `log`.
 */
export function createProgressReporter(mode: ProgressMode, output: ProgressOutput): ProgressReporter {
  const stream = output.stream ?? process.stderr;
  const resolved = mode === 'auto' ? (stream.isTTY ? 'bar' : 'log') : mode;
  switch (resolved) {
    case 'bar':
      return new BarReporter(stream, output.label ?? 'migrating');
    case 'log':
      return new LogReporter(progressLogger(output.logger), output.logIntervalMs ?? PROGRESS_LOG_INTERVAL_MS);
    case 'none':
      return { start() {}, stop() {} };
  }
}

/**
 * The logger of progress lines: `logger` lowered to `info` when it is set higher (`warn`,
 * `error`, `fatal`), so `--log-level warn` keeps warnings-only logs without hiding progress;
 * `silent` stays silent (`--progress none` is the way to drop progress).
 */
export function progressLogger(logger: Logger): Logger {
  const order = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
  const at = order.indexOf(logger.level);
  return at > order.indexOf('info') ? logger.child({}, { level: 'info' }) : logger;
}

/**
 * Shows the cursor and turns line wrap back on, as the bar leaves them when it stops; for an
 * exit that cannot wait for {@link ProgressReporter.stop} (a second Ctrl-C). No-op off a terminal.
 */
export function restoreTerminal(stream: NodeJS.WriteStream = process.stderr): void {
  if (stream.isTTY) stream.write('\x1b[?25h\x1b[?7h\n');
}

/** Keys per second since `startMs` and the estimated remaining time in ms (Infinity before any key). */
function rateAndEta(keys: number, totalKeys: number, startMs: number): { keysPerSec: number; etaMs: number } {
  const elapsedS = (Date.now() - startMs) / 1000;
  const keysPerSec = elapsedS > 0 ? keys / elapsedS : 0;
  const etaMs = keysPerSec > 0 ? (Math.max(0, totalKeys - keys) / keysPerSec) * 1000 : Infinity;
  return { keysPerSec, etaMs };
}

class BarReporter implements ProgressReporter {
  static readonly REDRAW_MS = 200;
  #bar: SingleBar;
  #timer: NodeJS.Timeout | undefined;
  #redraw: (() => void) | undefined;

  constructor(stream: NodeJS.WriteStream, label: string) {
    const { SingleBar: Bar } = requireLazily('cli-progress') as typeof import('cli-progress');
    this.#bar = new Bar({
      stream,
      format: `${label} [{bar}] {percentage}% | {bytes} / {totalBytes} | {value}/{total} keys | {rate} keys/s | eta {etaText}`,
      barsize: 30,
      hideCursor: true,
      // `--progress bar` asked for explicitly on a non-terminal: draw anyway, one line per 2 s.
      noTTYOutput: true,
      // We redraw on our own timer with fresh samples; cli-progress' own timer would only repeat them.
      fps: 1000 / BarReporter.REDRAW_MS,
    });
  }

  start(totals: ProgressTotals, sample: () => ProgressSample): void {
    const startMs = Date.now();
    const payload = (s: ProgressSample): Record<string, string> => {
      const { keysPerSec, etaMs } = rateAndEta(s.keysWritten, totals.totalKeys, startMs);
      return {
        bytes: formatBytes(s.bytesRead),
        totalBytes: formatBytes(totals.totalBytes),
        rate: formatRate(keysPerSec),
        etaText: formatDuration(etaMs),
      };
    };
    this.#bar.start(totals.totalKeys, 0, payload({ bytesRead: 0, keysWritten: 0 }));
    this.#redraw = (): void => {
      const s = sample();
      // Totals may become known after start (read from the source once connected).
      if (this.#bar.getTotal() !== totals.totalKeys) this.#bar.setTotal(totals.totalKeys);
      this.#bar.update(s.keysWritten, payload(s));
    };
    this.#timer = setInterval(this.#redraw, BarReporter.REDRAW_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#redraw === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    // The final state, so the bar left on screen shows where the job ended.
    this.#redraw();
    this.#redraw = undefined;
    this.#bar.stop();
  }
}

class LogReporter implements ProgressReporter {
  #timer: NodeJS.Timeout | undefined;
  readonly #logger: Logger;
  readonly #intervalMs: number;

  constructor(logger: Logger, intervalMs: number) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  start(totals: ProgressTotals, sample: () => ProgressSample): void {
    const startMs = Date.now();
    this.#timer = setInterval(() => {
      const s = sample();
      const { keysPerSec, etaMs } = rateAndEta(s.keysWritten, totals.totalKeys, startMs);
      this.#logger.info(
        {
          bytesRead: s.bytesRead,
          totalBytes: totals.totalBytes,
          keys: s.keysWritten,
          totalKeys: totals.totalKeys,
          keysPerSec: Math.round(keysPerSec),
          etaSec: Number.isFinite(etaMs) ? Math.round(etaMs / 1000) : null,
        },
        'progress',
      );
    }, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
