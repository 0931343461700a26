// Fixed-window counters in Redis (`throttle.storage: redis`), shared by every
// replica. Written here instead of using @nest-lab/throttler-storage-redis:
// the gateway needs peek(), a health flag and fail-fast errors for its
// onStorageError policy, and a fixed window is one small script (INCR +
// PEXPIRE). Every counter carries a TTL, so keys never pile up.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { closeRedis, createFailFastRedis, describeRedisError } from '../redis/fail-fast-redis.js';
import { secondsUntil, type WindowRecord, windowMs } from './memory-window.store.js';
import type { WindowStore } from './window-store.js';

// Re-exported: ResilientWindowStore (and anything else) imports it from here.
export { describeRedisError };

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
  #healthy = false;
  #closed = false;

  private constructor(
    private readonly redis: ScriptedRedis,
    private readonly keyPrefix: string,
    private readonly log: Logger,
    private readonly startupGrace: () => Promise<void>,
  ) {
    // Without an 'error' listener ioredis prints every failed reconnect to stderr.
    redis.on('error', (err: unknown) => this.#down(err));
    redis.on('close', () => this.#down(undefined));
    redis.on('ready', () => this.#up());
  }

  /** Connects at once; a Redis that is down now is retried in the background (≤ 2 s apart). */
  static create(options: RedisWindowStoreOptions): RedisWindowStore {
    const { redis, startupGrace } = createFailFastRedis(options.url, {
      commandTimeoutMs: options.commandTimeoutMs,
      owner: 'RedisWindowStore',
    });
    redis.defineCommand('throttleIncrement', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
    return new RedisWindowStore(redis as ScriptedRedis, options.keyPrefix, options.log, startupGrace);
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
    await closeRedis(this.redis);
  }

  #key(key: string): string {
    return `${this.keyPrefix}throttle:${key}`;
  }

  /** Runs one command; its failure marks the store unhealthy and rejects. */
  async #run<T>(command: () => Promise<T>): Promise<T> {
    await this.startupGrace(); // waits for the first connection, at most one command time-out
    try {
      const result = await command();
      this.#up();
      return result;
    } catch (err: unknown) {
      this.#down(err);
      throw err;
    }
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
