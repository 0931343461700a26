/**
 * The package's main entry: the gateway bootstrap and the pieces a NestJS
 * service can use on its own (deny-by-default Bearer auth, decorators).
 *
 * @example
 * import { AuthModule, Public, Scopes, Principal } from 'service-gateway';
 */
export { startGateway, type GatewayOptions, type RunningGateway } from './gateway.js';
export { AuthModule } from './auth/auth.module.js';
export { Public, Scopes, Principal } from './auth/decorators.js';
export type { Principal as VerifiedPrincipal } from './auth/principal.js';
export { ConfigModule } from './config/config.module.js';
export { loadConfig, validateConfig, ConfigError } from './config/load-config.js';
export type { GatewayConfig, RuntimeSettings, RedisSettings, RouteConfig, IssuerConfig } from './config/gateway-config.js';
export { ObservabilityModule } from './observability/observability.module.js';
export { createLogger } from './observability/logger.js';
export { GatewayMetrics } from './observability/metrics.js';
export { GatewayError } from './errors/gateway-error.js';
export {
  ClientCredentialsModule,
  type ClientCredentialsOptions,
} from './upstream-auth/client-credentials/client-credentials.module.js';
export { DownstreamClient, type DownstreamRequest, type DownstreamResponse } from './upstream-auth/client-credentials/downstream-client.js';
export { ServiceTokenSource, ServiceTokenError } from './upstream-auth/client-credentials/service-token.js';
