// The SharedTokenStore on Redis: one replica fetches a client's token, the
// others read it. Values are sealed by TokenCipher (AES-256-GCM) with the
// Redis key as associated data, so a value copied to another key does not
// open. Redis is an optimisation here, never a dependency: every method
// resolves fast when Redis is down, and the provider then fetches locally.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { RedisSettings } from '../../config/gateway-config.js';
import { closeRedis, createFailFastRedis, describeRedisError, type RedisClient } from '../../redis/fail-fast-redis.js';
import type { ServiceToken, SharedTokenStore } from './service-token.js';
import type { TokenCipher } from './token-cipher.js';

// GET + DEL in one step, so a lock that expired and was taken by another
// replica is never deleted by its former owner. Its one key is the lock.
const UNLOCK_IF_OWNER = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface RedisTokenStoreOptions {
  /** Which Redis (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS). Never logged: it may carry a password. */
  readonly redis: RedisSettings;
  /** Put before every key, e.g. `gateway:`. */
  readonly keyPrefix: string;
  readonly cipher: TokenCipher;
  readonly log: Logger;
  /** Longest wait for one Redis command before it counts as unavailable. Default 250. */
  readonly commandTimeoutMs?: number;
  /** Epoch ms; for the TTL of stored tokens. Default Date.now. */
  readonly now?: () => number;
  /** Called for each Redis command that failed (gateway_redis_errors_total{store="token_cache"}). */
  readonly onCommandError?: () => void;
}

type Fallback<T> = { readonly fallback: T };

/**
 * Service tokens shared by every replica, encrypted, in Redis:
 * `<prefix>svc-token:{<slot>}` holds the sealed token until it expires, and
 * `<prefix>svc-token-lock:{<slot>}` is the short lock of the replica fetching
 * it. `{<slot>}` is a Redis Cluster hash tag: a slot's token and lock live on
 * one master, so a script may touch both.
 *
 * @example
 * const store = RedisTokenStore.create({ redis: { kind: 'single', url: 'redis://127.0.0.1:6379' }, keyPrefix: 'gateway:', cipher, log });
 * if ((await store.lock('orders', 5_000)) === 'acquired') {
 *   try { await store.set('orders', await fetchToken()); } finally { await store.unlock('orders'); }
 * }
 * await store.get('orders'); // { accessToken, expiresAt, refreshAt } or undefined
 */
export class RedisTokenStore implements SharedTokenStore {
  /** Owner values of the locks this instance holds, by slot. */
  readonly #lockOwners = new Map<string, string>();
  /** Slots whose stored value did not open (logged once until one opens again). */
  readonly #unreadable = new Set<string>();
  #available = true;
  #closed = false;

  private constructor(
    private readonly redis: RedisClient,
    private readonly options: RedisTokenStoreOptions,
    private readonly startupGrace: () => Promise<void>,
  ) {}

  /** Connects at once; a Redis that is down now is retried in the background (≤ 2 s apart). */
  static create(options: RedisTokenStoreOptions): RedisTokenStore {
    const { redis, startupGrace, onConnection } = createFailFastRedis(options.redis, {
      commandTimeoutMs: options.commandTimeoutMs,
      owner: 'RedisTokenStore',
    });
    const store = new RedisTokenStore(redis, options, startupGrace);
    onConnection({ ready: () => store.#availableAgain(), lost: (err) => store.#unavailable(err) });
    return store;
  }

  async get(slot: string): Promise<ServiceToken | undefined> {
    const key = this.#tokenKey(slot);
    const sealed = await this.#run(() => this.redis.get(key), { fallback: null });
    if (sealed === null) return undefined;
    const token = parseToken(this.options.cipher.open(sealed, key));
    if (!token) {
      this.#unreadableValue(slot);
      return undefined;
    }
    this.#unreadable.delete(slot);
    return token;
  }

  async set(slot: string, token: ServiceToken): Promise<void> {
    const ttlMs = Math.floor(token.expiresAt - (this.options.now ?? Date.now)());
    if (!(ttlMs > 0)) return; // already expired (or NaN): nothing worth sharing
    const key = this.#tokenKey(slot);
    const value: ServiceToken = { accessToken: token.accessToken, expiresAt: token.expiresAt, refreshAt: token.refreshAt };
    const sealed = this.options.cipher.seal(JSON.stringify(value), key);
    await this.#run(() => this.redis.set(key, sealed, 'PX', ttlMs), { fallback: null });
  }

  async delete(slot: string): Promise<void> {
    const key = this.#tokenKey(slot);
    await this.#run(() => this.redis.del(key), { fallback: 0 });
  }

  async lock(slot: string, ttlMs: number): Promise<'acquired' | 'held' | 'unavailable'> {
    // A caller's bug, not an outage: rejected here rather than sent for Redis to refuse.
    if (!(Number.isFinite(ttlMs) && ttlMs > 0)) throw new RangeError('RedisTokenStore: lock ttlMs must be a positive number');
    const px = Math.ceil(ttlMs);
    const owner = randomBytes(16).toString('base64url');
    const key = this.#lockKey(slot);
    const reply = await this.#run(() => this.redis.set(key, owner, 'PX', px, 'NX'), { fallback: undefined });
    if (reply === undefined) return 'unavailable';
    if (reply !== 'OK') return 'held';
    this.#lockOwners.set(slot, owner);
    return 'acquired';
  }

  async unlock(slot: string): Promise<void> {
    const owner = this.#lockOwners.get(slot);
    if (owner === undefined) return; // not ours: another replica's lock is left alone
    this.#lockOwners.delete(slot);
    const key = this.#lockKey(slot);
    await this.#run(() => this.redis.eval(UNLOCK_IF_OWNER, 1, key, owner), { fallback: 0 });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#lockOwners.clear();
    await closeRedis(this.redis);
  }

  #tokenKey(slot: string): string {
    return `${this.options.keyPrefix}svc-token:{${slot}}`;
  }

  #lockKey(slot: string): string {
    return `${this.options.keyPrefix}svc-token-lock:{${slot}}`;
  }

  /** Runs one command; Redis down, slow or failing gives the fallback (and one warn per outage). */
  async #run<T, F>(command: () => Promise<T>, { fallback }: Fallback<F>): Promise<T | F> {
    if (this.#closed) return fallback;
    await this.startupGrace(); // waits for the first connection, at most one command time-out
    try {
      const result = await command();
      this.#availableAgain();
      return result;
    } catch (err: unknown) {
      this.options.onCommandError?.();
      this.#unavailable(err);
      return fallback;
    }
  }

  #unavailable(err: unknown): void {
    if (this.#closed || !this.#available) return;
    this.#available = false;
    this.options.log.warn(
      { redisError: describeRedisError(err) },
      'service-token store: Redis unavailable; each replica fetches its own service tokens until it is back',
    );
  }

  #availableAgain(): void {
    if (this.#closed || this.#available) return;
    this.#available = true;
    this.options.log.info('service-token store: Redis available again; service tokens are shared again');
  }

  #unreadableValue(slot: string): void {
    if (this.#unreadable.has(slot)) return;
    this.#unreadable.add(slot);
    // No value, kid or error text: only which slot, and that it counts as a miss.
    this.options.log.warn(
      { slot },
      'service-token store: a stored service token could not be decrypted (key not configured here, or tampered); treated as a miss',
    );
  }
}

/** The three fields of a ServiceToken from JSON, or undefined for anything else. */
function parseToken(json: string | undefined): ServiceToken | undefined {
  if (json === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined; // authenticated but not JSON: written by something else; a miss, like any unreadable value
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { accessToken, expiresAt, refreshAt } = value as Record<string, unknown>;
  if (typeof accessToken !== 'string' || accessToken === '') return undefined;
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return undefined;
  if (typeof refreshAt !== 'number' || !Number.isFinite(refreshAt)) return undefined;
  return { accessToken, expiresAt, refreshAt };
}
