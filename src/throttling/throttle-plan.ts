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

  constructor(private readonly config: GatewayConfig) {
    const counts = [
      config.throttle.default.length,
      ...config.routes.map((route) => route.throttle?.length ?? 0),
      ...Object.values(config.throttle.clients).map((windows) => windows.length),
    ];
    this.maxWindows = Math.max(1, ...counts);
  }

  windowsFor(route: RouteConfig, principal: Principal | undefined): readonly ThrottleWindow[] {
    const quotaKey = principal ? callerId(principal) : undefined;
    const own = quotaKey !== undefined ? this.config.throttle.clients[quotaKey] : undefined;
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
  return principal ? `token:${principal.issuer} ${callerId(principal) ?? ''}` : `ip:${clientAddress}`;
}
