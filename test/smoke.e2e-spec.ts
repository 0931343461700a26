import { pino } from 'pino';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { TestIssuer } from '../src/testing/index.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';
import { ASYMMETRIC_ALGORITHMS, type GatewayConfig } from '../src/config/gateway-config.js';

let issuer: TestIssuer;
let upstream: TestUpstream;
let gw: RunningGateway;

beforeAll(async () => {
  issuer = await TestIssuer.start();
  upstream = await startUpstream();
  const config: GatewayConfig = {
    auth: { clockToleranceSeconds: 30, requireTyp: false, jwksRefetchCooldownSeconds: 5, issuers: [{ issuer: issuer.issuer, audience: [issuer.audience], algorithms: [...ASYMMETRIC_ALGORITHMS] }] },
    routes: [{ id: 'orders', pathPrefix: '/api/orders', upstream: upstream.url, public: false, scopes: ['orders:read'], timeoutMs: 2000, maxBodyBytes: 1024, upstreamAuth: { type: 'none' } }],
    clients: {},
    throttle: { default: [{ limit: 600, ttlSeconds: 60 }], clients: {}, storage: 'memory', onStorageError: 'local', unauthenticated: { limit: 30, ttlSeconds: 60 } },
    trustProxy: [],
    shutdown: { delaySeconds: 0, drainSeconds: 1 },
  };
  gw = await startGateway({ config, settings: { port: 0, host: '127.0.0.1', logLevel: 'info' }, log: pino({ level: 'debug' }) });
  for (let i = 0; i < 50; i++) { const r = await fetch(`${gw.url}/readyz`); if (r.status === 200) break; await new Promise(r => setTimeout(r, 100)); }
});
afterAll(async () => { await gw?.shutdown(0, 100); await upstream?.close(); await issuer?.close(); });

it('smoke', async () => {
  const token = await issuer.token({ claims: { scope: 'orders:read' } });
  let res = await fetch(`${gw.url}/api/orders/1?x=1`, { headers: { authorization: `Bearer ${token}` } });
  console.log(res.status, Object.fromEntries(res.headers), await res.text());
  res = await fetch(`${gw.url}/api/orders/1`, { headers: { authorization: `Bearer ${token}x` } });
  console.log(res.status, Object.fromEntries(res.headers), await res.text());
  res = await fetch(`${gw.url}/api/orders/1`, { method: 'POST', body: 'hello', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  console.log(res.status, await res.text(), upstream.requests.at(-1));
  res = await fetch(`${gw.url}/nothing`);
  console.log(res.status, await res.text());
  res = await fetch(`${gw.url}/healthz`);
  console.log(res.status, await res.text());
  res = await fetch(`${gw.url}/`);
  console.log(res.status, await res.text());
});
