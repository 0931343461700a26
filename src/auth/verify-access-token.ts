import { errors as joseErrors, jwtVerify } from 'jose';
import type { AuthConfig, JwsAlgorithm } from '../config/gateway-config.js';
import { authFailure, type AuthFailureReason } from './auth-failure.js';
import { decodeJwt } from './decode-jwt.js';
import type { IssuerRegistry } from './issuer-registry.js';
import type { Principal } from './principal.js';
import { grantedScopes } from './scopes.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/**
 * Values X-Auth-Subject / X-Auth-Client-Id can carry unchanged: visible ASCII
 * and inner spaces (HTTP trims outer whitespace, so " admin" would arrive as "admin").
 */
const HEADER_SAFE = /^[\x21-\x7E](?:[\x20-\x7E]{0,254}[\x21-\x7E])?$/;
const AT_JWT = new Set(['at+jwt', 'application/at+jwt']);

export interface VerifierOptions {
  readonly cacheMaxEntries: number;
  readonly nowSeconds: () => number;
}

/**
 * Signature and claim rules → Principal, or a GatewayError (401 with an auth
 * failure reason, 503 when keys cannot be fetched).
 *
 * Order matters: everything that needs no key (shape, issuer, alg allowlist,
 * crit, typ) is checked first, so an untrusted or malformed token never causes
 * a network call. Keys come only from the issuer's JWKS: `jku`, `x5u`, `x5c`
 * and `jwk` headers are never read.
 */
export class AccessTokenVerifier {
  private readonly cache: VerifiedTokenCache;

  constructor(
    private readonly auth: AuthConfig,
    private readonly issuers: IssuerRegistry,
    private readonly options: VerifierOptions,
  ) {
    this.cache = new VerifiedTokenCache(options.cacheMaxEntries);
  }

  /** `mayRefetchKeys`: asked only when the kid is unknown, before a JWKS refetch on this request's behalf. */
  async verify(token: string, mayRefetchKeys?: () => Promise<boolean>): Promise<Principal> {
    const now = this.options.nowSeconds();
    const tolerance = this.auth.clockToleranceSeconds;
    const cacheKey = this.cache.keyOf(token);
    const cached = this.cache.get(cacheKey, token, this.issuers, now, tolerance);
    if (cached) return cached;

    const { header, payload } = decodeJwt(token);
    if (!hasFiniteNumericDates(payload)) throw authFailure('malformed');
    const issuerState = typeof payload.iss === 'string' ? this.issuers.get(payload.iss) : undefined;
    if (issuerState === undefined) throw authFailure('issuer');
    const { config: issuer, keys } = issuerState;

    // RFC 7515 §4.1.11: we understand no extension, so any `crit` is refused.
    if (header.crit !== undefined) throw authFailure('crit');
    const alg = header.alg;
    if (typeof alg !== 'string' || !(issuer.algorithms as readonly string[]).includes(alg)) throw authFailure('alg_not_allowed');
    if (this.auth.requireTyp && (typeof header.typ !== 'string' || !AT_JWT.has(header.typ.toLowerCase()))) throw authFailure('typ');
    if (header.kid !== undefined && typeof header.kid !== 'string') throw authFailure('malformed');

    const { key, generation } = await keys.keyFor(header.kid, alg as JwsAlgorithm, mayRefetchKeys);
    try {
      await jwtVerify(token, key, {
        algorithms: [alg],
        issuer: issuer.issuer,
        audience: issuer.audience as string[],
        clockTolerance: tolerance,
        requiredClaims: ['exp'],
        currentDate: new Date(now * 1000),
      });
    } catch (error) {
      throw authFailure(reasonFor(error), error);
    }
    // jose checks `iat` only together with maxTokenAge; CONTRACT refuses a future `iat` like `nbf`.
    if (typeof payload.iat === 'number' && payload.iat > now + tolerance) throw authFailure('not_yet_valid');

    const principal = toPrincipal(issuer.issuer, payload, token);
    this.cache.set(cacheKey, principal, generation);
    return principal;
  }
}

/**
 * RFC 7519 §2: a NumericDate is a number, and CONTRACT wants it finite. JSON.parse reads
 * `1e309` as Infinity, which jose takes for a number: a token that would never expire.
 */
function hasFiniteNumericDates(payload: Record<string, unknown>): boolean {
  for (const claim of NUMERIC_DATE_CLAIMS) {
    const value = payload[claim];
    if (value !== undefined && !Number.isFinite(value)) return false;
  }
  return true;
}
const NUMERIC_DATE_CLAIMS = ['exp', 'nbf', 'iat'] as const;

function toPrincipal(issuer: string, claims: Record<string, unknown>, token: string): Principal {
  const subject = headerSafe(claims.sub);
  const clientId = claims.client_id !== undefined ? headerSafe(claims.client_id) : headerSafe(claims.azp);
  return Object.freeze({
    issuer,
    subject,
    clientId,
    scopes: Object.freeze(grantedScopes(claims)),
    expiresAt: claims.exp as number,
    claims: Object.freeze(claims),
    token,
  });
}

/** An identity that cannot be passed on is refused, never forwarded without it. */
function headerSafe(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !HEADER_SAFE.test(value)) throw authFailure('identity');
  return value;
}

/** jose's error classes → our closed reasons (never jose's message text). */
function reasonFor(error: unknown): AuthFailureReason {
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.reason === 'check_failed') {
      if (error.claim === 'aud') return 'audience';
      if (error.claim === 'iss') return 'issuer';
      if (error.claim === 'nbf' || error.claim === 'iat') return 'not_yet_valid';
    }
    if (error.claim === 'aud' && error.reason === 'missing') return 'audience';
    return 'malformed';
  }
  return 'malformed';
}
