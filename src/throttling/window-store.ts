import type { ThrottlerStorage } from '@nestjs/throttler';

/**
 * Fixed-window counters: @nestjs/throttler's storage contract plus the two
 * things the gateway needs beyond it. Keys are built by the gateway (route id,
 * window, hashed caller) and bounded in length; every counter expires by
 * itself at the end of its window.
 *
 * increment(key, ttlMs, limit, blockDurationMs, name) counts one hit in the
 * current window of `ttlMs` and answers { totalHits, timeToExpire (s),
 * isBlocked: totalHits > limit, timeToBlockExpire (s) }.
 */
export interface WindowStore extends ThrottlerStorage {
  /** Hits counted so far in the key's current window, without counting one (0 when none). */
  peek(key: string): Promise<number>;
  /**
   * False while the backing store (Redis) is unreachable, on a cluster while
   * any master is: what /readyz consults under `deny`. Memory is always healthy.
   */
  readonly healthy: boolean;
  /**
   * False while no part of the backing store can answer, so calls may as well
   * skip it. Absent: as healthy. Differs only on a Redis Cluster, where one
   * master down leaves the other masters' counters reachable.
   */
  readonly reachable?: boolean;
  close(): Promise<void>;
}
export const WindowStore = Symbol('WindowStore');

/** What to do while Redis is unreachable (CONTRACT `throttle.onStorageError`). */
export type StorageErrorPolicy = 'local' | 'allow' | 'deny';

/** Thrown by a store in `deny` mode while Redis is unreachable: the caller gets 503 + Retry-After. */
export class ThrottleStorageUnavailable extends Error {
  override readonly name = 'ThrottleStorageUnavailable';
  readonly retryAfterSeconds = 5;
}
