// The SharedTokenStore on Redis: one replica fetches a client's token, the
// others read it. Values are sealed by TokenCipher (AES-256-GCM) with the
// Redis key as associated data, so a value copied to another key does not
// open. Redis is an optimisation here, never a dependency: every method
// resolves fast when Redis is down, and the provider then fetches locally.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ServiceToken, SharedTokenStore } from './service-token.js';
import type { TokenCipher } from './token-cipher.js';

const DEFAULT_COMMAND_TIMEOUT_MS = 250;
const CONNECT_TIMEOUT_MS = 1_000;
const MAX_RECONNECT_DELAY_MS = 2_000;
const RECONNECT_STEP_MS = 100;
const DISCONNECT_TIMEOUT_MS = 100;

// GET + DEL in one step, so a lock that expired and was taken by another
// replica is never deleted by its former owner.
const UNLOCK_IF_OWNER = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface RedisTokenStoreOptions {
  /** redis:// or rediss:// URL (REDIS_URL). Never logged: it may carry a password. */
  readonly url: string;
  /** Put before every key, e.g. `gateway:`. */
  readonly keyPrefix: string;
  readonly cipher: TokenCipher;
  readonly log: Logger;
  /** Longest wait for one Redis command before it counts as unavailable. Default 250. */
  readonly commandTimeoutMs?: number;
  /** Epoch ms; for the TTL of stored tokens. Default Date.now. */
  readonly now?: () => number;
}

type Fallback<T> = { readonly fallback: T };

/**
 * Service tokens shared by every replica, encrypted, in Redis:
 * `<prefix>svc-token:<slot>` holds the sealed token until it expires, and
 * `<prefix>svc-token-lock:<slot>` is the short lock of the replica fetching it.
 *
 * @example
 * const store = RedisTokenStore.create({ url: 'redis://127.0.0.1:6379', keyPrefix: 'gateway:', cipher, log });
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
  readonly #firstConnect: Promise<void>;
  #settledFirstConnect = false;
  #available = true;
  #closed = false;

  private constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly cipher: TokenCipher,
    private readonly log: Logger,
    private readonly commandTimeoutMs: number,
    private readonly now: () => number,
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
    redis.on('error', (err: unknown) => this.#unavailable(err));
    redis.on('ready', () => this.#availableAgain());
  }

  /** Connects at once; a Redis that is down now is retried in the background (≤ 2 s apart). */
  static create(options: RedisTokenStoreOptions): RedisTokenStore {
    const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs < 1 || commandTimeoutMs > 60_000) {
      throw new Error('RedisTokenStore: commandTimeoutMs must be an integer 1..60000');
    }
    const redis = new Redis(options.url, {
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
    return new RedisTokenStore(redis, options.keyPrefix, options.cipher, options.log, commandTimeoutMs, options.now ?? Date.now);
  }

  async get(slot: string): Promise<ServiceToken | undefined> {
    const key = this.#tokenKey(slot);
    const sealed = await this.#run(() => this.redis.get(key), { fallback: null });
    if (sealed === null) return undefined;
    const token = parseToken(this.cipher.open(sealed, key));
    if (!token) {
      this.#unreadableValue(slot);
      return undefined;
    }
    this.#unreadable.delete(slot);
    return token;
  }

  async set(slot: string, token: ServiceToken): Promise<void> {
    const ttlMs = Math.floor(token.expiresAt - this.now());
    if (!(ttlMs > 0)) return; // already expired (or NaN): nothing worth sharing
    const key = this.#tokenKey(slot);
    const value: ServiceToken = { accessToken: token.accessToken, expiresAt: token.expiresAt, refreshAt: token.refreshAt };
    const sealed = this.cipher.seal(JSON.stringify(value), key);
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
    if (this.redis.status !== 'ready') {
      this.redis.disconnect(); // stops reconnecting; nothing to flush
      return;
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  #tokenKey(slot: string): string {
    return `${this.keyPrefix}svc-token:${slot}`;
  }

  #lockKey(slot: string): string {
    return `${this.keyPrefix}svc-token-lock:${slot}`;
  }

  /** Runs one command; Redis down, slow or failing gives the fallback (and one warn per outage). */
  async #run<T, F>(command: () => Promise<T>, { fallback }: Fallback<F>): Promise<T | F> {
    if (this.#closed) return fallback;
    await this.#startupGrace();
    try {
      const result = await command();
      this.#availableAgain();
      return result;
    } catch (err: unknown) {
      this.#unavailable(err);
      return fallback;
    }
  }

  /**
   * Commands sent before the first connection is ready would be refused
   * (no offline queue), so the first calls after create() wait for it, at
   * most one command time-out. Later on, a disconnected Redis fails at once.
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

  #unavailable(err: unknown): void {
    if (this.#closed || !this.#available) return;
    this.#available = false;
    this.log.warn(
      { redisError: describeError(err) },
      'service-token store: Redis unavailable; each replica fetches its own service tokens until it is back',
    );
  }

  #availableAgain(): void {
    if (this.#closed || this.#available) return;
    this.#available = true;
    this.log.info('service-token store: Redis available again; service tokens are shared again');
  }

  #unreadableValue(slot: string): void {
    if (this.#unreadable.has(slot)) return;
    this.#unreadable.add(slot);
    // No value, kid or error text: only which slot, and that it counts as a miss.
    this.log.warn(
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

/**
 * What a log may say about a Redis failure: the error code (ECONNREFUSED, …)
 * or class name and ioredis's message, which names host and port but never
 * the URL's password or a command's arguments. Bounded in length.
 */
function describeError(err: unknown): string {
  // Duck-typed: errors from another realm (node:net under Jest's VM) fail `instanceof Error`.
  const { code, name, message } = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const label = typeof code === 'string' ? code : typeof name === 'string' ? name : 'Error';
  return `${label}: ${typeof message === 'string' ? message : 'unknown'}`.slice(0, 200);
}
