/**
 * Credentials and TLS material of one side (source or target), given apart from its URL so no
 * secret has to be on the command line (`--source-password-file`, `DF2REDIS_TARGET_PASSWORD`,
 * `--target-tls-ca` …). The CLI reads the files; library code only sees these values.
 */
import { ConfigError } from '../errors.js';

/** TLS settings of a `rediss://` side; ignored for `redis://`. */
export interface TlsSettings {
  /** Accept any certificate (self-signed test setups only). @default false */
  isInsecure: boolean;
  /** PEM CA certificate(s) to trust instead of Node's default store. */
  ca?: Buffer;
  /** PEM client certificate chain for mutual TLS (with {@link TlsSettings.key}). */
  cert?: Buffer;
  /** PEM private key of {@link TlsSettings.cert}. */
  key?: Buffer;
}

/** How to reach and authenticate to one side, besides its URL. */
export interface ConnectionSettings {
  /** ACL user name for `AUTH user password`; only with a password. */
  username?: string;
  /** Password for `AUTH`; a URL of the same side that also holds one is refused (give it once). */
  password?: string;
  tls: TlsSettings;
}

/** Node `tls.connect` options of `settings` (undefined: only `isInsecure`, the shared `--tls-insecure`). */
export function tlsConnectOptions(
  settings: ConnectionSettings | undefined,
  isInsecure: boolean,
): { tlsInsecure: boolean; ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const t = settings?.tls;
  return { tlsInsecure: isInsecure || t?.isInsecure === true, ca: t?.ca, cert: t?.cert, key: t?.key };
}

/**
 * `ep` with the user name and password of `settings` applied (a copy). A URL that already holds a
 * password while one is also given apart is refused, so the two can never silently disagree.
 * @param side `source` or `target`, named in the error.
 * @throws ConfigError both a URL password and a password option.
 */
export function withCredentials<T extends { username?: string; password?: string }>(
  ep: T,
  settings: ConnectionSettings | undefined,
  side: 'source' | 'target',
): T {
  if (settings === undefined || (settings.password === undefined && settings.username === undefined)) return ep;
  if (settings.password === undefined) {
    throw new ConfigError(`--${side}-user needs a password (--${side}-password-file or DF2REDIS_${side.toUpperCase()}_PASSWORD)`);
  }
  if (ep.password !== undefined) {
    throw new ConfigError(
      `the --${side} URL holds a password and one is also given by --${side}-password-file or DF2REDIS_${side.toUpperCase()}_PASSWORD: give it once`,
    );
  }
  const out = { ...ep, password: settings.password };
  if (settings.username !== undefined) out.username = settings.username;
  return out;
}
