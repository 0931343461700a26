import { Module, type DynamicModule } from '@nestjs/common';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { GatewayConfig, RuntimeSettings } from '../config/gateway-config.js';
import { validateConfig } from '../config/load-config.js';
import { DEV_CLIENT_ID, DevIssuer } from './dev-issuer.js';
import { DevIssuerController } from './dev-issuer.controller.js';
import { startEchoUpstream } from './echo-upstream.js';

export const DEV_AUDIENCE = 'api://dev-gateway';

export interface DevMode {
  readonly config: GatewayConfig;
  readonly settings: RuntimeSettings;
  readonly module: DynamicModule;
  banner(): string;
  close(): Promise<void>;
}

@Module({})
class DevIssuerModule {}

/**
 * No config file: an embedded issuer under /.dev-issuer on the gateway's own
 * port, an echo upstream, and one demo route that needs demo:read.
 */
export async function prepareDevMode(settings: RuntimeSettings): Promise<DevMode> {
  if (settings.nodeEnv === 'production') {
    throw new Error('dev mode is refused with NODE_ENV=production: set GATEWAY_CONFIG to a config file');
  }
  // The issuer URL names the port, so it must be known before the app is built.
  const port = settings.port === 0 ? await freePort(settings.host) : settings.port;
  const issuerUrl = `http://localhost:${port}/.dev-issuer`;
  const issuer = await DevIssuer.create(issuerUrl, DEV_AUDIENCE);
  const echo = await startEchoUpstream();
  const config = validateConfig({
    auth: {
      issuers: [
        // The gateway fetches its own JWKS over loopback (localhost may resolve to ::1).
        { issuer: issuerUrl, audience: DEV_AUDIENCE, jwksUri: `http://127.0.0.1:${port}/.dev-issuer/jwks`, algorithms: ['RS256'] },
      ],
    },
    routes: [{ id: 'demo', pathPrefix: '/demo', upstream: echo.url, scopes: ['demo:read'], stripPrefix: '/demo' }],
  });
  return {
    config,
    settings: { ...settings, port },
    module: {
      module: DevIssuerModule,
      controllers: [DevIssuerController],
      providers: [{ provide: DevIssuer, useValue: issuer }],
    },
    banner: () => devBanner(port, issuer.clientSecret),
    close: echo.close,
  };
}

function devBanner(port: number, secret: string): string {
  const base = `http://localhost:${port}`;
  const token = `curl -s -u ${DEV_CLIENT_ID}:${secret} -d grant_type=client_credentials -d scope=demo:read ${base}/.dev-issuer/token`;
  return [
    '',
    '  ==================================================================',
    '   DEV MODE: no config file was found (GATEWAY_CONFIG unset and no',
    '   ./gateway.yaml). An embedded issuer signs tokens for anyone who',
    '   reads this banner. Never expose this process. Not for production.',
    '  ==================================================================',
    '',
    `   issuer    ${base}/.dev-issuer   client ${DEV_CLIENT_ID} / ${secret}`,
    `   route     ${base}/demo  -> echo upstream, needs scope demo:read`,
    '',
    '   # 1. get a token',
    `   TOKEN=$(${token} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`,
    '   # 2. call the demo route (200, the echo shows the X-Auth-* headers it got)',
    `   curl -i -H "Authorization: Bearer $TOKEN" ${base}/demo/hello`,
    '   # 3. no token: 401',
    `   curl -i ${base}/demo/hello`,
    '   # 4. a token without demo:read: 403',
    `   curl -i -H "Authorization: Bearer $(${token.replace('scope=demo:read', 'scope=demo:write')} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')" ${base}/demo/hello`,
    '',
  ].join('\n');
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
