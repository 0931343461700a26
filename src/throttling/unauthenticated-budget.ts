import type { ThrottleWindow } from '../config/gateway-config.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { WindowStore } from './window-store.js';
import { createHash } from 'node:crypto';
import { addressBucket } from './throttle-plan.js';

/**
 * CONTRACT `throttle.unauthenticated`: per client IP, requests that fail
 * authentication. Once an address has spent it, its failing requests get 429
 * and cause no JWKS refetch; its requests with a valid token still pass
 * (callers behind one NAT). A valid token never spends it.
 */
export class UnauthenticatedBudget {
  private readonly ttlMs: number;

  constructor(
    private readonly store: WindowStore,
    private readonly window: ThrottleWindow,
  ) {
    this.ttlMs = window.ttlSeconds * 1000;
  }

  /** True once the address has no failures left (so an unknown kid must not cost a JWKS fetch). */
  async exhausted(clientAddress: string): Promise<boolean> {
    try {
      return (await this.store.peek(keyOf(clientAddress))) >= this.window.limit;
    } catch {
      return false; // the storage policy decides elsewhere; a refetch is still cooldown-bounded
    }
  }

  /**
   * Counts one failure. Returns the 429 to throw instead of the 401 once the
   * budget is spent, or undefined while it lasts (or the store is down).
   */
  async spend(clientAddress: string): Promise<GatewayError | undefined> {
    let record;
    try {
      record = await this.store.increment(keyOf(clientAddress), this.ttlMs, this.window.limit, this.ttlMs, 'unauthenticated');
    } catch {
      return undefined; // failing closed is the 401 itself
    }
    if (!record.isBlocked) return undefined;
    return new GatewayError('rate_limited', 'Too many failed authentication attempts from this address', {
      retryAfterSeconds: record.timeToBlockExpire,
      reason: 'unauthenticated',
      rateLimit: { limit: this.window.limit, remaining: 0, resetSeconds: record.timeToBlockExpire },
    });
  }
}

function keyOf(clientAddress: string): string {
  return `unauthenticated:${createHash('sha256').update(addressBucket(clientAddress)).digest('base64url').slice(0, 22)}`;
}
