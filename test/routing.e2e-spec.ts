// Routing through the real gateway (CONTRACT "What a caller sees", "What an upstream sees",
// "How a token is read" → Paths): longest prefix by whole segments, 404/405, HEAD and OPTIONS,
// stripPrefix and upstream base paths, and request targets that must be refused before routing.
// Requests go over raw sockets so every target reaches the gateway exactly as written here.
import { TestIssuer } from '../src/testing/index.js';
import { expectProblem } from './support/expect-problem.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { asFetchResponse, rawRequest, type RawResponse } from './support/raw-http.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

let issuer: TestIssuer;
let gw: TestGateway;
/** One upstream per route group, so "which upstream got it" is the routing decision. */
const up = {} as Record<'api' | 'orders' | 'admin' | 'misc', TestUpstream>;
/** Tokens by granted scopes. */
const tokens = {} as Record<'all' | 'noApi' | 'noOrders' | 'noAdmin', string>;

const ALL_SCOPES = ['api:read', 'orders:read', 'orders:admin'];

beforeAll(async () => {
  issuer = await TestIssuer.start();
});
afterAll(() => issuer?.close());

for (const name of ['api', 'orders', 'admin', 'misc'] as const) {
  beforeAll(async () => {
    up[name] = await startUpstream();
  });
  afterAll(() => up[name]?.close());
}

beforeAll(async () => {
  gw = await startTestGateway({
    issuers: [issuer],
    routes: [
      { id: 'api', pathPrefix: '/api', upstream: up.api.url, scopes: ['api:read'] },
      { id: 'orders', pathPrefix: '/api/orders', methods: ['GET', 'POST'], upstream: up.orders.url, scopes: ['orders:read'] },
      { id: 'orders-admin', pathPrefix: '/api/orders/admin', upstream: up.admin.url, scopes: ['orders:admin'] },
      { id: 'reports', pathPrefix: '/reports', methods: ['GET'], upstream: up.misc.url, public: true },
      { id: 'probe', pathPrefix: '/probe', methods: ['GET', 'HEAD', 'OPTIONS'], upstream: up.misc.url, public: true },
      { id: 'svc-orders', pathPrefix: '/svc/orders', stripPrefix: '/svc', upstream: `${up.misc.url}/v1`, public: true },
      { id: 'svc-root', pathPrefix: '/svc/root', stripPrefix: '/svc/root', upstream: up.misc.url, public: true },
    ],
  });
});
afterAll(() => gw?.close());

beforeAll(async () => {
  const mint = (scopes: string[]) => issuer.token({ claims: { scope: scopes.join(' ') } });
  tokens.all = await mint(ALL_SCOPES);
  tokens.noApi = await mint(ALL_SCOPES.filter((s) => s !== 'api:read'));
  tokens.noOrders = await mint(ALL_SCOPES.filter((s) => s !== 'orders:read'));
  tokens.noAdmin = await mint(ALL_SCOPES.filter((s) => s !== 'orders:admin'));
});

beforeEach(() => {
  for (const upstream of Object.values(up)) {
    upstream.requests.length = 0;
    upstream.handle(undefined);
  }
});

function send(target: string, options: { token?: string; method?: string } = {}): Promise<RawResponse> {
  const headers: [string, string][] = options.token ? [['Authorization', `Bearer ${options.token}`]] : [];
  return rawRequest(gw.url, { method: options.method ?? 'GET', target, headers });
}

/** How many requests each upstream received, by name. */
function hits(): Record<keyof typeof up, number> {
  return { api: up.api.requests.length, orders: up.orders.requests.length, admin: up.admin.requests.length, misc: up.misc.requests.length };
}

const NO_HITS = { api: 0, orders: 0, admin: 0, misc: 0 };

function onlyHit(name: keyof typeof up) {
  return { ...NO_HITS, [name]: 1 };
}

function scopeChallenge(scope: string): string {
  return `Bearer realm="gateway", error="insufficient_scope", scope="${scope}"`;
}

describe('longest prefix, by whole segments', () => {
  const cases: { name: string; path: string; upstream: keyof typeof up }[] = [
    { name: '/api itself → api', path: '/api', upstream: 'api' },
    { name: 'under /api → api', path: '/api/things/1', upstream: 'api' },
    { name: '/api/orders itself → orders', path: '/api/orders', upstream: 'orders' },
    { name: 'under /api/orders → orders', path: '/api/orders/7', upstream: 'orders' },
    { name: '/api/orders/admin itself → orders-admin', path: '/api/orders/admin', upstream: 'admin' },
    { name: 'under /api/orders/admin → orders-admin', path: '/api/orders/admin/users/1', upstream: 'admin' },
    { name: 'prefix boundary: /api/ordersX → api, not orders', path: '/api/ordersX', upstream: 'api' },
    { name: 'prefix boundary: /api/orders/adminX → orders, not orders-admin', path: '/api/orders/adminX', upstream: 'orders' },
    { name: 'prefix boundary: /api/orders-admin → api', path: '/api/orders-admin/1', upstream: 'api' },
  ];

  it.each(cases)('$name (200, that upstream only, path as sent)', async ({ path, upstream }) => {
    const res = await send(path, { token: tokens.all });
    expect(res.status).toBe(200);
    expect(hits()).toEqual(onlyHit(upstream));
    expect(up[upstream].requests[0]).toMatchObject({ method: 'GET', url: path });
  });

  const scopeCases: { name: string; path: string; token: keyof typeof tokens; scope: string }[] = [
    { name: 'api needs api:read', path: '/api/things', token: 'noApi', scope: 'api:read' },
    { name: 'orders needs orders:read (api:read is not enough)', path: '/api/orders/7', token: 'noOrders', scope: 'orders:read' },
    { name: 'orders-admin needs orders:admin (orders:read is not enough)', path: '/api/orders/admin', token: 'noAdmin', scope: 'orders:admin' },
    { name: 'boundary: /api/ordersX needs api:read, not orders:read', path: '/api/ordersX', token: 'noApi', scope: 'api:read' },
  ];

  it.each(scopeCases)("each route requires its own scopes: $name → 403, no upstream reached", async ({ path, token, scope }) => {
    const res = await send(path, { token: tokens[token] });
    await expectProblem(asFetchResponse(res), { status: 403, code: 'insufficient_scope', challenge: scopeChallenge(scope) });
    expect(hits()).toEqual(NO_HITS);
  });

  it('a token without the orders scopes still reaches /api/ordersX (boundary)', async () => {
    const token = await issuer.token({ claims: { scope: 'api:read' } });
    const res = await send('/api/ordersX', { token });
    expect(res.status).toBe(200);
    expect(hits()).toEqual(onlyHit('api'));
  });
});

describe('no route, wrong method', () => {
  it.each(['/nothing', '/apix', '/', '/ap', '/reportsX'])('%s → 404 route_not_found, no upstream reached', async (path) => {
    const res = await send(path, { token: tokens.all });
    await expectProblem(asFetchResponse(res), { status: 404, code: 'route_not_found', challenge: null });
    expect(hits()).toEqual(NO_HITS);
  });

  it.each([
    { method: 'DELETE', path: '/api/orders/7' },
    { method: 'PUT', path: '/api/orders' },
    { method: 'PATCH', path: '/api/orders/7/items' },
  ])('$method $path → 405 Allow "GET, POST", never the shorter /api route', async ({ method, path }) => {
    const res = await send(path, { token: tokens.all, method });
    await expectProblem(asFetchResponse(res), { status: 405, code: 'method_not_allowed', allow: 'GET, POST' });
    expect(hits()).toEqual(NO_HITS);
  });

  it.each(['GET', 'POST'])('positive control: %s /api/orders/7 → 200 at orders', async (method) => {
    const res = await send('/api/orders/7', { token: tokens.all, method });
    expect(res.status).toBe(200);
    expect(hits()).toEqual(onlyHit('orders'));
    expect(up.orders.requests[0]).toMatchObject({ method, url: '/api/orders/7' });
  });

  it('DELETE on the shorter /api route itself is allowed (it lists no methods)', async () => {
    const res = await send('/api/things/7', { token: tokens.all, method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(hits()).toEqual(onlyHit('api'));
    expect(up.api.requests[0]).toMatchObject({ method: 'DELETE', url: '/api/things/7' });
  });
});

describe('TRACE is never forwarded (issue #8: an echoing upstream returns the service token)', () => {
  it('TRACE on a route without methods → 405 with every other method in Allow, no upstream reached', async () => {
    const res = await send('/api/things/7', { token: tokens.all, method: 'TRACE' });
    await expectProblem(asFetchResponse(res), {
      status: 405,
      code: 'method_not_allowed',
      allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
    });
    expect(hits()).toEqual(NO_HITS);
  });

  it('TRACE on a public route without methods → 405, no upstream reached', async () => {
    const res = await send('/svc/orders/1', { method: 'TRACE' });
    await expectProblem(asFetchResponse(res), {
      status: 405,
      code: 'method_not_allowed',
      allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
    });
    expect(hits()).toEqual(NO_HITS);
  });

  it('TRACE on a route with methods → 405 Allow "GET, POST"', async () => {
    const res = await send('/api/orders/7', { token: tokens.all, method: 'TRACE' });
    await expectProblem(asFetchResponse(res), { status: 405, code: 'method_not_allowed', allow: 'GET, POST' });
    expect(hits()).toEqual(NO_HITS);
  });

  it("TRACK never reaches an upstream (Node's parser refuses it: 400)", async () => {
    const res = await send('/api/things/7', { token: tokens.all, method: 'TRACK' });
    await expectProblem(asFetchResponse(res), { status: 400, code: 'bad_request' });
    expect(hits()).toEqual(NO_HITS);
  });

  it('CONNECT is answered 405 (not cut silently) and reaches no upstream', async () => {
    const res = await send('127.0.0.1:443', { token: tokens.all, method: 'CONNECT' });
    await expectProblem(asFetchResponse(res), {
      status: 405,
      code: 'method_not_allowed',
      allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
    });
    expect(hits()).toEqual(NO_HITS);
  });

  it('positive control: PUT on the same route without methods → 200', async () => {
    const res = await send('/api/things/7', { token: tokens.all, method: 'PUT' });
    expect(res.status).toBe(200);
    expect(hits()).toEqual(onlyHit('api'));
  });
});

describe('HEAD and OPTIONS route like any method', () => {
  it.each(['HEAD', 'OPTIONS', 'POST'])('%s on a GET-only route → 405 Allow "GET", no upstream reached', async (method) => {
    const res = await send('/reports/daily', { method });
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET');
    if (method !== 'HEAD') await expectProblem(asFetchResponse(res), { status: 405, code: 'method_not_allowed', allow: 'GET' });
    expect(hits()).toEqual(NO_HITS);
  });

  it('positive control: GET on the GET-only route → 200', async () => {
    const res = await send('/reports/daily');
    expect(res.status).toBe(200);
    expect(hits()).toEqual(onlyHit('misc'));
    expect(up.misc.requests[0]).toMatchObject({ method: 'GET', url: '/reports/daily' });
  });

  it('HEAD on a route listing HEAD reaches the upstream as HEAD; no body comes back', async () => {
    up.misc.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '11', 'x-probe': 'head' });
      res.end();
    });
    const res = await send('/probe/a?x=1', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['x-probe']).toBe('head');
    expect(res.headers['content-length']).toBe('11');
    expect(res.body).toHaveLength(0);
    expect(hits()).toEqual(onlyHit('misc'));
    expect(up.misc.requests[0]).toMatchObject({ method: 'HEAD', url: '/probe/a?x=1' });
  });

  it('OPTIONS on a route listing OPTIONS reaches the upstream as OPTIONS', async () => {
    up.misc.handle((_req, res) => {
      res.writeHead(204, { allow: 'GET, HEAD, OPTIONS' });
      res.end();
    });
    const res = await send('/probe/a', { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    expect(res.headers['allow']).toBe('GET, HEAD, OPTIONS');
    expect(hits()).toEqual(onlyHit('misc'));
    expect(up.misc.requests[0]).toMatchObject({ method: 'OPTIONS', url: '/probe/a' });
  });
});

describe('forwarded path: stripPrefix, upstream base path, query and trailing slash', () => {
  const cases: { name: string; target: string; forwarded: string }[] = [
    { name: 'prefix stripped, base /v1 added', target: '/svc/orders/7', forwarded: '/v1/orders/7' },
    { name: 'the prefix itself', target: '/svc/orders', forwarded: '/v1/orders' },
    { name: 'trailing slash kept', target: '/svc/orders/7/', forwarded: '/v1/orders/7/' },
    { name: 'trailing slash on the prefix kept', target: '/svc/orders/', forwarded: '/v1/orders/' },
    { name: 'query kept verbatim (order, repeats, empty values)', target: '/svc/orders/7?b=2&a=1&a=0&empty=&flag', forwarded: '/v1/orders/7?b=2&a=1&a=0&empty=&flag' },
    { name: 'percent-encoding kept as sent, in path and query', target: '/svc/orders/a%20b/%41?q=%2F%3F&x=a+b', forwarded: '/v1/orders/a%20b/%41?q=%2F%3F&x=a+b' },
    { name: 'dots and slashes inside the query are not a path', target: '/svc/orders?next=/../admin&p=%2e%2e', forwarded: '/v1/orders?next=/../admin&p=%2e%2e' },
    { name: 'empty query kept', target: '/svc/orders/7?', forwarded: '/v1/orders/7?' },
    { name: 'case of the rest kept', target: '/SVC/Orders/X', forwarded: '/v1/Orders/X' },
    { name: 'whole prefix stripped → /', target: '/svc/root', forwarded: '/' },
    { name: 'whole prefix stripped, trailing slash → /', target: '/svc/root/', forwarded: '/' },
    { name: 'whole prefix stripped, query kept', target: '/svc/root?x=1', forwarded: '/?x=1' },
    { name: 'whole prefix stripped, rest kept', target: '/svc/root/a/b?x=1', forwarded: '/a/b?x=1' },
  ];

  it.each(cases)('$name: $target → $forwarded', async ({ target, forwarded }) => {
    const res = await send(target);
    expect(res.status).toBe(200);
    expect(hits()).toEqual(onlyHit('misc'));
    expect(up.misc.requests[0]!.url).toBe(forwarded);
  });
});

describe('request targets refused before routing', () => {
  const attacks: { name: string; target: string }[] = [
    { name: '../ traversal to admin route', target: '/api/orders/../admin' },
    { name: '%2e%2e/ traversal to admin route', target: '/api/orders/%2e%2e/admin' },
    { name: '%2E%2E/ traversal to admin route', target: '/api/orders/%2E%2E/admin' },
    { name: '..;/ (dot segment with parameters) traversal', target: '/api/orders/..;/admin' },
    { name: '%2f encoded slash', target: '/api/orders/%2fadmin' },
    { name: '%5c encoded backslash', target: '/api/orders%5cadmin' },
    { name: 'raw backslash traversal', target: '/api/orders\\..\\admin' },
    { name: '// empty segment', target: '/api//admin' },
    { name: '%00 NUL', target: '/api/orders/%00' },
    { name: './ dot segment', target: '/api/./orders/admin' },
    { name: '.%2e mixed traversal', target: '/api/orders/.%2e/admin' },
    // Issue #8, decided: see README "Request paths".
    { name: 'full-width ．． traversal (NFKC reads it as ..)', target: '/api/orders/%EF%BC%8E%EF%BC%8E/admin' },
    { name: 'full-width ／ solidus', target: '/api/orders%EF%BC%8Fadmin' },
    { name: 'encoded ? (decode-then-reparse ends the path at admin)', target: '/api/orders/admin%3F/x' },
    { name: 'encoded #', target: '/api/orders/admin%23' },
    { name: 'admin.json beside the stricter admin route (suffix match)', target: '/api/orders/admin.json' },
  ];

  it.each(attacks)('$name → 400 bad_path, no upstream reached', async ({ target }) => {
    const res = await send(target, { token: tokens.all });
    await expectProblem(asFetchResponse(res), { status: 400, code: 'bad_path', challenge: null });
    expect(hits()).toEqual(NO_HITS);
  });

  it('positive control: /api/orders/admin with every scope → 200 at orders-admin', async () => {
    const res = await send('/api/orders/admin', { token: tokens.all });
    expect(res.status).toBe(200);
    expect(hits()).toEqual(onlyHit('admin'));
    expect(up.admin.requests[0]!.url).toBe('/api/orders/admin');
  });
});

it("raw non-ASCII bytes in the target: Node's parser refuses them first (400), no upstream reached", async () => {
  const res = await send('/api/orders/\u00e9', { token: tokens.all });
  await expectProblem(asFetchResponse(res), { status: 400, code: 'bad_request', challenge: null });
  expect(hits()).toEqual(NO_HITS);
});

describe('variants that are the admin route', () => {
  const variants: { name: string; target: string }[] = [
    { name: 'upper case', target: '/API/ORDERS/ADMIN' },
    { name: 'mixed case with trailing slash', target: '/Api/Orders/Admin/' },
    { name: 'matrix parameter on the last segment', target: '/api/orders/admin;jsessionid=x' },
    { name: 'matrix parameter on a middle segment', target: '/api/orders;v=1/admin' },
    { name: 'percent-encoded letter', target: '/api/orders/%61dmin' },
    { name: 'full-width letter (NFKC ａ → a)', target: '/api/orders/%EF%BD%81dmin' },
    { name: 'letter with a diacritic (best fit ā → a)', target: '/api/orders/%C4%81dmin' },
  ];

  it.each(variants)("$name ($target) needs orders-admin's scope → 403", async ({ target }) => {
    const res = await send(target, { token: tokens.noAdmin });
    await expectProblem(asFetchResponse(res), { status: 403, code: 'insufficient_scope', challenge: scopeChallenge('orders:admin') });
    expect(hits()).toEqual(NO_HITS);
  });

  it.each(variants)('$name ($target) with the admin scope → 200 at orders-admin, path forwarded as sent', async ({ target }) => {
    const res = await send(target, { token: tokens.all });
    expect(res.status).toBe(200);
    expect(hits()).toEqual(onlyHit('admin'));
    expect(up.admin.requests[0]!.url).toBe(target);
  });

  it('double-encoded %252e%252e is refused (issue #8: an upstream that decodes twice reads ..), no upstream reached', async () => {
    const res = await send('/api/orders/%252e%252e/admin', { token: tokens.all });
    await expectProblem(asFetchResponse(res), { status: 400, code: 'bad_path', challenge: null });
    expect(hits()).toEqual(NO_HITS);
  });

  it('positive control: a double-encoded ordinary letter (%2561) is data: routed to orders, forwarded as sent', async () => {
    const res = await send('/api/orders/%2561dmin', { token: tokens.noAdmin });
    expect(res.status).toBe(200);
    expect(hits()).toEqual(onlyHit('orders'));
    expect(up.orders.requests[0]!.url).toBe('/api/orders/%2561dmin');
  });
});
