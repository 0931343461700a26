import type { RouteMatchResult } from '../routing/route-access.js';
import type { Principal } from '../auth/principal.js';

/** What the gateway learns about a request as it passes through; one per request. */
export interface RequestContext {
  readonly requestId: string;
  readonly clientAddress: string;
  readonly startedAt: number;
  route?: RouteMatchResult;
  principal?: Principal;
}

declare module 'fastify' {
  interface FastifyRequest {
    gateway: RequestContext;
  }
}
