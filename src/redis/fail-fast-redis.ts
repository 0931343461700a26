// The ioredis connection handling shared by the gateway's Redis-backed stores
// (throttle counters, shared service tokens). Both treat Redis as something
// that may be down at any moment and must never stall a request, so the
// client fails fast instead of waiting: no offline queue (a command while
// disconnected is refused at once), a per-command time-out, a short connect
// time-out, reconnects forever with a capped backoff (at most 2 s apart), and
// a short disconnectTimeout so close() leaves no timer behind. What a store
// does with a failure (reject, fall back, log) stays in the store.
import { Redis } from 'ioredis';

const DEFAULT_COMMAND_TIMEOUT_MS = 250;
const CONNECT_TIMEOUT_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 2_000;
const RECONNECT_STEP_MS = 100;
const DISCONNECT_TIMEOUT_MS = 100;

export interface FailFastRedisOptions {
  /** Longest wait for one Redis command before it fails. Default 250; an integer 1..60000. */
  readonly commandTimeoutMs?: number;
  /** Names the caller in the error thrown for a bad commandTimeoutMs, e.g. `RedisWindowStore`. */
  readonly owner: string;
}

export interface FailFastRedis {
  readonly redis: Redis;
  readonly commandTimeoutMs: number;
  /**
   * Commands sent before the first connection is ready would be refused (no
   * offline queue), so the first calls after create() await this: it resolves
   * once the first connection attempt has settled (ready or error), at most
   * one command time-out later. Afterwards it resolves at once, and a
   * disconnected Redis fails at once.
   */
  startupGrace(): Promise<void>;
}

/**
 * Connects at once (url is redis:// or rediss://, never logged: it may carry a
 * password); a Redis that is down now is retried in the background. The
 * caller must add its own 'error' listener, or ioredis prints every failed
 * reconnect to stderr.
 *
 * @example
 * const { redis, startupGrace } = createFailFastRedis(url, { owner: 'MyStore', commandTimeoutMs: 250 });
 * redis.on('error', (err) => log.debug({ redisError: describeRedisError(err) }, 'Redis down'));
 * await startupGrace();
 * await redis.get('key');
 * await closeRedis(redis);
 */
export function createFailFastRedis(url: string, options: FailFastRedisOptions): FailFastRedis {
  const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs < 1 || commandTimeoutMs > 60_000) {
    throw new Error(`${options.owner}: commandTimeoutMs must be an integer 1..60000`);
  }
  const redis = new Redis(url, {
    // Fail fast: a command while disconnected is refused at once instead of
    // queued, and one that gets no answer gives up after commandTimeoutMs.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: CONNECT_TIMEOUT_MS,
    lazyConnect: false,
    // close() while disconnected: ioredis ends the (often already dead) socket and
    // destroys it after this long; its 2 s default keeps a timer alive after close().
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    // Keep reconnecting for as long as the process lives, at most 2 s apart.
    retryStrategy: (attempt: number) => Math.min(attempt * RECONNECT_STEP_MS, MAX_RECONNECT_DELAY_MS),
  });

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

  return { redis, commandTimeoutMs, startupGrace };
}

/** Closes the client for good: QUIT when connected (falling back to disconnect), else disconnect, which stops reconnecting. */
export async function closeRedis(redis: Redis): Promise<void> {
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
