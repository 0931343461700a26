import { Inject, Injectable, Optional, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { IssuerRegistry } from '../auth/issuer-registry.js';
import { GatewayConfig } from '../config/gateway-config.js';
import { GatewayError } from '../errors/gateway-error.js';
import { WindowStore } from '../throttling/window-store.js';
import { Readiness } from './readiness.js';

/** Each readiness check, in the order a failure is reported, with the detail and Retry-After of its 503. */
const NOT_READY = {
  draining: { detail: 'The gateway is shutting down', retryAfterSeconds: 5 },
  issuerKeys: { detail: 'Issuer keys are not loaded yet', retryAfterSeconds: 1 },
  rateLimitStorage: { detail: 'Rate-limit storage is unreachable', retryAfterSeconds: 5 },
} as const satisfies Record<string, { detail: string; retryAfterSeconds: number }>;
type ReadinessCheck = keyof typeof NOT_READY;

/**
 * /readyz's checks as @nestjs/terminus health indicators (CONTRACT "Operating endpoints"): not
 * draining, JWKS loaded for every issuer, and the rate-limit storage only under
 * `onStorageError: deny`. A failed check becomes a `not_ready` GatewayError, so the 503 is the
 * problem filter's problem+json with Retry-After like every other one, not terminus's own body.
 *
 * @example
 * await readinessHealth.assertReady(); // throws GatewayError('not_ready', …) while not ready
 */
@Injectable()
export class ReadinessHealth {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(Readiness) private readonly readiness: Readiness,
    @Inject(IssuerRegistry) private readonly issuers: IssuerRegistry,
    @Inject(GatewayConfig) private readonly config: GatewayConfig,
    @Optional() @Inject(WindowStore) private readonly store?: WindowStore,
  ) {}

  /** Resolves when the gateway should get traffic; else throws `not_ready` for the first failed check. */
  async assertReady(): Promise<void> {
    try {
      await this.health.check([() => this.draining(), () => this.issuerKeys(), () => this.rateLimitStorage()]);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      const { detail, retryAfterSeconds } = NOT_READY[failedCheck(error.getResponse() as HealthCheckResult)];
      throw new GatewayError('not_ready', detail, { retryAfterSeconds });
    }
  }

  private draining() {
    const check = this.indicators.check('draining');
    return this.readiness.draining ? check.down() : check.up();
  }

  private issuerKeys() {
    const check = this.indicators.check('issuerKeys');
    return this.issuers.ready ? check.up() : check.down();
  }

  private async rateLimitStorage() {
    const check = this.indicators.check('rateLimitStorage');
    // CONTRACT: Redis counts only where its outage stops serving (onStorageError: deny); a blip
    // under local/allow must not take every replica out of the load balancer at once.
    if (this.config.throttle.onStorageError !== 'deny' || !this.store || this.store.healthy) return check.up();
    // Probe: once the load balancer stops sending requests, readiness checks are the only
    // traffic that can show Redis is back (a stall must not take replicas out for good).
    await this.store.peek('readiness-probe').catch(() => undefined);
    return this.store.healthy ? check.up() : check.down();
  }
}

/** The first failed check of terminus's result; `shutting_down` (Nest's shutdown hooks running) fails none and is draining. */
function failedCheck(result: HealthCheckResult): ReadinessCheck {
  const checks = Object.keys(NOT_READY) as ReadinessCheck[];
  return checks.find((check) => result.error?.[check] !== undefined) ?? 'draining';
}
