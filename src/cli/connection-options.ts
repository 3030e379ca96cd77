/**
 * The credentials and TLS material of each side given apart from its URL: the flags
 * (`--source-user`, `--target-tls-ca` …), and their validation into {@link ConnectionSettings}
 * (reading the files they name).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ConnectionSettings } from '../config/connection-settings.js';
import * as z from 'zod/mini';
import { checkedField, parseWithSchema, type OptionSources } from '../config/options.js';
import { ConfigError } from '../errors.js';

/**
 * Adds, for each side, the credentials and TLS material that need not be in the URL:
 * `--source-user`, `--source-password-file`, `--source-tls-ca`, `--source-tls-cert`,
 * `--source-tls-key`, `--source-tls-insecure`, and the same for `--target-…`. The passwords
 * themselves have no flag (argv shows in `ps`): `DF2REDIS_SOURCE_PASSWORD`, `DF2REDIS_TARGET_PASSWORD`
 * or the `source-password` / `target-password` keys of the config file.
 */
export function addConnectionOptions(cmd: Command): Command {
  for (const side of ['source', 'target'] as const) {
    const what = side === 'source' ? 'Dragonfly source' : 'target (every node of a cluster)';
    cmd
      .option(`--${side}-user <name>`, `${what}: ACL user name for AUTH (instead of in the URL)`)
      .option(
        `--${side}-password-file <file>`,
        `${what}: read the AUTH password from this file (one trailing newline ignored); or DF2REDIS_${side.toUpperCase()}_PASSWORD`,
      )
      .option(`--${side}-tls-ca <file>`, `${what}: PEM CA certificate(s) to trust for rediss:// (default: the system's)`)
      .option(`--${side}-tls-cert <file>`, `${what}: PEM client certificate for mutual TLS (with --${side}-tls-key)`)
      .option(`--${side}-tls-key <file>`, `${what}: PEM private key of --${side}-tls-cert`)
      .option(`--${side}-tls-insecure`, `${what}: accept any TLS certificate (self-signed test setups only)`, false);
  }
  return cmd;
}

/** A file's bytes. @throws Error naming the file and the system error code. */
function readOptionFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

const optionalText = checkedField((v): string | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new Error(`must be a non-empty string; got ${JSON.stringify(v)}`);
  return v;
});

const optionalFile = <T>(read: (bytes: Buffer) => T) =>
  checkedField((v): T | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') throw new Error(`must be a file path; got ${JSON.stringify(v)}`);
    return read(readOptionFile(v));
  });

const passwordFromFile = (bytes: Buffer): string => {
  const text = bytes.toString('utf8').replace(/\r?\n$/, '');
  if (text === '') throw new Error('holds an empty password');
  return text;
};

const switchValue = checkedField((v): boolean => {
  if (v === undefined || typeof v === 'boolean') return v === true;
  throw new Error(`takes no value (true or false in a config file); got ${JSON.stringify(v)}`);
});

/** The schema of one side's connection options, keyed as commander names them (`sourceTlsCa`). */
function connectionSchema(side: 'source' | 'target') {
  return z.object({
    [`${side}User`]: optionalText,
    [`${side}Password`]: optionalText,
    [`${side}PasswordFile`]: optionalFile(passwordFromFile),
    [`${side}TlsCa`]: optionalFile((b) => b),
    [`${side}TlsCert`]: optionalFile((b) => b),
    [`${side}TlsKey`]: optionalFile((b) => b),
    [`${side}TlsInsecure`]: switchValue,
  });
}

/**
 * Validates one side's credentials and TLS options (reading the files they name) into
 * {@link ConnectionSettings}; undefined when none is given.
 * @throws ConfigError naming the option and its source (flag, variable, config file line): an
 *   unreadable file, an empty password, both a password file and a password, a certificate without
 *   its key.
 */
export function connectionSettingsFrom(raw: Record<string, unknown>, side: 'source' | 'target', sources: OptionSources = {}): ConnectionSettings | undefined {
  const flags: Record<string, string> = {
    [`${side}User`]: `--${side}-user`,
    [`${side}Password`]: `DF2REDIS_${side.toUpperCase()}_PASSWORD`,
    [`${side}PasswordFile`]: `--${side}-password-file`,
    [`${side}TlsCa`]: `--${side}-tls-ca`,
    [`${side}TlsCert`]: `--${side}-tls-cert`,
    [`${side}TlsKey`]: `--${side}-tls-key`,
    [`${side}TlsInsecure`]: `--${side}-tls-insecure`,
  };
  const v = parseWithSchema(connectionSchema(side), raw, flags, sources) as Record<string, unknown>;
  const name = (k: string): string => sources[k] ?? flags[k]!;
  const fromFile = v[`${side}PasswordFile`] as string | undefined;
  const given = v[`${side}Password`] as string | undefined;
  if (fromFile !== undefined && given !== undefined) {
    throw new ConfigError(`${name(`${side}PasswordFile`)} and ${name(`${side}Password`)} both give the ${side} password: keep one`);
  }
  const cert = v[`${side}TlsCert`] as Buffer | undefined;
  const key = v[`${side}TlsKey`] as Buffer | undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(`${name(cert === undefined ? `${side}TlsKey` : `${side}TlsCert`)} needs ${cert === undefined ? `--${side}-tls-cert` : `--${side}-tls-key`} too (mutual TLS)`);
  }
  const settings: ConnectionSettings = {
    username: v[`${side}User`] as string | undefined,
    password: fromFile ?? given,
    tls: { isInsecure: v[`${side}TlsInsecure`] === true, ca: v[`${side}TlsCa`] as Buffer | undefined, cert, key },
  };
  const isEmpty = settings.username === undefined && settings.password === undefined && !settings.tls.isInsecure && settings.tls.ca === undefined && cert === undefined;
  return isEmpty ? undefined : settings;
}
