import type { RouteConfig } from '../config/gateway-config.js';

/** What a handler needs from the caller; deny by default means `{ public: false, scopes: [] }`. */
export interface RouteAccess {
  readonly public: boolean;
  readonly scopes: readonly string[];
}

/** A request that matched a configured route, with what is needed to forward it. */
export interface RouteMatchResult {
  readonly route: RouteConfig;
  readonly rawSegments: readonly string[];
  readonly query: string;
}

/**
 * Resolves the configured route of a proxied request (memoised on the
 * request), so the auth guard and, later, the throttler read the same answer
 * whatever order they run in. Throws 400/404/405 GatewayErrors.
 */
export interface RouteAccessResolver {
  resolve(request: import('fastify').FastifyRequest): RouteMatchResult;
}
export const RouteAccessResolver = Symbol('RouteAccessResolver');
