import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'undici';

/** Bounds per upstream origin: keep-alive connections reused across requests. */
const POOL_OPTIONS = {
  connections: 256,
  pipelining: 1,
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 120_000,
  connect: { timeout: 5_000 },
} as const;

/** One pooled keep-alive client per upstream origin, created on first use. */
@Injectable()
export class UpstreamPools implements OnApplicationShutdown {
  private readonly pools = new Map<string, Pool>();

  get(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, POOL_OPTIONS);
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close().catch(() => pool.destroy())));
    this.pools.clear();
  }
}
