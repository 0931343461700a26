import { Global, Module, type DynamicModule } from '@nestjs/common';
import { LOGGER, type Logger } from './logger.js';
import { GatewayMetrics } from './metrics.js';
import { Readiness } from './readiness.js';

/** The process logger, metrics registry and readiness flag, for every module. */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(log: Logger, metrics: GatewayMetrics): DynamicModule {
    return {
      module: ObservabilityModule,
      providers: [{ provide: LOGGER, useValue: log }, { provide: GatewayMetrics, useValue: metrics }, Readiness],
      exports: [LOGGER, GatewayMetrics, Readiness],
    };
  }
}
