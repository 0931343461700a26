// Client credentials (issue 3, CONTRACT `clients` and `upstreamAuth`): routes with
// `upstreamAuth: client-credentials` call their upstream with the gateway's own service token,
// obtained from a real OAuth server (oidc-provider, test/support/oauth-server.ts), never with the
// caller's. Through the real gateway on random ports: each client authentication method, the
// cache (sequential, 100 concurrent, refresh ahead of expiry), an IdP outage and invalid_client
// (503 + Retry-After, backoff, recovery), the upstream 401 rule, two replicas sharing one token
// through the machine's Redis (encrypted), DownstreamClient, and no secret or token in any log.
//
// Isolation: a client's cache lives as long as its gateway, so every test uses its own client
// name (and route) on the shared gateway; counts are of this test's token and upstream requests.
import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { ClientConfig, RouteConfig } from '../src/config/gateway-config.js';
import { GatewayMetrics } from '../src/observability/metrics.js';
import { ObservabilityModule } from '../src/observability/observability.module.js';
import { TestIssuer } from '../src/testing/index.js';
import { ClientCredentialsModule } from '../src/upstream-auth/client-credentials/client-credentials.module.js';
import { DownstreamClient } from '../src/upstream-auth/client-credentials/downstream-client.js';
import { ServiceTokenProvider, SYSTEM_TIMING } from '../src/upstream-auth/client-credentials/service-token-provider.js';
import { TokenCipher } from '../src/upstream-auth/client-credentials/token-cipher.js';
import { printLogOnFailure, waitFor } from './support/attacks.js';
import { expectProblem } from './support/expect-problem.js';
import { startOAuthServer, type OAuthServer } from './support/oauth-server.js';
import { rawRequest } from './support/raw-http.js';
import { describeWithRedis, REDIS_URL, redisAnswers, requireRedis } from './support/redis.js';
import { startTestGateway, type TestGateway, type TestRoute } from './support/gateway.js';
import { startUpstream, type RecordedRequest, type TestUpstream, type UpstreamHandler } from './support/upstream.js';

/** What an upstream says when it refuses a token as invalid (RFC 6750 §3): the gateway's cue for one retry. */
const INVALID_TOKEN = 'Bearer realm="orders", error="invalid_token", error_description="The access token expired"';
/** A 401 that does not say invalid_token: passed on unchanged, never retried. */
const REALM_ONLY = 'Bearer realm="x"';
const WRONG_SECRET = `wrong+${randomBytes(6).toString('hex')}%41:secret`;
const MAX_REPLAYABLE = 64 * 1024;
const CALLER = { sub: 'caller-user', client_id: 'caller-app', scope: 'orders:read' };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let issuer: TestIssuer;
let oauth: OAuthServer; // tokens live 300 s
let shortLived: OAuthServer; // tokens live 2 s
let upstream: TestUpstream;
let gw: TestGateway;
let callerToken: string;

/** Every service token an upstream received, every caller token sent: none may appear in a log. */
const serviceTokens = new Set<string>();
const callerTokens = new Set<string>();
/** Logs of the gateways (and DownstreamClient providers) started in this file, for the log test. */
const logSources: { name: string; text: () => string }[] = [];
const redisGateways: (TestGateway | undefined)[] = [];

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function basicClient(server: OAuthServer, extra: Partial<ClientConfig> = {}): ClientConfig {
  return {
    tokenUrl: server.tokenUrl,
    clientId: server.clients.basic.clientId,
    clientSecret: server.clients.basic.clientSecret,
    authMethod: 'client_secret_basic',
    scope: server.scope,
    audience: server.resource,
    ...extra,
  };
}

function postClient(server: OAuthServer): ClientConfig {
  return {
    tokenUrl: server.tokenUrl,
    clientId: server.clients.post.clientId,
    clientSecret: server.clients.post.clientSecret,
    authMethod: 'client_secret_post',
    scope: server.scope,
    audience: server.resource,
  };
}

function privateKeyJwtClient(server: OAuthServer): ClientConfig {
  return {
    tokenUrl: server.tokenUrl,
    clientId: server.clients.privateKeyJwt.clientId,
    authMethod: 'private_key_jwt',
    privateKeyFile: server.clients.privateKeyJwt.privateKeyFile,
    keyId: server.clients.privateKeyJwt.keyId,
    scope: server.scope,
    audience: server.resource,
  };
}

/** A route /api/<client> whose upstream calls use that client's service token. */
function ccRoute(client: string): TestRoute {
  const upstreamAuth: RouteConfig['upstreamAuth'] = { type: 'client-credentials', client };
  return { id: client, pathPrefix: `/api/${client}`, upstream: upstream.url, scopes: ['orders:read'], upstreamAuth };
}

/** A caller's request to /api/<client><rest> on `target`. */
function call(client: string, init: RequestInit & { target?: TestGateway; rest?: string } = {}): Promise<Response> {
  const { target = gw, rest = '/items/7', headers, ...request } = init;
  return fetch(`${target.url}/api/${client}${rest}`, {
    ...request,
    headers: { authorization: `Bearer ${callerToken}`, ...(headers as Record<string, string> | undefined) },
  });
}

/** The service token in an upstream request's Authorization (exactly `Bearer <token>`), recorded for the log test. */
function serviceTokenOf(request: RecordedRequest): string {
  const authorization = request.headers.authorization ?? '';
  expect(authorization).toMatch(/^Bearer [\x21-\x7e]+$/);
  const token = authorization.slice('Bearer '.length);
  serviceTokens.add(token);
  return token;
}

/** Answers 401 `challenge` to every request carrying the first token it saw; 200 echo to any other. */
function refuseFirstToken(challenge: string): UpstreamHandler {
  let first: string | undefined;
  return (request, response) => {
    first ??= request.headers.authorization;
    if (request.headers.authorization === first) {
      response.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json', 'x-upstream': 'refused' });
      response.end('{"error":"invalid_token"}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ ok: true, bytes: request.body.length }));
  };
}

/** Always 401 with `challenge`. */
function alwaysRefuse(challenge: string): UpstreamHandler {
  return (_request, response) => {
    response.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'text/plain', 'x-upstream': 'refused' });
    response.end('upstream says no');
  };
}

/** A pino logger writing into memory, for the providers this file builds itself. */
function memoryLog(name: string) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  logSources.push({ name, text: () => lines.join('') });
  return pino({ level: 'debug' }, sink);
}

// Client names on the main gateway, one (or more) per test.
const MAIN_CLIENTS = {
  basic: () => basicClient(oauth),
  post: () => postClient(oauth),
  pkjwt: () => privateKeyJwtClient(oauth),
  sequential: () => basicClient(oauth),
  burst: () => basicClient(oauth),
  'short-expiry': () => basicClient(shortLived),
  'short-ahead': () => basicClient(shortLived),
  'idp-down': () => basicClient(oauth),
  'idp-reset': () => basicClient(oauth),
  'wrong-secret': () => basicClient(oauth, { clientSecret: WRONG_SECRET }),
  'retry-get': () => basicClient(oauth),
  'retry-post': () => postClient(oauth),
  'realm-401': () => basicClient(oauth),
  'always-401': () => basicClient(oauth),
  'body-64k': () => basicClient(oauth),
  'body-64k-plus-1': () => basicClient(oauth),
  chunked: () => basicClient(oauth),
} satisfies Record<string, () => ClientConfig>;

beforeAll(async () => {
  issuer = await TestIssuer.start({ algorithms: ['RS256'] });
  cleanups.push(() => issuer.close());
  oauth = await startOAuthServer();
  cleanups.push(() => oauth.close());
  shortLived = await startOAuthServer({ accessTokenTtlSeconds: 2 });
  cleanups.push(() => shortLived.close());
  upstream = await startUpstream();
  cleanups.push(() => upstream.close());
  const clients = Object.fromEntries(Object.entries(MAIN_CLIENTS).map(([name, config]) => [name, config()]));
  gw = await startTestGateway({ issuers: [issuer], routes: Object.keys(clients).map(ccRoute), clients });
  cleanups.push(() => gw.close());
  logSources.push({ name: 'main gateway', text: () => gw.logText() });
  callerToken = await issuer.token({ claims: CALLER });
  callerTokens.add(callerToken);
});

beforeEach(() => {
  for (const server of [oauth, shortLived]) {
    server.bringUp();
    server.tokenRequests.length = 0;
  }
  upstream.handle(undefined);
  upstream.requests.length = 0;
});
printLogOnFailure(() => [gw, ...redisGateways]);

describe('each client authentication method', () => {
  const methods = [
    { method: 'client_secret_basic', client: 'basic', clientId: () => oauth.clients.basic.clientId },
    { method: 'client_secret_post', client: 'post', clientId: () => oauth.clients.post.clientId },
    { method: 'private_key_jwt', client: 'pkjwt', clientId: () => oauth.clients.privateKeyJwt.clientId },
  ];

  it.each(methods)(
    "$method → the upstream gets the gateway's service token (its client_id, aud = resource), not the caller's; X-Auth-* still sent",
    async ({ client, clientId }) => {
      const res = await call(client, { rest: '/items/7?x=1' });
      expect({ status: res.status, body: await res.json() }).toEqual({
        status: 200,
        body: { method: 'GET', url: `/api/${client}/items/7?x=1` },
      });

      expect(oauth.tokenRequests).toEqual([{ method: 'POST', clientId: clientId(), grantType: 'client_credentials', status: 200 }]);
      expect(upstream.requests).toHaveLength(1);
      const seen = upstream.requests[0]!;
      const token = serviceTokenOf(seen);
      expect(token).not.toBe(callerToken);
      const claims = await oauth.verifyAccessToken(token);
      expect(claims).toMatchObject({ iss: oauth.issuer, client_id: clientId(), aud: oauth.resource, scope: oauth.scope });
      // Neither the caller's token nor its signature travels on, in any header.
      const rawHeaders = seen.rawHeaders.join('\n');
      expect(rawHeaders).not.toContain(callerToken);
      expect(rawHeaders).not.toContain(callerToken.split('.')[2]!);
      expect(seen.rawHeaders.filter((_, i) => i % 2 === 0 && seen.rawHeaders[i]!.toLowerCase() === 'authorization')).toHaveLength(1);
      // The caller's identity is still passed on, from its verified token.
      expect(seen.headers['x-auth-subject']).toBe('caller-user');
      expect(seen.headers['x-auth-client-id']).toBe('caller-app');
      expect(seen.headers['x-auth-scopes']).toBe('orders:read');
    },
  );
});

describe('the service token is cached', () => {
  it('3 sequential requests → 1 token request, the same token upstream each time', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await call('sequential');
      expect(res.status).toBe(200);
      await res.text();
    }
    expect(oauth.tokenRequests).toHaveLength(1);
    expect(upstream.requests).toHaveLength(3);
    expect(new Set(upstream.requests.map(serviceTokenOf)).size).toBe(1);
  });

  it('100 concurrent first requests → exactly 1 token request (single-flight), all 200 with that token', async () => {
    const responses = await Promise.all(Array.from({ length: 100 }, () => call('burst')));
    const statuses = await Promise.all(responses.map(async (res) => (await res.text(), res.status)));
    expect(statuses).toEqual(Array.from({ length: 100 }, () => 200));
    expect(oauth.tokenRequests).toEqual([
      { method: 'POST', clientId: oauth.clients.basic.clientId, grantType: 'client_credentials', status: 200 },
    ]);
    expect(upstream.requests).toHaveLength(100);
    const tokens = new Set(upstream.requests.map(serviceTokenOf));
    expect(tokens.size).toBe(1);
    await expect(oauth.verifyAccessToken([...tokens][0]!)).resolves.toMatchObject({ client_id: oauth.clients.basic.clientId });
  });
});

describe('refresh ahead of expiry (tokens of 2 s)', () => {
  // Lifetime 2 s: the refresh point (token-lifetime.ts) is 0.5 s after issue (the floor of a quarter
  // of the lifetime, since 60 s before exp is before the issue), the token is handed out until 1.25 s.
  it('request, ~1.8 s later another (the first token still valid at the IdP) → a second token request, a different token upstream', async () => {
    const first = await call('short-expiry');
    expect(first.status).toBe(200);
    await first.text();
    const tokenA = serviceTokenOf(upstream.requests[0]!);
    // Verified now: its exp is iat (whole seconds) + 2, so 1.8 s later it may already be expired.
    await expect(shortLived.verifyAccessToken(tokenA)).resolves.toMatchObject({ client_id: shortLived.clients.basic.clientId });
    expect(shortLived.tokenRequests).toHaveLength(1);

    await sleep(1_800);
    const second = await call('short-expiry');
    expect(second.status).toBe(200);
    await second.text();
    expect(shortLived.tokenRequests.map((r) => r.status)).toEqual([200, 200]);
    expect(upstream.requests).toHaveLength(2);
    const tokenB = serviceTokenOf(upstream.requests[1]!);
    expect(tokenB).not.toBe(tokenA);
    await expect(shortLived.verifyAccessToken(tokenB)).resolves.toMatchObject({ client_id: shortLived.clients.basic.clientId });
  });

  it('past the refresh point but still usable → the cached token is served at once while one background refresh runs; the next request gets the new token', async () => {
    const first = await call('short-ahead');
    expect(first.status).toBe(200);
    await first.text();
    const tokenA = serviceTokenOf(upstream.requests[0]!);

    await sleep(800); // past 0.5 s (refresh point), before 1.25 s (last use)
    const second = await call('short-ahead');
    expect(second.status).toBe(200);
    await second.text();
    expect(serviceTokenOf(upstream.requests[1]!)).toBe(tokenA);
    await waitFor('the background refresh', () => shortLived.tokenRequests.length === 2, 2_000);

    const third = await call('short-ahead');
    expect(third.status).toBe(200);
    await third.text();
    expect(shortLived.tokenRequests.map((r) => r.status)).toEqual([200, 200]);
    expect(upstream.requests).toHaveLength(3);
    const tokenB = serviceTokenOf(upstream.requests[2]!);
    expect(tokenB).not.toBe(tokenA);
  });
});

describe('the token endpoint fails', () => {
  it("token endpoint down (503) → 503 service_token_unavailable, Retry-After: 1, the client named, no secret; upstream not reached; after bringUp() and Retry-After, recovery", async () => {
    oauth.takeDown('error');
    const res = await call('idp-down');
    const text = await res.clone().text();
    const problem = await expectProblem(res, { status: 503, code: 'service_token_unavailable', challenge: null, retryAfter: '1' });
    expect(problem.detail).toBe('The service token of client "idp-down" cannot be obtained');
    expect(text).not.toContain(oauth.clients.basic.clientSecret);
    expect(text).not.toContain(oauth.clients.basic.clientId);
    expect(upstream.requests).toHaveLength(0);
    // One fetch: the first attempt and 2 retries (5xx is retryable), then the backoff window.
    expect(oauth.tokenRequests).toEqual(
      Array.from({ length: 3 }, () => ({ method: 'POST', clientId: oauth.clients.basic.clientId, grantType: 'client_credentials', status: 503 })),
    );

    oauth.bringUp();
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter > 0).toBe(true);
    await sleep(retryAfter * 1000);
    const recovered = await call('idp-down');
    expect(recovered.status).toBe(200);
    await recovered.text();
    expect(oauth.tokenRequests.map((r) => r.status)).toEqual([503, 503, 503, 200]);
    expect(upstream.requests).toHaveLength(1);
    await expect(oauth.verifyAccessToken(serviceTokenOf(upstream.requests[0]!))).resolves.toMatchObject({
      client_id: oauth.clients.basic.clientId,
    });
  });

  it('token endpoint resetting connections → 503 service_token_unavailable with Retry-After: 1, 3 attempts, upstream not reached', async () => {
    oauth.takeDown('reset');
    const res = await call('idp-reset');
    const problem = await expectProblem(res, { status: 503, code: 'service_token_unavailable', challenge: null, retryAfter: '1' });
    expect(problem.detail).toBe('The service token of client "idp-reset" cannot be obtained');
    expect(oauth.tokenRequests.map((r) => r.status)).toEqual([0, 0, 0]);
    expect(upstream.requests).toHaveLength(0);
  });

  it('invalid_client (wrong secret) → 503, exactly 1 token request (not retried), no WWW-Authenticate: Basic; a second request within the backoff does not reach the IdP', async () => {
    const res = await call('wrong-secret');
    const text = await res.clone().text();
    const problem = await expectProblem(res, { status: 503, code: 'service_token_unavailable', challenge: null, retryAfter: '1' });
    expect(problem.detail).toBe('The service token of client "wrong-secret" cannot be obtained');
    expect(text).not.toContain(WRONG_SECRET);
    expect(text).not.toContain(encodeURIComponent(WRONG_SECRET));
    expect(oauth.tokenRequests).toEqual([
      { method: 'POST', clientId: oauth.clients.basic.clientId, grantType: 'client_credentials', status: 401 },
    ]);

    const again = await call('wrong-secret');
    await expectProblem(again, { status: 503, code: 'service_token_unavailable', challenge: null, retryAfter: '1' });
    expect(oauth.tokenRequests).toHaveLength(1);
    expect(upstream.requests).toHaveLength(0);

    // Control: the IdP's refusal did carry the Basic challenge the gateway must not pass on.
    const direct = await fetch(oauth.tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${oauth.clients.basic.clientId}:${encodeURIComponent(WRONG_SECRET)}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(direct.status).toBe(401);
    expect(direct.headers.get('www-authenticate')).toMatch(/^Basic /);
    await direct.text();
  });
});

describe('upstream 401 invalid_token: one new token, one retry', () => {
  it('GET: the first token refused → the caller gets 200; 2 token requests, 2 upstream requests with different tokens', async () => {
    upstream.handle(refuseFirstToken(INVALID_TOKEN));
    const res = await call('retry-get');
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { ok: true, bytes: 0 } });
    expect(oauth.tokenRequests.map((r) => r.status)).toEqual([200, 200]);
    expect(upstream.requests).toHaveLength(2);
    const [tokenA, tokenB] = upstream.requests.map(serviceTokenOf);
    expect(tokenB).not.toBe(tokenA);
    await expect(oauth.verifyAccessToken(tokenB!)).resolves.toMatchObject({ client_id: oauth.clients.basic.clientId });
    expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /api/retry-get/items/7', 'GET /api/retry-get/items/7']);

    // The fresh token is the cached one now.
    const next = await call('retry-get');
    expect(next.status).toBe(200);
    await next.text();
    expect(oauth.tokenRequests).toHaveLength(2);
    expect(serviceTokenOf(upstream.requests[2]!)).toBe(tokenB);
  });

  it('POST with a small JSON body: the replay carries the same body', async () => {
    upstream.handle(refuseFirstToken(INVALID_TOKEN));
    const body = JSON.stringify({ order: 42, items: ['a', 'b'], note: 'ünïcode' });
    const res = await call('retry-post', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 200,
      body: { ok: true, bytes: Buffer.byteLength(body) },
    });
    expect(oauth.tokenRequests).toEqual(
      Array.from({ length: 2 }, () => ({ method: 'POST', clientId: oauth.clients.post.clientId, grantType: 'client_credentials', status: 200 })),
    );
    expect(upstream.requests).toHaveLength(2);
    for (const request of upstream.requests) {
      expect(request.method).toBe('POST');
      expect(request.body.toString('utf8')).toBe(body);
      expect(request.headers['content-length']).toBe(String(Buffer.byteLength(body)));
      expect(request.headers['content-type']).toBe('application/json');
    }
    const [tokenA, tokenB] = upstream.requests.map(serviceTokenOf);
    expect(tokenB).not.toBe(tokenA);
  });

  it('401 without invalid_token (Bearer realm="x") → passed to the caller unchanged, no retry, the token kept', async () => {
    upstream.handle(alwaysRefuse(REALM_ONLY));
    const res = await call('realm-401');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(REALM_ONLY);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('x-upstream')).toBe('refused');
    expect(await res.text()).toBe('upstream says no');
    expect(upstream.requests).toHaveLength(1);
    expect(oauth.tokenRequests).toHaveLength(1);

    const again = await call('realm-401');
    expect(again.status).toBe(401);
    await again.text();
    expect(oauth.tokenRequests).toHaveLength(1);
    expect(upstream.requests.map(serviceTokenOf)).toEqual([serviceTokenOf(upstream.requests[0]!), serviceTokenOf(upstream.requests[0]!)]);
  });

  it('an upstream that always answers 401 invalid_token → the caller gets that 401 after one retry only (2 upstream requests, 2 tokens)', async () => {
    upstream.handle(alwaysRefuse(INVALID_TOKEN));
    const res = await call('always-401');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(INVALID_TOKEN);
    expect(res.headers.get('x-upstream')).toBe('refused');
    expect(await res.text()).toBe('upstream says no');
    expect(upstream.requests).toHaveLength(2);
    expect(oauth.tokenRequests.map((r) => r.status)).toEqual([200, 200]);
    const [tokenA, tokenB] = upstream.requests.map(serviceTokenOf);
    expect(tokenB).not.toBe(tokenA);
  });

  it.each([
    { client: 'body-64k', size: MAX_REPLAYABLE, replayed: true },
    { client: 'body-64k-plus-1', size: MAX_REPLAYABLE + 1, replayed: false },
  ])('POST of $size bytes with Content-Length → replayed: $replayed', async ({ client, size, replayed }) => {
    upstream.handle(refuseFirstToken(INVALID_TOKEN));
    const body = randomBytes(size);
    const res = await call(client, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    const answer = await res.text();
    if (replayed) {
      expect({ status: res.status, body: answer }).toEqual({ status: 200, body: JSON.stringify({ ok: true, bytes: size }) });
      expect(upstream.requests).toHaveLength(2);
      expect(oauth.tokenRequests).toHaveLength(2);
    } else {
      // Not kept in memory, so not replayable: the upstream's 401 is the answer.
      expect({ status: res.status, body: answer }).toEqual({ status: 401, body: '{"error":"invalid_token"}' });
      expect(res.headers.get('www-authenticate')).toBe(INVALID_TOKEN);
      expect(upstream.requests).toHaveLength(1);
      expect(oauth.tokenRequests).toHaveLength(1);
    }
    for (const request of upstream.requests) expect(request.body.equals(body)).toBe(true);
  });

  it('a chunked body (no Content-Length) is not replayable → the 401 invalid_token is passed on, 1 upstream request', async () => {
    upstream.handle(refuseFirstToken(INVALID_TOKEN));
    const raw = await rawRequest(gw.url, {
      method: 'POST',
      target: '/api/chunked/items/7',
      headers: [
        ['Authorization', `Bearer ${callerToken}`],
        ['Content-Type', 'application/json'],
        ['Transfer-Encoding', 'chunked'],
      ],
      body: 'a\r\n{"part":1,\r\nd\r\n"part2":true}\r\n0\r\n\r\n',
    });
    expect(raw.status).toBe(401);
    expect(raw.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(raw.body.toString('utf8')).toBe('{"error":"invalid_token"}');
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]!.body.toString('utf8')).toBe('{"part":1,"part2":true}');
    expect(oauth.tokenRequests).toHaveLength(1);
  });
});

const redisUp = await redisAnswers(REDIS_URL);

describeWithRedis(redisUp)('two gateway instances on the same Redis', () => {
  const RUN = randomBytes(4).toString('hex');
  const shared = `orders-${RUN}`; // the Redis slot key contains the client name: unique per run
  const unshared = `orders-nokey-${RUN}`;
  const cacheKey = { kid: 'k1', key: randomBytes(32) };
  let admin: Redis;
  let gwA: TestGateway;
  let gwB: TestGateway;
  let gwC: TestGateway;
  let gwD: TestGateway;

  const keysOf = (client: string) => admin.keys(`gateway:svc-token*${client}:*`);

  beforeAll(async () => {
    requireRedis(redisUp);
    admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    cleanups.push(async () => {
      const keys = [...(await keysOf(shared)), ...(await keysOf(unshared))];
      if (keys.length > 0) await admin.del(...keys);
      await admin.quit();
    });
    const start = async (name: string, client: string, tokenCacheKeys?: (typeof cacheKey)[]) => {
      const instance = await startTestGateway({
        issuers: [issuer],
        routes: [ccRoute(client)],
        clients: { [client]: basicClient(oauth) },
        settings: { redis: { kind: 'single', url: REDIS_URL }, ...(tokenCacheKeys ? { tokenCacheKeys } : {}) },
      });
      cleanups.push(() => instance.close());
      redisGateways.push(instance);
      logSources.push({ name, text: () => instance.logText() });
      return instance;
    };
    gwA = await start('replica A (TOKEN_CACHE_KEY)', shared, [cacheKey]);
    gwB = await start('replica B (TOKEN_CACHE_KEY)', shared, [cacheKey]);
    gwC = await start('replica C (no TOKEN_CACHE_KEY)', unshared);
    gwD = await start('replica D (no TOKEN_CACHE_KEY)', unshared);
  });

  it('with the same TOKEN_CACHE_KEY: concurrent first requests on both, then requests spread over both → exactly 1 token request; Redis holds the token sealed (v1.), not in plaintext', async () => {
    const firsts = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call(shared, { target: i % 2 === 0 ? gwA : gwB })),
    );
    expect(await Promise.all(firsts.map(async (res) => (await res.text(), res.status)))).toEqual(Array.from({ length: 20 }, () => 200));
    expect(oauth.tokenRequests).toEqual([
      { method: 'POST', clientId: oauth.clients.basic.clientId, grantType: 'client_credentials', status: 200 },
    ]);
    for (let i = 0; i < 6; i++) {
      const res = await call(shared, { target: i % 2 === 0 ? gwA : gwB });
      expect(res.status).toBe(200);
      await res.text();
    }
    expect(oauth.tokenRequests).toHaveLength(1);
    expect(upstream.requests).toHaveLength(26);
    const tokens = new Set(upstream.requests.map(serviceTokenOf));
    expect(tokens.size).toBe(1);
    const [token] = [...tokens] as [string];
    // Both replicas sent it (X-Forwarded-Host is the gateway the caller reached).
    const hosts = new Set(upstream.requests.map((r) => r.headers['x-forwarded-host']));
    expect(hosts).toEqual(new Set([new URL(gwA.url).host, new URL(gwB.url).host]));

    const keys = await admin.keys(`gateway:svc-token:*${shared}*`);
    expect(keys).toHaveLength(1);
    const [key] = keys as [string];
    expect(key).toMatch(new RegExp(`^gateway:svc-token:\\{${shared}:[0-9a-f]{16}\\}$`));
    const stored = (await admin.get(key))!;
    expect(stored.startsWith('v1.k1.')).toBe(true);
    expect(stored).not.toContain(token);
    for (const part of token.split('.')) expect(stored).not.toContain(part);
    // It is that token, encrypted under TOKEN_CACHE_KEY and bound to its key.
    const opened = JSON.parse(new TokenCipher([cacheKey]).open(stored, key)!) as Record<string, unknown>;
    expect(opened).toEqual({ accessToken: token, expiresAt: expect.any(Number), refreshAt: expect.any(Number) });
    const ttl = await admin.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300_000);
    // No lock left behind.
    expect(await admin.keys(`gateway:svc-token-lock:{${shared}:*`)).toEqual([]);
  });

  it('REDIS_URL without TOKEN_CACHE_KEY → nothing written to Redis, each instance fetches its own token; start-up says so', async () => {
    for (const target of [gwC, gwD, gwC, gwD]) {
      const res = await call(unshared, { target });
      expect(res.status).toBe(200);
      await res.text();
    }
    expect(oauth.tokenRequests.map((r) => r.status)).toEqual([200, 200]);
    const [fromC, fromD, againC, againD] = upstream.requests.map(serviceTokenOf);
    expect(fromD).not.toBe(fromC);
    expect([againC, againD]).toEqual([fromC, fromD]);
    expect(await keysOf(unshared)).toEqual([]);
    for (const instance of [gwC, gwD]) {
      expect(instance.logs.filter((line) => line.msg === 'REDIS_URL is set but TOKEN_CACHE_KEY is not: service tokens are cached per replica, never stored in Redis')).toHaveLength(1);
    }
  });
});

describe('DownstreamClient with a ServiceTokenProvider', () => {
  let provider: ServiceTokenProvider;
  let downstream: DownstreamClient;
  beforeEach(() => {
    provider = new ServiceTokenProvider({ orders: postClient(oauth) }, { ...SYSTEM_TIMING, log: memoryLog('DownstreamClient provider') });
    downstream = new DownstreamClient(provider);
  });

  it("attaches the client's service token; a second call reuses it", async () => {
    const res = await downstream.request('orders', `${upstream.url}/v1/orders/42`, { headers: { 'x-trace': 't-1' } });
    expect({ statusCode: res.statusCode, body: JSON.parse(res.body.toString('utf8')) }).toEqual({
      statusCode: 200,
      body: { method: 'GET', url: '/v1/orders/42' },
    });
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]!.headers['x-trace']).toBe('t-1');
    const token = serviceTokenOf(upstream.requests[0]!);
    await expect(oauth.verifyAccessToken(token)).resolves.toMatchObject({ client_id: oauth.clients.post.clientId, aud: oauth.resource });

    await downstream.request('orders', `${upstream.url}/v1/orders/43`);
    expect(oauth.tokenRequests).toHaveLength(1);
    expect(serviceTokenOf(upstream.requests[1]!)).toBe(token);
  });

  it('401 invalid_token → one new token and one retry, with the same body', async () => {
    upstream.handle(refuseFirstToken(INVALID_TOKEN));
    const body = JSON.stringify({ order: 42 });
    const res = await downstream.request('orders', `${upstream.url}/v1/orders`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect({ statusCode: res.statusCode, body: res.body.toString('utf8') }).toEqual({
      statusCode: 200,
      body: JSON.stringify({ ok: true, bytes: Buffer.byteLength(body) }),
    });
    expect(oauth.tokenRequests.map((r) => r.status)).toEqual([200, 200]);
    expect(upstream.requests).toHaveLength(2);
    expect(upstream.requests.map((r) => r.body.toString('utf8'))).toEqual([body, body]);
    const [tokenA, tokenB] = upstream.requests.map(serviceTokenOf);
    expect(tokenB).not.toBe(tokenA);
  });

  it('always 401 invalid_token → that 401 after one retry (2 requests); 401 without invalid_token → no retry', async () => {
    upstream.handle(alwaysRefuse(INVALID_TOKEN));
    const refused = await downstream.request('orders', `${upstream.url}/v1/orders/1`);
    expect({ statusCode: refused.statusCode, challenge: refused.headers['www-authenticate'] }).toEqual({
      statusCode: 401,
      challenge: INVALID_TOKEN,
    });
    expect(upstream.requests).toHaveLength(2);
    expect(oauth.tokenRequests).toHaveLength(2);

    upstream.handle(alwaysRefuse(REALM_ONLY));
    const plain = await downstream.request('orders', `${upstream.url}/v1/orders/2`);
    expect({ statusCode: plain.statusCode, challenge: plain.headers['www-authenticate'] }).toEqual({
      statusCode: 401,
      challenge: REALM_ONLY,
    });
    expect(upstream.requests).toHaveLength(3);
    expect(oauth.tokenRequests).toHaveLength(2);
  });

  it('an unknown client → rejects with ServiceTokenError, no token request, no upstream request', async () => {
    await expect(downstream.request('billing', `${upstream.url}/v1/x`)).rejects.toMatchObject({
      name: 'ServiceTokenError',
      client: 'billing',
      retryable: false,
    });
    expect(oauth.tokenRequests).toHaveLength(0);
    expect(upstream.requests).toHaveLength(0);
  });

  it('from ClientCredentialsModule.forRoot in a Nest module: the injected DownstreamClient attaches the token', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ObservabilityModule.forRoot(memoryLog('ClientCredentialsModule'), new GatewayMetrics({ defaultMetrics: false })),
        ClientCredentialsModule.forRoot({ clients: { orders: privateKeyJwtClient(oauth) } }),
      ],
    }).compile();
    try {
      const client = moduleRef.get(DownstreamClient);
      const res = await client.request('orders', `${upstream.url}/v1/orders/9`);
      expect(res.statusCode).toBe(200);
      expect(upstream.requests).toHaveLength(1);
      await expect(oauth.verifyAccessToken(serviceTokenOf(upstream.requests[0]!))).resolves.toMatchObject({
        client_id: oauth.clients.privateKeyJwt.clientId,
      });
      expect(oauth.tokenRequests).toHaveLength(1);
    } finally {
      await moduleRef.close();
    }
  });
});

describe('secrets and tokens stay out of logs and metrics', () => {
  it('no client secret, private key, client assertion, caller token or service token in any log or in /metrics', async () => {
    // Positive controls: the tests above did produce tokens and failures, and the logs recorded them.
    expect(serviceTokens.size).toBeGreaterThanOrEqual(15);
    const mainLog = gw.logText();
    expect(mainLog).toContain('service token could not be obtained');
    expect(mainLog).toContain('wrong-secret');

    const pem = await readFile(oauth.clients.privateKeyJwt.privateKeyFile, 'utf8');
    const pemLines = pem.split('\n').filter((line) => line.length > 0 && !line.startsWith('-----'));
    const secrets = [
      ...[oauth, shortLived].flatMap((server) => [server.clients.basic.clientSecret, server.clients.post.clientSecret]),
      WRONG_SECRET,
    ];
    const forbidden = [
      ...secrets,
      ...secrets.map((secret) => encodeURIComponent(secret)),
      ...secrets.map((secret) => Buffer.from(`${oauth.clients.basic.clientId}:${encodeURIComponent(secret).replace(/%20/g, '+')}`).toString('base64')),
      ...pemLines,
      ...serviceTokens,
      ...[...serviceTokens].map((token) => token.split('.')[2]!),
      ...callerTokens,
    ];
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    const sources = [...logSources, { name: '/metrics', text: () => metrics }];
    for (const source of sources) {
      const text = source.text();
      const leaks = forbidden.filter((value) => text.includes(value));
      expect({ source: source.name, leaks }).toEqual({ source: source.name, leaks: [] });
      // Nothing JWT-shaped at all: covers client assertions, which no test sees.
      expect({ source: source.name, jwt: /eyJ[\w-]{8,}\.[\w-]{8,}\./.exec(text)?.[0] }).toEqual({ source: source.name, jwt: undefined });
    }
  });
});
