import type { RouteConfig } from '../config/gateway-config.js';
import { normalizePath } from '../request/normalize-path.js';
import { RouteTable } from './route-table.js';

function route(id: string, pathPrefix: string, methods?: RouteConfig['methods']): RouteConfig {
  return {
    id,
    pathPrefix,
    ...(methods === undefined ? {} : { methods }),
    upstream: 'http://upstream.internal:8080',
    public: false,
    scopes: [],
    timeoutMs: 10_000,
    maxBodyBytes: 1_048_576,
    upstreamAuth: { type: 'none' },
  };
}

/** Route a raw request target the way the gateway does: normalise, then match. */
function routeOf(table: RouteTable, method: string, url: string): string {
  const path = normalizePath(url);
  if (!path.ok) return `refused: ${path.reason}`;
  const result = table.match(method, path.matchSegments);
  switch (result.kind) {
    case 'matched':
      return `${result.route.id}/${result.prefixSegments}`;
    case 'not_found':
      return 'not_found';
    case 'method_not_allowed':
      return `405 Allow: ${result.allow}`;
    case 'suffix_of_stricter_route':
      return 'refused: suffix of a stricter route';
  }
}

describe('RouteTable', () => {
  const table = new RouteTable([
    route('api', '/api', ['GET']),
    route('admin', '/api/admin', ['GET', 'DELETE']),
    route('orders', '/api/orders', ['GET', 'POST']),
    route('Reports', '/API/Reports'),
    route('public', '/api/public'),
    route('options-only', '/api/preflight', ['OPTIONS']),
    route('head-only', '/api/probe', ['HEAD']),
  ]);

  const cases = [
    { name: 'exact prefix', method: 'GET', url: '/api/orders', expected: 'orders/2' },
    { name: 'below the prefix', method: 'POST', url: '/api/orders/7/items?x=1', expected: 'orders/2' },
    { name: 'trailing slash', method: 'GET', url: '/api/orders/', expected: 'orders/2' },
    { name: 'whole segments only: /api/ordersX is not /api/orders', method: 'GET', url: '/api/ordersX', expected: 'api/1' },
    { name: 'shorter prefix', method: 'GET', url: '/api/other', expected: 'api/1' },
    { name: 'nothing matches', method: 'GET', url: '/other', expected: 'not_found' },
    { name: 'root path without a root route', method: 'GET', url: '/', expected: 'not_found' },
    { name: 'prefix method missing → 405, never the shorter /api', method: 'POST', url: '/api/admin/users', expected: '405 Allow: GET, DELETE' },
    { name: 'case variant /API/ADMIN matches admin route', method: 'GET', url: '/API/ADMIN', expected: 'admin/2' },
    { name: 'case variant cannot fall back to /api', method: 'PUT', url: '/Api/Admin/x', expected: '405 Allow: GET, DELETE' },
    { name: 'upper-case prefix in config matches lower-case request', method: 'PATCH', url: '/api/reports/1', expected: 'Reports/2' },
    { name: ';jsessionid matrix param still matches', method: 'GET', url: '/api/admin;jsessionid=1/users', expected: 'admin/2' },
    { name: 'percent-encoded admin still matches admin route', method: 'GET', url: '/api/%61dmin', expected: 'admin/2' },
    { name: 'dotless ı variant matches admin route', method: 'GET', url: '/api/adm%C4%B1n', expected: 'admin/2' },
    { name: '%2e%2e/ traversal refused before routing', method: 'GET', url: '/api/public/%2e%2e/admin', expected: 'refused: dot segment in path' },
    { name: '..;/ tomcat traversal refused before routing', method: 'GET', url: '/api/public/..;/admin', expected: 'refused: dot segment in path' },
    { name: '//admin collapse refused before routing', method: 'GET', url: '/api/public//admin', expected: 'refused: empty segment in path' },
    { name: 'double-encoded %252e is refused (an upstream that decodes twice reads ..)', method: 'GET', url: '/api/public/%252e%252e/admin', expected: 'refused: double-encoded dot segment or separator in path' },
    { name: 'no methods: any method', method: 'PROPFIND', url: '/api/public', expected: 'public/2' },
    { name: 'HEAD is not implied by GET', method: 'HEAD', url: '/api/orders', expected: '405 Allow: GET, POST' },
    { name: 'OPTIONS routes like any method', method: 'OPTIONS', url: '/api/preflight/x', expected: 'options-only/2' },
    { name: 'OPTIONS not listed → 405', method: 'OPTIONS', url: '/api/orders', expected: '405 Allow: GET, POST' },
    { name: 'HEAD routes like any method', method: 'HEAD', url: '/api/probe', expected: 'head-only/2' },
    { name: 'GET on a HEAD-only route → 405', method: 'GET', url: '/api/probe', expected: '405 Allow: HEAD' },
    { name: 'methods are case-sensitive (RFC 9110 §9.1)', method: 'get', url: '/api/orders', expected: '405 Allow: GET, POST' },
  ];

  it.each(cases)('$name: $method $url → $expected', ({ method, url, expected }) => {
    expect(routeOf(table, method, url)).toBe(expected);
  });

  describe('root route', () => {
    const withRoot = new RouteTable([route('root', '/'), route('orders', '/api/orders', ['GET'])]);
    const rootCases = [
      { method: 'GET', url: '/', expected: 'root/0' },
      { method: 'POST', url: '/anything/at/all', expected: 'root/0' },
      { method: 'GET', url: '/api', expected: 'root/0' },
      { method: 'GET', url: '/api/orders/1', expected: 'orders/2' },
      { method: 'POST', url: '/api/orders/1', expected: '405 Allow: GET' },
    ];
    it.each(rootCases)('$method $url → $expected', ({ method, url, expected }) => {
      expect(routeOf(withRoot, method, url)).toBe(expected);
    });
  });

  describe('routes sharing a prefix', () => {
    const shared = new RouteTable([
      route('read', '/api/items', ['GET', 'HEAD']),
      route('write', '/api/items', ['POST', 'GET']),
      route('rest', '/API/Items'),
      route('never', '/api/items', ['PUT']),
    ]);
    const sharedCases = [
      { method: 'GET', expected: 'read/2' },
      { method: 'HEAD', expected: 'read/2' },
      { method: 'POST', expected: 'write/2' },
      { method: 'PUT', expected: 'rest/2' },
      { method: 'DELETE', expected: 'rest/2' },
    ];
    it.each(sharedCases)('$method /api/items → $expected', ({ method, expected }) => {
      expect(routeOf(shared, method, '/api/items')).toBe(expected);
    });

    it('405 lists every method of every route on the prefix', () => {
      const both = new RouteTable([route('a', '/x', ['GET']), route('b', '/x', ['POST', 'GET'])]);
      expect(both.match('PUT', ['x'])).toEqual({ kind: 'method_not_allowed', allow: 'GET, POST' });
    });
  });

  describe('name.ext beside a stricter route (older Spring serves /admin.json as /admin)', () => {
    const access = (r: RouteConfig, patch: Partial<RouteConfig>): RouteConfig => ({ ...r, ...patch });
    const table = new RouteTable([
      access(route('api', '/api'), { public: true }),
      access(route('admin', '/api/admin'), { scopes: ['admin'] }),
      access(route('report', '/api/report'), { public: true }),
      access(route('orders', '/orders'), { scopes: ['orders:read'] }),
      access(route('orders-admin', '/orders/admin/users'), { scopes: ['orders:read', 'orders:admin'] }),
      access(route('orders-list', '/orders/list'), { scopes: ['orders:read'] }),
    ]);
    const cases = [
      { url: '/api/admin.json', expected: 'refused: suffix of a stricter route' },
      { url: '/API/Admin.JSON/x', expected: 'refused: suffix of a stricter route' },
      { url: '/orders/admin.v1/users', expected: 'refused: suffix of a stricter route' },
      // Positive controls: the sibling asks no more, or there is no such sibling, or the route itself.
      { url: '/api/report.pdf', expected: 'api/1' },
      { url: '/orders/list.csv', expected: 'orders/1' },
      { url: '/api/other.json', expected: 'api/1' },
      { url: '/api/.admin', expected: 'api/1' },
      { url: '/api/admin', expected: 'admin/2' },
      { url: '/api/admin/x.json', expected: 'admin/2' },
    ];
    it.each(cases)('GET $url → $expected', ({ url, expected }) => {
      expect(routeOf(table, 'GET', url)).toBe(expected);
    });
  });

  describe('TRACE is never forwarded (an echoing upstream would return the service token)', () => {
    const table = new RouteTable([route('any', '/any'), route('listed', '/listed', ['GET', 'POST'])]);
    it.each(['TRACE', 'TRACK', 'CONNECT'])('%s on a route without methods → 405 listing every other method', (method) => {
      expect(table.match(method, ['any'])).toEqual({
        kind: 'method_not_allowed',
        allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
      });
    });
    it('TRACE on a route with methods → 405 with its methods', () => {
      expect(table.match('TRACE', ['listed', 'x'])).toEqual({ kind: 'method_not_allowed', allow: 'GET, POST' });
    });
    it('other unlisted methods still reach a route without methods (positive control)', () => {
      expect(routeOf(table, 'PROPFIND', '/any/x')).toBe('any/1');
      expect(routeOf(table, 'GET', '/any')).toBe('any/1');
    });
  });

  it('returns the route object and keeps the routes list', () => {
    const orders = route('orders', '/api/orders', ['GET']);
    const single = new RouteTable([orders]);
    expect(single.routes).toEqual([orders]);
    expect(single.match('GET', ['api', 'orders'])).toEqual({ kind: 'matched', route: orders, prefixSegments: 2 });
    expect(single.match('GET', ['api', 'orders'])).toBe(single.match('GET', ['api', 'orders', 'x']));
  });

  it('an empty table finds nothing', () => {
    expect(new RouteTable([]).match('GET', [])).toEqual({ kind: 'not_found' });
  });

  it('refuses a pathPrefix that no request could match', () => {
    expect(() => new RouteTable([route('bad', '/api/../admin')])).toThrow(
      'route bad: pathPrefix is not usable (dot segment in path)',
    );
  });
});
