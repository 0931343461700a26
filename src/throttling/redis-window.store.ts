// Fixed-window counters in Redis (`throttle.storage: redis`), shared by every
// replica. Written here instead of using @nest-lab/throttler-storage-redis:
// the gateway needs peek(), a health flag and fail-fast errors for its
// onStorageError policy, and a fixed window is one small script (INCR +
// PEXPIRE). Every counter carries a TTL, so keys never pile up.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { secondsUntil, type WindowRecord, windowMs } from './memory-window.store.js';
import type { WindowStore } from './window-store.js';

const DEFAULT_COMMAND_TIMEOUT_MS = 250;
const CONNECT_TIMEOUT_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 2_000;
const RECONNECT_STEP_MS = 100;
const DISCONNECT_TIMEOUT_MS = 100;

// One atomic step, so replicas never race between counting and setting the
// expiry: INCR, and the window's PEXPIRE on its first hit. A key without a
// TTL (PTTL -1: written by something else, or an expiry lost) gets one too,
// so no counter lives forever. Answers { hits, pttl in ms }.
const INCREMENT_SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
local pttl = redis.call('PTTL', KEYS[1])
if hits == 1 or pttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  pttl = tonumber(ARGV[1])
end
return { hits, pttl }
`;

/** The client with the script defined on it (ioredis: EVALSHA, falling back to EVAL on NOSCRIPT). */
type ScriptedRedis = Redis & { throttleIncrement(key: string, ttlMs: number): Promise<[number, number]> };

export interface RedisWindowStoreOptions {
  /** redis:// or rediss:// URL (REDIS_URL). Never logged: it may carry a password. */
  readonly url: string;
  /** Put before every key, e.g. `gateway:`; counters live at `<prefix>throttle:<key>`. */
  readonly keyPrefix: string;
  readonly log: Logger;
  /** Longest wait for one Redis command before it fails. Default 250. */
  readonly commandTimeoutMs?: number;
}

/**
 * Fixed windows in Redis: `<prefix>throttle:<key>` holds the hit count of
 * the key's current window and expires with it. Fails fast while Redis is
 * down: increment() and peek() reject (at once when disconnected, after
 * commandTimeoutMs when Redis does not answer); ResilientWindowStore decides
 * what the request gets. Reconnects by itself, forever, at most 2 s apart.
 *
 * @example
 * const store = RedisWindowStore.create({ url: 'redis://127.0.0.1:6379', keyPrefix: 'gateway:', log });
 * const { totalHits, isBlocked } = await store.increment('orders:burst:caller', 1_000, 10, 1_000, 'burst');
 * store.healthy; // false while the connection is down
 * await store.close();
 */
export class RedisWindowStore implements WindowStore {
  readonly #firstConnect: Promise<void>;
  #settledFirstConnect = false;
  #healthy = false;
  #closed = false;

  private constructor(
    private readonly redis: ScriptedRedis,
    private readonly keyPrefix: string,
    private readonly log: Logger,
    private readonly commandTimeoutMs: number,
  ) {
    this.#firstConnect = new Promise<void>((resolve) => {
      const settle = (): void => {
        this.#settledFirstConnect = true;
        resolve();
      };
      redis.once('ready', settle);
      redis.once('error', settle);
    });
    // Without an 'error' listener ioredis prints every failed reconnect to stderr.
    redis.on('error', (err: unknown) => this.#down(err));
    redis.on('close', () => this.#down(undefined));
    redis.on('ready', () => this.#up());
  }

  /** Connects at once; a Redis that is down now is retried in the background (≤ 2 s apart). */
  static create(options: RedisWindowStoreOptions): RedisWindowStore {
    const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs < 1 || commandTimeoutMs > 60_000) {
      throw new Error('RedisWindowStore: commandTimeoutMs must be an integer 1..60000');
    }
    const redis = new Redis(options.url, {
      // Fail fast: a command while disconnected is refused at once instead of
      // queued, and one that gets no answer gives up after commandTimeoutMs.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: commandTimeoutMs,
      connectTimeout: CONNECT_TIMEOUT_MS,
      lazyConnect: false,
      // close() while disconnected: ioredis destroys the socket after this long;
      // its 2 s default keeps a timer alive after close().
      disconnectTimeout: DISCONNECT_TIMEOUT_MS,
      // Keep reconnecting for as long as the process lives, at most 2 s apart.
      retryStrategy: (attempt: number) => Math.min(attempt * RECONNECT_STEP_MS, MAX_RECONNECT_DELAY_MS),
    });
    redis.defineCommand('throttleIncrement', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
    return new RedisWindowStore(redis as ScriptedRedis, options.keyPrefix, options.log, commandTimeoutMs);
  }

  /**
   * True while the connection is up and the last command got an answer; false
   * before the first connection, while reconnecting, after a failed command
   * and after close().
   */
  get healthy(): boolean {
    return this.#healthy && !this.#closed;
  }

  async increment(key: string, ttl: number, limit: number, _blockDuration: number, _throttlerName: string): Promise<WindowRecord> {
    const ttlMs = windowMs(ttl);
    const [hits, pttl] = await this.#run(() => this.redis.throttleIncrement(this.#key(key), ttlMs));
    // Seconds from Redis's own clock (PTTL), so replicas with skewed clocks agree.
    const timeToExpire = secondsUntil(pttl, 0);
    const isBlocked = hits > limit;
    return { totalHits: hits, timeToExpire, isBlocked, timeToBlockExpire: isBlocked ? timeToExpire : 0 };
  }

  async peek(key: string): Promise<number> {
    const value = await this.#run(() => this.redis.get(this.#key(key)));
    return value === null ? 0 : Number.parseInt(value, 10) || 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.redis.status !== 'ready') {
      this.redis.disconnect(); // stops reconnecting; nothing to flush
      return;
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  #key(key: string): string {
    return `${this.keyPrefix}throttle:${key}`;
  }

  /** Runs one command; its failure marks the store unhealthy and rejects. */
  async #run<T>(command: () => Promise<T>): Promise<T> {
    await this.#startupGrace();
    try {
      const result = await command();
      this.#up();
      return result;
    } catch (err: unknown) {
      this.#down(err);
      throw err;
    }
  }

  /**
   * Commands sent before the first connection is ready would be refused (no
   * offline queue), so the first calls after create() wait for it, at most one
   * command time-out. Later on, a disconnected Redis fails at once.
   */
  async #startupGrace(): Promise<void> {
    if (this.#settledFirstConnect || this.redis.status === 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.commandTimeoutMs);
    });
    await Promise.race([this.#firstConnect, timeout]);
    clearTimeout(timer);
  }

  #up(): void {
    if (this.#closed || this.#healthy) return;
    this.#healthy = true;
    this.log.debug('throttle store: Redis connection ready');
  }

  /** Only a debug line: ResilientWindowStore logs the outage once, with its policy. */
  #down(err: unknown): void {
    if (this.#closed || !this.#healthy) return;
    this.#healthy = false;
    this.log.debug({ redisError: describeRedisError(err) }, 'throttle store: Redis connection lost or command failed');
  }
}

/**
 * What a log may say about a Redis failure: the error code (ECONNREFUSED, …)
 * or class name and ioredis's message, which names host and port but never
 * the URL's password or a command's arguments. Bounded in length.
 */
export function describeRedisError(err: unknown): string {
  if (err === undefined) return 'connection closed';
  // Duck-typed: errors from another realm (node:net under Jest's VM) fail `instanceof Error`.
  const { code, name, message } = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const label = typeof code === 'string' ? code : typeof name === 'string' ? name : 'Error';
  return `${label}: ${typeof message === 'string' ? message : String(err)}`.slice(0, 200);
}
