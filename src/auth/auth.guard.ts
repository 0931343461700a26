import { Inject, Injectable, Optional, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { RouteAccessResolver, type RouteAccess } from '../routing/route-access.js';
import { authFailureReason } from './auth-failure.js';
import { ACCESS_FROM_ROUTE_TABLE, IS_PUBLIC, REQUIRED_SCOPES } from './decorators.js';
import type { Principal } from './principal.js';
import { STRATEGY_NAME } from './jwt.strategy.js';
import { missingScopes } from './scopes.js';
import { UnauthenticatedBudget } from '../throttling/unauthenticated-budget.js';

const AUTHENTICATED: RouteAccess = { public: false, scopes: [] };

/**
 * Global guard, deny by default: a handler without metadata needs a valid
 * token; `@Public()` (or a `public: true` route) is the only way out.
 */
@Injectable()
export class GatewayAuthGuard extends AuthGuard() {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(STRATEGY_NAME) strategyName: string,
    @Optional() @Inject(RouteAccessResolver) private readonly routes?: RouteAccessResolver,
    @Optional() @Inject(UnauthenticatedBudget) private readonly budget?: UnauthenticatedBudget,
  ) {
    // This app instance's strategy (see JwtStrategy); no session, no user property games.
    super({ defaultStrategy: strategyName, session: false });
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const access = this.accessFor(context, request);
    // A public route does not read Authorization at all (CONTRACT).
    if (access.public) return true;

    try {
      await super.canActivate(context);
    } catch (failure) {
      throw await this.afterFailure(failure, request);
    }
    const principal = (request as unknown as { user: Principal }).user;
    // Outside the gateway (AuthModule in another Nest app) there is no request context: @Principal() reads request.user.
    if (request.gateway) request.gateway.principal = principal;
    if (missingScopes(access.scopes, principal.scopes).length > 0) {
      throw new GatewayError('insufficient_scope', `This route needs the scopes: ${access.scopes.join(' ')}`, {
        scopes: access.scopes,
        reason: 'insufficient_scope',
      });
    }
    return true;
  }

  // @nestjs/passport would throw a bare 401 and drop passport's `info`: keep the reason.
  override handleRequest<TUser = Principal>(err: unknown, user: unknown, info: unknown): TUser {
    if (user) return user as TUser;
    const failure = err ?? info;
    if (failure instanceof GatewayError) {
      // Only refused tokens count, by README's closed reasons: not a missing token, not a 403,
      // not a 503 keys_unavailable (gateway_jwks_fetches_total has those), not a 400.
      const reason = authFailureReason(failure);
      if (reason !== undefined) this.metrics.authFailures.inc({ reason });
      throw failure;
    }
    throw new GatewayError('internal', 'Authentication failed unexpectedly', {}, { cause: failure });
  }

  /** Every 401 spends the address's unauthenticated budget; once spent, the answer is 429. */
  private async afterFailure(failure: unknown, request: FastifyRequest): Promise<unknown> {
    const unauthenticated = failure instanceof GatewayError && (failure.code === 'invalid_token' || failure.code === 'missing_token');
    if (!unauthenticated || !this.budget || !request.gateway) return failure;
    return (await this.budget.spend(request.gateway.clientAddress)) ?? failure;
  }

  private accessFor(context: ExecutionContext, request: FastifyRequest): RouteAccess {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return { public: true, scopes: [] };
    if (this.reflector.getAllAndOverride<boolean>(ACCESS_FROM_ROUTE_TABLE, targets)) {
      if (!this.routes) throw new GatewayError('internal', 'No route table is configured for this handler');
      return this.routes.resolve(request).route;
    }
    const scopes = this.reflector.getAllAndOverride<string[]>(REQUIRED_SCOPES, targets);
    return scopes ? { public: false, scopes } : AUTHENTICATED;
  }
}
