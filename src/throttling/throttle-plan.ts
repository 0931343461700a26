import type { FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import type { Principal } from '../auth/principal.js';
import type { GatewayConfig, RouteConfig, ThrottleWindow } from '../config/gateway-config.js';

/**
 * Which windows apply to a request: the caller's own quota (throttle.clients,
 * keyed by client_id, else azp, else sub) replaces the route's windows, which
 * default to throttle.default. Resolved from config once; per request it is
 * two map lookups.
 */
export class ThrottlePlan {
  /** The most windows any request can have: @nestjs/throttler needs one named throttler per slot. */
  readonly maxWindows: number;
  /** A Map, not the config object: a client_id of `constructor` or `__proto__` must find nothing. */
  private readonly quotas: ReadonlyMap<string, readonly ThrottleWindow[]>;

  constructor(private readonly config: GatewayConfig) {
    this.quotas = new Map(Object.entries(config.throttle.clients));
    const counts = [
      config.throttle.default.length,
      ...config.routes.map((route) => route.throttle?.length ?? 0),
      ...Object.values(config.throttle.clients).map((windows) => windows.length),
    ];
    this.maxWindows = Math.max(1, ...counts);
  }

  /**
   * The request's windows and hashed caller, memoised on the request: the
   * throttler asks for them per window slot (skipIf, limit, ttl, key).
   */
  forRequest(request: FastifyRequest): { readonly windows: readonly ThrottleWindow[]; readonly callerHash: string } | undefined {
    const context = request.gateway;
    if (context.throttle) return context.throttle;
    const route = context.route?.route;
    if (!route) return undefined;
    const caller = tracker(context.principal, context.clientAddress);
    // Hashed: a bounded key length whatever the issuer URL and client id are.
    const callerHash = createHash('sha256').update(caller).digest('base64url').slice(0, 22);
    context.throttle = { windows: this.windowsFor(route, context.principal), callerHash };
    return context.throttle;
  }

  windowsFor(route: RouteConfig, principal: Principal | undefined): readonly ThrottleWindow[] {
    const quotaKey = principal ? callerId(principal) : undefined;
    const own = quotaKey !== undefined ? this.quotas.get(quotaKey) : undefined;
    return own ?? route.throttle ?? this.config.throttle.default;
  }
}

/** CONTRACT: a caller is client_id, else azp, else sub (Principal.clientId is already client_id, else azp). */
export function callerId(principal: Principal): string | undefined {
  return principal.clientId ?? principal.subject;
}

/**
 * The key a request is counted under: the verified token's issuer plus its
 * caller id (replicas and restarts agree), or the client IP on a public route.
 */
export function tracker(principal: Principal | undefined, clientAddress: string): string {
  const caller = principal && callerId(principal);
  if (principal && caller !== undefined) return `token:${principal.issuer} ${caller}`;
  // No client_id, azp or sub: such tokens must not share one bucket per issuer.
  return principal ? `token:${principal.issuer} ip:${addressBucket(clientAddress)}` : `ip:${addressBucket(clientAddress)}`;
}

/**
 * The unit an IP budget is counted in: an IPv4 address, or an IPv6 /64 (one
 * host usually holds a whole /64, so per-address keys would give it
 * unlimited budgets).
 */
export function addressBucket(address: string): string {
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
