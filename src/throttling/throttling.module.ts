import { Inject, Module, type DynamicModule, type ExecutionContext, type OnApplicationShutdown } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule, type ThrottlerOptions } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import type { GatewayConfig, RuntimeSettings, ThrottleWindow } from '../config/gateway-config.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { GatewayThrottlerGuard } from './gateway-throttler.guard.js';
import { MemoryWindowStore } from './memory-window.store.js';
import { RedisWindowStore } from './redis-window.store.js';
import { ResilientWindowStore } from './resilient-window.store.js';
import { ThrottlePlan } from './throttle-plan.js';
import { UnauthenticatedBudget } from './unauthenticated-budget.js';
import { WindowStore } from './window-store.js';

export interface ThrottlingOptions {
  readonly config: GatewayConfig;
  readonly settings: RuntimeSettings;
  readonly log: Logger;
  readonly metrics: GatewayMetrics;
}

/** Per-caller limits for the route table (CONTRACT `throttle`), plus the unauthenticated budget. */
@Module({})
export class ThrottlingModule implements OnApplicationShutdown {
  constructor(@Inject(WindowStore) private readonly store: WindowStore) {}

  static forRoot(options: ThrottlingOptions): DynamicModule {
    const store = windowStore(options);
    const plan = new ThrottlePlan(options.config);
    return {
      module: ThrottlingModule,
      global: true,
      imports: [
        ThrottlerModule.forRoot({
          // One named throttler per window slot; each resolves its window from the request's route and caller.
          throttlers: Array.from({ length: plan.maxWindows }, (_, slot) => windowSlot(plan, slot)),
          storage: store,
          setHeaders: false,
        }),
      ],
      providers: [
        { provide: WindowStore, useValue: store },
        { provide: ThrottlePlan, useValue: plan },
        { provide: UnauthenticatedBudget, useValue: new UnauthenticatedBudget(store, options.config.throttle.unauthenticated) },
        { provide: APP_GUARD, useClass: GatewayThrottlerGuard },
      ],
      exports: [WindowStore, UnauthenticatedBudget],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

function windowStore({ config, settings, log, metrics }: ThrottlingOptions): WindowStore {
  // CONTRACT: `storage: memory` ignores the Redis variables (config validation requires one for redis).
  if (config.throttle.storage === 'memory' || settings.redis === undefined) return new MemoryWindowStore();
  const primary = RedisWindowStore.create({
    redis: settings.redis,
    keyPrefix: 'gateway:',
    log,
    onCommandError: () => metrics.redisErrors.inc({ store: 'throttle' }),
  });
  return new ResilientWindowStore(primary, config.throttle.onStorageError, {
    log,
    onStorageError: (policy) => metrics.throttleStorageErrors.inc({ policy }),
  });
}

function windowSlot(plan: ThrottlePlan, slot: number): ThrottlerOptions {
  const windowOf = (context: ExecutionContext): ThrottleWindow | undefined =>
    plan.forRequest(context.switchToHttp().getRequest<FastifyRequest>())?.windows[slot];
  return {
    name: `w${slot}`,
    ttl: (context) => (windowOf(context)?.ttlSeconds ?? 1) * 1000,
    limit: (context) => windowOf(context)?.limit ?? Number.MAX_SAFE_INTEGER,
    skipIf: (context) => windowOf(context) === undefined,
  };
}
