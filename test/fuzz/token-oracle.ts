// The oracle: what CONTRACT says a token must get, computed independently of the gateway from
// the exact header and payload text that was signed, and turned into the statuses a request
// carrying it may be answered.
import type { TestIssuer } from '../../src/testing/index.js';
import { type Credential, type Expectation, statuses } from './fuzz-case.js';
import { TOLERANCE_SECONDS } from './fuzz-context.js';
import { type FuzzRoute, SCOPE_TOKEN } from './routes.js';

/** `either`: CONTRACT leaves it open, or the clock is too close to the edge to call. */
export type Verdict = 'accept' | 'reject' | 'either';
export const worst = (verdicts: Verdict[]): Verdict =>
  verdicts.includes('reject') ? 'reject' : verdicts.includes('either') ? 'either' : 'accept';

export interface TokenOracle {
  readonly verdict: Verdict;
  /** Why it is refused or uncertain, for the report. */
  readonly why: string[];
  /** Scopes certainly granted if accepted; `scopeCertain` false when the rules leave it open. */
  readonly grants: readonly string[];
  readonly scopeCertain: boolean;
  readonly identity?: Credential['identity'];
}

/** RFC 6749 scope-tokens from `scope`, else `scp` (CONTRACT "How a token is read"). */
function scopesOf(claims: Record<string, unknown>): { grants: string[]; certain: boolean } {
  const source = claims.scope !== undefined ? claims.scope : claims.scp;
  const candidates = typeof source === 'string' ? source.split(' ') : Array.isArray(source) ? source : [];
  const grants = [...new Set(candidates.filter((c): c is string => typeof c === 'string' && SCOPE_TOKEN.test(c)))];
  // `scope: null` beside a good `scp`: whether null counts as "no scope" is not said.
  return { grants, certain: !(claims.scope === null && claims.scp !== undefined) };
}

/** `sub`, `client_id`, `azp`: visible ASCII and spaces, at most 256 characters. */
function identityVerdict(value: unknown): Verdict {
  if (value === undefined) return 'accept';
  if (typeof value !== 'string') return 'reject';
  if (value.length > 256 || /[^\x20-\x7E]/.test(value)) return 'reject';
  if (value.length === 0 || value.startsWith(' ') || value.endsWith(' ')) return 'either'; // a header trims them
  return 'accept';
}

function timeVerdict(name: 'exp' | 'nbf' | 'iat', value: unknown, now: number): Verdict {
  if (value === undefined) return name === 'exp' ? 'reject' : 'accept';
  // CONTRACT: NumericDates are finite JSON numbers; 1e309 parses as Infinity and is malformed.
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'reject';
  const edge = name === 'exp' ? now - TOLERANCE_SECONDS : now + TOLERANCE_SECONDS;
  if (Math.abs(value - edge) <= 3) return 'either';
  if (name === 'exp') return value > edge ? 'accept' : 'reject';
  return value < edge ? 'accept' : 'reject';
}

/** The claims as CONTRACT reads them, for a token `issuer` signed at `now`. */
export function claimsOracle(payloadText: string, now: number, issuer: Pick<TestIssuer, 'issuer' | 'audience'>): TokenOracle {
  const why: string[] = [];
  let claims: unknown;
  try {
    claims = JSON.parse(payloadText);
  } catch {
    return { verdict: 'reject', why: ['payload not JSON'], grants: [], scopeCertain: true };
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    return { verdict: 'reject', why: ['payload not an object'], grants: [], scopeCertain: true };
  }
  const c = claims as Record<string, unknown>;
  const verdicts: Verdict[] = [];
  const note = (verdict: Verdict, label: string) => {
    verdicts.push(verdict);
    if (verdict !== 'accept') why.push(`${label}:${verdict}`);
  };
  note(c.iss === issuer.issuer ? 'accept' : 'reject', 'iss');
  const aud = c.aud;
  if (typeof aud === 'string') note(aud === issuer.audience ? 'accept' : 'reject', 'aud');
  else if (Array.isArray(aud) && aud.includes(issuer.audience)) note(aud.every((a) => typeof a === 'string') ? 'accept' : 'either', 'aud');
  else note('reject', 'aud');
  for (const name of ['exp', 'nbf', 'iat'] as const) note(timeVerdict(name, c[name], now), name);
  note(identityVerdict(c.sub), 'sub');
  if (c.client_id !== undefined) {
    note(identityVerdict(c.client_id), 'client_id');
    if (c.azp !== undefined && identityVerdict(c.azp) !== 'accept') note('either', 'azp beside client_id');
  } else note(identityVerdict(c.azp), 'azp');
  const { grants, certain } = scopesOf(c);
  const subOk = identityVerdict(c.sub) === 'accept';
  const clientId = c.client_id !== undefined ? c.client_id : c.azp;
  const clientOk = identityVerdict(clientId) === 'accept';
  return {
    verdict: worst(verdicts),
    why,
    grants,
    scopeCertain: certain,
    identity: subOk && clientOk ? { sub: c.sub as string | undefined, clientId: clientId as string | undefined } : undefined,
  };
}

/** The protected header against the key that really signed: alg, kid, crit (CONTRACT: any crit is refused). */
export function headerOracle(headerText: string, keyAlg: string, keyKid: string): { verdict: Verdict; why: string[] } {
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch {
    return { verdict: 'reject', why: ['header not JSON'] };
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return { verdict: 'reject', why: ['header not an object'] };
  const h = header as Record<string, unknown>;
  const verdicts: Verdict[] = [];
  const why: string[] = [];
  const note = (verdict: Verdict, label: string) => {
    verdicts.push(verdict);
    if (verdict !== 'accept') why.push(`${label}:${verdict}`);
  };
  if (h.crit !== undefined) note('reject', 'crit');
  note(h.alg === keyAlg ? 'accept' : 'reject', 'alg');
  note(h.kid === undefined ? 'either' : h.kid === keyKid ? 'accept' : 'reject', 'kid');
  if (h.typ !== undefined && typeof h.typ !== 'string') note('either', 'typ');
  for (const name of ['jku', 'x5u', 'jwk', 'x5c', 'x5t', 'b64', 'zip', 'enc', 'cty']) if (h[name] !== undefined) note('either', name);
  return { verdict: worst(verdicts), why };
}

/** Forged, mangled or oversized: refused whatever its claims say. */
export const REJECTED: TokenOracle = { verdict: 'reject', why: ['forged or malformed'], grants: [], scopeCertain: true };

/** What a token on a route must get: the oracle's verdict turned into statuses. */
export function tokenExpectation(oracle: TokenOracle, route: FuzzRoute, token: string): Expectation {
  // Node refuses a head over 16 KiB (431), or one a control character breaks (400), before the gateway reads anything.
  if (token.length > 16_384) return statuses('headers over 16 KiB', 431);
  if (token.length > 16_000) return statuses('headers near 16 KiB', 431, route.public ? 200 : 401);
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(token)) return statuses('control character in the header', 400, route.public ? 200 : 401);
  if (route.public) return statuses('public route ignores Authorization', 200);
  const why = oracle.why.join(', ') || 'valid';
  const scopeStatuses = !oracle.scopeCertain ? [200, 403] : route.scopes.every((s) => oracle.grants.includes(s)) ? [200] : [403];
  if (oracle.verdict === 'reject') return statuses(why, 401);
  if (oracle.verdict === 'accept') return statuses(why, ...scopeStatuses);
  return statuses(why, 401, ...scopeStatuses);
}
