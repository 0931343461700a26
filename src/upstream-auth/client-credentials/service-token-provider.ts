import type { Logger } from 'pino';
import type { ClientConfig } from '../../config/gateway-config.js';
import { createAssertionSigner, type AssertionSigner } from './client-assertion.js';
import { loadPrivateKey, PrivateKeyError } from './private-key.js';
import { ServiceTokenError, type ServiceToken, type ServiceTokenSource, type SharedTokenStore } from './service-token.js';
import { requestServiceToken, type TokenResponse } from './token-endpoint-client.js';
import { isUsable, isWellFormed, serviceTokenFrom } from './token-lifetime.js';
import { tokenSlot } from './token-slot.js';

/** Retryable failures are retried this many more times within one fetch. */
export const MAX_RETRIES = 2;
/** Full-jitter exponential backoff between those attempts: random × min(cap, base × 2^n). */
export const RETRY_BASE_DELAY_MS = 200;
export const RETRY_MAX_DELAY_MS = 2_000;
/** After a failed fetch, callers fail fast for 1 s, 2 s, 4 s … up to 30 s (per client; reset on success). */
export const FAILURE_BACKOFF_BASE_MS = 1_000;
export const FAILURE_BACKOFF_MAX_MS = 30_000;
/** Shared store: lock lifetime for one replica's fetch, and how long (and how often) the others read meanwhile. */
// Longer than one whole fetch (3 attempts × 5 s plus backoff), so the lock does not lapse mid-fetch.
export const STORE_LOCK_TTL_MS = 20_000;
/** Upstream 401s may force at most one new token per client this often. */
export const FORCED_REFRESH_INTERVAL_MS = 10_000;
export const STORE_POLL_INTERVAL_MS = 100;
export const STORE_WAIT_MS = 2_000;

/** One token request for a client; requestServiceToken by default. Throws ServiceTokenError. */
export type TokenFetcher = (name: string, client: ClientConfig) => Promise<TokenResponse>;

export interface ServiceTokenProviderOptions {
  /** Epoch ms. */
  readonly now: () => number;
  /** In [0, 1): the retry jitter. */
  readonly random: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: Logger;
  /** Tokens shared by replicas (Redis); absent: per-process cache only. */
  readonly store?: SharedTokenStore;
  /** Absent: requestServiceToken, with the private keys of `private_key_jwt` clients loaded now. */
  readonly fetchToken?: TokenFetcher;
}

/** Real time, for production use of ServiceTokenProviderOptions. */
export const SYSTEM_TIMING = {
  now: () => Date.now(),
  random: () => Math.random(),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
} as const;

interface ClientState {
  readonly client: ClientConfig;
  readonly slot: string;
  token?: ServiceToken;
  inFlight?: Promise<ServiceToken>;
  /** Consecutive failed fetches; sets the backoff window. */
  failures: number;
  /** Until then (epoch ms) no fetch starts; a caller without a usable token gets lastError. */
  blockedUntil: number;
  lastError?: ServiceTokenError;
  /** The last token an upstream refused: never taken back from the shared store. */
  rejected?: string;
  /** When an upstream's refusal last dropped this client's token (epoch ms). */
  lastForcedRefreshAt: number;
}

/** 'miss': no usable token, any usable one will do. 'refresh': only one not yet due for refresh. */
type Purpose = 'miss' | 'refresh';

/**
 * Service tokens of the configured clients (RFC 6749 §4.4), cached per client.
 *
 * - One fetch in flight per client, shared by every caller (single-flight).
 * - From the refresh point on, callers get the cached token at once while one
 *   background refresh runs; if it fails, the old token is served until it
 *   expires (with a safety margin, see usableUntil), never after.
 * - A fetch retries retryable failures twice with full-jitter backoff; after a
 *   failed fetch, callers without a usable token fail fast during a growing
 *   backoff window instead of hitting the IdP again.
 * - With a SharedTokenStore, a miss reads the store first; one replica fetches
 *   under a short lock while the others poll the store; a store that is down
 *   means fetching locally.
 * - No timers: refreshes start from getToken() calls.
 *
 * @example
 * const tokens = new ServiceTokenProvider(config.clients, { ...SYSTEM_TIMING, log });
 * const authorization = `Bearer ${await tokens.getToken('orders')}`;
 * // upstream answered 401 error="invalid_token":
 * tokens.invalidate('orders', accessToken);
 */
export class ServiceTokenProvider implements ServiceTokenSource {
  private readonly states = new Map<string, ClientState>();
  private readonly fetchToken: TokenFetcher;
  private readonly log: Logger;

  constructor(clients: Readonly<Record<string, ClientConfig>>, private readonly options: ServiceTokenProviderOptions) {
    this.log = options.log;
    for (const [name, client] of Object.entries(clients)) {
      this.states.set(name, {
        client,
        slot: tokenSlot(name, client),
        failures: 0,
        blockedUntil: Number.NEGATIVE_INFINITY,
        lastForcedRefreshAt: Number.NEGATIVE_INFINITY,
      });
    }
    this.fetchToken = options.fetchToken ?? endpointFetcher(clients, options.now);
  }

  async getToken(name: string): Promise<string> {
    const state = this.stateOf(name);
    const now = this.options.now();
    const cached = state.token;
    if (cached !== undefined && isUsable(cached, now)) {
      if (now >= cached.refreshAt && state.inFlight === undefined && now >= state.blockedUntil) {
        // A failed refresh is logged and backs off in fetch(); the cached token stays in service.
        this.fetch(name, state, 'refresh').catch(() => undefined);
      }
      return cached.accessToken;
    }
    state.token = undefined;
    if (state.inFlight !== undefined) return (await state.inFlight).accessToken;
    if (now < state.blockedUntil && state.lastError !== undefined) {
      throw withRetryAfter(state.lastError, state.blockedUntil - now);
    }
    return (await this.fetch(name, state, 'miss')).accessToken;
  }

  invalidate(name: string, accessToken: string): boolean {
    const state = this.states.get(name);
    if (state === undefined) return false;
    const now = this.options.now();
    const cached = state.token?.accessToken === accessToken;
    // Dropping the cached token costs a token request: at most one per interval per client.
    // A token already replaced costs nothing: the retry gets the newer one.
    if (cached && now - state.lastForcedRefreshAt < FORCED_REFRESH_INTERVAL_MS) return false;
    if (cached) state.lastForcedRefreshAt = now;
    state.rejected = accessToken;
    if (state.token?.accessToken === accessToken) {
      state.token = undefined;
      this.log.info({ client: name }, 'service token refused by an upstream; dropped from the cache');
    }
    const store = this.options.store;
    if (store !== undefined) void this.dropFromStore(store, name, state, accessToken);
    return true;
  }

  private stateOf(name: string): ClientState {
    const state = this.states.get(name);
    if (state === undefined) throw new ServiceTokenError(`unknown client ${JSON.stringify(name)}`, name, false);
    return state;
  }

  /** Single-flight: every caller shares the promise until it settles. */
  private fetch(name: string, state: ClientState, purpose: Purpose): Promise<ServiceToken> {
    state.inFlight ??= this.obtain(name, state, purpose)
      .then(
        (token) => {
          state.token = token;
          state.failures = 0;
          state.blockedUntil = Number.NEGATIVE_INFINITY;
          state.lastError = undefined;
          return token;
        },
        (error: unknown) => {
          throw this.recordFailure(name, state, error, purpose);
        },
      )
      .finally(() => {
        state.inFlight = undefined;
      });
    return state.inFlight;
  }

  private recordFailure(name: string, state: ClientState, error: unknown, purpose: Purpose): ServiceTokenError {
    const failure = asServiceTokenError(error, name);
    state.failures++;
    const backoffMs = Math.min(FAILURE_BACKOFF_MAX_MS, FAILURE_BACKOFF_BASE_MS * 2 ** (state.failures - 1));
    state.blockedUntil = this.options.now() + backoffMs;
    state.lastError = withRetryAfter(failure, backoffMs);
    const keptToken = purpose === 'refresh' && state.token !== undefined;
    this.log.warn(
      {
        client: name,
        retryable: failure.retryable,
        oauthError: failure.oauthError,
        failures: state.failures,
        backoffMs,
        error: failure.message,
      },
      keptToken ? 'service token refresh failed; the cached token is still served' : 'service token could not be obtained',
    );
    return state.lastError;
  }

  private async obtain(name: string, state: ClientState, purpose: Purpose): Promise<ServiceToken> {
    const store = this.options.store;
    if (store === undefined) return this.fromEndpoint(name, state.client);
    const shared = await this.readStore(store, name, state, purpose);
    if (shared !== undefined) return shared;
    const lock = await this.safely(name, 'lock', () => store.lock(state.slot, STORE_LOCK_TTL_MS), 'unavailable' as const);
    if (lock === 'acquired') {
      try {
        // Another replica may have stored one between our read and our lock.
        const stored = await this.readStore(store, name, state, purpose);
        if (stored !== undefined) return stored;
        const token = await this.fromEndpoint(name, state.client);
        await this.safely(name, 'set', () => store.set(state.slot, token), undefined);
        return token;
      } finally {
        await this.safely(name, 'unlock', () => store.unlock(state.slot), undefined);
      }
    }
    if (lock === 'held') {
      const fetchedElsewhere = await this.waitForStore(store, name, state, purpose);
      if (fetchedElsewhere !== undefined) return fetchedElsewhere;
    }
    return this.fromEndpoint(name, state.client);
  }

  /** One fetch: the first attempt plus up to MAX_RETRIES for retryable failures. */
  private async fromEndpoint(name: string, client: ClientConfig): Promise<ServiceToken> {
    for (let attempt = 1; ; attempt++) {
      // The request's start, not its end: our expiry is never later than the IdP's.
      const issuedAt = this.options.now();
      try {
        const { accessToken, expiresInSeconds } = await this.fetchToken(name, client);
        this.log.debug({ client: name, attempt, expiresInSeconds }, 'service token obtained');
        return serviceTokenFrom(accessToken, expiresInSeconds, issuedAt);
      } catch (error) {
        const failure = asServiceTokenError(error, name);
        if (!failure.retryable || attempt > MAX_RETRIES) throw failure;
        const ceilingMs = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** (attempt - 1));
        const delayMs = Math.floor(this.options.random() * ceilingMs);
        this.log.info({ client: name, attempt, delayMs, error: failure.message }, 'token request failed; retrying');
        await this.options.sleep(delayMs);
      }
    }
  }

  private async readStore(
    store: SharedTokenStore,
    name: string,
    state: ClientState,
    purpose: Purpose,
  ): Promise<ServiceToken | undefined> {
    const token: unknown = await this.safely(name, 'get', () => store.get(state.slot), undefined);
    if (!isWellFormed(token) || token.accessToken === state.rejected) return undefined;
    const now = this.options.now();
    // A refresh wants a newer token than the one due for refresh (which is what the store most likely holds).
    const acceptable = purpose === 'refresh' ? now < token.refreshAt : isUsable(token, now);
    if (acceptable) this.log.debug({ client: name }, 'service token read from the shared store');
    return acceptable ? token : undefined;
  }

  /** Another replica holds the lock: read the store every 100 ms for up to 2 s. */
  private async waitForStore(
    store: SharedTokenStore,
    name: string,
    state: ClientState,
    purpose: Purpose,
  ): Promise<ServiceToken | undefined> {
    const deadline = this.options.now() + STORE_WAIT_MS;
    // Bounded by count as well as by time, so a clock that does not move cannot spin forever.
    for (let polls = 0; polls < STORE_WAIT_MS / STORE_POLL_INTERVAL_MS && this.options.now() < deadline; polls++) {
      await this.options.sleep(STORE_POLL_INTERVAL_MS);
      const token = await this.readStore(store, name, state, purpose);
      if (token !== undefined) return token;
    }
    return undefined;
  }

  private async dropFromStore(store: SharedTokenStore, name: string, state: ClientState, accessToken: string): Promise<void> {
    // Only that token: another replica may already have stored its successor.
    const stored: unknown = await this.safely(name, 'get', () => store.get(state.slot), undefined);
    if (isWellFormed(stored) && stored.accessToken === accessToken) {
      await this.safely(name, 'delete', () => store.delete(state.slot), undefined);
    }
  }

  /** The store promises never to reject; should one still do so, this replica goes on without it. */
  private async safely<T>(name: string, operation: string, run: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await run();
    } catch (error) {
      this.log.warn({ client: name, operation, error: errorName(error) }, 'shared token store failed; going on without it');
      return fallback;
    }
  }
}

/** requestServiceToken with each `private_key_jwt` client's key read once, here (a bad key stops startup). */
function endpointFetcher(clients: Readonly<Record<string, ClientConfig>>, now: () => number): TokenFetcher {
  const signers = new Map<string, AssertionSigner>();
  for (const [name, client] of Object.entries(clients)) {
    if (client.authMethod !== 'private_key_jwt') continue;
    if (client.privateKeyFile === undefined) {
      throw new PrivateKeyError(`client ${name}: authMethod private_key_jwt needs privateKeyFile`);
    }
    signers.set(name, createAssertionSigner(loadPrivateKey(client.privateKeyFile), client.keyId));
  }
  return (name, client) => requestServiceToken(name, client, { now, signAssertion: signers.get(name) });
}

function asServiceTokenError(error: unknown, name: string): ServiceTokenError {
  if (error instanceof ServiceTokenError) return error;
  // Not ours (a bug, a custom fetcher): its message is not ours to repeat, only its name.
  return new ServiceTokenError(`client ${name}: token request failed (${errorName(error)})`, name, true);
}

function withRetryAfter(error: ServiceTokenError, remainingMs: number): ServiceTokenError {
  const seconds = Math.max(1, Math.ceil(remainingMs / 1000));
  return new ServiceTokenError(error.message, error.client, error.retryable, error.oauthError, seconds);
}

function errorName(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'unknown error';
}
