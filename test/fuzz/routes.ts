// The routes the fuzzed gateway serves, and the fixed header and scope lists the invariants
// check against. Each route forwards under its own base path of the one upstream, so the path
// the upstream sees says which route the gateway chose.
import type { TestRoute } from '../support/gateway.js';

/** Every route's maxBodyBytes: small, so the framing cases can cross it cheaply. */
export const MAX_BODY_BYTES = 4096;

export type RouteName = 'orders' | 'admin' | 'public' | 'reports' | 'strip';
export interface FuzzRoute {
  readonly name: RouteName;
  readonly pathPrefix: string;
  /** The segments every forwarded path of this route starts with (base path + prefix less stripPrefix). */
  readonly forwarded: readonly string[];
  readonly scopes: readonly string[];
  readonly public: boolean;
  readonly methods?: readonly ('GET' | 'HEAD')[];
  readonly stripPrefix?: string;
  /** A path under the route, completed with a number. */
  readonly sample: string;
}
export const ROUTES: Record<RouteName, FuzzRoute> = {
  orders: { name: 'orders', pathPrefix: '/api/orders', forwarded: ['r-orders', 'api', 'orders'], scopes: ['orders:read'], public: false, sample: '/api/orders/' },
  admin: { name: 'admin', pathPrefix: '/api/orders/admin', forwarded: ['r-admin', 'api', 'orders', 'admin'], scopes: ['orders:admin'], public: false, sample: '/api/orders/admin/' },
  public: { name: 'public', pathPrefix: '/public', forwarded: ['r-public', 'public'], scopes: [], public: true, sample: '/public/info/' },
  reports: { name: 'reports', pathPrefix: '/api/reports', forwarded: ['r-reports', 'api', 'reports'], scopes: [], public: false, methods: ['GET', 'HEAD'], sample: '/api/reports/' },
  strip: { name: 'strip', pathPrefix: '/svc/items', stripPrefix: '/svc', forwarded: ['r-strip', 'items'], scopes: ['orders:read'], public: false, sample: '/svc/items/' },
};
export const ROUTE_LIST = Object.values(ROUTES);
/** Routes a valid request with the standard token gets 200 on (GET). */
export const OPEN_ROUTES: RouteName[] = ['orders', 'public', 'reports', 'strip'];
/** What the standard token grants. */
export const GOOD_SCOPES = ['orders:read'];

/** CONTRACT "What an upstream sees": vouching headers never forwarded (names compared with `_` read as `-`). */
export const VOUCHING = [
  'forwarded', 'x-real-ip', 'true-client-ip', 'x-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-cluster-client-ip',
  'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-server', 'x-forwarded-scheme', 'x-forwarded-ssl', 'x-original-host', 'x-host',
];
/** CONTRACT "What an upstream sees": no hop-by-hop headers; x-fuzz-hop is one because the case's Connection header names it. */
export const HOP_BY_HOP = ['keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection', 'x-fuzz-hop'];
/** RFC 6749 §3.3 scope-token: printable ASCII but space, `"` and `\`. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** CONTRACT: every answer's X-Request-Id is the caller's when sane (this), otherwise a new one. */
export const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What a request with the standard token gets on `route` with `method`, when nothing else is wrong. */
export function routeStatus(route: FuzzRoute, method: string): number {
  if (method === 'TRACE') return 405;
  if (route.methods && !(route.methods as readonly string[]).includes(method)) return 405;
  if (route.name === 'admin') return 403;
  return 200;
}

/** The gateway's route table for these routes, each forwarding to its base path of `upstreamUrl`. */
export function gatewayRoutes(upstreamUrl: string): TestRoute[] {
  return ROUTE_LIST.map((route) => ({
    id: route.name,
    pathPrefix: route.pathPrefix,
    upstream: `${upstreamUrl}/${route.forwarded[0]}`,
    scopes: [...route.scopes],
    public: route.public,
    timeoutMs: 3_000,
    maxBodyBytes: MAX_BODY_BYTES,
    ...(route.methods ? { methods: [...route.methods] } : {}),
    ...(route.stripPrefix ? { stripPrefix: route.stripPrefix } : {}),
  }));
}
