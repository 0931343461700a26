// Logs, metrics and trace context (issue #9): one access line per request (abandoned ones
// included) with its fields and nothing else; W3C traceparent/tracestate forwarded unchanged and
// the trace id logged only when valid; the upstream latency, 429 and service-token metrics; and
// README's Metrics list equal to what /metrics declares.
import { Test } from '@nestjs/testing';
import { Global, Module } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { ClientConfig } from '../src/config/gateway-config.js';
import { LOGGER, createLogger } from '../src/observability/logger.js';
import { GatewayMetrics } from '../src/observability/metrics.js';
import { TestIssuer } from '../src/testing/index.js';
import { ClientCredentialsModule } from '../src/upstream-auth/client-credentials/client-credentials.module.js';
import { ServiceTokenSource } from '../src/upstream-auth/client-credentials/service-token.js';
import { printLogOnFailure, waitFor } from './support/attacks.js';
import { closeAfterAll } from './support/close-after-all.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { declaredFamilies, metricsPage, sample } from './support/metrics-page.js';
import { startOAuthServer, type OAuthServer } from './support/oauth-server.js';
import { openRaw, rawRequest, requestHead } from './support/raw-http.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const TRACESTATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';
/** Every field an access line may have; README "Logs" lists the same. */
const ACCESS_FIELDS = [
  'level', 'time', 'service', 'msg', 'requestId', 'method', 'path', 'route', 'status', 'durationMs',
  'upstreamMs', 'client', 'caller', 'reason', 'traceId', 'abandoned',
];

let issuer: TestIssuer;
let oauth: OAuthServer;
let up: TestUpstream;
let gw: TestGateway;
let token: string;

const closing = closeAfterAll();

beforeAll(async () => {
  issuer = closing(await TestIssuer.start({ algorithms: ['RS256'] }));
  oauth = closing(await startOAuthServer());
  up = closing(await startUpstream());
  const metered: ClientConfig = {
    tokenUrl: oauth.tokenUrl,
    ...oauth.clients.basic,
    authMethod: 'client_secret_basic',
    scope: oauth.scope,
  };
  gw = closing(await startTestGateway({
    issuers: [issuer],
    // Each test's caller address comes from X-Forwarded-For: one unauthenticated budget per test.
    trustProxy: ['127.0.0.1/32'],
    routes: [
      { id: 'orders', pathPrefix: '/api/orders', upstream: up.url, scopes: ['orders:read'] },
      { id: 'limited', pathPrefix: '/api/limited', upstream: up.url, throttle: [{ limit: 1, ttlSeconds: 60 }] },
      { id: 'metered', pathPrefix: '/api/metered', upstream: up.url, upstreamAuth: { type: 'client-credentials', client: 'metered' } },
      { id: 'refused', pathPrefix: '/api/refused', upstream: up.url, upstreamAuth: { type: 'client-credentials', client: 'refused' } },
    ],
    clients: { metered, refused: { ...metered, clientSecret: 'not-the-secret' } },
    throttle: { unauthenticated: { limit: 1, ttlSeconds: 60 } },
  }));
  token = await issuer.token({ claims: { scope: 'orders:read', client_id: 'billing' } });
});

beforeEach(() => {
  up.requests.length = 0;
  up.handle(undefined);
});

printLogOnFailure(() => [gw]);

let nextAddress = 10;
/** A fresh client address (through trustProxy) and request id for one test. */
function caller(): { address: string; requestId: string } {
  nextAddress++;
  return { address: `198.51.100.${nextAddress}`, requestId: `obs-${nextAddress}-${Date.now()}` };
}

function get(path: string, who: { address: string; requestId: string }, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}${path}`, { headers: { 'x-forwarded-for': who.address, 'x-request-id': who.requestId, ...headers } });
}

/** The access lines of one request id (there must be exactly one). */
function accessLines(requestId: string): Record<string, unknown>[] {
  return gw.logs.filter((line) => line.msg === 'request' && line.requestId === requestId);
}

async function accessLine(requestId: string): Promise<Record<string, unknown>> {
  await waitFor(`the access line of ${requestId}`, () => accessLines(requestId).length > 0);
  const lines = accessLines(requestId);
  expect(lines).toHaveLength(1);
  expect(Object.keys(lines[0]!).filter((key) => !ACCESS_FIELDS.includes(key))).toEqual([]);
  return lines[0]!;
}

describe('access line', () => {
  it('a forwarded 200: one line with route, method, path without query, status, durations, client, caller and traceId', async () => {
    const who = caller();
    const res = await get('/api/orders/42?secret=query-value', who, { authorization: `Bearer ${token}`, traceparent: TRACEPARENT });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const line = await accessLine(who.requestId);
    expect(line).toEqual({
      level: 30,
      time: expect.any(Number),
      service: 'gateway',
      msg: 'request',
      requestId: who.requestId,
      method: 'GET',
      path: '/api/orders/42',
      route: 'orders',
      status: 200,
      durationMs: expect.any(Number),
      upstreamMs: expect.any(Number),
      client: who.address,
      caller: 'billing',
      traceId: TRACE_ID,
    });
    expect(line.upstreamMs as number).toBeLessThanOrEqual(line.durationMs as number);
    const text = gw.logText();
    expect(text).not.toContain('query-value');
    expect(text).not.toContain(token);
  });

  it('an upstream answering after 150 ms: upstreamMs ≥ 150', async () => {
    up.handle((_req, res) => setTimeout(() => res.end('late'), 150));
    const who = caller();
    const res = await get('/api/orders/slow', who, { authorization: `Bearer ${token}` });
    expect(await res.text()).toBe('late');
    const line = await accessLine(who.requestId);
    expect(line.upstreamMs as number).toBeGreaterThanOrEqual(150);
    expect(line.durationMs as number).toBeGreaterThanOrEqual(line.upstreamMs as number);
  });

  it.each([
    { name: 'no token', headers: {}, status: 401, reason: 'missing_token' },
    { name: 'a bad signature', headers: { authorization: 'bad-signature' }, status: 401, reason: 'bad_signature' },
    { name: 'a token without the scope', headers: { authorization: 'no-scope' }, status: 403, reason: 'insufficient_scope' },
  ])('$name → $status with reason $reason, no upstreamMs, no caller for a 401', async ({ headers, status, reason }) => {
    const who = caller();
    const credentials: Record<string, string> = {};
    if (headers.authorization === 'bad-signature') {
      const [header, payload] = token.split('.');
      const otherSignature = (await issuer.token({ claims: { scope: 'orders:read', client_id: 'billing' } })).split('.')[2];
      credentials.authorization = `Bearer ${header}.${payload}.${otherSignature}`;
    } else if (headers.authorization === 'no-scope') {
      credentials.authorization = `Bearer ${await issuer.token({ claims: { scope: 'orders:write', client_id: 'billing' } })}`;
    }
    const res = await get('/api/orders/1', who, credentials);
    expect(res.status).toBe(status);
    await res.arrayBuffer();
    const line = await accessLine(who.requestId);
    expect(line).toMatchObject({ status, reason, route: 'orders' });
    expect(line.upstreamMs).toBeUndefined();
    expect(line.caller).toBe(status === 403 ? 'billing' : undefined);
    expect(up.requests).toHaveLength(0);
  });

  it('a path no route matches: route "-", reason route_not_found', async () => {
    const who = caller();
    const res = await get('/nowhere', who);
    expect(res.status).toBe(404);
    await res.arrayBuffer();
    expect(await accessLine(who.requestId)).toMatchObject({ route: '-', status: 404, reason: 'route_not_found' });
  });

  it('a malformed percent-encoding, refused by Fastify before any hook: still one line (400, reason bad_path)', async () => {
    const who = caller();
    const res = await rawRequest(gw.url, { target: '/api/orders/%zz', headers: [['X-Request-Id', who.requestId], ['X-Forwarded-For', who.address]] });
    expect(res.status).toBe(400);
    expect(await accessLine(who.requestId)).toMatchObject({ route: '-', status: 400, reason: 'bad_path', path: '/api/orders/%zz' });
  });

  it('an invalid traceparent is not logged (and no trace id is made up)', async () => {
    const who = caller();
    const res = await get('/api/orders/1', who, { authorization: `Bearer ${token}`, traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect((await accessLine(who.requestId)).traceId).toBeUndefined();
    const without = caller();
    await (await get('/api/orders/2', without, { authorization: `Bearer ${token}` })).arrayBuffer();
    expect((await accessLine(without.requestId)).traceId).toBeUndefined();
  });

  it('a caller that hangs up while the upstream thinks: one line, abandoned: true, no status; no second line', async () => {
    let answer: (() => void) | undefined;
    up.handle((_req, res) => {
      answer = () => res.end('too late');
    });
    const who = caller();
    const socket = await openRaw(gw.url);
    socket.on('error', () => undefined);
    socket.write(
      requestHead(gw.url, {
        target: '/api/orders/held',
        headers: [
          ['Authorization', `Bearer ${token}`],
          ['X-Request-Id', who.requestId],
          ['X-Forwarded-For', who.address],
        ],
      }),
    );
    await waitFor('the upstream to receive the request', () => up.requests.length === 1);
    socket.destroy();
    const line = await accessLine(who.requestId);
    expect(line).toMatchObject({ abandoned: true, route: 'orders', caller: 'billing', client: who.address });
    expect(line.status).toBeUndefined();
    answer?.();
    // The gateway has nothing more to write: still exactly one line for this request.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(accessLines(who.requestId)).toHaveLength(1);
  });
});

describe('trace context reaches the upstream unchanged', () => {
  it.each([
    { name: 'valid traceparent and tracestate', traceparent: TRACEPARENT, tracestate: TRACESTATE },
    { name: 'an invalid traceparent (not the gateway’s to fix or drop)', traceparent: 'not-a-traceparent', tracestate: 'x=1' },
  ])('$name', async ({ traceparent, tracestate }) => {
    const who = caller();
    const res = await get('/api/orders/traced', who, { authorization: `Bearer ${token}`, traceparent, tracestate });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.headers.traceparent).toBe(traceparent);
    expect(up.requests[0]!.headers.tracestate).toBe(tracestate);
  });

  it('positive control: without them, the upstream gets none (the gateway starts no trace)', async () => {
    const res = await get('/api/orders/untraced', caller(), { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(up.requests[0]!.headers.traceparent).toBeUndefined();
    expect(up.requests[0]!.headers.tracestate).toBeUndefined();
  });
});

describe('metrics', () => {
  it('gateway_upstream_duration_seconds{route} observes each forwarded request', async () => {
    const before = await metricsPage(gw.url);
    await (await get('/api/orders/timed', caller(), { authorization: `Bearer ${token}` })).arrayBuffer();
    const after = await metricsPage(gw.url);
    expect(sample(after, 'gateway_upstream_duration_seconds_count', 'route="orders"')).toBe(
      sample(before, 'gateway_upstream_duration_seconds_count', 'route="orders"') + 1,
    );
  });

  it('gateway_rate_limited_total{route} counts the route window’s 429 (reason rate_limited in the log)', async () => {
    const who = caller();
    const before = await metricsPage(gw.url);
    const auth = { authorization: `Bearer ${token}` };
    const first = await get('/api/limited/a', who, auth);
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    const second = { ...who, requestId: `${who.requestId}-2` };
    const res = await get('/api/limited/a', second, auth);
    expect(res.status).toBe(429);
    await res.arrayBuffer();
    const after = await metricsPage(gw.url);
    expect(sample(after, 'gateway_rate_limited_total', 'route="limited"')).toBe(sample(before, 'gateway_rate_limited_total', 'route="limited"') + 1);
    expect(await accessLine(second.requestId)).toMatchObject({ status: 429, reason: 'rate_limited', route: 'limited' });
  });

  it('gateway_rate_limited_total{route} counts the unauthenticated budget’s 429 too (the 401 before it is an auth failure)', async () => {
    const who = caller();
    const before = await metricsPage(gw.url);
    const first = await get('/api/orders/1', who, { authorization: 'Bearer not.a.token' });
    expect(first.status).toBe(401);
    await first.arrayBuffer();
    const res = await get('/api/orders/1', { ...who, requestId: `${who.requestId}-2` }, { authorization: 'Bearer not.a.token' });
    expect(res.status).toBe(429);
    await res.arrayBuffer();
    const after = await metricsPage(gw.url);
    expect(sample(after, 'gateway_rate_limited_total', 'route="orders"')).toBe(sample(before, 'gateway_rate_limited_total', 'route="orders"') + 1);
    expect(sample(after, 'gateway_auth_failures_total', 'reason="malformed"')).toBe(sample(before, 'gateway_auth_failures_total', 'reason="malformed"') + 2);
  });

  it('gateway_auth_failures_total has only README’s reasons: no missing_token, no insufficient_scope', async () => {
    await (await get('/api/orders/1', caller())).arrayBuffer();
    await (await get('/api/orders/1', caller(), { authorization: 'Bearer not.a.token' })).arrayBuffer();
    const noScope = await issuer.token({ claims: { scope: 'other', client_id: 'billing' } });
    await (await get('/api/orders/1', caller(), { authorization: `Bearer ${noScope}` })).arrayBuffer();
    const page = await metricsPage(gw.url);
    const reasons = [...page.matchAll(/^gateway_auth_failures_total\{reason="([^"]+)"\}/gm)].map((match) => match[1]);
    expect(reasons).toContain('malformed'); // positive control
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const reason of reasons) expect(readme).toContain(`| \`${reason}\` |`);
    expect(reasons).not.toContain('missing_token');
    expect(reasons).not.toContain('insufficient_scope');
  });

  it('service tokens: one fetch (success), then cache hits; a refused client counts a failure', async () => {
    const before = await metricsPage(gw.url);
    for (const path of ['/api/metered/1', '/api/metered/2', '/api/metered/3']) {
      const res = await get(path, caller(), { authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const refused = await get('/api/refused/1', caller(), { authorization: `Bearer ${token}` });
    expect(refused.status).toBe(503);
    await refused.arrayBuffer();
    const after = await metricsPage(gw.url);
    const delta = (name: string, labels: string) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('gateway_service_token_fetches_total', 'client="metered",outcome="success"')).toBe(1);
    expect(delta('gateway_service_token_cache_hits_total', 'client="metered"')).toBe(2);
    expect(delta('gateway_service_token_fetches_total', 'client="refused",outcome="failure"')).toBe(1); // invalid_client: not retried
    expect(delta('gateway_service_token_fetches_total', 'client="refused",outcome="success"')).toBe(0);
  });

  it('ClientCredentialsModule works in an app without GatewayMetrics (metrics are optional there)', async () => {
    const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    @Global()
    @Module({ providers: [{ provide: LOGGER, useValue: createLogger('silent', sink) }], exports: [LOGGER] })
    class LoggerOnly {}
    const moduleRef = await Test.createTestingModule({ imports: [LoggerOnly, ClientCredentialsModule.forRoot({ clients: {} })] }).compile();
    const tokens = moduleRef.get<ServiceTokenSource>(ServiceTokenSource);
    await expect(tokens.getToken('nobody')).rejects.toMatchObject({ name: 'ServiceTokenError' });
    await moduleRef.close();
  });
});

describe('README "Metrics" equals what /metrics declares', () => {
  /** `gateway_…{labels}` entries of README's Metrics section. */
  function readmeMetrics(): Map<string, string[]> {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('\n### Metrics\n');
    expect(start).toBeGreaterThan(0);
    const end = readme.indexOf('\n#', start + 1);
    const section = readme.slice(start, end < 0 ? undefined : end);
    const listed = new Map<string, string[]>();
    for (const match of section.matchAll(/`(gateway_[a-z_]+)(?:\{([a-z_,]*)\})?`/g)) {
      listed.set(match[1]!, match[2] ? match[2].split(',') : []);
    }
    return listed;
  }

  it('every gateway_ family on /metrics is in README with its labels, and every README entry is on /metrics', async () => {
    const exposed = declaredFamilies(await metricsPage(gw.url)).filter((name) => name.startsWith('gateway_'));
    const listed = readmeMetrics();
    expect(exposed.length).toBeGreaterThan(10);
    expect([...listed.keys()].sort()).toEqual([...exposed].sort());
    for (const name of exposed) {
      const metric = gw.metrics.registry.getSingleMetric(name) as unknown as { labelNames: readonly string[] };
      expect({ name, labels: listed.get(name) }).toEqual({ name, labels: [...metric.labelNames] });
    }
  });

  it('the process metrics the dashboard reads are there with default metrics on', async () => {
    const names = (await new GatewayMetrics().registry.getMetricsAsJSON()).map((metric) => metric.name);
    expect(names).toEqual(expect.arrayContaining(['process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']));
  });
});
