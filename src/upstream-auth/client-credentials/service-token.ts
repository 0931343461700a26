// Shared types of the client-credentials machinery (RFC 6749 §4.4). The
// pieces: token-endpoint-client (one token request), service-token-provider
// (cache, single-flight, refresh, retries), shared-token-store (Redis,
// encrypted), downstream-client (HTTP calls with the token attached).

/** A service token as cached: never logged, never a metrics label. */
export interface ServiceToken {
  readonly accessToken: string;
  /** Epoch ms: the token's end (from `expires_in`, or the conservative default). */
  readonly expiresAt: number;
  /** Epoch ms: from here on a refresh is started (the old token is still served meanwhile). */
  readonly refreshAt: number;
}

/**
 * Why a service token could not be had. `retryable` failures (network, time-out,
 * 5xx) are retried with backoff; others (4xx such as invalid_client,
 * invalid_scope) are not. The message names the client, never a secret.
 */
export class ServiceTokenError extends Error {
  override readonly name = 'ServiceTokenError';
  constructor(
    message: string,
    readonly client: string,
    readonly retryable: boolean,
    /** RFC 6749 §5.2 `error` code when the endpoint sent one (bounded set: only [a-z_]{1,40} kept). */
    readonly oauthError?: string,
    /** Seconds a caller should wait before trying again. */
    readonly retryAfterSeconds = 5,
  ) {
    super(message);
  }
}

/** Gets (and caches) the token of a configured client; what the gateway and DownstreamClient use. */
export interface ServiceTokenSource {
  /** A valid token, from cache when possible. Throws ServiceTokenError. */
  getToken(client: string): Promise<string>;
  /**
   * The upstream refused this token (401 invalid_token): forget it, if it is
   * still the cached one. False when the client's forced refreshes are used up
   * for now (at most one per FORCED_REFRESH_INTERVAL_MS): then the caller passes the
   * 401 on instead of retrying, so a misbehaving upstream cannot make the
   * gateway hammer the IdP.
   */
  invalidate(client: string, accessToken: string): boolean;
}
export const ServiceTokenSource = Symbol('ServiceTokenSource');

/**
 * Tokens shared by every replica (Redis). Values are encrypted by the store;
 * keys name the client slot, never the token. Every method resolves (never
 * rejects) when Redis is down: get → undefined, set → no-op, lock → 'unavailable'.
 */
export interface SharedTokenStore {
  get(slot: string): Promise<ServiceToken | undefined>;
  set(slot: string, token: ServiceToken): Promise<void>;
  delete(slot: string): Promise<void>;
  /** SET NX PX: 'acquired' → this replica fetches; 'held' → another does, read again shortly. */
  lock(slot: string, ttlMs: number): Promise<'acquired' | 'held' | 'unavailable'>;
  unlock(slot: string): Promise<void>;
  close(): Promise<void>;
}
export const SharedTokenStore = Symbol('SharedTokenStore');
