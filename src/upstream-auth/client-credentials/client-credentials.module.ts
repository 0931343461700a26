import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { ClientConfig, RedisSettings } from '../../config/gateway-config.js';
import { REDIS_VARIABLE_OF } from '../../config/redis-settings.js';
import { LOGGER, type Logger } from '../../observability/logger.js';
import { GatewayMetrics } from '../../observability/metrics.js';
import { DownstreamClient } from './downstream-client.js';
import { RedisTokenStore } from './redis-token-store.js';
import { ServiceTokenProvider, SYSTEM_TIMING } from './service-token-provider.js';
import { ServiceTokenSource, SharedTokenStore } from './service-token.js';
import { TokenCipher } from './token-cipher.js';

export interface ClientCredentialsOptions {
  readonly clients: Readonly<Record<string, ClientConfig>>;
  /** With `tokenCacheKeys` too: tokens shared by every replica through this Redis (one, a cluster, or Sentinel's master). */
  readonly redis?: RedisSettings;
  /** Shorthand for `redis: { kind: 'single', url: redisUrl }`; not together with `redis`. */
  readonly redisUrl?: string;
  readonly tokenCacheKeys?: readonly { readonly kid: string; readonly key: Buffer }[];
  /** Redis key prefix; default `gateway:`. */
  readonly keyPrefix?: string;
}

/**
 * Service tokens from the OAuth 2.0 client-credentials grant (RFC 6749 §4.4),
 * for the gateway's `upstreamAuth: client-credentials` routes and for any
 * NestJS service calling its own downstream services. Needs LOGGER
 * (ObservabilityModule); counts hits and token requests when GatewayMetrics is provided too.
 *
 * @example
 * @Module({ imports: [ClientCredentialsModule.forRoot({ clients: { orders: { tokenUrl, clientId, clientSecret, authMethod: 'client_secret_basic', scope: 'orders.internal' } } })] })
 * class AppModule {}
 * // then: constructor(@Inject(DownstreamClient) downstream: DownstreamClient) {}
 * //       await downstream.request('orders', 'https://orders.internal/v1/orders/42');
 */
@Module({})
export class ClientCredentialsModule implements OnApplicationShutdown {
  constructor(@Inject(SharedTokenStore) private readonly store: SharedTokenStore | null) {}

  static forRoot(options: ClientCredentialsOptions): DynamicModule {
    return {
      module: ClientCredentialsModule,
      global: true,
      providers: [
        {
          provide: SharedTokenStore,
          // Metrics are optional: a service may use this module without the gateway's metrics.
          inject: [LOGGER, { token: GatewayMetrics, optional: true }],
          useFactory: (log: Logger, metrics: GatewayMetrics | undefined): SharedTokenStore | null => sharedStore(options, log, metrics),
        },
        {
          provide: ServiceTokenSource,
          // GatewayMetrics is optional: an app using this module on its own need not have it.
          inject: [LOGGER, SharedTokenStore, { token: GatewayMetrics, optional: true }],
          useFactory: (log: Logger, store: SharedTokenStore | null, metrics: GatewayMetrics | undefined) =>
            new ServiceTokenProvider(options.clients, { ...SYSTEM_TIMING, log, store: store ?? undefined, metrics }),
        },
        {
          provide: DownstreamClient,
          inject: [ServiceTokenSource],
          useFactory: (tokens: ServiceTokenSource) => new DownstreamClient(tokens),
        },
      ],
      exports: [ServiceTokenSource, DownstreamClient],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store?.close();
  }
}

function sharedStore(options: ClientCredentialsOptions, log: Logger, metrics: GatewayMetrics | undefined): SharedTokenStore | null {
  const redis = redisOf(options);
  if (Object.keys(options.clients).length === 0 || redis === undefined) return null;
  if (!options.tokenCacheKeys?.length) {
    // CONTRACT: without TOKEN_CACHE_KEY no service token is stored in Redis; each replica fetches its own.
    log.warn(`${REDIS_VARIABLE_OF[redis.kind]} is set but TOKEN_CACHE_KEY is not: service tokens are cached per replica, never stored in Redis`);
    return null;
  }
  return RedisTokenStore.create({
    redis,
    keyPrefix: options.keyPrefix ?? 'gateway:',
    cipher: new TokenCipher(options.tokenCacheKeys),
    log,
    onCommandError: () => metrics?.redisErrors.inc({ store: 'token_cache' }),
  });
}

function redisOf({ redis, redisUrl }: ClientCredentialsOptions): RedisSettings | undefined {
  if (redis !== undefined && redisUrl !== undefined) throw new Error('ClientCredentialsModule: set redis or redisUrl, not both');
  return redisUrl === undefined ? redis : { kind: 'single', url: redisUrl };
}
