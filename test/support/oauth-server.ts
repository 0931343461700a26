// A real OAuth 2.0 authorization server for the client-credentials tests (issue 3, STYLE §5):
// oidc-provider with client credentials, resource indicators (RFC 8707) and JWT access tokens
// (RFC 9068), behind a node:http server of ours that records every token-endpoint request and can
// take the token endpoint down. Known trap: oidc-provider issues a JWT only when the token request
// names `resource`; with `audience` alone the token is opaque (and verifyAccessToken rejects it).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseQuery } from 'node:querystring';
import {
  createLocalJWKSet,
  decodeJwt,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  jwtVerify,
  type JWK,
  type JSONWebKeySet,
} from 'jose';

export interface OAuthServerOptions {
  /** Lifetime of the JWT access tokens for `resource` (default 300). */
  readonly accessTokenTtlSeconds?: number;
}

export interface OAuthClientSecret {
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface OAuthClientKey {
  readonly clientId: string;
  /** PKCS#8 PEM of the client's RS256 private key, in a temp file removed by close(). */
  readonly privateKeyFile: string;
  readonly keyId: string;
}

export interface TokenRequestRecord {
  readonly method: string;
  /** From the Basic header, the body's client_id, or the client assertion's `iss`, when any is readable. */
  clientId?: string;
  grantType?: string;
  /** The status answered; 0 when the connection was reset (takeDown('reset')). */
  status: number;
}

export interface OAuthServer {
  /** `http://127.0.0.1:<port>` */
  readonly issuer: string;
  readonly tokenUrl: string;
  readonly jwksUri: string;
  /**
   * Clients registered at start, one per auth method. Secrets contain '+', '%' and ':' to catch
   * RFC 6749 §2.3.1 encoding bugs (a Basic header with the raw secret is refused).
   */
  readonly clients: {
    readonly basic: OAuthClientSecret;
    readonly post: OAuthClientSecret;
    readonly privateKeyJwt: OAuthClientKey;
  };
  /** Tokens requested with resource=<this> are JWTs with aud=<this>. */
  readonly resource: string;
  /** The scope every client may request. */
  readonly scope: string;
  /** A scope the server knows but no client may request: asking for it → 400 invalid_scope. (Unknown scopes are dropped silently.) */
  readonly deniedScope: string;
  /** Every token-endpoint request seen, in the order answered. Clear with `tokenRequests.length = 0`. */
  readonly tokenRequests: TokenRequestRecord[];
  /**
   * Make the token endpoint answer 503 (mode 'error', the default), reset connections ('reset'), or hold
   * requests unanswered ('hold') until bringUp(), which answers the held ones normally.
   */
  takeDown(mode?: 'error' | 'reset' | 'hold'): void;
  /** Token requests held by takeDown('hold') and not yet answered. */
  readonly heldRequests: number;
  bringUp(): void;
  /** Verifies an access token it issued (RS256 signature with its JWKS, typ at+jwt, iss, aud=resource); returns the claims. */
  verifyAccessToken(token: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

const RESOURCE = 'https://orders.internal';
const SCOPE = 'orders.internal';
const DENIED_SCOPE = 'orders.admin';
const TOKEN_PATH = '/token';
const JWKS_PATH = '/jwks';

// oidc-provider ships no type declarations: the little of it used here, typed by hand.
interface OidcContext {
  readonly req: IncomingMessage;
  readonly oidc?: { readonly body?: Record<string, unknown>; readonly params?: Record<string, unknown> };
}
interface OidcProvider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(middleware: (ctx: OidcContext, next: () => Promise<void>) => Promise<void>): void;
  on(event: 'server_error', listener: (ctx: OidcContext, error: Error) => void): void;
  readonly Client: { find(clientId: string): Promise<unknown> };
}
interface OidcProviderModule {
  readonly default: new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
  readonly errors: { readonly InvalidTarget: new (description?: string) => Error };
}

let oidcModule: Promise<OidcProviderModule> | undefined;

/**
 * Imports oidc-provider once per module registry (per test file under Jest). Its import-time
 * "Unsupported runtime" warning (it wants Node 22; it works on 20) is dropped, nothing else.
 * The specifier is a variable because the package has no types (TS7016 on a literal import).
 */
function loadOidcProvider(): Promise<OidcProviderModule> {
  oidcModule ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider WARNING: Unsupported runtime')) return;
      warn.apply(console, args);
    };
    try {
      const specifier: string = 'oidc-provider';
      return (await import(specifier)) as OidcProviderModule;
    } finally {
      console.warn = warn;
    }
  })();
  return oidcModule;
}

type Stored = { payload: Record<string, unknown>; expiresAt: number };

/**
 * oidc-provider's storage, a Map per server with expiry checked on read (no timers, nothing to
 * clean up): the clients (`Client:<id>`, seeded at start), replay detection of client-assertion
 * `jti`s, opaque tokens. Supplying one also avoids the "development-only in-memory adapter" warning.
 */
function mapAdapter(store: Map<string, Stored>) {
  const live = (key: string) => {
    const entry = store.get(key);
    if (entry && entry.expiresAt <= Date.now()) store.delete(key);
    return store.get(key)?.payload;
  };
  return class MapAdapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    private findBy(field: string, value: string) {
      for (const key of store.keys()) if (key.startsWith(`${this.model}:`) && live(key)?.[field] === value) return live(key);
      return undefined;
    }
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      store.set(this.key(id), { payload, expiresAt });
    }
    async find(id: string) {
      return live(this.key(id));
    }
    async findByUid(uid: string) {
      return this.findBy('uid', uid);
    }
    async findByUserCode(userCode: string) {
      return this.findBy('userCode', userCode);
    }
    async consume(id: string): Promise<void> {
      const payload = live(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string): Promise<void> {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, entry] of store) if (entry.payload.grantId === grantId) store.delete(key);
    }
  };
}

/** `application/x-www-form-urlencoded` decoding of one Basic-header part (RFC 6749 §2.3.1), raw when malformed. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, '%20'));
  } catch {
    return value;
  }
}

function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** Best effort, for assertions in tests only: Basic header, then body client_id, then the assertion's iss. */
function describeTokenRequest(headers: IncomingHttpHeaders, body: Record<string, unknown>): { clientId?: string; grantType?: string } {
  let clientId: string | undefined;
  const [scheme, credentials] = (headers.authorization ?? '').split(' ');
  if (scheme?.toLowerCase() === 'basic' && credentials) {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) clientId = formDecode(decoded.slice(0, colon));
  }
  clientId ??= firstString(body.client_id);
  const assertion = firstString(body.client_assertion);
  if (clientId === undefined && assertion) {
    try {
      const { iss } = decodeJwt(assertion);
      clientId = iss;
    } catch {
      // not a JWT: no client id to report
    }
  }
  return { clientId, grantType: firstString(body.grant_type) };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** An oidc-provider authorization server on 127.0.0.1 with a random port; see OAuthServer. */
export async function startOAuthServer(options: OAuthServerOptions = {}): Promise<OAuthServer> {
  const accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 300;
  const { default: Provider, errors } = await loadOidcProvider();

  // The server's signing key and the private_key_jwt client's key pair, both RS256 with a kid.
  const signing = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const signingKid = `as-${randomBytes(6).toString('hex')}`;
  const signingJwk: JWK = { ...(await exportJWK(signing.privateKey)), kid: signingKid, alg: 'RS256', use: 'sig' };
  const publicJwks: JSONWebKeySet = {
    keys: [{ ...(await exportJWK(signing.publicKey)), kid: signingKid, alg: 'RS256', use: 'sig' }],
  };
  const clientKey = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const clientKid = `client-${randomBytes(6).toString('hex')}`;
  const clientPublicJwk: JWK = { ...(await exportJWK(clientKey.publicKey)), kid: clientKid, alg: 'RS256', use: 'sig' };
  const keyDir = await mkdtemp(join(tmpdir(), 'oauth-server-'));
  const privateKeyFile = join(keyDir, 'client-key.pem');
  await writeFile(privateKeyFile, await exportPKCS8(clientKey.privateKey), { mode: 0o600 });

  // '+', '%41' and ':' survive only when the id and secret are form-urlencoded before base64.
  const secret = (label: string) => `${label}+${randomBytes(6).toString('hex')}%41:${randomBytes(6).toString('base64url')}`;
  const clients = {
    basic: { clientId: 'gateway-basic', clientSecret: secret('basic') },
    post: { clientId: 'gateway-post', clientSecret: secret('post') },
    privateKeyJwt: { clientId: 'gateway-private-key-jwt', privateKeyFile, keyId: clientKid },
  };
  const common = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: SCOPE };
  const clientMetadata: Record<string, unknown>[] = [
    { ...common, client_id: clients.basic.clientId, client_secret: clients.basic.clientSecret, token_endpoint_auth_method: 'client_secret_basic' },
    { ...common, client_id: clients.post.clientId, client_secret: clients.post.clientSecret, token_endpoint_auth_method: 'client_secret_post' },
    {
      ...common,
      client_id: clients.privateKeyJwt.clientId,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS256',
      jwks: { keys: [clientPublicJwk] },
    },
  ];
  // The clients live in the adapter, not in the `clients` option: oidc-provider structuredClone()s
  // static clients, and under Jest the global structuredClone builds objects of Node's main realm,
  // which its plain-object check (`constructor === Object` in the test's VM realm) refuses:
  // "client JSON Web Key Set is invalid". Adapter clients are used as stored (and checked below).
  const storage = new Map<string, Stored>();
  for (const metadata of clientMetadata) storage.set(`Client:${String(metadata.client_id)}`, { payload: metadata, expiresAt: Infinity });

  const tokenRequests: TokenRequestRecord[] = [];
  const inFlight = new WeakMap<IncomingMessage, TokenRequestRecord>();
  let down: 'error' | 'reset' | 'hold' | undefined;
  // Token requests held by takeDown('hold'), answered in order by bringUp().
  const held: (() => void)[] = [];
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    const isToken = new URL(req.url ?? '/', 'http://localhost').pathname === TOKEN_PATH;
    if (!isToken) return handle!(req, res);
    const record: TokenRequestRecord = { method: req.method ?? '', status: 0 };
    // Recorded when the answer is handed to the socket, so a client that has its response sees it.
    const end = res.end;
    res.end = function (this: ServerResponse, ...args: unknown[]) {
      record.status = res.statusCode;
      tokenRequests.push(record);
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['end'];
    if (!down) {
      inFlight.set(req, record);
      return handle!(req, res);
    }
    const mode = down;
    if (mode === 'hold') {
      held.push(() => {
        inFlight.set(req, record);
        void handle!(req, res);
      });
      return;
    }
    void readBody(req).then((body) => {
      Object.assign(record, describeTokenRequest(req.headers, parseQuery(body.toString('utf8'))));
      if (mode === 'reset') {
        tokenRequests.push(record);
        req.socket.resetAndDestroy();
        return;
      }
      res.writeHead(503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'token endpoint taken down by the test' }));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    adapter: mapAdapter(storage),
    jwks: { keys: [signingJwk] },
    scopes: [SCOPE, DENIED_SCOPE],
    routes: { token: TOKEN_PATH, jwks: JWKS_PATH },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx: OidcContext) => firstString(ctx.oidc?.params?.resource),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resourceIndicator: string) => {
          if (resourceIndicator !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: SCOPE,
            audience: RESOURCE,
            accessTokenFormat: 'jwt',
            accessTokenTTL: accessTokenTtlSeconds,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // Opaque tokens (no resource) get the same lifetime; setting these also silences "you SHOULD change" notices.
    ttl: { ClientCredentials: accessTokenTtlSeconds },
    clientBasedCORS: () => false,
  });
  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      const record = inFlight.get(ctx.req);
      if (record) Object.assign(record, describeTokenRequest(ctx.req.headers, ctx.oidc?.body ?? {}));
    }
  });
  // A 500 from the provider is a bug in this harness: say so on stderr rather than only answering server_error.
  provider.on('server_error', (_ctx, error) => console.error('oauth-server: oidc-provider server_error', error));
  handle = provider.callback();
  // Invalid client metadata fails here, at start, rather than as invalid_client_metadata on first use.
  for (const metadata of clientMetadata) {
    if (!(await provider.Client.find(String(metadata.client_id)))) throw new Error(`oauth-server: client ${String(metadata.client_id)} not found`);
  }

  const localJwks = createLocalJWKSet(publicJwks);
  return {
    issuer,
    tokenUrl: `${issuer}${TOKEN_PATH}`,
    jwksUri: `${issuer}${JWKS_PATH}`,
    clients,
    resource: RESOURCE,
    scope: SCOPE,
    deniedScope: DENIED_SCOPE,
    tokenRequests,
    takeDown(mode = 'error') {
      down = mode;
    },
    bringUp() {
      down = undefined;
      for (const release of held.splice(0)) release();
    },
    get heldRequests() {
      return held.length;
    },
    async verifyAccessToken(token) {
      const { payload } = await jwtVerify(token, localJwks, {
        issuer,
        audience: RESOURCE,
        algorithms: ['RS256'],
        typ: 'at+jwt',
      });
      return payload as Record<string, unknown>;
    },
    async close() {
      await new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
      await rm(keyDir, { recursive: true, force: true });
    },
  };
}
