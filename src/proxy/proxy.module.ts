import { Global, Module } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config.js';
import { TrustedProxies } from '../request/client-address.js';
import { RouteAccessResolver } from '../routing/route-access.js';
import { RouteResolver } from '../routing/route-resolver.js';
import { ProxyController } from './proxy.controller.js';
import { ProxyService } from './proxy.service.js';
import { UpstreamPools } from './upstream-pools.js';

/** The route table and the forwarding controller. Global so the auth guard finds the route resolver. */
@Global()
@Module({
  controllers: [ProxyController],
  providers: [
    RouteResolver,
    { provide: RouteAccessResolver, useExisting: RouteResolver },
    ProxyService,
    UpstreamPools,
    // One instance for the request hooks (client address) and the proxy (X-Forwarded-*).
    { provide: TrustedProxies, inject: [GatewayConfig], useFactory: (config: GatewayConfig) => new TrustedProxies(config.trustProxy) },
  ],
  exports: [RouteAccessResolver, TrustedProxies],
})
export class ProxyModule {}
