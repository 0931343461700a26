import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectThrottlerOptions, InjectThrottlerStorage, ThrottlerGuard, type ThrottlerModuleOptions, type ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerRequest } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { ACCESS_FROM_ROUTE_TABLE } from '../auth/decorators.js';
import { GatewayError } from '../errors/gateway-error.js';
import { tighter } from './rate-limit.js';
import { ThrottlePlan } from './throttle-plan.js';
import { ThrottleStorageUnavailable } from './window-store.js';

/**
 * @nestjs/throttler's guard, keyed the gateway's way. The package's default
 * key hashes the controller and handler name, so one catch-all proxy handler
 * would give every route one bucket: here the key is route id + window +
 * caller. Runs after authentication (a forged token cannot spend a real
 * caller's budget) and only for the route table's handler (operating
 * endpoints are never throttled). Headers are kept on the request and written
 * with the answer, whoever writes it (proxy or problem filter).
 */
@Injectable()
export class GatewayThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    @Inject(Reflector) reflector: Reflector,
    @Inject(ThrottlePlan) private readonly plan: ThrottlePlan,
  ) {
    super(options, storage, reflector);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return !this.reflector.getAllAndOverride<boolean>(ACCESS_FROM_ROUTE_TABLE, [context.getHandler(), context.getClass()]);
  }

  /** The caller (issuer + client id, or address), hashed once per request by ThrottlePlan. */
  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    return this.plan.forRequest(request as unknown as FastifyRequest)?.callerHash ?? '-';
  }

  protected override generateKey(context: ExecutionContext, callerHash: string, window: string): string {
    const route = context.switchToHttp().getRequest<FastifyRequest>().gateway.route?.route;
    return `${route?.id ?? '-'}:${window}:${callerHash}`;
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = props;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const key = generateKey(context, await getTracker(request as never, context), throttler.name ?? 'w0');
    // The window's length is part of the key: a changed window (config, a caller's own quota) starts afresh.
    let record;
    try {
      record = await this.storageService.increment(`${key}:${ttl}`, ttl, limit, blockDuration, throttler.name ?? 'w0');
    } catch (error) {
      if (error instanceof ThrottleStorageUnavailable) {
        throw new GatewayError('rate_limit_unavailable', 'Rate limits cannot be checked right now', {
          retryAfterSeconds: error.retryAfterSeconds,
          reason: 'storage_unavailable',
        });
      }
      throw error;
    }
    const state = { limit, remaining: Math.max(0, limit - record.totalHits), resetSeconds: record.timeToExpire };
    if (record.isBlocked) {
      const blocked = { ...state, remaining: 0, resetSeconds: record.timeToBlockExpire };
      request.gateway.rateLimit = blocked;
      const routeId = request.gateway.route?.route.id ?? '-';
      // Counted in gateway_rate_limited_total with every other 429 the gateway answers (access-log.ts).
      throw new GatewayError('rate_limited', `Over the limit of ${limit} requests per ${ttl / 1000} s on route ${routeId}`, {
        retryAfterSeconds: record.timeToBlockExpire,
        rateLimit: blocked,
        reason: 'rate_limited',
      });
    }
    request.gateway.rateLimit = tighter(request.gateway.rateLimit, state);
    return true;
  }
}
