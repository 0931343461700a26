import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { AuthModule } from './auth/auth.module.js';
import { ConfigModule } from './config/config.module.js';
import type { GatewayConfig, RuntimeSettings } from './config/gateway-config.js';
import { ProblemFilter } from './errors/problem.filter.js';
import type { Logger } from './observability/logger.js';
import type { GatewayMetrics } from './observability/metrics.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { OperationsController } from './observability/operations.controller.js';
import { ReadinessHealth } from './observability/readiness.health.js';
import { ProxyModule } from './proxy/proxy.module.js';
import { ThrottlingModule } from './throttling/throttling.module.js';
import { ClientCredentialsModule } from './upstream-auth/client-credentials/client-credentials.module.js';

export interface AppModuleOptions {
  readonly config: GatewayConfig;
  readonly settings: RuntimeSettings;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
  /** Dev mode's embedded issuer and echo upstream. */
  readonly extraModules?: readonly DynamicModule[];
}

/** The modules in request order: config, observability, (dev issuer), auth, service tokens, throttling, routing + proxy. */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(options.config, options.settings),
        ObservabilityModule.forRoot(options.log, options.metrics),
        ...(options.extraModules ?? []),
        // Global guards run in this import order: authentication (AuthModule) before the
        // throttle (ThrottlingModule), so a forged token never spends a real caller's budget.
        // test/throttling.e2e-spec.ts › authentication comes first holds it to that.
        AuthModule,
        ClientCredentialsModule.forRoot({
          clients: options.config.clients,
          redis: options.settings.redis,
          tokenCacheKeys: options.settings.tokenCacheKeys,
        }),
        ThrottlingModule.forRoot(options),
        ProxyModule,
        // /readyz's checks (ReadinessHealth); its failures are logged by no one: a cold start would
        // log an error per probe, and the 503s are counted in the access log and metrics already.
        TerminusModule.forRoot({ logger: false }),
      ],
      // Declared here, before the proxy's catch-all, so these paths are never proxied.
      controllers: [OperationsController],
      providers: [{ provide: APP_FILTER, useClass: ProblemFilter }, ReadinessHealth],
    };
  }
}
