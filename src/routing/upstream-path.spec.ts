import type { RouteConfig } from '../config/gateway-config.js';
import { upstreamPath } from './upstream-path.js';

function route(upstream: string, stripPrefix?: string): RouteConfig {
  return {
    id: 'orders',
    pathPrefix: '/api/orders',
    upstream,
    ...(stripPrefix === undefined ? {} : { stripPrefix }),
    public: false,
    scopes: [],
    timeoutMs: 10_000,
    maxBodyBytes: 1_048_576,
    upstreamAuth: { type: 'none' },
  };
}

describe('upstreamPath', () => {
  const cases = [
    { name: 'strip /api under base /v1', upstream: 'http://h/v1', strip: '/api', raw: ['api', 'orders', '1'], query: '?x', expected: '/v1/orders/1?x' },
    { name: 'no strip, no base', upstream: 'http://h:8080', strip: undefined, raw: ['api', 'orders', '1'], query: '', expected: '/api/orders/1' },
    { name: 'no strip, base', upstream: 'http://h:8080/v1', strip: undefined, raw: ['api', 'orders'], query: '?a=1&b=2', expected: '/v1/api/orders?a=1&b=2' },
    { name: 'path equal to the stripped prefix → base path', upstream: 'http://h/v1', strip: '/api/orders', raw: ['api', 'orders'], query: '', expected: '/v1' },
    { name: 'path equal to the stripped prefix, no base → /', upstream: 'http://h', strip: '/api/orders', raw: ['api', 'orders'], query: '?q', expected: '/?q' },
    { name: 'trailing slash kept', upstream: 'http://h/v1', strip: '/api', raw: ['api', 'orders', ''], query: '', expected: '/v1/orders/' },
    { name: 'trailing slash right after the stripped prefix', upstream: 'http://h', strip: '/api/orders', raw: ['api', 'orders', ''], query: '', expected: '/' },
    { name: 'trailing slash after the stripped prefix under a base', upstream: 'http://h/v1', strip: '/api/orders', raw: ['api', 'orders', ''], query: '', expected: '/v1/' },
    { name: 'percent-encoding and matrix params forwarded as sent', upstream: 'http://h', strip: '/api', raw: ['API', 'orders;v=2', 'caf%C3%A9'], query: '', expected: '/orders;v=2/caf%C3%A9' },
    { name: 'stripPrefix / strips nothing', upstream: 'http://h', strip: '/', raw: ['a'], query: '', expected: '/a' },
    { name: 'stripPrefix with trailing slash counts segments', upstream: 'http://h', strip: '/api/', raw: ['api', 'orders'], query: '', expected: '/orders' },
    { name: 'upstream base with trailing slash', upstream: 'http://h/v1/', strip: '/api', raw: ['api', 'orders'], query: '', expected: '/v1/orders' },
    { name: 'deep base path', upstream: 'https://h:8443/svc/v2', strip: '/api', raw: ['api', 'orders', '7'], query: '', expected: '/svc/v2/orders/7' },
    { name: 'root request, no strip, no base', upstream: 'http://h', strip: undefined, raw: [], query: '', expected: '/' },
    { name: 'root request under a base', upstream: 'http://h/v1', strip: undefined, raw: [], query: '?x', expected: '/v1?x' },
  ];

  it.each(cases)('$name → $expected', ({ upstream, strip, raw, query, expected }) => {
    expect(upstreamPath(route(upstream, strip), raw, query)).toBe(expected);
  });

  it('gives the same answer on repeated calls (cached per route)', () => {
    const r = route('http://h/v1', '/api');
    expect(upstreamPath(r, ['api', 'x'], '')).toBe('/v1/x');
    expect(upstreamPath(r, ['api', 'y'], '?1')).toBe('/v1/y?1');
  });
});
