import type { Logger } from 'pino';
import type { ClientConfig } from '../../config/gateway-config.js';
import type { GatewayMetrics } from '../../observability/metrics.js';
import { createAssertionSigner, type AssertionSigner } from './client-assertion.js';
import { loadPrivateKey, PrivateKeyError } from './private-key.js';
import { fetchWithRetry, type TokenFetcher } from './retry-fetch.js';
import { ServiceTokenError, type ServiceToken, type ServiceTokenSource, type SharedTokenStore } from './service-token.js';
import { SharedTokenFetch, type Purpose } from './shared-token-fetch.js';
import { requestServiceToken } from './token-endpoint-client.js';
import { asServiceTokenError, withRetryAfter } from './token-fetch-failure.js';
import { isUsable } from './token-lifetime.js';
import { tokenSlot } from './token-slot.js';

// The retry loop and the shared-store coordination live in their own modules;
// their tuning constants are re-exported here, where callers have always found them.
export { MAX_RETRIES, RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS, type TokenFetcher } from './retry-fetch.js';
export { STORE_LOCK_TTL_MS, STORE_POLL_INTERVAL_MS, STORE_WAIT_MS } from './shared-token-fetch.js';

/** After a failed fetch, callers fail fast for 1 s, 2 s, 4 s … up to 30 s (per client; reset on success). */
export const FAILURE_BACKOFF_BASE_MS = 1_000;
export const FAILURE_BACKOFF_MAX_MS = 30_000;
/** Upstream 401s may force at most one new token per client this often. */
export const FORCED_REFRESH_INTERVAL_MS = 10_000;

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
  /** The gateway's counters; absent in an app without GatewayMetrics (ClientCredentialsModule on its own). */
  readonly metrics?: ServiceTokenMetrics;
}

/** What the provider counts: cache hits, and each token endpoint request by outcome. */
export type ServiceTokenMetrics = Pick<GatewayMetrics, 'serviceTokenCacheHits' | 'serviceTokenFetches'>;

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
  /** Absent without a store: every miss fetches locally. */
  private readonly shared?: SharedTokenFetch;

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
    const fetchToken = options.fetchToken ?? endpointFetcher(clients, options.now);
    this.fetchToken = options.metrics === undefined ? fetchToken : counted(fetchToken, options.metrics);
    if (options.store !== undefined) this.shared = new SharedTokenFetch(options.store, options);
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
      this.options.metrics?.serviceTokenCacheHits.inc({ client: name });
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
    if (this.shared !== undefined) void this.shared.drop(name, state.slot, accessToken);
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
    const fromEndpoint = () => fetchWithRetry(this.fetchToken, this.options, name, state.client);
    if (this.shared === undefined) return fromEndpoint();
    // The state itself goes in: the store read must see a token invalidate() rejects meanwhile.
    return this.shared.obtain(name, state, purpose, fromEndpoint);
  }
}

/** Each token endpoint request (every attempt of a fetch) counted by outcome. */
function counted(fetchToken: TokenFetcher, metrics: ServiceTokenMetrics): TokenFetcher {
  return async (name, client) => {
    try {
      const response = await fetchToken(name, client);
      metrics.serviceTokenFetches.inc({ client: name, outcome: 'success' });
      return response;
    } catch (error) {
      metrics.serviceTokenFetches.inc({ client: name, outcome: 'failure' });
      throw error;
    }
  };
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
