import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/decorators.js';
import { GatewayMetrics } from './metrics.js';
import { ReadinessHealth } from './readiness.health.js';

/** Served by the gateway itself: never proxied, never throttled, no token. */
@Controller()
@Public()
export class OperationsController {
  constructor(
    @Inject(ReadinessHealth) private readonly readinessHealth: ReadinessHealth,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
  ) {}

  // Liveness is the process answering, not a terminus check: terminus answers 503 while Nest's
  // shutdown hooks run, and a liveness probe failing mid-drain gets the pod killed before
  // in-flight requests finish. Cache-Control is ours (terminus's @HealthCheck() sets another).
  @Get('healthz')
  @Header('cache-control', 'no-store')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @Header('cache-control', 'no-store')
  async readyz(): Promise<{ status: 'ready' }> {
    await this.readinessHealth.assertReady();
    return { status: 'ready' };
  }

  @Get('metrics')
  async metricsText(@Res() reply: FastifyReply): Promise<void> {
    reply.header('content-type', this.metrics.registry.contentType).header('cache-control', 'no-store');
    reply.send(await this.metrics.registry.metrics());
  }
}
