import type { Logger } from 'pino';
import type { ServiceToken, SharedTokenStore } from './service-token.js';
import { errorLabel } from '../../errors/error-label.js';
import { isUsable, isWellFormed } from './token-lifetime.js';

/** Lock lifetime for one replica's fetch. */
// Longer than one whole fetch (3 attempts × 5 s plus backoff), so the lock does not lapse mid-fetch.
export const STORE_LOCK_TTL_MS = 20_000;
/** While another replica holds the lock, the others read the store this often, for this long. */
export const STORE_POLL_INTERVAL_MS = 100;
export const STORE_WAIT_MS = 2_000;

/** 'miss': no usable token, any usable one will do. 'refresh': only one not yet due for refresh. */
export type Purpose = 'miss' | 'refresh';

/** A client as the store sees it; `rejected` is read live, as invalidate() may set it meanwhile. */
export interface StoreEntry {
  readonly slot: string;
  /** The last token an upstream refused: never taken back from the shared store. */
  readonly rejected?: string;
}

/** What the coordination reads; ServiceTokenProviderOptions provides it. */
export interface StoreTiming {
  /** Epoch ms. */
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: Logger;
}

/**
 * A token fetch coordinated through the SharedTokenStore: read the store; else
 * one replica fetches under a short lock and stores the result while the
 * others poll the store. A store that is down means fetching locally.
 */
export class SharedTokenFetch {
  constructor(
    private readonly store: SharedTokenStore,
    private readonly timing: StoreTiming,
  ) {}

  async obtain(
    name: string,
    entry: StoreEntry,
    purpose: Purpose,
    fromEndpoint: () => Promise<ServiceToken>,
  ): Promise<ServiceToken> {
    const { store } = this;
    const shared = await this.read(name, entry, purpose);
    if (shared !== undefined) return shared;
    const lock = await this.safely(name, 'lock', () => store.lock(entry.slot, STORE_LOCK_TTL_MS), 'unavailable' as const);
    if (lock === 'acquired') {
      try {
        // Another replica may have stored one between our read and our lock.
        const stored = await this.read(name, entry, purpose);
        if (stored !== undefined) return stored;
        const token = await fromEndpoint();
        await this.safely(name, 'set', () => store.set(entry.slot, token), undefined);
        return token;
      } finally {
        await this.safely(name, 'unlock', () => store.unlock(entry.slot), undefined);
      }
    }
    if (lock === 'held') {
      const fetchedElsewhere = await this.waitFor(name, entry, purpose);
      if (fetchedElsewhere !== undefined) return fetchedElsewhere;
    }
    return fromEndpoint();
  }

  /** Removes the refused token from the store. */
  async drop(name: string, slot: string, accessToken: string): Promise<void> {
    // Only that token: another replica may already have stored its successor.
    const stored: unknown = await this.safely(name, 'get', () => this.store.get(slot), undefined);
    if (isWellFormed(stored) && stored.accessToken === accessToken) {
      await this.safely(name, 'delete', () => this.store.delete(slot), undefined);
    }
  }

  private async read(name: string, entry: StoreEntry, purpose: Purpose): Promise<ServiceToken | undefined> {
    const token: unknown = await this.safely(name, 'get', () => this.store.get(entry.slot), undefined);
    if (!isWellFormed(token) || token.accessToken === entry.rejected) return undefined;
    const now = this.timing.now();
    // A refresh wants a newer token than the one due for refresh (which is what the store most likely holds).
    const acceptable = purpose === 'refresh' ? now < token.refreshAt : isUsable(token, now);
    if (acceptable) this.timing.log.debug({ client: name }, 'service token read from the shared store');
    return acceptable ? token : undefined;
  }

  /** Another replica holds the lock: read the store every 100 ms for up to 2 s. */
  private async waitFor(name: string, entry: StoreEntry, purpose: Purpose): Promise<ServiceToken | undefined> {
    const deadline = this.timing.now() + STORE_WAIT_MS;
    // Bounded by count as well as by time, so a clock that does not move cannot spin forever.
    for (let polls = 0; polls < STORE_WAIT_MS / STORE_POLL_INTERVAL_MS && this.timing.now() < deadline; polls++) {
      await this.timing.sleep(STORE_POLL_INTERVAL_MS);
      const token = await this.read(name, entry, purpose);
      if (token !== undefined) return token;
    }
    return undefined;
  }

  /** The store promises never to reject; should one still do so, this replica goes on without it. */
  private async safely<T>(name: string, operation: string, run: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const fields = { client: name, operation, error: errorLabel(error) };
      this.timing.log.warn(fields, 'shared token store failed; going on without it');
      return fallback;
    }
  }
}
