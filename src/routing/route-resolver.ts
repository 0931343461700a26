import { Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { GatewayConfig } from '../config/gateway-config.js';
import { GatewayError } from '../errors/gateway-error.js';
import { normalizePath } from '../request/normalize-path.js';
import type { RouteAccessResolver, RouteMatchResult } from './route-access.js';
import { RouteTable } from './route-table.js';

/** Config refuses route prefixes under these; matchSegments are lower-cased, `;params` cut. */
const RESERVED_FIRST_SEGMENTS = new Set(['healthz', 'readyz', 'metrics', '.dev-issuer']);

/**
 * Path normalisation then longest-prefix match, once per request: the answer
 * is kept on the request so every guard sees the same route.
 */
@Injectable()
export class RouteResolver implements RouteAccessResolver {
  private readonly table: RouteTable;

  constructor(@Inject(GatewayConfig) config: GatewayConfig) {
    this.table = new RouteTable(config.routes);
  }

  resolve(request: FastifyRequest): RouteMatchResult {
    const known = request.gateway.route;
    if (known) return known;
    const path = normalizePath(request.raw.url ?? '/');
    if (!path.ok) throw new GatewayError('bad_path', `The request path is refused: ${path.reason}`, { reason: 'bad_path' });
    // The gateway's own endpoints are never proxied, whatever case or suffix reaches here.
    if (RESERVED_FIRST_SEGMENTS.has(path.matchSegments[0] ?? '')) {
      throw new GatewayError('route_not_found', 'No route matches this path');
    }
    const match = this.table.match(request.raw.method ?? 'GET', path.matchSegments);
    switch (match.kind) {
      case 'not_found':
        throw new GatewayError('route_not_found', 'No route matches this path');
      case 'method_not_allowed':
        throw new GatewayError('method_not_allowed', 'The route does not allow this method', { allow: match.allow });
      case 'suffix_of_stricter_route':
        throw new GatewayError('bad_path', 'The request path is refused: a segment names a stricter route with a suffix', {
          reason: 'bad_path',
        });
      case 'matched': {
        const result: RouteMatchResult = { route: match.route, rawSegments: path.rawSegments, query: path.query };
        request.gateway.route = result;
        return result;
      }
    }
  }
}
