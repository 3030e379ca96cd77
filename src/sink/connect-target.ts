/**
 * Opening the target: one or more seed URLs, a standalone Redis or a Redis Cluster told apart by
 * `INFO cluster` (`cluster_enabled:1`), and the capabilities read once (see {@link TargetInfo}).
 */
import { splitUrlList } from '../config/url-credentials.js';
import { ConfigError, ConnectionError, Df2RedisError } from '../errors.js';
import { withCredentials, type ConnectionSettings } from '../config/connection-settings.js';
import { ClusterRouter, type ClusterRouterOptions } from './cluster-router.js';
import { RedisConnection, type ConnectOptions } from './redis-connection.js';
import { StandaloneRouter, type Router } from './router.js';
import { readTargetInfo, type TargetInfo } from './target-info.js';
import { parseRedisUrl, type TargetEndpoint } from './target-url.js';

/** A target whose kind and capabilities are known; open routers on it with {@link openRouter}. */
export interface ResolvedTarget {
  /** The seed URLs as parsed, in the order given. */
  endpoints: TargetEndpoint[];
  info: TargetInfo;
  /** `host:port` of the seed that answered, for messages. */
  reached: string;
}

/**
 * Parses `--target`: one URL, or several separated by commas (cluster seeds:
 * `redis://a:7000,redis://b:7001`). Each is `redis://[user:password@]host:port[/db]` or `rediss://`.
 * @throws ConfigError naming the bad URL.
 */
export function parseTargetUrls(spec: string): TargetEndpoint[] {
  const urls = splitUrlList(spec);
  if (urls.length === 0) throw new ConfigError('--target is required');
  try {
    return urls.map(parseRedisUrl);
  } catch (err) {
    if (err instanceof Df2RedisError) throw new ConfigError(`--target: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * Connects to the first seed that answers and reads what the target is. A cluster target must use
 * database 0 in every seed URL; several seeds are only accepted for a cluster.
 * @throws ConfigError bad URL, several seeds for a standalone Redis, a db for a cluster.
 * @param options TLS options of every connection (`tlsInsecure`, `ca`, `cert`, `key`), and
 *   `credentials` applied to every seed and so to every node (see {@link withCredentials}).
 * @throws ConnectionError when no seed answers (the last seed's error).
 */
export async function resolveTarget(
  spec: string,
  options: Pick<ConnectOptions, 'tlsInsecure' | 'ca' | 'cert' | 'key'> & { credentials?: ConnectionSettings } = {},
): Promise<ResolvedTarget> {
  const endpoints = parseTargetUrls(spec).map((ep) => withCredentials(ep, options.credentials, 'target'));
  let lastErr: unknown;
  for (const ep of endpoints) {
    let conn: RedisConnection | undefined;
    try {
      conn = await RedisConnection.connect(ep, { tlsInsecure: options.tlsInsecure, ca: options.ca, cert: options.cert, key: options.key, role: 'target' });
      const info = await readTargetInfo(conn);
      const reached = conn.peer;
      if (info.clusterEnabled) {
        const withDb = endpoints.find((e) => e.db !== 0);
        if (withDb !== undefined) {
          throw new ConfigError(`--target ${reached} is a Redis Cluster, which has only database 0; remove /${withDb.db} from the URL`);
        }
      } else if (endpoints.length > 1) {
        throw new ConfigError(`--target lists ${endpoints.length} URLs, but ${reached} is a standalone Redis (cluster_enabled:0); give one URL`);
      }
      return { endpoints, info, reached };
    } catch (err) {
      if (!(err instanceof ConnectionError)) throw err;
      lastErr = err;
    } finally {
      await conn?.close().catch(() => undefined);
    }
  }
  throw lastErr;
}

/** Result of {@link targetDbPlan}. */
export interface TargetDbPlan {
  /** The source databases to copy (`--dbs`, or narrowed to the one the target's `/db` receives); undefined = all. */
  dbs: readonly number[] | undefined;
  /** The target database every copied key goes to; undefined = each key to its source database number. */
  targetDb: number | undefined;
}

/**
 * Where the copied databases go. Without a `/db` in the (standalone) target URL, each source
 * database is written to the target database of the same number. With one, that target database
 * receives exactly one source database: the only one `--dbs` names, else the only one the source
 * holds keys in (`sourceDbs`; an empty source counts as database 0, Dragonfly's default). A
 * cluster has only database 0 and keeps the plain mapping.
 * @param sourceDbs databases holding keys on the source (pre-scan, `INFO keyspace`); undefined = unknown.
 * @throws ConfigError (exit 2) naming the source databases when more than one would be copied, or
 *   when they cannot be known.
 */
export function targetDbPlan(target: ResolvedTarget, dbs: readonly number[] | undefined, sourceDbs: readonly number[] | undefined): TargetDbPlan {
  const ep = target.endpoints[0]!;
  if (target.info.clusterEnabled || ep.hasDb !== true) return { dbs, targetDb: undefined };
  const copied = dbs ?? (sourceDbs === undefined ? undefined : sourceDbs.length === 0 ? [0] : sourceDbs);
  if (copied !== undefined && copied.length === 1) return { dbs: copied, targetDb: ep.db };
  const what =
    copied === undefined
      ? 'the source databases cannot be listed (INFO keyspace refused)'
      : dbs !== undefined
        ? `--dbs names ${copied.length} databases (${copied.join(', ')})`
        : `the source has keys in ${copied.length} databases (${copied.join(', ')})`;
  throw new ConfigError(
    `--target ${target.reached}/${ep.db} names target database ${ep.db}, which can receive exactly one source database, but ${what}. ` +
      'Nothing was written. Pass --dbs <one database> to copy that one into it, or remove /' +
      `${ep.db} from the URL to copy every database into the target database of the same number.`,
  );
}

/**
 * Opens a router on a resolved target: a {@link ClusterRouter} (one connection per master) for a
 * cluster, else a {@link StandaloneRouter} on the first seed, writing every key into `targetDb`
 * when given ({@link targetDbPlan}).
 * @throws ConnectionError, ClusterError (uncovered slots)
 */
export async function openRouter(target: ResolvedTarget, options: ClusterRouterOptions & { targetDb?: number } = {}): Promise<Router> {
  if (target.info.clusterEnabled) return ClusterRouter.connect(target.endpoints, options);
  const router = await StandaloneRouter.connect(target.endpoints[0]!, options);
  if (options.targetDb !== undefined) router.useDatabase(options.targetDb);
  return router;
}
