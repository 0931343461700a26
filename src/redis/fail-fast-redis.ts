// The ioredis connection handling shared by the gateway's Redis-backed stores
// (throttle counters, shared service tokens). Both treat Redis as something
// that may be down at any moment and must never stall a request, so the
// client fails fast instead of waiting: no offline queue (a command while
// disconnected is refused at once), a per-command time-out, a short connect
// time-out, reconnects forever with a capped backoff (at most 2 s apart), and
// a short disconnectTimeout so close() leaves no timer behind. The same holds
// for one Redis, a Sentinel-named master and each node of a cluster
// (redis-client.ts builds them). What a store does with a failure (reject,
// fall back, log) stays in the store.
import type { RedisSettings } from '../config/gateway-config.js';
import { isCluster, newRedisClient, type RedisClient } from './redis-client.js';

export { isCluster, type RedisClient };

const DEFAULT_COMMAND_TIMEOUT_MS = 250;

export interface FailFastRedisOptions {
  /** Longest wait for one Redis command before it fails. Default 250; an integer 1..60000. */
  readonly commandTimeoutMs?: number;
  /** Names the caller in the error thrown for a bad commandTimeoutMs, e.g. `RedisWindowStore`. */
  readonly owner: string;
}

/** Told when the connection as a whole comes up or goes; for a cluster, the cluster's connection, not one node's. */
export interface ConnectionListener {
  ready(): void;
  /** `err` is undefined when the connection just closed. */
  lost(err: unknown): void;
}

export interface FailFastRedis {
  readonly redis: RedisClient;
  readonly commandTimeoutMs: number;
  /**
   * Commands sent before the first connection is ready would be refused (no
   * offline queue), so the first calls after create() await this: it resolves
   * once the first connection attempt has settled (ready or error), at most
   * one command time-out later. Afterwards it resolves at once, and a
   * disconnected Redis fails at once.
   */
  startupGrace(): Promise<void>;
  /**
   * Subscribes to the connection's state. Also what keeps ioredis from printing
   * every failed reconnect to stderr (it does so for an 'error' without a listener).
   */
  onConnection(listener: ConnectionListener): void;
}

/**
 * Connects at once (a URL or password is never logged); a Redis that is down
 * now is retried in the background. Call onConnection() at once, or ioredis
 * prints every failed reconnect to stderr.
 *
 * @example
 * const { redis, startupGrace, onConnection } = createFailFastRedis({ kind: 'single', url }, { owner: 'MyStore' });
 * onConnection({ ready: () => log.debug('Redis up'), lost: (err) => log.debug({ redisError: describeRedisError(err) }, 'Redis down') });
 * await startupGrace();
 * await redis.get('key');
 * await closeRedis(redis);
 */
export function createFailFastRedis(settings: RedisSettings, options: FailFastRedisOptions): FailFastRedis {
  const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs < 1 || commandTimeoutMs > 60_000) {
    throw new Error(`${options.owner}: commandTimeoutMs must be an integer 1..60000`);
  }
  const redis = newRedisClient(settings, commandTimeoutMs);

  let settledFirstConnect = false;
  const firstConnect = new Promise<void>((resolve) => {
    const settle = (): void => {
      settledFirstConnect = true;
      resolve();
    };
    redis.once('ready', settle);
    redis.once('error', settle);
  });

  const startupGrace = async (): Promise<void> => {
    if (settledFirstConnect || redis.status === 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, commandTimeoutMs);
    });
    await Promise.race([firstConnect, timeout]);
    clearTimeout(timer);
  };

  const onConnection = (listener: ConnectionListener): void => {
    redis.on('ready', () => listener.ready());
    redis.on('close', () => listener.lost(undefined));
    // A cluster that is up reports the trouble of one node (a failed slot refresh) as an
    // 'error' too: that is no outage of the whole, and its commands say which keys fail.
    redis.on('error', (err: unknown) => {
      if (!isCluster(redis) || redis.status !== 'ready') listener.lost(err);
    });
  };

  return { redis, commandTimeoutMs, startupGrace, onConnection };
}

/** Closes the client for good: QUIT when connected (falling back to disconnect), else disconnect, which stops reconnecting. */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect(); // stops reconnecting; nothing to flush
    return;
  }
  await redis.quit().catch(() => redis.disconnect());
}

/**
 * What a log may say about a Redis failure: the error code (ECONNREFUSED, …)
 * or class name and ioredis's message, which names host and port but never
 * the URL's password or a command's arguments. Bounded in length. undefined
 * (a 'close' event, which carries no error) reads `connection closed`.
 */
export function describeRedisError(err: unknown): string {
  if (err === undefined) return 'connection closed';
  // Duck-typed: errors from another realm (node:net under Jest's VM) fail `instanceof Error`.
  const { code, name, message } = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const label = typeof code === 'string' ? code : typeof name === 'string' ? name : 'Error';
  return `${label}: ${typeof message === 'string' ? message : String(err)}`.slice(0, 200);
}
