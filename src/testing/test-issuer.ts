// TestIssuer: a real OAuth/OIDC issuer on 127.0.0.1:<random port> for e2e tests, here and in other teams' suites.
// Imports nothing else from src/ (STYLE §1): only jose (through test-keys.ts) and node built-ins.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { JWK } from 'jose';
import {
  TEST_KEY_ALGORITHMS,
  encodeSegment,
  generateTestKey,
  isTestKeyAlgorithm,
  randomKid,
  signJws,
  type TestKey,
  type TestKeyAlgorithm,
} from './test-keys.js';

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

const DEFAULT_ALGORITHMS: readonly TestKeyAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];
const DEFAULT_KID_LENGTH = 16;
const DISCOVERY_MODES = ['openid', 'oauth', 'both', 'none'] as const;

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

  readonly #server: Server;
  readonly #sockets: Set<Socket>;
  readonly #keys: TestKey[];
  readonly #defaultAlg: TestKeyAlgorithm | undefined;
  readonly #discovery: NonNullable<TestIssuerOptions['discovery']>;
  /** `issuerPath` without a trailing `/`, and the paths served under it. */
  readonly #paths: { base: string; openid: string; oauth: string; jwks: string };
  #jwksOutage: JwksOutage | undefined;
  #counters = { jwks: 0, discovery: 0 };
  #closing: Promise<void> | undefined;

  private constructor(server: Server, sockets: Set<Socket>, keys: TestKey[], options: Required<TestIssuerOptions>) {
    this.#server = server;
    this.#sockets = sockets;
    this.#keys = keys;
    this.#defaultAlg = options.algorithms[0];
    this.#discovery = options.discovery;
    this.audience = options.audience;
    this.jwksOptions = { ...options.jwksOptions };
    this.port = (server.address() as AddressInfo).port;
    this.origin = `http://${urlHost(options.host)}:${this.port}`;
    this.issuer = `${this.origin}${options.issuerPath}`;
    const base = options.issuerPath.replace(/\/$/, '');
    this.#paths = {
      base,
      openid: `${base}/.well-known/openid-configuration`,
      // RFC 8414 §3.1: the well-known segment goes between host and path
      oauth: `/.well-known/oauth-authorization-server${base}`,
      jwks: `${base}/jwks`,
    };
    this.jwksUri = `${this.origin}${this.#paths.jwks}`;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res));
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
    const kidLength = resolved.jwksOptions.kidLength ?? DEFAULT_KID_LENGTH;
    const keys = await Promise.all(resolved.algorithms.map((alg) => generateTestKey(alg, kidLength)));
    const sockets = new Set<Socket>();
    const server = createServer();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, resolved.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new TestIssuer(server, sockets, keys, resolved);
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
    const key = this.#newestKey(options.alg ?? this.#requireDefaultAlg());
    const expiresInSeconds = options.expiresInSeconds ?? 300;
    if (!Number.isFinite(expiresInSeconds)) {
      throw new RangeError(`expiresInSeconds must be a finite number, got ${expiresInSeconds}`);
    }
    const now = Math.floor(Date.now() / 1000);
    const claims = mergeRemovingUndefined(
      {
        iss: this.issuer,
        aud: this.audience,
        sub: 'test-subject',
        client_id: 'test-client',
        scope: '',
        iat: now,
        exp: now + expiresInSeconds,
        jti: randomUUID(),
      },
      options.claims,
    );
    const header = mergeRemovingUndefined({ alg: key.alg, kid: options.kid ?? key.kid, typ: 'JWT' }, options.header);
    return signJws(key, encodeSegment(header), encodeSegment(claims));
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
    const key = this.#signingKey(header, alg);
    const fullHeader =
      typeof header === 'string' ? header : mergeRemovingUndefined({ alg: key.alg, kid: key.kid }, header);
    return signJws(key, encodeSegment(fullHeader), encodeSegment(payload));
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
    const keyAlg = alg ?? this.#requireDefaultAlg();
    assertAlgorithm(keyAlg);
    const key = await generateTestKey(keyAlg, this.jwksOptions.kidLength ?? DEFAULT_KID_LENGTH);
    if (opts.retirePrevious) {
      for (let i = this.#keys.length - 1; i >= 0; i--) {
        if (this.#keys[i]!.alg === keyAlg) this.#keys.splice(i, 1);
      }
    }
    this.#keys.push(key);
    return { kid: key.kid };
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
    const index = this.#keys.findIndex((key) => key.kid === kid);
    if (index < 0) throw new Error(`TestIssuer has no key with kid ${JSON.stringify(kid)}`);
    this.#keys.splice(index, 1);
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
    return this.#keys.map(({ kid, alg }) => ({ kid, alg }));
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
    const key = this.#keyByKid(kid);
    return { ...key.publicJwk, kid: key.kid, alg: key.alg, use: 'sig' };
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
    return this.#keyByKid(kid).publicKeyPem;
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
    this.#jwksOutage = mode;
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
    this.#jwksOutage = undefined;
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
    return Object.freeze({ ...this.#counters });
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
    this.#counters = { jwks: 0, discovery: 0 };
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
    this.#closing ??= new Promise<void>((resolve, reject) => {
      this.#server.close((err) => (err ? reject(err) : resolve()));
      for (const socket of this.#sockets) socket.destroy();
    });
    return this.#closing;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', this.origin).pathname;
    const isDiscovery = path === this.#paths.openid || path === this.#paths.oauth;
    const isJwks = path === this.#paths.jwks;
    if (isDiscovery) this.#counters.discovery++;
    if (isJwks) this.#counters.jwks++;
    const served =
      isJwks ||
      (path === this.#paths.openid && (this.#discovery === 'openid' || this.#discovery === 'both')) ||
      (path === this.#paths.oauth && (this.#discovery === 'oauth' || this.#discovery === 'both'));
    if (!served) return sendJson(res, 404, { error: 'not_found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
    }
    if (isJwks) return this.#serveJwks(res);
    sendJson(res, 200, this.#metadata());
  }

  #serveJwks(res: ServerResponse): void {
    if (this.#jwksOutage === 'hang') return; // never answered; close() destroys the socket
    if (this.#jwksOutage === 'error') {
      return sendJson(res, 503, { error: 'temporarily_unavailable' }, { 'retry-after': '1' });
    }
    const { omitAlg, omitUse } = this.jwksOptions;
    const keys = this.#keys.map((key) => ({
      kty: key.publicJwk.kty,
      kid: key.kid,
      ...(omitUse ? {} : { use: 'sig' }),
      ...(omitAlg ? {} : { alg: key.alg }),
      ...key.publicJwk,
    }));
    sendJson(res, 200, { keys });
  }

  // OIDC Discovery 1.0 §3 required fields (RFC 8414 §2 is a subset); token and authorize endpoints are placeholders:
  // TestIssuer issues tokens only through token(), so those paths answer 404.
  #metadata(): Record<string, unknown> {
    const base = `${this.origin}${this.#paths.base}`;
    return {
      issuer: this.issuer,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      jwks_uri: this.jwksUri,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      grant_types_supported: ['authorization_code', 'client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      id_token_signing_alg_values_supported: [...new Set(this.#keys.map((key) => key.alg))],
    };
  }

  #requireDefaultAlg(): TestKeyAlgorithm {
    if (!this.#defaultAlg) throw new Error('TestIssuer was started with algorithms: []; pass an alg');
    return this.#defaultAlg;
  }

  #newestKey(alg: TestKeyAlgorithm): TestKey {
    assertAlgorithm(alg);
    const key = this.#keys.findLast((candidate) => candidate.alg === alg);
    if (!key) throw new Error(`TestIssuer has no ${alg} key; list it in algorithms or call rotate('${alg}')`);
    return key;
  }

  #keyByKid(kid: string): TestKey {
    const key = this.#keys.find((candidate) => candidate.kid === kid);
    if (!key) throw new Error(`TestIssuer has no key with kid ${JSON.stringify(kid)}`);
    return key;
  }

  #signingKey(header: Record<string, unknown> | string, alg: TestKeyAlgorithm | undefined): TestKey {
    if (alg !== undefined) return this.#newestKey(alg);
    if (typeof header !== 'string') {
      const named = this.#keys.find((key) => key.kid === header.kid);
      if (named) return named;
      if (isTestKeyAlgorithm(header.alg)) return this.#newestKey(header.alg);
    }
    return this.#newestKey(this.#requireDefaultAlg());
  }
}

function resolveOptions(options: TestIssuerOptions): Required<TestIssuerOptions> {
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

function assertAlgorithm(alg: unknown): asserts alg is TestKeyAlgorithm {
  if (!isTestKeyAlgorithm(alg)) {
    throw new TypeError(`unsupported algorithm ${String(alg)}; TestIssuer supports ${TEST_KEY_ALGORITHMS.join(', ')}`);
  }
}

function mergeRemovingUndefined(
  base: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base, ...overrides };
  for (const [name, value] of Object.entries(merged)) {
    if (value === undefined) delete merged[name];
  }
  return merged;
}

// A URL needs brackets round IPv6; a wildcard listen address is reached through loopback.
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
