import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

export const IS_PUBLIC = 'gateway:public';
export const REQUIRED_SCOPES = 'gateway:scopes';
export const ACCESS_FROM_ROUTE_TABLE = 'gateway:route-table';

/**
 * The only way past the global auth guard without a token.
 * @example
 * @Public() @Get('healthz') healthz() { return { status: 'ok' }; }
 */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/**
 * Every listed scope is required (whole-word match) on top of a valid token.
 * @example
 * @Scopes('orders:read') @Get('orders') list(@Principal() caller: Principal) { … }
 */
export const Scopes = (...scopes: string[]) => SetMetadata(REQUIRED_SCOPES, scopes);

/** The handler's access rules come from the gateway's route table (the proxy). */
export const AccessFromRouteTable = () => SetMetadata(ACCESS_FROM_ROUTE_TABLE, true);

/**
 * The verified caller of this request.
 * @example
 * @Get('me') me(@Principal() caller: Principal) { return { sub: caller.subject }; }
 */
export const Principal = createParamDecorator((_data: unknown, ctx: ExecutionContext) => {
  const request = ctx.switchToHttp().getRequest<FastifyRequest & { user?: unknown }>();
  return request.gateway?.principal ?? request.user;
});
