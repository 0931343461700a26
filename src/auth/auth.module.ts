import { Inject, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { GatewayConfig } from '../config/gateway-config.js';
import { LOGGER, type Logger } from '../observability/logger.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { GatewayAuthGuard } from './auth.guard.js';
import { IssuerRegistry } from './issuer-registry.js';
import { fetchJson } from './jwks/fetch-json.js';
import { DEFAULT_KEY_SET_OPTIONS, IssuerKeySet } from './jwks/issuer-key-set.js';
import { JwtStrategy, nextStrategyName, STRATEGY_NAME } from './jwt.strategy.js';
import { AccessTokenVerifier } from './verify-access-token.js';

/** Bounds of every metadata/JWKS fetch. */
const METADATA_FETCH = { timeoutMs: 5_000, maxBytes: 256 * 1024 } as const;
/** Verified tokens kept for reuse (each entry is one token's text and claims). */
const VERIFIED_TOKEN_CACHE_ENTRIES = 10_000;

/**
 * Bearer-token authentication for any Nest app: the global deny-by-default
 * guard, the passport strategy and the per-issuer key sets. Needs the
 * GatewayConfig, LOGGER and GatewayMetrics providers (ObservabilityModule).
 */
@Module({
  imports: [PassportModule],
  providers: [
    {
      provide: IssuerRegistry,
      inject: [GatewayConfig, LOGGER, GatewayMetrics],
      useFactory: (config: GatewayConfig, log: Logger, metrics: GatewayMetrics) =>
        new IssuerRegistry(
          config.auth.issuers.map(
            (issuer) =>
              new IssuerKeySet(
                issuer,
                { ...DEFAULT_KEY_SET_OPTIONS, refetchCooldownMs: config.auth.jwksRefetchCooldownSeconds * 1000 },
                (url) => fetchJson(url, METADATA_FETCH),
                log,
                metrics,
              ),
          ),
        ),
    },
    {
      provide: AccessTokenVerifier,
      inject: [GatewayConfig, IssuerRegistry],
      useFactory: (config: GatewayConfig, issuers: IssuerRegistry) =>
        new AccessTokenVerifier(config.auth, issuers, {
          cacheMaxEntries: VERIFIED_TOKEN_CACHE_ENTRIES,
          nowSeconds: () => Math.floor(Date.now() / 1000),
        }),
    },
    { provide: STRATEGY_NAME, useFactory: nextStrategyName },
    JwtStrategy,
    { provide: APP_GUARD, useClass: GatewayAuthGuard },
  ],
  exports: [IssuerRegistry, AccessTokenVerifier],
})
export class AuthModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(IssuerRegistry) private readonly issuers: IssuerRegistry) {}

  onApplicationBootstrap(): void {
    this.issuers.start();
  }

  onApplicationShutdown(): void {
    this.issuers.stop();
  }
}
