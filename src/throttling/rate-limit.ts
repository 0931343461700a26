/** The state of a request's tightest window, for the RateLimit-* headers. */
export interface RateLimitState {
  readonly limit: number;
  readonly remaining: number;
  /** Delta-seconds until the window resets. */
  readonly resetSeconds: number;
}

/** CONTRACT: RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset for the tightest window. */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'ratelimit-limit': String(state.limit),
    'ratelimit-remaining': String(state.remaining),
    'ratelimit-reset': String(state.resetSeconds),
  };
}

/** The tighter of two: fewer requests left, then the later reset (the one that blocks longer). */
export function tighter(a: RateLimitState | undefined, b: RateLimitState): RateLimitState {
  if (a === undefined) return b;
  if (b.remaining !== a.remaining) return b.remaining < a.remaining ? b : a;
  return b.resetSeconds > a.resetSeconds ? b : a;
}
