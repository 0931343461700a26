import type { RouteConfig } from '../config/gateway-config.js';

interface Rewrite {
  /** The upstream URL's path without a trailing `/`: `''` for `http://h:8080`, `/v1` for `…/v1`. */
  readonly basePath: string;
  /** How many leading raw segments `stripPrefix` removes. */
  readonly stripSegments: number;
}

// Worked out once per route; the WeakMap lets a reloaded config's routes be collected.
const rewrites = new WeakMap<RouteConfig, Rewrite>();

function rewriteFor(route: RouteConfig): Rewrite {
  let rewrite = rewrites.get(route);
  if (rewrite === undefined) {
    const pathname = new URL(route.upstream).pathname;
    const basePath = pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
    let stripSegments = 0;
    for (const segment of (route.stripPrefix ?? '').split('/')) if (segment !== '') stripSegments++;
    rewrite = { basePath, stripSegments };
    rewrites.set(route, rewrite);
  }
  return rewrite;
}

/**
 * The path and query the upstream gets (CONTRACT "What an upstream sees"): the raw segments as
 * sent, less the first N where N is the segment count of `route.stripPrefix`, under the
 * upstream URL's base path; a trailing `/` and the query are kept. `stripPrefix` must be a
 * whole-segment prefix of `route.pathPrefix` (config validation), so the dropped segments are
 * the ones the route matched.
 *
 * @example
 * // route: { pathPrefix: '/api/orders', stripPrefix: '/api', upstream: 'http://h/v1' }
 * upstreamPath(route, ['api', 'orders', '1'], '?x');  // '/v1/orders/1?x'
 * upstreamPath(route, ['api'], '');                    // '/v1'
 */
export function upstreamPath(route: RouteConfig, rawSegments: readonly string[], query: string): string {
  const { basePath, stripSegments } = rewriteFor(route);
  let path = basePath;
  for (let i = stripSegments; i < rawSegments.length; i++) path += '/' + rawSegments[i];
  return (path === '' ? '/' : path) + query;
}
