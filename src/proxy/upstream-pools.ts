import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'undici';
import { RuntimeSettings, type RouteConfig } from '../config/gateway-config.js';

/** Connections each route may hold to its upstream, when RuntimeSettings does not say. */
export const DEFAULT_UPSTREAM_CONNECTIONS = 128;

/** Bounds per route pool: keep-alive connections reused across requests. */
const POOL_OPTIONS = {
  pipelining: 1,
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 120_000,
  connect: { timeout: 5_000 },
} as const;

/**
 * One route's share of its upstream: an undici Pool of its own, and a count of the requests
 * handed to it and not yet settled (running plus waiting for a connection).
 */
export class RoutePool {
  readonly pool: Pool;
  /** Requests dispatched to `pool` whose undici promise has not settled. */
  inFlight = 0;
  readonly #settled = (): void => {
    this.inFlight--;
  };

  constructor(
    origin: string,
    readonly connections: number,
  ) {
    this.pool = new Pool(origin, { ...POOL_OPTIONS, connections });
  }

  /**
   * Room for one more request: every connection busy plus as many again waiting is the most
   * this route queues (issue #8: the wait queue was unbounded).
   */
  hasRoom(): boolean {
    return this.inFlight < this.connections * 2;
  }

  /** Counts `request` in flight until undici settles it (which may be after the caller got its answer). */
  track(request: Promise<unknown>): void {
    this.inFlight++;
    request.then(this.#settled, this.#settled);
  }
}

/**
 * One pool per route, created on first use. Routes do not share connections, even to the same
 * origin: slow readers on a public route can exhaust only that route's pool, never a protected
 * route's (issue #8).
 */
@Injectable()
export class UpstreamPools implements OnApplicationShutdown {
  private readonly pools = new Map<string, RoutePool>();
  private readonly connections: number;

  constructor(@Inject(RuntimeSettings) settings: RuntimeSettings) {
    this.connections = settings.upstreamConnections ?? DEFAULT_UPSTREAM_CONNECTIONS;
  }

  forRoute(route: RouteConfig): RoutePool {
    let pool = this.pools.get(route.id);
    if (pool === undefined) {
      pool = new RoutePool(new URL(route.upstream).origin, this.connections);
      this.pools.set(route.id, pool);
    }
    return pool;
  }

  async onApplicationShutdown(): Promise<void> {
    const pools = [...this.pools.values()].map(({ pool }) => pool);
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close().catch(() => pool.destroy())));
  }
}
