// TestIssuer: a real OAuth/OIDC issuer on 127.0.0.1:<random port> for e2e tests, here and in other teams' suites.
// A thin facade over issuer-keys.ts (key set), issuer-server.ts (HTTP), issuer-mint.ts (JWTs), issuer-options.ts.
// Imports nothing else from src/ (STYLE §1): only jose (through test-keys.ts) and node built-ins.
import type { JWK } from 'jose';
import { IssuerKeys } from './issuer-keys.js';
import { mintToken, signRaw } from './issuer-mint.js';
import {
  resolveOptions,
  type JwksOptions,
  type JwksOutage,
  type MintOptions,
  type ResolvedIssuerOptions,
  type TestIssuerOptions,
} from './issuer-options.js';
import { IssuerServer } from './issuer-server.js';
import type { TestKeyAlgorithm } from './test-keys.js';

// Re-exported so index.ts (and this module's surface) stay as they were before the split.
export type { JwksOptions, JwksOutage, MintOptions, TestIssuerOptions };

/**
 * An OAuth 2.0 / OpenID Connect issuer for tests: real keys, a real JWKS endpoint and discovery documents
 * on `127.0.0.1:<random port>`, tokens minted on demand, and switches for the failures a verifier must
 * survive (key rotation, JWKS down or hanging, unusual JWKS shapes). Start one per test file and close it
 * in `afterAll`.
 *
 * Endpoints (`<base>` is `issuerPath` without a trailing `/`):
 * `GET <base>/.well-known/openid-configuration`, `GET /.well-known/oauth-authorization-server<base>`
 * (RFC 8414 §3.1), `GET <base>/jwks`.
 *
 * @example
 * ```ts
 * import { TestIssuer } from 'service-gateway/testing';
 *
 * let issuer: TestIssuer;
 * beforeAll(async () => { issuer = await TestIssuer.start(); });
 * afterAll(() => issuer.close());
 *
 * it('accepts a token', async () => {
 *   const token = await issuer.token({ claims: { scope: 'orders:read' } });
 *   const res = await fetch(`${gatewayUrl}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
 *   expect(res.status).toBe(200);
 * });
 * ```
 */
export class TestIssuer {
  /** `http://<host>:<port><issuerPath>`: the `iss` of minted tokens and the `issuer` of discovery. */
  readonly issuer: string;
  /** `http://<host>:<port>`, no trailing `/`. */
  readonly origin: string;
  /** `<issuer without trailing />/jwks`. */
  readonly jwksUri: string;
  /** The `aud` of minted tokens. */
  readonly audience: string;
  readonly port: number;
  /** Mutable; read on every JWKS request (and `kidLength` on every new key). */
  jwksOptions: JwksOptions;

  readonly #server: IssuerServer;
  readonly #keys: IssuerKeys;

  private constructor(server: IssuerServer, keys: IssuerKeys, options: ResolvedIssuerOptions) {
    this.#server = server;
    this.#keys = keys;
    this.audience = options.audience;
    this.jwksOptions = { ...options.jwksOptions };
    this.port = server.port;
    this.origin = server.origin;
    this.issuer = server.issuer;
    this.jwksUri = server.jwksUri;
    server.serve({ jwks: () => keys.jwksDocument(this.jwksOptions), algorithms: () => keys.algorithms() });
  }

  /**
   * Creates the keys, then listens on a random port. Invalid options throw before anything listens.
   *
   * @example
   * ```ts
   * const issuer = await TestIssuer.start({ algorithms: ['ES256', 'RS256'], audience: 'api://orders' });
   * afterAll(() => issuer.close());
   * ```
   */
  static async start(options: TestIssuerOptions = {}): Promise<TestIssuer> {
    const resolved = resolveOptions(options);
    const keys = await IssuerKeys.create(resolved.algorithms, resolved.jwksOptions);
    const server = await IssuerServer.listen(resolved);
    return new TestIssuer(server, keys, resolved);
  }

  /**
   * Mints a signed access token. Default claims: `iss`, `aud`, `sub: 'test-subject'`, `client_id: 'test-client'`,
   * `scope: ''`, `iat` now, `exp` now + 300, a random `jti`; no `nbf`. Default header: `{ alg, kid, typ: 'JWT' }`.
   *
   * @example
   * ```ts
   * await issuer.token({ claims: { scope: 'orders:read orders:write' } });
   * await issuer.token({ claims: { sub: undefined } });                 // no sub at all
   * await issuer.token({ header: { typ: 'at+jwt' } });                  // RFC 9068
   * await issuer.token({ kid: 'not-in-jwks' });                         // unknown kid, valid signature
   * await issuer.token({ expiresInSeconds: -60 });                      // expired a minute ago
   * ```
   */
  async token(options: MintOptions = {}): Promise<string> {
    const key = this.#keys.newest(options.alg ?? this.#keys.requireDefaultAlg());
    return mintToken(key, { issuer: this.issuer, audience: this.audience }, options);
  }

  /**
   * Low level: signs exactly this header and payload. The header gets the key's `alg` and `kid` unless it has its own
   * (a member set to `undefined` is left out, e.g. `{ kid: undefined }` for a token without kid). A string header or
   * payload is used verbatim, so a test can send JSON that repeats a member name.
   *
   * The signing key is the newest key of `alg` if given; else the key named by the header's `kid`; else the newest
   * key of the header's `alg`; else the newest key of the default algorithm. The signature always uses that key's own
   * algorithm, whatever the header says.
   *
   * @example
   * ```ts
   * await issuer.sign({ typ: 'JWT' }, '{"iss":"x","sub":"a","sub":"b"}');        // duplicate member names
   * await issuer.sign({ crit: ['exp'], exp: 1 }, { iss: issuer.issuer });          // crit a verifier must refuse
   * await issuer.sign({ alg: 'RS256' }, { iss: issuer.issuer }, 'ES256');          // header alg ≠ key alg
   * ```
   */
  async sign(
    header: Record<string, unknown> | string,
    payload: Record<string, unknown> | string,
    alg?: TestKeyAlgorithm,
  ): Promise<string> {
    return signRaw(this.#keys.signingKey(header, alg), header, payload);
  }

  /**
   * Adds a new key for `alg` (default: the first algorithm); token() uses it from now on. The old key stays in the
   * JWKS unless `retirePrevious` is set, which removes every older key of that algorithm.
   *
   * @example
   * ```ts
   * const before = issuer.keys()[0].kid;
   * const { kid } = await issuer.rotate('RS256', { retirePrevious: true });
   * // tokens signed with `before` now fail with unknown kid once the gateway refetches
   * ```
   */
  async rotate(alg?: TestKeyAlgorithm, opts: { retirePrevious?: boolean } = {}): Promise<{ kid: string }> {
    return this.#keys.rotate(alg, { kidLength: this.jwksOptions.kidLength, retirePrevious: opts.retirePrevious });
  }

  /**
   * Removes a key from the JWKS and from signing. An unknown kid throws (a typo should fail the test, not pass it).
   *
   * @example
   * ```ts
   * const token = await issuer.token();
   * issuer.removeKey(issuer.keys()[0].kid);  // token's kid is no longer published
   * ```
   */
  removeKey(kid: string): void {
    this.#keys.remove(kid);
  }

  /**
   * The current keys, oldest first (the order of the JWKS).
   *
   * @example
   * ```ts
   * issuer.keys(); // [{ kid: 'q3…', alg: 'RS256' }, { kid: 'Zk…', alg: 'ES256' }, { kid: '8a…', alg: 'EdDSA' }]
   * ```
   */
  keys(): { kid: string; alg: TestKeyAlgorithm }[] {
    return this.#keys.list();
  }

  /**
   * The public JWK of a key, with `kid`, `alg` and `use: 'sig'` (a fresh copy), e.g. for an embedded `jwk` header
   * attack: keys must come only from config or discovery, never from the token.
   *
   * @example
   * ```ts
   * const [{ kid }] = issuer.keys();
   * await issuer.sign({ jwk: issuer.publicJwk(kid) }, { iss: issuer.issuer });
   * ```
   */
  publicJwk(kid: string): JWK {
    return this.#keys.publicJwk(kid);
  }

  /**
   * The SPKI PEM of a key, e.g. for the "HS256 signed with the RSA public key as HMAC secret" attack.
   *
   * @example
   * ```ts
   * const secret = issuer.publicKeyPem(issuer.keys()[0].kid);
   * const input = `${b64url({ alg: 'HS256', kid })}.${b64url(claims)}`;
   * const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
   * ```
   */
  publicKeyPem(kid: string): string {
    return this.#keys.publicKeyPem(kid);
  }

  /**
   * Makes the JWKS endpoint fail: `'error'` (default) answers 503, `'hang'` accepts the request and never answers.
   * Discovery stays up. Requests already hanging stay hung until the client gives up or close().
   *
   * @example
   * ```ts
   * issuer.takeJwksDown('hang');
   * const token = await issuer.token({ kid: 'not-cached' });
   * const res = await fetch(`${gw.url}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
   * expect(res.status).toBe(503);
   * issuer.bringJwksUp();
   * ```
   */
  takeJwksDown(mode: JwksOutage = 'error'): void {
    if (mode !== 'error' && mode !== 'hang') {
      throw new TypeError(`takeJwksDown mode must be 'error' or 'hang', got ${String(mode)}`);
    }
    this.#server.setJwksOutage(mode);
  }

  /**
   * Ends takeJwksDown(): the JWKS endpoint answers 200 again.
   *
   * @example
   * ```ts
   * issuer.bringJwksUp();
   * expect((await fetch(issuer.jwksUri)).status).toBe(200);
   * ```
   */
  bringJwksUp(): void {
    this.#server.setJwksOutage(undefined);
  }

  /**
   * Requests received so far (a snapshot): `jwks` counts every request to the JWKS path, answered or not; `discovery`
   * every request to either well-known path, served or 404.
   *
   * @example
   * ```ts
   * issuer.resetCounters();
   * await Promise.all(Array.from({ length: 20 }, () => callWithUnknownKid()));
   * expect(issuer.requests.jwks).toBeLessThanOrEqual(1);
   * ```
   */
  get requests(): Readonly<{ jwks: number; discovery: number }> {
    return this.#server.requests;
  }

  /**
   * Sets both request counters to 0.
   *
   * @example
   * ```ts
   * issuer.resetCounters();
   * expect(issuer.requests).toEqual({ jwks: 0, discovery: 0 });
   * ```
   */
  resetCounters(): void {
    this.#server.resetCounters();
  }

  /**
   * Stops listening and destroys every open socket, hung JWKS requests included, so no handle is left open.
   * Safe to call twice.
   *
   * @example
   * ```ts
   * afterAll(() => issuer.close());
   * ```
   */
  close(): Promise<void> {
    return this.#server.close();
  }
}
