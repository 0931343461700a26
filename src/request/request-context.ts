import type { FastifyReply } from 'fastify';
import type { RouteMatchResult } from '../routing/route-access.js';
import type { Principal } from '../auth/principal.js';
import type { ThrottleWindow } from '../config/gateway-config.js';
import type { RateLimitState } from '../throttling/rate-limit.js';

/** What the gateway learns about a request as it passes through; one per request. */
export interface RequestContext {
  readonly requestId: string;
  readonly clientAddress: string;
  readonly startedAt: number;
  route?: RouteMatchResult;
  principal?: Principal;
  /** Set by the throttler guard: every answer of a throttled route carries it. */
  rateLimit?: RateLimitState;
  /** The throttle windows and hashed caller of this request, resolved once for every window slot. */
  throttle?: { readonly windows: readonly ThrottleWindow[]; readonly callerHash: string };
  /** Set by the proxy: ms from sending the request upstream to the upstream's response headers. */
  upstreamMs?: number;
  /** The access line is written: exactly one per request (finished, or abandoned). */
  logged?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    gateway: RequestContext;
  }
  interface FastifyInstance {
    /** Set by registerRequestHooks: the access line of a request answered before any hook ran. */
    gatewayAnsweredBeforeHooks?: (request: FastifyRequest, reply: FastifyReply) => void;
  }
}
