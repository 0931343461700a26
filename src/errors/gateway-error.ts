import type { RateLimitState } from '../throttling/rate-limit.js';
import type { ProblemCode } from './problem-catalog.js';

/** Extra facts the one exception filter turns into headers. Never token text. */
export interface ProblemExtras {
  /** 401 invalid_token: the fixed `error_description` of the auth failure. */
  readonly errorDescription?: string;
  /** 403 insufficient_scope: the scopes the route needs. */
  readonly scopes?: readonly string[];
  /** 503 / 429: seconds for `Retry-After`. */
  readonly retryAfterSeconds?: number;
  /** 405: value of `Allow`. */
  readonly allow?: string;
  /** 429: the exhausted window, for RateLimit-* (other answers take it from the request). */
  readonly rateLimit?: RateLimitState;
  /** A bounded label for logs and metrics (e.g. the auth failure reason). */
  readonly reason?: string;
}

/**
 * A domain error: a code from the closed catalog, a detail safe to show a
 * caller, and extras for headers. It never carries an HTTP response.
 *
 * @example
 * throw new GatewayError('insufficient_scope', 'route orders needs orders:read', { scopes: ['orders:read'] });
 */
export class GatewayError extends Error {
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly extras: ProblemExtras = {},
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${detail}`, options);
    this.name = 'GatewayError';
  }
}
