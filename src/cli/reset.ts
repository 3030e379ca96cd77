/**
 * `df2redis reset --target <url>`: removes df2redis's checkpoint from the target (the only command
 * that does; see src/pipeline/checkpoint.ts). Afterwards `replicate` into that target starts with a
 * full sync and treats the target as not filled by df2redis (no flush on a full sync).
 *
 * Exit codes: 0 = removed, or there was none; 1 = the target failed; 2 = bad option.
 */
import { Command } from 'commander';
import { tlsConnectOptions } from '../config/connection-settings.js';
import { ConfigError } from '../errors.js';
import { checkpointKey, deleteSlotCheckpoints, readCheckpoint } from '../pipeline/checkpoint.js';
import { REPLICATE_DEFAULTS } from '../pipeline/replicate.js';
import { openRouter, resolveTarget } from '../sink/connect-target.js';
import { addConfigLayers, optionSourcesOf } from './config-layers.js';
import { addConnectionOptions, connectionSettingsFrom } from './connection-options.js';
import { helpEpilogue, RESET_EXIT_CODES_HELP } from './exit-codes.js';

/** The `reset` command. */
export function resetCommand(): Command {
  const cmd = new Command('reset')
    .summary("remove df2redis's checkpoint from a target (the next replicate starts over)")
    .description(
      'Delete the checkpoint df2redis keeps on the target (<prefix>checkpoint: the master, its replid, the next LSN of ' +
        'every flow). Nothing else deletes it. The next `df2redis replicate` into this target then starts with a full sync ' +
        'and no longer counts the target as its own. The copied data is left as it is.',
    )
    .option('--target <url[,url…]>', 'the target, as given to replicate (required)')
    .option('--checkpoint-prefix <prefix>', 'the prefix replicate was given', REPLICATE_DEFAULTS.checkpointPrefix)
    .option('--tls-insecure', 'accept any TLS certificate from a rediss:// target', false);
  addConnectionOptions(cmd);
  addConfigLayers(cmd);
  cmd.addHelpText('after', helpEpilogue(['df2redis reset --target redis://127.0.0.1:6380', 'df2redis reset --target redis://10.0.0.7:7000 --checkpoint-prefix migration-a:'], RESET_EXIT_CODES_HELP));
  return cmd.action(async (raw: Record<string, unknown>) => {
    if (typeof raw.target !== 'string' || raw.target === '') throw new ConfigError('--target is required');
    const prefix = String(raw.checkpointPrefix ?? REPLICATE_DEFAULTS.checkpointPrefix);
    if (prefix === '') throw new ConfigError('--checkpoint-prefix must not be empty');
    const settings = connectionSettingsFrom(raw, 'target', optionSourcesOf(raw));
    process.stdout.write(`${await resetCheckpoint(raw.target, prefix, { ...tlsConnectOptions(settings, raw.tlsInsecure === true), credentials: settings })}\n`);
  });
}

/**
 * Deletes `<prefix>checkpoint` on `target` (its `/db`, else 0; a cluster: the node owning the key)
 * and says what it held. @throws ConnectionError, TargetCommandError
 */
export async function resetCheckpoint(
  target: string,
  prefix: string,
  options: Parameters<typeof resolveTarget>[1] = {},
): Promise<string> {
  const resolved = await resolveTarget(target, options);
  const router = await openRouter(resolved, { ...options, role: 'target (reset)' });
  try {
    const key = checkpointKey(prefix);
    let held = '';
    try {
      const cp = await readCheckpoint(router, key);
      if (cp !== undefined) {
        held = ` (source ${cp.source}, replid ${cp.replid}, ${cp.phase}, next LSN per flow ${cp.lsns.map((l) => l ?? '?').join(',')})`;
      }
    } catch (err) {
      held = ` (${(err as Error).message})`;
    }
    const removed = Number(await router.call(key, ['DEL', key]));
    // A cluster's per-slot checkpoints (exactly-once there): <prefix>cp:{…}, one per slot.
    if (router.isCluster) {
      deleteSlotCheckpoints(router, prefix);
      await router.flush();
    }
    return removed > 0 ? `removed the checkpoint ${key.toString()} from ${resolved.reached}${held}` : `no checkpoint ${key.toString()} on ${resolved.reached}: nothing to do`;
  } finally {
    await router.close();
  }
}
