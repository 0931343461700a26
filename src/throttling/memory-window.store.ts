// Fixed-window counters in this process (`throttle.storage: memory`, and the
// per-replica fallback while Redis is down). Written by hand instead of
// @nestjs/throttler's ThrottlerStorageService: that one schedules a timer per
// hit and has run services out of memory (nestjs/throttler #2629). Here
// nothing schedules anything: expired windows are dropped when touched and by
// a sweep that increment() runs at most once a second, and the map is bounded.
import type { WindowStore } from './window-store.js';

/** @nestjs/throttler's ThrottlerStorageRecord (its package root exports only the storage interface). */
export type WindowRecord = Awaited<ReturnType<WindowStore['increment']>>;

const DEFAULT_MAX_KEYS = 100_000;
const SWEEP_INTERVAL_MS = 1_000;

export interface MemoryWindowStoreOptions {
  /** Epoch ms. Default Date.now. */
  readonly now?: () => number;
  /** Most keys held at once; past it the oldest-inserted window is dropped. Default 100 000. */
  readonly maxKeys?: number;
}

interface Window {
  hits: number;
  /** Epoch ms; from this instant on, the next hit starts a new window. */
  readonly windowEndsAt: number;
}

/**
 * The window length in ms that a store works with: `ttl` from the throttler,
 * rounded up to a whole ms. A ttl that is not a positive number is a caller's
 * bug (config validation allows none), refused rather than stored forever.
 */
export function windowMs(ttl: number): number {
  if (!(Number.isFinite(ttl) && ttl > 0)) throw new RangeError(`throttle window: ttl must be a positive number of ms, got ${ttl}`);
  return Math.ceil(ttl);
}

/** Whole seconds until `endsAt`, at least 1 (a window still running never says 0). */
export function secondsUntil(endsAt: number, now: number): number {
  return Math.max(1, Math.ceil((endsAt - now) / 1000));
}

/**
 * Fixed windows per key: the first hit opens a window of `ttl` ms, every hit
 * in it counts, and the first hit at or after its end opens a new one. A key
 * over its limit is blocked until its window ends; `blockDuration` is not used
 * (the gateway passes the window's ttl, which is what this gives).
 *
 * @example
 * const store = new MemoryWindowStore({ maxKeys: 50_000 });
 * const { totalHits, isBlocked, timeToExpire } = await store.increment('orders:burst:caller', 1_000, 10, 1_000, 'burst');
 * await store.peek('orders:burst:caller'); // hits so far in the current window, 0 when none
 */
export class MemoryWindowStore implements WindowStore {
  /** Insertion order is the eviction order: a new window re-inserts its key at the end. */
  readonly #windows = new Map<string, Window>();
  readonly #now: () => number;
  readonly #maxKeys: number;
  #lastSweepAt = Number.NEGATIVE_INFINITY;

  /** Memory never becomes unreachable. */
  readonly healthy = true;

  constructor(options: MemoryWindowStoreOptions = {}) {
    const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('MemoryWindowStore: maxKeys must be a positive integer');
    this.#maxKeys = maxKeys;
    this.#now = options.now ?? Date.now;
  }

  /** Keys currently held (expired ones included until touched or swept). */
  get size(): number {
    return this.#windows.size;
  }

  async increment(key: string, ttl: number, limit: number, _blockDuration: number, _throttlerName: string): Promise<WindowRecord> {
    const ttlMs = windowMs(ttl);
    const now = this.#now();
    this.#sweepIfDue(now);
    let window = this.#windows.get(key);
    if (window !== undefined && window.windowEndsAt > now) {
      window.hits += 1;
    } else {
      this.#windows.delete(key); // an expired window: the new one goes to the end of the eviction order
      this.#makeRoom();
      window = { hits: 1, windowEndsAt: now + ttlMs };
      // The key arrives as a rope of joined pieces (224 B for 38 characters, measured); a flat
      // copy is 80 B smaller per window, 15 MB at the 100k-key bound (issue #8).
      this.#windows.set(flatCopy(key), window);
    }
    const timeToExpire = secondsUntil(window.windowEndsAt, now);
    const isBlocked = window.hits > limit;
    return { totalHits: window.hits, timeToExpire, isBlocked, timeToBlockExpire: isBlocked ? timeToExpire : 0 };
  }

  async peek(key: string): Promise<number> {
    const window = this.#windows.get(key);
    if (window === undefined) return 0;
    if (window.windowEndsAt <= this.#now()) {
      this.#windows.delete(key);
      return 0;
    }
    return window.hits;
  }

  async close(): Promise<void> {
    this.#windows.clear();
  }

  /** Drops every expired window, at most once a second (a sweep walks the whole map). */
  #sweepIfDue(now: number): void {
    if (now - this.#lastSweepAt < SWEEP_INTERVAL_MS) return;
    this.#lastSweepAt = now;
    for (const [key, window] of this.#windows) {
      if (window.windowEndsAt <= now) this.#windows.delete(key);
    }
  }

  /**
   * At maxKeys, after the sweep (which increment() has just run if one was
   * due; not again per insert, so a flood of new keys costs O(1) each), drop
   * the oldest-inserted windows: those callers start a fresh window early,
   * the price of a bounded map.
   */
  #makeRoom(): void {
    while (this.#windows.size >= this.#maxKeys) {
      const oldest = this.#windows.keys().next();
      if (oldest.done === true) return;
      this.#windows.delete(oldest.value);
    }
  }
}

/** A flat, unshared copy of `text`: neither a rope nor a slice keeping a larger string alive. */
function flatCopy(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}
