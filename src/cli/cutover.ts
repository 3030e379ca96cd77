/**
 * `df2redis cutover`: the moment of the switch, with `replicate` running. Pauses writes on the
 * Dragonfly master, waits until the target holds every write journaled before the pause (the
 * replicator's `/status`), runs the final `check`, then keeps the source paused for `--hold` so the
 * application can switch (or lifts the pause at once with `--no-hold`). Any failure lifts the pause
 * and exits 1 saying why. See src/pipeline/cutover.ts.
 */
import { Command } from 'commander';
import { CHECK_DEFAULTS, DIFFERENCE_CLASSES, runCheck } from '../check/checker.js';
import { dbsOption, durationOption } from '../config/options.js';
import { ConfigError, ReplicationError } from '../errors.js';
import { runCutover } from '../pipeline/cutover.js';
import { formatCheckSummary, sampleOption } from './check.js';
import { CUTOVER_EXIT_CODES_HELP, helpEpilogue } from './exit-codes.js';

/** The `cutover` command. */
export function cutoverCommand(): Command {
  return new Command('cutover')
    .summary('pause writes on the master, wait until the target has them all, verify, hold for the switch')
    .description(
      'With `df2redis replicate` running: confirm it is in stable sync (its /status), pause writes on the Dragonfly ' +
        'master (CLIENT PAUSE … WRITE), record the master offsets (DFLY REPLICAOFFSET), wait until every flow is on the ' +
        'target, run the final check, print the verdict with the write-pause time and the LSN per flow, then keep the ' +
        'source paused for --hold so the application can switch (or unpause at once with --no-hold). On any failure the ' +
        'source is unpaused at once and the exit code is 1.',
    )
    .option('--source <url>', 'the Dragonfly master, redis://[user:password@]host:port (required)')
    .option('--target <url[,url…]>', 'the target, as given to replicate (required)')
    .option(
      '--status-url <url>',
      "the running replicate's status endpoint, http://127.0.0.1:PORT (its --status-port) (default: read the replicator's checkpoint on the target)",
    )
    .option('--checkpoint-prefix <prefix>', "the replicator's --checkpoint-prefix (where its checkpoint is read without --status-url)", 'df2redis:')
    .option('--timeout <ms>', 'longest wait for the target to catch up after the pause', '30s')
    .option('--hold <ms>', 'keep the source paused this long after a successful verdict', '10s')
    .option('--no-hold', 'unpause the source as soon as the verdict is in')
    .option('--check-timeout <ms>', 'longest time the final check may take', '10m')
    .option('--sample <fraction>', 'final check of this share of the keys, e.g. 0.01 (default: every key)')
    .option('--dbs <list>', 'databases compared by the final check, as given to replicate')
    .option('--tls-insecure', 'accept any TLS certificate', false)
    .addHelpText(
      'after',
      helpEpilogue(
        [
          'df2redis cutover --source redis://df:6379 --target redis://redis:6379 --status-url http://127.0.0.1:9121',
          'df2redis cutover --source redis://df:6379 --target redis://redis:6379 --status-url http://127.0.0.1:9121 --sample 0.01 --no-hold',
        ],
        CUTOVER_EXIT_CODES_HELP,
      ),
    )
    .action(async (raw: Record<string, unknown>) => {
      for (const name of ['source', 'target'] as const) {
        if (typeof raw[name] !== 'string' || (raw[name] as string).trim() === '') throw new ConfigError(`--${name} is required`);
      }
      if (raw.statusUrl !== undefined && (typeof raw.statusUrl !== 'string' || raw.statusUrl.trim() === '')) throw new ConfigError('--status-url must not be empty');
      const sample = sampleOption(raw.sample);
      const dbs = dbsOption(raw.dbs);
      const source = raw.source as string;
      const target = raw.target as string;
      const statusUrl = raw.statusUrl as string | undefined;
      const holdMs = raw.hold === false ? 0 : durationOption(raw.hold, '--hold');
      const result = await runCutover(
        {
          source,
          statusUrl,
          target,
          checkpointPrefix: String(raw.checkpointPrefix ?? 'df2redis:'),
          timeoutMs: durationOption(raw.timeout, '--timeout'),
          holdMs,
          checkTimeoutMs: durationOption(raw.checkTimeout, '--check-timeout'),
          isTlsInsecure: raw.tlsInsecure === true,
        },
        {
          say: (line) => process.stderr.write(`cutover: ${line}\n`),
          check: async () => {
            const r = await runCheck({ ...CHECK_DEFAULTS, source, target, dbs, sample, statusUrl: undefined, rounds: 0, isTlsInsecure: raw.tlsInsecure === true });
            return { differences: [...DIFFERENCE_CLASSES].reduce((n, c) => n + r.counts[c], 0), summary: formatCheckSummary(r) };
          },
        },
      );
      if (result.check !== undefined) process.stdout.write(result.check.summary);
      const lsns = result.acked.map((a, i) => `flow ${i}: ${a}`).join(', ');
      if (!result.ok) {
        throw new ReplicationError(`cutover NOT verified: ${result.reason}; the source was unpaused after ${result.writePauseMs} ms (LSNs ${lsns})`);
      }
      process.stdout.write(
        `cutover verified: the target equals the source at master offsets ${result.offsets.join(', ')} (${lsns}); ` +
          `writes were paused ${result.pauseToVerdictMs} ms until the verdict and ${result.writePauseMs} ms in all (hold ${holdMs} ms)\n`,
      );
    });
}
