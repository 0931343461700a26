// Operating endpoints (CONTRACT "Operating endpoints", "Issuers whose keys cannot be fetched at
// startup", config `shutdown`): /healthz, /readyz and /metrics are the gateway's own, need no
// token and never reach an upstream, even under a catch-all `/` route; readiness follows the
// issuer keys and the shutdown sequence.
import { connect } from 'node:net';
import { TestIssuer } from '../src/testing/index.js';
import { expectProblem } from './support/expect-problem.js';
import { metricsPage, sample } from './support/metrics-page.js';
import { startTestGateway, waitForReady, type TestGateway } from './support/gateway.js';
import { asFetchResponse, rawRequest } from './support/raw-http.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

let issuer: TestIssuer;
let up: TestUpstream;
let gw: TestGateway;
let token: string;

beforeAll(async () => {
  issuer = await TestIssuer.start({ algorithms: ['RS256'] });
});
afterAll(() => issuer?.close());

beforeAll(async () => {
  up = await startUpstream();
});
afterAll(() => up?.close());

beforeAll(async () => {
  gw = await startTestGateway({
    issuers: [issuer],
    routes: [
      { id: 'everything', pathPrefix: '/', upstream: up.url, scopes: ['orders:read'] },
      { id: 'orders', pathPrefix: '/api/orders', upstream: up.url, scopes: ['orders:read'] },
    ],
  });
});
afterAll(() => gw?.close());

beforeAll(async () => {
  token = await issuer.token({ claims: { scope: 'orders:read' } });
});

beforeEach(() => {
  up.requests.length = 0;
  up.handle(undefined);
});

describe('/healthz, /readyz, /metrics', () => {
  it('/healthz → 200 {"status":"ok"}, no-store, with an X-Request-Id', async () => {
    const res = await fetch(`${gw.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(up.requests).toHaveLength(0);
  });

  it('/readyz → 200 {"status":"ready"} once the issuer keys are loaded', async () => {
    const res = await fetch(`${gw.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(up.requests).toHaveLength(0);
  });

  it('/metrics → Prometheus text with the gateway’s metric families', async () => {
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PROMETHEUS_TEXT);
    const page = await res.text();
    expect(page).toContain('# TYPE gateway_requests_total counter\n');
    expect(page).toContain('# TYPE gateway_request_duration_seconds histogram\n');
    expect(page).toContain('# TYPE gateway_auth_failures_total counter\n');
    expect(page).toContain(`gateway_issuer_keys_loaded{issuer="${issuer.issuer}"} 1\n`);
    expect(up.requests).toHaveLength(0);
  });

  it('gateway_requests_total counts a proxied request under its route id and status class', async () => {
    const before = await metricsPage(gw.url);
    const res = await fetch(`${gw.url}/api/orders/1`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    const after = await metricsPage(gw.url);
    expect(sample(after, 'gateway_requests_total', 'route="orders",method="GET",status="2xx"')).toBe(
      sample(before, 'gateway_requests_total', 'route="orders",method="GET",status="2xx"') + 1,
    );
    expect(sample(after, 'gateway_requests_total', 'route="everything",method="GET",status="2xx"')).toBe(
      sample(before, 'gateway_requests_total', 'route="everything",method="GET",status="2xx"'),
    );
  });

  it('gateway_auth_failures_total{reason="bad_signature"} counts one token with a bad signature', async () => {
    const before = await metricsPage(gw.url);
    const [header, payload] = (await issuer.token({ claims: { scope: 'orders:read' } })).split('.');
    const otherSignature = (await issuer.token({ claims: { scope: 'orders:read' } })).split('.')[2];
    const forged = `${header}.${payload}.${otherSignature}`;
    const res = await fetch(`${gw.url}/api/orders/1`, { headers: { authorization: `Bearer ${forged}` } });
    await expectProblem(res, {
      status: 401,
      code: 'invalid_token',
      challenge: 'Bearer realm="gateway", error="invalid_token", error_description="The token signature is invalid"',
    });
    expect(up.requests).toHaveLength(0);
    const after = await metricsPage(gw.url);
    expect(sample(after, 'gateway_auth_failures_total', 'reason="bad_signature"')).toBe(
      sample(before, 'gateway_auth_failures_total', 'reason="bad_signature"') + 1,
    );
    expect(sample(after, 'gateway_requests_total', 'route="orders",method="GET",status="4xx"')).toBe(
      sample(before, 'gateway_requests_total', 'route="orders",method="GET",status="4xx"') + 1,
    );
  });
});

describe('operating endpoints under a catch-all `/` route', () => {
  it('positive control: the `/` route proxies with a token (200, upstream hit once)…', async () => {
    const res = await fetch(`${gw.url}/anything/else`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.url).toBe('/anything/else');
  });

  it('…and refuses without one (401)', async () => {
    const res = await fetch(`${gw.url}/anything/else`);
    await expectProblem(res, { status: 401, code: 'missing_token', challenge: 'Bearer realm="gateway"' });
    expect(up.requests).toHaveLength(0);
  });

  const endpoints = ['/healthz', '/readyz', '/metrics'];

  it.each(endpoints)('%s needs no token and is not proxied', async (path) => {
    const res = await fetch(`${gw.url}${path}`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(up.requests).toHaveLength(0);
  });

  it.each(endpoints)('%s ignores an invalid token and is not proxied', async (path) => {
    const res = await fetch(`${gw.url}${path}`, { headers: { authorization: 'Bearer not.a.token' } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(up.requests).toHaveLength(0);
  });

  it.each(endpoints)('%s with a query string is still the gateway’s own', async (path) => {
    const res = await fetch(`${gw.url}${path}?probe=1`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(up.requests).toHaveLength(0);
  });

  // The route table folds case and ignores a trailing slash or `;params`, and config refuses any
  // pathPrefix at or under these paths ("reserved for the gateway's own endpoints"); a valid
  // token must still not carry a request for them to an upstream.
  const variants = [
    { method: 'GET', target: '/healthz/' },
    { method: 'GET', target: '/HEALTHZ' },
    { method: 'GET', target: '/Readyz' },
    { method: 'GET', target: '/metrics/' },
    { method: 'GET', target: '/healthz;x=1' },
    { method: 'GET', target: '/readyz/details' },
    { method: 'POST', target: '/healthz' },
    { method: 'DELETE', target: '/metrics' },
  ];
  it.each(variants)('$method $target (a reserved path) is never proxied, even with a valid token', async ({ method, target }) => {
    const res = await rawRequest(gw.url, { method, target, headers: [['Authorization', `Bearer ${token}`]] });
    expect(res.headers['x-request-id']).toBeDefined();
    expect(up.requests).toHaveLength(0);
  });
});

describe('readiness while the issuer JWKS is down at startup', () => {
  let downIssuer: TestIssuer;
  let cold: TestGateway;

  beforeAll(async () => {
    downIssuer = await TestIssuer.start({ algorithms: ['RS256'] });
  });
  afterAll(() => downIssuer?.close());

  beforeAll(async () => {
    downIssuer.takeJwksDown('error');
    cold = await startTestGateway({
      issuers: [downIssuer],
      routes: [{ id: 'orders', pathPrefix: '/api/orders', upstream: up.url, scopes: ['orders:read'] }],
      waitReady: false,
    });
  });
  afterAll(() => cold?.close());

  // Real time: the retry backoff (at most 5 s apart) is what is tested.
  it('/readyz is 503 not_ready while the keys cannot be fetched, /healthz stays 200, then /readyz turns 200 within 10 s of the JWKS answering', async () => {
    const notReady = await rawRequest(cold.url, { target: '/readyz' });
    await expectProblem(asFetchResponse(notReady), { status: 503, code: 'not_ready', retryAfter: '1' });
    expect((await fetch(`${cold.url}/healthz`)).status).toBe(200);

    // Let a few retries fail so the backoff has grown before the JWKS comes back.
    await waitUntil(() => downIssuer.requests.jwks >= 4, 8_000);
    const stillNotReady = await fetch(`${cold.url}/readyz`);
    await expectProblem(stillNotReady, { status: 503, code: 'not_ready' });

    downIssuer.bringJwksUp();
    const upAt = Date.now();
    await waitForReady(cold.url, 10_000);
    expect(Date.now() - upAt).toBeLessThan(10_000);
    const ready = await fetch(`${cold.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    const t = await downIssuer.token({ claims: { scope: 'orders:read' } });
    const res = await fetch(`${cold.url}/api/orders/1`, { headers: { authorization: `Bearer ${t}` } });
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
  }, 25_000);
});

describe('readiness with two issuers, one of them down', () => {
  let second: TestIssuer;
  let mixed: TestGateway;

  beforeAll(async () => {
    second = await TestIssuer.start({ algorithms: ['RS256'] });
  });
  afterAll(() => second?.close());

  beforeAll(async () => {
    second.takeJwksDown('error');
    mixed = await startTestGateway({
      issuers: [issuer, second],
      routes: [{ id: 'orders', pathPrefix: '/api/orders', upstream: up.url, scopes: ['orders:read'] }],
      waitReady: false,
    });
  });
  afterAll(() => mixed?.close());

  it('/readyz stays 503 until every issuer has keys; the loaded issuer already verifies', async () => {
    await waitUntil(() => second.requests.jwks >= 2, 5_000);
    await expectProblem(await fetch(`${mixed.url}/readyz`), { status: 503, code: 'not_ready' });
    const res = await fetch(`${mixed.url}/api/orders/1`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);

    second.bringJwksUp();
    await waitForReady(mixed.url, 10_000);
    const fromSecond = await second.token({ claims: { scope: 'orders:read' } });
    const res2 = await fetch(`${mixed.url}/api/orders/2`, { headers: { authorization: `Bearer ${fromSecond}` } });
    expect(res2.status).toBe(200);
  }, 20_000);
});

/** A gateway with one public route to the shared upstream, for the shutdown tests. */
function startSlowRouteGateway(): Promise<TestGateway> {
  return startTestGateway({ issuers: [issuer], routes: [{ id: 'slow', pathPrefix: '/slow', upstream: up.url, public: true }] });
}

/** A promise the test opens when it chooses: the upstream's held answer waits on it. */
function gate(): { released: Promise<void>; release: () => void } {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  return { released, release };
}

describe('graceful shutdown', () => {
  let draining: TestGateway;
  let closed = false;

  beforeAll(async () => {
    draining = await startSlowRouteGateway();
  });
  afterAll(() => (closed ? undefined : draining?.close()));

  // Real time: the shutdown delay is what is tested.
  it('shutdown(delay, drain): /readyz 503 during the delay while requests are still served; then an in-flight request finishes with 200', async () => {
    const { released, release } = gate();
    up.handle((req, res) => {
      if (req.url === '/slow/held') {
        void released.then(() => res.end('finished late'));
      } else {
        res.end('quick');
      }
    });

    const inFlight = fetch(`${draining.url}/slow/held`);
    await waitUntil(() => up.requests.length === 1, 2_000);

    const shutdown = draining.running.shutdown(500, 2_000);

    const notReady = await rawRequest(draining.url, { target: '/readyz' });
    await expectProblem(asFetchResponse(notReady), { status: 503, code: 'not_ready' });
    const servedDuringDelay = await rawRequest(draining.url, { target: '/slow/quick' });
    expect(servedDuringDelay.status).toBe(200);
    expect(servedDuringDelay.body.toString()).toBe('quick');

    // After the delay the listener closes; the held request is still in flight.
    await waitUntil(async () => !(await accepts(draining.url)), 3_000);
    release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('finished late');
    await shutdown;
    closed = true;
    expect(up.requests.map((r) => r.url)).toEqual(['/slow/held', '/slow/quick']);
  }, 15_000);
});

describe('graceful shutdown ends when the last in-flight request does', () => {
  let draining: TestGateway;
  let closed = false;

  beforeAll(async () => {
    draining = await startSlowRouteGateway();
  });
  afterAll(() => (closed ? undefined : draining?.close()));

  // drainSeconds is how long in-flight requests may take, not a fixed wait: a keep-alive caller
  // whose request finished must not hold the shutdown open until the drain deadline.
  it('shutdown(0, 3000) with one keep-alive request in flight resolves within 1 s of its answer (drain 3 s)', async () => {
    const { released, release } = gate();
    up.handle((_req, res) => {
      void released.then(() => res.end('done'));
    });
    const inFlight = fetch(`${draining.url}/slow/held`); // undici keeps the connection alive
    await waitUntil(() => up.requests.length === 1, 2_000);

    let resolvedAt: number | undefined;
    const shutdown = draining.running.shutdown(0, 3_000).then(() => {
      resolvedAt = Date.now();
    });
    await waitUntil(async () => !(await accepts(draining.url)), 3_000);
    release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('done');
    const answeredAt = Date.now();
    await shutdown;
    closed = true;
    expect(resolvedAt! - answeredAt).toBeLessThan(1_000);
  }, 15_000);
});

/** Whether a TCP connection to the gateway is accepted right now. */
function accepts(baseUrl: string): Promise<boolean> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls a condition the test cannot await directly (an issuer's retries, a listener closing). */
async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
