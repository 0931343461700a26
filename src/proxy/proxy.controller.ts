import { All, Controller, Inject, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AccessFromRouteTable } from '../auth/decorators.js';
import { RouteResolver } from '../routing/route-resolver.js';
import { ProxyService } from './proxy.service.js';

/** Every path that is not an operating endpoint: route table → guards → upstream. */
@Controller()
export class ProxyController {
  constructor(
    @Inject(RouteResolver) private readonly routes: RouteResolver,
    @Inject(ProxyService) private readonly proxy: ProxyService,
  ) {}

  @All('*')
  @AccessFromRouteTable()
  forward(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.proxy.forward(request, reply, this.routes.resolve(request));
  }
}
