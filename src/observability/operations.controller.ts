import { Controller, Get, Header, Inject, Optional, Res } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config.js';
import { WindowStore } from '../throttling/window-store.js';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/decorators.js';
import { IssuerRegistry } from '../auth/issuer-registry.js';
import { GatewayError } from '../errors/gateway-error.js';
import { GatewayMetrics } from './metrics.js';
import { Readiness } from './readiness.js';

/** Served by the gateway itself: never proxied, never throttled, no token. */
@Controller()
@Public()
export class OperationsController {
  constructor(
    @Inject(IssuerRegistry) private readonly issuers: IssuerRegistry,
    @Inject(Readiness) private readonly readiness: Readiness,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(GatewayConfig) private readonly config: GatewayConfig,
    @Optional() @Inject(WindowStore) private readonly store?: WindowStore,
  ) {}

  @Get('healthz')
  @Header('cache-control', 'no-store')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @Header('cache-control', 'no-store')
  async readyz(): Promise<{ status: 'ready' }> {
    if (this.readiness.draining) throw new GatewayError('not_ready', 'The gateway is shutting down', { retryAfterSeconds: 5 });
    if (!this.issuers.ready) throw new GatewayError('not_ready', 'Issuer keys are not loaded yet', { retryAfterSeconds: 1 });
    // CONTRACT: Redis counts only where its outage stops serving (onStorageError: deny); a blip
    // under local/allow must not take every replica out of the load balancer at once.
    if (this.config.throttle.onStorageError === 'deny' && this.store && !this.store.healthy) {
      // Probe: once the load balancer stops sending requests, readiness checks are the only
      // traffic that can show Redis is back (a stall must not take replicas out for good).
      await this.store.peek('readiness-probe').catch(() => undefined);
      if (!this.store.healthy) throw new GatewayError('not_ready', 'Rate-limit storage is unreachable', { retryAfterSeconds: 5 });
    }
    return { status: 'ready' };
  }

  @Get('metrics')
  async metricsText(@Res() reply: FastifyReply): Promise<void> {
    reply.header('content-type', this.metrics.registry.contentType).header('cache-control', 'no-store');
    reply.send(await this.metrics.registry.metrics());
  }
}
