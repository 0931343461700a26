/**
 * Client-credentials service tokens (RFC 6749 §4.4): one token request, the
 * cache with single-flight and refresh, private keys and assertions for
 * `private_key_jwt`.
 *
 * @example
 * import { ServiceTokenProvider, SYSTEM_TIMING } from './upstream-auth/client-credentials/index.js';
 * const tokens = new ServiceTokenProvider(config.clients, { ...SYSTEM_TIMING, log });
 * await tokens.getToken('orders');
 */
export {
  ServiceTokenError,
  ServiceTokenSource,
  SharedTokenStore,
  type ServiceToken,
} from './service-token.js';
export {
  ServiceTokenProvider,
  SYSTEM_TIMING,
  MAX_RETRIES,
  RETRY_BASE_DELAY_MS,
  RETRY_MAX_DELAY_MS,
  FAILURE_BACKOFF_BASE_MS,
  FAILURE_BACKOFF_MAX_MS,
  STORE_LOCK_TTL_MS,
  STORE_POLL_INTERVAL_MS,
  STORE_WAIT_MS,
  type ServiceTokenProviderOptions,
  type ServiceTokenMetrics,
  type TokenFetcher,
} from './service-token-provider.js';
export {
  requestServiceToken,
  basicCredentials,
  TOKEN_REQUEST_TIMEOUT_MS,
  MAX_TOKEN_RESPONSE_BYTES,
  type TokenResponse,
  type TokenRequestDeps,
} from './token-endpoint-client.js';
export {
  serviceTokenFrom,
  usableUntil,
  isUsable,
  DEFAULT_LIFETIME_SECONDS,
  MAX_LIFETIME_SECONDS,
  REFRESH_BEFORE_EXPIRY_MS,
  EXPIRY_MARGIN_MS,
} from './token-lifetime.js';
export { tokenSlot } from './token-slot.js';
export { loadPrivateKey, PrivateKeyError, MAX_KEY_FILE_BYTES, type ClientPrivateKey } from './private-key.js';
export {
  createAssertionSigner,
  CLIENT_ASSERTION_TYPE,
  ASSERTION_LIFETIME_SECONDS,
  type AssertionSigner,
  type AssertionInput,
} from './client-assertion.js';
