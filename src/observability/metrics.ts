import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric the gateway exports. Label values come from closed sets (route
 * ids from config, auth failure reasons, outcomes): never from request data.
 */
export class GatewayMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'gateway_requests_total',
    help: 'Requests answered, by route id, method (HTTP_METHODS, else OTHER) and status class',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Time from the arrival of a request to the last byte of its answer, by route id',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'gateway_upstream_duration_seconds',
    help: 'Time from sending a request upstream (pool wait included) to its response headers, by route id',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'gateway_auth_failures_total',
    help: 'Refused tokens (401 invalid_token), by auth failure reason (the closed list in README)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly jwksFetches = new Counter({
    name: 'gateway_jwks_fetches_total',
    help: 'JWKS fetches per issuer, by trigger and outcome',
    labelNames: ['issuer', 'trigger', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly upstreamErrors = new Counter({
    name: 'gateway_upstream_errors_total',
    help: 'Upstream failures answered by the gateway, by route id and kind',
    labelNames: ['route', 'kind'] as const,
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'gateway_rate_limited_total',
    help: 'Requests the gateway answered 429 (route windows and the unauthenticated budget), by route id',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  readonly throttleStorageErrors = new Counter({
    name: 'gateway_throttle_storage_errors_total',
    help: 'Throttle storage (Redis) failures, by the policy applied',
    labelNames: ['policy'] as const,
    registers: [this.registry],
  });

  readonly serviceTokenCacheHits = new Counter({
    name: 'gateway_service_token_cache_hits_total',
    help: 'Upstream calls served by a cached service token, by client',
    labelNames: ['client'] as const,
    registers: [this.registry],
  });

  readonly serviceTokenFetches = new Counter({
    name: 'gateway_service_token_fetches_total',
    help: 'Service token requests to the token endpoint, by client and outcome (success, failure)',
    labelNames: ['client', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly redisErrors = new Counter({
    name: 'gateway_redis_errors_total',
    help: 'Redis commands that failed, by store (throttle, token_cache)',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });

  readonly configReloads = new Counter({
    name: 'gateway_config_reloads_total',
    help: 'SIGHUP config reloads, by outcome (applied, refused)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly issuerKeysLoaded = new Gauge({
    name: 'gateway_issuer_keys_loaded',
    help: '1 when the issuer keys are loaded, else 0',
    labelNames: ['issuer'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }
}
