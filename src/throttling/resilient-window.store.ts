// The `throttle.onStorageError` policy around the Redis store: a Redis outage
// must not stop the gateway (unless the operator asks for `deny`), must be
// logged once rather than per request, and must end by itself when Redis
// answers again.
import type { Logger } from 'pino';
import { MemoryWindowStore, type WindowRecord, windowMs } from './memory-window.store.js';
import { describeRedisError } from './redis-window.store.js';
import { type StorageErrorPolicy, ThrottleStorageUnavailable, type WindowStore } from './window-store.js';

/** While the primary is known to be down, at most one call a second still tries it. */
const PROBE_INTERVAL_MS = 1_000;

export interface ResilientWindowStoreOptions {
  readonly log: Logger;
  /** Answers for `local` while the primary is down. Default: a MemoryWindowStore of its own. */
  readonly fallback?: WindowStore;
  /** Called once per call the primary did not answer (the metric of calls decided by the policy). */
  readonly onStorageError?: (policy: StorageErrorPolicy) => void;
  /** Epoch ms, for the probe interval. Default Date.now. */
  readonly now?: () => number;
}

/**
 * Every call goes to the primary (Redis) first. When it rejects, the policy
 * answers instead: `local` counts in the per-replica fallback, `allow` answers
 * as for a first hit, `deny` throws ThrottleStorageUnavailable (503). An
 * outage logs one warn when it starts and one info when the primary answers
 * again. While the primary reports itself unhealthy, calls skip it (no
 * commandTimeoutMs wait per request) except one probe a second; when it
 * reconnects, the next call uses it again.
 *
 * @example
 * const redis = RedisWindowStore.create({ redis: { kind: 'single', url }, keyPrefix: 'gateway:', log });
 * const store = new ResilientWindowStore(redis, 'local', { log, onStorageError: (policy) => metric.inc({ policy }) });
 * await store.increment('orders:burst:caller', 1_000, 10, 1_000, 'burst');
 */
export class ResilientWindowStore implements WindowStore {
  readonly #fallback: WindowStore;
  readonly #log: Logger;
  readonly #onStorageError: (policy: StorageErrorPolicy) => void;
  readonly #now: () => number;
  #outage = false;
  #lastProbeAt = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(
    private readonly primary: WindowStore,
    private readonly policy: StorageErrorPolicy,
    options: ResilientWindowStoreOptions,
  ) {
    this.#log = options.log;
    this.#fallback = options.fallback ?? new MemoryWindowStore();
    this.#onStorageError = options.onStorageError ?? (() => undefined);
    this.#now = options.now ?? Date.now;
  }

  /** The primary's connection (on a cluster: every master): what /readyz consults under `deny`. */
  get healthy(): boolean {
    return this.primary.healthy;
  }

  get reachable(): boolean {
    return this.primary.reachable ?? this.primary.healthy;
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<WindowRecord> {
    const ttlMs = windowMs(ttl); // a caller's bug throws here, not counted as an outage
    return this.#withPolicy(
      () => this.primary.increment(key, ttl, limit, blockDuration, throttlerName),
      () => this.#fallback.increment(key, ttl, limit, blockDuration, throttlerName),
      // As if this were the window's first hit: allowed, and the headers stay well-formed.
      () => ({ totalHits: 1, timeToExpire: Math.ceil(ttlMs / 1000), isBlocked: false, timeToBlockExpire: 0 }),
    );
  }

  async peek(key: string): Promise<number> {
    return this.#withPolicy(
      () => this.primary.peek(key),
      () => this.#fallback.peek(key),
      () => 0,
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.primary.close(), this.#fallback.close()]);
  }

  async #withPolicy<T>(primary: () => Promise<T>, local: () => Promise<T>, allow: () => T): Promise<T> {
    if (this.#tryPrimary()) {
      try {
        const result = await primary();
        this.#recovered();
        return result;
      } catch (err: unknown) {
        this.#failed(err);
      }
    }
    this.#onStorageError(this.policy);
    switch (this.policy) {
      case 'local':
        return local();
      case 'allow':
        return allow();
      case 'deny':
        throw new ThrottleStorageUnavailable('throttle storage unavailable (onStorageError: deny)');
    }
  }

  /**
   * Outside an outage, or once the primary reconnected: always. During one: one probe a second.
   * A cluster with one master down stays reachable, so each request tries its own counter.
   */
  #tryPrimary(): boolean {
    if (!this.#outage || this.reachable) return true;
    const now = this.#now();
    if (now - this.#lastProbeAt < PROBE_INTERVAL_MS) return false;
    this.#lastProbeAt = now; // before the await: concurrent calls do not all probe
    return true;
  }

  #failed(err: unknown): void {
    if (this.#outage || this.#closed) return;
    this.#outage = true;
    this.#lastProbeAt = this.#now();
    this.#log.warn(
      { policy: this.policy, storageError: describeRedisError(err) },
      `throttle storage unavailable, policy ${this.policy}: ${POLICY_EFFECT[this.policy]} until it answers again`,
    );
  }

  /** Over once the primary is whole again: one master answering while another is down ends nothing. */
  #recovered(): void {
    if (!this.#outage || !this.primary.healthy) return;
    this.#outage = false;
    if (!this.#closed) this.#log.info({ policy: this.policy }, 'throttle storage available again; limits are shared across replicas again');
  }
}

const POLICY_EFFECT = {
  local: 'each replica counts on its own',
  allow: 'requests are not counted',
  deny: 'throttled routes answer 503',
} as const satisfies Record<StorageErrorPolicy, string>;
