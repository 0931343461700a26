// The one place an ioredis client is built for the gateway: one Redis
// (REDIS_URL), a Redis Cluster (REDIS_CLUSTER_NODES) or the master a set of
// Sentinels names (REDIS_SENTINELS), all with the same fail-fast options
// (see fail-fast-redis.ts for why). Only what differs per kind lives here.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisSettings } from '../config/gateway-config.js';

/** What a store talks to: both kinds take the same commands (Cluster routes each key to its master). */
export type RedisClient = Redis | Cluster;

const CONNECT_TIMEOUT_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 2_000;
const RECONNECT_STEP_MS = 100;
const DISCONNECT_TIMEOUT_MS = 100;

/** Keep reconnecting for as long as the process lives, at most 2 s apart. */
const reconnectDelay = (attempt: number): number => Math.min(attempt * RECONNECT_STEP_MS, MAX_RECONNECT_DELAY_MS);

/** The options every connection gets, to a single Redis, a Sentinel-named master or each cluster node. */
function failFastOptions(commandTimeoutMs: number) {
  return {
    // Fail fast: a command while disconnected is refused at once instead of
    // queued, and one that gets no answer gives up after commandTimeoutMs.
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: CONNECT_TIMEOUT_MS,
    lazyConnect: false,
    // close() while disconnected: ioredis ends the (often already dead) socket and
    // destroys it after this long; its 2 s default keeps a timer alive after close().
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
  } satisfies RedisOptions;
}

/**
 * Connects at once; a Redis that is down now is retried in the background. The
 * caller adds the 'error' listener (fail-fast-redis.ts does) and closes it.
 */
export function newRedisClient(settings: RedisSettings, commandTimeoutMs: number): RedisClient {
  switch (settings.kind) {
    case 'single':
      return new Redis(settings.url, { ...failFastOptions(commandTimeoutMs), enableOfflineQueue: false, retryStrategy: reconnectDelay });
    case 'sentinel':
      return new Redis({
        ...failFastOptions(commandTimeoutMs),
        enableOfflineQueue: false,
        retryStrategy: reconnectDelay,
        sentinels: settings.sentinels.map(({ host, port }) => ({ host, port })),
        name: settings.masterName,
        ...(settings.password === undefined ? {} : { password: settings.password }),
        // CONTRACT: a fail-over is followed within 20 s. Each reconnect asks the Sentinels for
        // the master again (≤ 2 s apart). A master demoted without dying has its clients killed
        // by Sentinel; should a connection survive, its first write answers READONLY, and that
        // reconnects too. Not ioredis's failoverDetector: a +switch-master arriving while a
        // reconnect is in progress ends the client for good (seen with ioredis 5.11).
        reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
        sentinelRetryStrategy: reconnectDelay,
        sentinelCommandTimeout: CONNECT_TIMEOUT_MS,
      });
    case 'cluster':
      return new Cluster(
        settings.nodes.map(({ host, port }) => ({ host, port })),
        {
          enableOfflineQueue: false,
          clusterRetryStrategy: reconnectDelay,
          slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
          // Every node the cluster names (not only the seeds) gets the same options and credentials.
          redisOptions: {
            ...failFastOptions(commandTimeoutMs),
            ...(settings.username === undefined ? {} : { username: settings.username }),
            ...(settings.password === undefined ? {} : { password: settings.password }),
            ...(settings.tls ? { tls: {} } : {}),
          },
        },
      );
  }
}

/** A cluster: a failed command speaks for one master only, and readiness needs every master. */
export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster;
}
