/**
 * `df2redis status`: asks a running `replicate` (its `--status-port` endpoint) for `/status` and
 * prints one screen: phase, flows, lag, throughput, errors. `--json` prints the document as is;
 * `--watch` redraws every 2 s until Ctrl-C, or until the replicator is gone or not healthy.
 *
 * Exit codes: 0 = reachable and healthy (handshake, full sync or stable sync); 4 = nothing answers
 * at the URL (refused, timeout, HTTP error); 5 = it answers but is not healthy (phase stopped);
 * 2 = bad option, or the endpoint asks for a token that was not given (or is wrong).
 */
import { Command } from 'commander';
import { helpEpilogue, STATUS_EXIT_CODES_HELP } from './exit-codes.js';
import { ConfigError, NotHealthyError, StatusUnreachableError } from '../errors.js';
import type { ReplicationStatus } from '../pipeline/replicate.js';
import { formatBytes, formatDuration } from '../progress/human-units.js';
import { HTTP_TOKEN_ENV } from './http-options.js';

/** Where `status` looks without `--url`. */
export const DEFAULT_STATUS_URL = 'http://127.0.0.1:9121';
const WATCH_INTERVAL_MS = 2000;
const REQUEST_TIMEOUT_MS = 5000;

/** `/status` as it arrives in JSON (bigints became numbers, or strings beyond 2^53). */
type StatusJson = Omit<ReplicationStatus, 'opsApplied' | 'flows'> & {
  opsApplied: number | string;
  flows: Array<Omit<ReplicationStatus['flows'][number], 'lsn' | 'receivedLsn' | 'masterLsn'> & { lsn: number | string; receivedLsn: number | string; masterLsn: number | string | null }>;
};

/**
 * GETs `<url>/status`. Returns the body text and the parsed document.
 * @throws StatusUnreachableError (refused, timeout, HTTP status other than 200 and 401);
 *   ConfigError on 401 (token missing or wrong).
 */
export async function fetchStatus(url: string, token: string | undefined): Promise<{ text: string; status: StatusJson }> {
  const endpoint = `${url.replace(/\/+$/, '')}/status`;
  let res: Response;
  try {
    res = await fetch(endpoint, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = (err as Error).name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS} ms` : (cause?.code ?? cause?.message ?? (err as Error).message);
    throw new StatusUnreachableError(url, detail, { cause: err });
  }
  const text = await res.text();
  if (res.status === 401) throw new ConfigError(`${url} asks for a token: give --http-token or set ${HTTP_TOKEN_ENV} (the one the replicator was started with)`);
  if (res.status !== 200) throw new StatusUnreachableError(url, `HTTP ${res.status} ${text.trim().slice(0, 200)}`);
  try {
    return { text, status: JSON.parse(text) as StatusJson };
  } catch (err) {
    throw new StatusUnreachableError(url, 'the answer is not a df2redis /status document', { cause: err });
  }
}

/** True while the run is alive: handshake, full sync or stable sync. */
export function isHealthy(s: { phase: string }): boolean {
  return s.phase === 'handshake' || s.phase === 'full-sync' || s.phase === 'stable-sync' || s.phase === 'reconnecting';
}

const int = (n: number | string | null): string => (n === null ? '-' : typeof n === 'string' ? n : n.toLocaleString('en-US'));

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_h, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

function pairs(m: Record<string, number>): string {
  const e = Object.entries(m).filter(([, n]) => n > 0);
  return e.length === 0 ? 'none' : e.map(([k, n]) => `${k} ${n}`).join(', ');
}

/** The one-screen view of a `/status` document (no trailing escape codes; lines end with \n). */
export function formatStatus(url: string, s: StatusJson): string {
  const lagRecords = s.flows.reduce((n, f) => n + f.lagRecords, 0);
  const lagMs = s.flows.reduce((n, f) => Math.max(n, f.lagMs), 0);
  const keys = s.flows.reduce((n, f) => n + f.snapshotKeys, 0);
  const errors: Record<string, number> = {};
  for (const node of s.target.nodes) for (const [p, n] of Object.entries(node.errorReplies)) errors[p] = (errors[p] ?? 0) + n;
  const lines = [
    `df2redis at ${url}: ${s.phase}, up ${formatDuration(s.uptimeMs)} (since ${s.startedAt}, as of ${s.at})`,
    `applied ${int(s.opsApplied)} records, ${int(keys)} snapshot keys; ${int(s.throughput.opsPerSec)} records/s, ` +
      `${int(s.throughput.keysPerSec)} keys/s, ${formatBytes(s.throughput.bytesPerSec)}/s received`,
    `lag: ${int(lagRecords)} records, oldest unacknowledged ${int(lagMs)} ms; longest source pause ${int(s.longestPauseMs)} ms`,
    '',
    ...table([
      ['flow', 'phase', 'applied lsn', 'received lsn', 'master lsn', 'lag rec', 'lag ms', 'keys', 'received', 'paused ms'],
      ...s.flows.map((f) => [
        String(f.id),
        f.phase,
        int(f.lsn),
        int(f.receivedLsn),
        int(f.masterLsn),
        int(f.lagRecords),
        int(f.lagMs),
        int(f.snapshotKeys),
        formatBytes(f.snapshotBytes),
        int(f.pausedMs),
      ]),
    ]),
    '',
    `target: ${s.target.cluster ? `cluster of ${s.target.masters.length} masters` : 'standalone'} ${s.target.nodes.map((n) => n.node).join(', ')}; ` +
      `${int(s.target.nodes.reduce((n, x) => n + x.commandsSent, 0))} commands sent` +
      (s.target.cluster ? `; MOVED ${s.target.moved}, ASK ${s.target.asked}, retried ${s.target.retried}, resent ${s.target.resentAfterLoss}` : ''),
    `error replies: ${pairs(errors)}`,
    `dropped: ${pairs(s.dropped)}; lossy: ${pairs(s.lossy)}; repaired: ${pairs(s.repaired)}`,
    `skipped keys: ${s.skipped.expired} expired, ${s.skipped.existing} existing, ${s.skipped.unsupported} unsupported, ${s.skippedOtherDbs} in other databases`,
    `syncs: ${s.resyncs.full} full, ${s.resyncs.partial} partial; reconnects: ${s.reconnects ?? 0}` +
      (s.resumedFrom ? `; resumed from LSN ${s.resumedFrom.join(', ')}` : '') +
      (s.delivery ? `; delivery ${s.delivery}` : ''),
  ];
  return `${lines.join('\n')}\n`;
}

/** The `status` command. */
export function statusCommand(): Command {
  return new Command('status')
    .summary('show the state of a running replicate (phase, flows, lag, throughput, errors)')
    .description(
      'Ask a running `df2redis replicate --status-port <port>` for its state and print one screen. Exit codes: ' +
        '0 running and healthy, 4 nothing answers at the URL, 5 it answers but is not healthy (stopped), 2 bad option or missing token.',
    )
    .option('--url <url>', 'the replicator HTTP endpoint', DEFAULT_STATUS_URL)
    .option('--watch', 'redraw every 2 s until Ctrl-C (stops with exit 4 or 5 when the replicator is gone or not healthy)', false)
    .option('--json', 'print the /status document as JSON', false)
    .option('--http-token <token>', `token of the endpoint (default: $${HTTP_TOKEN_ENV})`)
    .addHelpText(
      'after',
      helpEpilogue(
        ['df2redis status --url http://127.0.0.1:9121', 'df2redis status --url http://127.0.0.1:9121 --watch', 'df2redis status --url http://10.0.0.5:9121 --json --http-token $TOKEN'],
        STATUS_EXIT_CODES_HELP,
      ),
    )
    .action(async (raw: { url: string; watch: boolean; json: boolean; httpToken?: string }) => {
      let url: URL;
      try {
        url = new URL(raw.url);
      } catch {
        throw new ConfigError(`--url must be an http:// URL, e.g. ${DEFAULT_STATUS_URL}; got ${raw.url}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`--url must be an http:// URL, e.g. ${DEFAULT_STATUS_URL}; got ${raw.url}`);
      const base = raw.url.replace(/\/+$/, '');
      const envToken = process.env[HTTP_TOKEN_ENV];
      const token = raw.httpToken ?? (envToken === undefined || envToken === '' ? undefined : envToken);
      const once = async (): Promise<void> => {
        const { text, status } = await fetchStatus(base, token);
        const isClear = raw.watch && process.stdout.isTTY;
        process.stdout.write((isClear ? '\x1b[H\x1b[2J' : '') + (raw.json ? `${text.trimEnd()}\n` : formatStatus(base, status)));
        if (!isHealthy(status)) throw new NotHealthyError(base, status.phase);
      };
      await once();
      if (!raw.watch) return;
      await new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        let isStopped = false;
        const stop = (): void => {
          isStopped = true;
          clearTimeout(timer);
          process.off('SIGINT', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        const tick = (): void => {
          once().then(
            () => {
              if (!isStopped) timer = setTimeout(tick, WATCH_INTERVAL_MS);
            },
            (err: unknown) => {
              if (isStopped) return;
              process.off('SIGINT', stop);
              reject(err as Error);
            },
          );
        };
        timer = setTimeout(tick, WATCH_INTERVAL_MS);
      });
    });
}
