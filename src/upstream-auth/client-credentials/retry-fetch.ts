import type { Logger } from 'pino';
import type { ClientConfig } from '../../config/gateway-config.js';
import type { ServiceToken } from './service-token.js';
import type { TokenResponse } from './token-endpoint-client.js';
import { asServiceTokenError } from './token-fetch-failure.js';
import { serviceTokenFrom } from './token-lifetime.js';

/** Retryable failures are retried this many more times within one fetch. */
export const MAX_RETRIES = 2;
/** Full-jitter exponential backoff between those attempts: random × min(cap, base × 2^n). */
export const RETRY_BASE_DELAY_MS = 200;
export const RETRY_MAX_DELAY_MS = 2_000;

/** One token request for a client; requestServiceToken by default. Throws ServiceTokenError. */
export type TokenFetcher = (name: string, client: ClientConfig) => Promise<TokenResponse>;

/** What the retry loop reads; ServiceTokenProviderOptions provides it. */
export interface RetryTiming {
  /** Epoch ms. */
  readonly now: () => number;
  /** In [0, 1): the retry jitter. */
  readonly random: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: Logger;
}

/**
 * One fetch: the first attempt plus up to MAX_RETRIES for retryable failures.
 * Throws the last ServiceTokenError; non-retryable ones end it at once.
 */
export async function fetchWithRetry(
  fetchToken: TokenFetcher,
  timing: RetryTiming,
  name: string,
  client: ClientConfig,
): Promise<ServiceToken> {
  for (let attempt = 1; ; attempt++) {
    // The request's start, not its end: our expiry is never later than the IdP's.
    const issuedAt = timing.now();
    try {
      const { accessToken, expiresInSeconds } = await fetchToken(name, client);
      timing.log.debug({ client: name, attempt, expiresInSeconds }, 'service token obtained');
      return serviceTokenFrom(accessToken, expiresInSeconds, issuedAt);
    } catch (error) {
      const failure = asServiceTokenError(error, name);
      if (!failure.retryable || attempt > MAX_RETRIES) throw failure;
      const ceilingMs = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** (attempt - 1));
      const delayMs = Math.floor(timing.random() * ceilingMs);
      timing.log.info({ client: name, attempt, delayMs, error: failure.message }, 'token request failed; retrying');
      await timing.sleep(delayMs);
    }
  }
}
