import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy } from 'passport-jwt';
import { GatewayError } from '../errors/gateway-error.js';
import { extractBearerToken } from './bearer-token.js';
import type { Principal } from './principal.js';
import { AccessTokenVerifier } from './verify-access-token.js';

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
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(@Inject(AccessTokenVerifier) private readonly verifier: AccessTokenVerifier) {
    super({
      jwtFromRequest: (req: FastifyRequest) => extractBearerToken(nodeRequest(req)) ?? null,
      secretOrKeyProvider: (_req: unknown, _token: string, done: (err: Error) => void) =>
        done(new Error('JwtStrategy verifies with jose; the key provider is not used')),
    });
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
    this.verifier.verify(token).then(
      (principal) => this.success(principal),
      (failure: unknown) => (failure instanceof GatewayError ? this.fail(failure, 401) : this.error(failure as Error)),
    );
  }

  validate(principal: Principal): Principal {
    return principal;
  }
}
