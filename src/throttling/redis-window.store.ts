// Fixed-window counters in Redis (`throttle.storage: redis`), shared by every
// replica. Written here instead of using @nest-lab/throttler-storage-redis:
// the gateway needs peek(), a health flag and fail-fast errors for its
// onStorageError policy, and a fixed window is one small script (INCR +
// PEXPIRE). Every counter carries a TTL, so keys never pile up. One Redis, a
// Sentinel-named master or a Redis Cluster (src/redis/ builds the client).
import type { Logger } from 'pino';
import type { RedisSettings } from '../config/gateway-config.js';
import { MasterWatch } from '../redis/every-master.js';
import { closeRedis, createFailFastRedis, describeRedisError, isCluster, type RedisClient } from '../redis/fail-fast-redis.js';
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
type ScriptedRedis = RedisClient & { throttleIncrement(key: string, ttlMs: number): Promise<[number, number]> };

export interface RedisWindowStoreOptions {
  /** Which Redis (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS). Never logged: it may carry a password. */
  readonly redis: RedisSettings;
  /** Put before every key, e.g. `gateway:`; counters live at `<prefix>throttle:{<key>}`. */
  readonly keyPrefix: string;
  readonly log: Logger;
  /** Longest wait for one Redis command before it fails. Default 250. */
  readonly commandTimeoutMs?: number;
  /** Called for each Redis command that failed (gateway_redis_errors_total{store="throttle"}). */
  readonly onCommandError?: () => void;
}

/**
 * Fixed windows in Redis: `<prefix>throttle:{<key>}` holds the hit count of
 * the key's current window and expires with it. Fails fast while Redis is
 * down: increment() and peek() reject (at once when disconnected, after
 * commandTimeoutMs when Redis does not answer); ResilientWindowStore decides
 * what the request gets. Reconnects by itself, forever, at most 2 s apart.
 *
 * @example
 * const store = RedisWindowStore.create({ redis: { kind: 'single', url: 'redis://127.0.0.1:6379' }, keyPrefix: 'gateway:', log });
 * const { totalHits, isBlocked } = await store.increment('orders:burst:caller', 1_000, 10, 1_000, 'burst');
 * store.healthy; // false while the connection (on a cluster: any master) is down
 * await store.close();
 */
export class RedisWindowStore implements WindowStore {
  #connected = false;
  #closed = false;

  private constructor(
    private readonly redis: ScriptedRedis,
    private readonly options: RedisWindowStoreOptions,
    private readonly startupGrace: () => Promise<void>,
    /** Only for a cluster: whether every master answers (readiness). */
    private readonly masters: MasterWatch | undefined,
  ) {}

  /** Connects at once; a Redis that is down now is retried in the background (≤ 2 s apart). */
  static create(options: RedisWindowStoreOptions): RedisWindowStore {
    const { redis, startupGrace, onConnection } = createFailFastRedis(options.redis, {
      commandTimeoutMs: options.commandTimeoutMs,
      owner: 'RedisWindowStore',
    });
    redis.defineCommand('throttleIncrement', { numberOfKeys: 1, lua: INCREMENT_SCRIPT });
    const masters = isCluster(redis) ? new MasterWatch(redis) : undefined;
    const store = new RedisWindowStore(redis as ScriptedRedis, options, startupGrace, masters);
    onConnection({ ready: () => store.#up(), lost: (err) => store.#down(err) });
    return store;
  }

  /**
   * What /readyz consults under `deny`: reachable and, on a cluster, every
   * master answered the last PING round (CONTRACT: `deny` needs every master).
   */
  get healthy(): boolean {
    return this.reachable && (this.masters?.allAnswered ?? true);
  }

  /**
   * True while the connection is up and (one Redis) the last command got an
   * answer; false before the first connection, while reconnecting, after a
   * failed command and after close(). On a cluster a failed command does not
   * clear it: it speaks for one master, and the others' counters are still
   * reachable (CONTRACT: onStorageError applies per request).
   */
  get reachable(): boolean {
    return this.#connected && !this.#closed;
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
    this.masters?.stop();
    await closeRedis(this.redis);
  }

  /**
   * The key in braces is the Redis Cluster hash tag: the script's one key, so
   * everything a script touches is in one slot, and counters (route, window,
   * caller) spread over the masters.
   */
  #key(key: string): string {
    return `${this.options.keyPrefix}throttle:{${key}}`;
  }

  /** Runs one command; its failure is counted, marks one Redis unreachable, and rejects. */
  async #run<T>(command: () => Promise<T>): Promise<T> {
    await this.startupGrace(); // waits for the first connection, at most one command time-out
    try {
      const result = await command();
      this.#up();
      return result;
    } catch (err: unknown) {
      this.options.onCommandError?.();
      if (!isCluster(this.redis)) this.#down(err);
      throw err;
    }
  }

  #up(): void {
    if (this.#closed || this.#connected) return;
    this.#connected = true;
    this.options.log.debug('throttle store: Redis connection ready');
  }

  /** Only a debug line: ResilientWindowStore logs the outage once, with its policy. */
  #down(err: unknown): void {
    if (this.#closed || !this.#connected) return;
    this.#connected = false;
    this.options.log.debug({ redisError: describeRedisError(err) }, 'throttle store: Redis connection lost or command failed');
  }
}
