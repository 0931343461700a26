// The options TestIssuer takes (start, token, JWKS shape, outages) and their validation, done once at start().
// Imports nothing else from src/ (STYLE §1): only test-keys.ts and issuer-keys.ts beside it.
import { randomKid, type TestKeyAlgorithm } from './test-keys.js';
import { assertAlgorithm } from './issuer-keys.js';

/**
 * How the JWKS document is written. Real IdPs differ: some omit `alg` or `use`, some use long kids.
 *
 * @example
 * ```ts
 * issuer.jwksOptions.omitAlg = true;       // next JWKS fetch lists keys without `alg`
 * issuer.jwksOptions = { kidLength: 80 };  // keys made from now on (rotate) get 80-character kids
 * ```
 */
export interface JwksOptions {
  /** Leave `alg` out of every JWKS entry (RFC 7517 §4.4 makes it optional). */
  omitAlg?: boolean;
  /** Leave `use` out of every JWKS entry (RFC 7517 §4.2 makes it optional). */
  omitUse?: boolean;
  /** Length of kids for keys created after this is set; existing keys keep theirs. Default 16. */
  kidLength?: number;
}

/**
 * Options of {@link TestIssuer.start}. Every field is optional.
 *
 * @example
 * ```ts
 * const issuer = await TestIssuer.start({ algorithms: ['PS256'], issuerPath: '/realms/test', discovery: 'both' });
 * issuer.issuer; // 'http://127.0.0.1:<port>/realms/test'
 * ```
 */
export interface TestIssuerOptions {
  /** One key is created per entry at start. Default `['RS256', 'ES256', 'EdDSA']`; the first is token()'s default. */
  algorithms?: TestKeyAlgorithm[];
  /** The `aud` of minted tokens. Default `'api://gateway-test'`. */
  audience?: string;
  /**
   * Appended to the origin to form `issuer`: `''` (default) or starting with `/`.
   * A trailing `/` is kept in `issuer` but not in the endpoint paths.
   */
  issuerPath?: string;
  /** Which discovery documents are served: OIDC Discovery, RFC 8414, both or none. Default `'openid'`. */
  discovery?: 'openid' | 'oauth' | 'both' | 'none';
  /** Listen address. Default `127.0.0.1`; the port is always random (`listen(0)`). */
  host?: string;
  /** Initial {@link TestIssuer.jwksOptions}, e.g. `{ kidLength: 80 }` so even the first keys have long kids. */
  jwksOptions?: JwksOptions;
}

/**
 * Options of {@link TestIssuer.token}.
 *
 * @example
 * ```ts
 * await issuer.token({ alg: 'ES256', claims: { scope: 'orders:read', client_id: undefined }, expiresInSeconds: -60 });
 * ```
 */
export interface MintOptions {
  /** Sign with the newest key of this algorithm. Default: the first of `algorithms`. */
  alg?: TestKeyAlgorithm;
  /** Header `kid` to send (e.g. an unknown one); the signature still uses the key `alg` chose. */
  kid?: string;
  /** Merged over the default claims; a value `undefined` removes that claim. */
  claims?: Record<string, unknown>;
  /** Merged over the protected header `{ alg, kid, typ: 'JWT' }`; a value `undefined` removes that member. */
  header?: Record<string, unknown>;
  /** `exp` is `iat` plus this. Default 300; may be negative for an already expired token. */
  expiresInSeconds?: number;
}

/**
 * What {@link TestIssuer.takeJwksDown} does to the JWKS endpoint: `'error'` answers 503,
 * `'hang'` accepts the request and never answers (for time-out tests).
 *
 * @example
 * ```ts
 * const mode: JwksOutage = 'hang';
 * issuer.takeJwksDown(mode);
 * ```
 */
export type JwksOutage = 'error' | 'hang';

/** {@link TestIssuerOptions} with every default filled in. */
export type ResolvedIssuerOptions = Required<TestIssuerOptions>;

const DEFAULT_ALGORITHMS: readonly TestKeyAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];
const DISCOVERY_MODES = ['openid', 'oauth', 'both', 'none'] as const;

/**
 * Fills in the defaults and checks every option, so invalid options throw before anything listens.
 *
 * @example
 * ```ts
 * resolveOptions({ issuerPath: '/realms/test' }).discovery; // 'openid'
 * resolveOptions({ issuerPath: 'realms' });                 // throws TypeError
 * ```
 */
export function resolveOptions(options: TestIssuerOptions): ResolvedIssuerOptions {
  const resolved = {
    algorithms: [...(options.algorithms ?? DEFAULT_ALGORITHMS)],
    audience: options.audience ?? 'api://gateway-test',
    issuerPath: options.issuerPath ?? '',
    discovery: options.discovery ?? 'openid',
    host: options.host ?? '127.0.0.1',
    jwksOptions: { ...options.jwksOptions },
  };
  resolved.algorithms.forEach(assertAlgorithm);
  if (typeof resolved.audience !== 'string' || resolved.audience === '') {
    throw new TypeError('audience must be a non-empty string');
  }
  if (resolved.issuerPath !== '' && !/^\/[^?#]*$/.test(resolved.issuerPath)) {
    const got = JSON.stringify(resolved.issuerPath);
    throw new TypeError(`issuerPath must be '' or start with '/' and have no query or fragment, got ${got}`);
  }
  if (!DISCOVERY_MODES.includes(resolved.discovery)) {
    throw new TypeError(`discovery must be one of ${DISCOVERY_MODES.join(', ')}, got ${String(resolved.discovery)}`);
  }
  if (resolved.jwksOptions.kidLength !== undefined) randomKid(resolved.jwksOptions.kidLength); // throws if out of range
  return resolved;
}
