import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import passport from 'passport';
import { Strategy } from 'passport-jwt';
import { GatewayError } from '../errors/gateway-error.js';
import { UnauthenticatedBudget } from '../throttling/unauthenticated-budget.js';
import { extractBearerToken } from './bearer-token.js';
import type { Principal } from './principal.js';
import { AccessTokenVerifier } from './verify-access-token.js';

/** Injection token: the passport strategy name of this app instance. */
export const STRATEGY_NAME = Symbol('JwtStrategyName');
let instances = 0;
export function nextStrategyName(): string {
  return `gateway-jwt-${++instances}`;
}

/** passport hands strategies the framework's request; with Fastify the Node request is `.raw`. */
function nodeRequest(req: FastifyRequest | FastifyRequest['raw']): FastifyRequest['raw'] {
  return 'raw' in req ? req.raw : req;
}

/**
 * The passport adapter: token in, Principal or a typed failure out; no rules
 * of its own.
 *
 * passport-jwt reads the token (`jwtFromRequest`) and would then verify it
 * with jsonwebtoken, which has no EdDSA and no `crit`/`typ` or duplicate-member
 * handling. So `authenticate` keeps passport-jwt's contract (extract, then
 * success/fail) but verifies with jose through AccessTokenVerifier; the key
 * provider passport-jwt requires is never reached.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy) implements OnModuleDestroy {
  constructor(
    @Inject(AccessTokenVerifier) private readonly verifier: AccessTokenVerifier,
    @Inject(STRATEGY_NAME) private readonly strategyName: string,
    @Optional() @Inject(UnauthenticatedBudget) private readonly budget?: UnauthenticatedBudget,
  ) {
    super({
      jwtFromRequest: (req: FastifyRequest) => extractBearerToken(nodeRequest(req)) ?? null,
      secretOrKeyProvider: (_req: unknown, _token: string, done: (err: Error) => void) =>
        done(new Error('JwtStrategy verifies with jose; the key provider is not used')),
    });
    // passport's registry is process-wide: each app instance (the tests run
    // several gateways in one process) registers under its own name, so one
    // app's verifier never answers for another's.
    passport.unuse('jwt');
    passport.use(strategyName, this);
  }

  onModuleDestroy(): void {
    passport.unuse(this.strategyName);
  }

  // passport calls this on a per-request copy that has success/fail/error.
  override authenticate(req: Parameters<Strategy['authenticate']>[0]): void {
    let token: string | undefined;
    try {
      token = extractBearerToken(nodeRequest(req as unknown as FastifyRequest));
    } catch (failure) {
      return this.fail(failure, 401);
    }
    if (token === undefined) {
      return this.fail(new GatewayError('missing_token', 'This route needs a Bearer access token'), 401);
    }
    const clientAddress = (req as unknown as FastifyRequest).gateway?.clientAddress;
    const budget = this.budget;
    const mayRefetchKeys = budget && clientAddress !== undefined ? async () => !(await budget.exhausted(clientAddress)) : undefined;
    this.verifier.verify(token, mayRefetchKeys).then(
      (principal) => this.success(principal),
      (failure: unknown) => (failure instanceof GatewayError ? this.fail(failure, 401) : this.error(failure as Error)),
    );
  }

  validate(principal: Principal): Principal {
    return principal;
  }
}
