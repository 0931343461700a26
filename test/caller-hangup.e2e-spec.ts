// Callers that hang up (issue #8, CONTRACT "What an upstream sees"): a request whose caller is gone
// before the gateway sent it upstream is never forwarded (a DELETE the caller abandoned must not
// happen), and a hang-up is not an error: no 500, no error-level log line anyone could cause.
// Through the real gateway, a real OAuth server whose token endpoint the test can hold, and a
// recording upstream.
import { TestIssuer } from '../src/testing/index.js';
import type { RouteConfig } from '../src/config/gateway-config.js';
import { printLogOnFailure, waitFor } from './support/attacks.js';
import { closeAfterAll } from './support/close-after-all.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { startOAuthServer, type OAuthServer } from './support/oauth-server.js';
import { openRaw, requestHead } from './support/raw-http.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

let issuer: TestIssuer;
let oauth: OAuthServer;
let upstream: TestUpstream;
let gw: TestGateway;
let token: string;

const closing = closeAfterAll();

/** A protected route /api/<client> whose upstream calls carry that client's service token. */
function serviceTokenRoute(client: string) {
  const upstreamAuth: RouteConfig['upstreamAuth'] = { type: 'client-credentials', client };
  return { id: client, pathPrefix: `/api/${client}`, upstream: upstream.url, scopes: ['orders:read'], upstreamAuth };
}

beforeAll(async () => {
  issuer = closing(await TestIssuer.start({ algorithms: ['RS256'] }));
  oauth = closing(await startOAuthServer());
  upstream = closing(await startUpstream());
  const client = {
    tokenUrl: oauth.tokenUrl,
    clientId: oauth.clients.basic.clientId,
    clientSecret: oauth.clients.basic.clientSecret,
    authMethod: 'client_secret_basic' as const,
    scope: oauth.scope,
    audience: oauth.resource,
  };
  gw = closing(await startTestGateway({
    issuers: [issuer],
    routes: [serviceTokenRoute('held'), serviceTokenRoute('buffered')],
    clients: { held: client, buffered: client },
  }));
  token = await issuer.token({ claims: { sub: 'caller', client_id: 'caller-app', scope: 'orders:read' } });
});

beforeEach(() => {
  oauth.bringUp();
  upstream.requests.length = 0;
});
printLogOnFailure(() => [gw]);

/** Connections the gateway's server holds open (callers' keep-alive included). */
function openConnections(): Promise<number> {
  const server = gw.running.server;
  return new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

const errorLines = () => gw.logs.filter((line) => (line.level as number) >= 50);

async function control(client: string): Promise<void> {
  const res = await fetch(`${gw.url}/api/${client}/control`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  await res.text();
}

it('a DELETE whose caller hangs up while the service token is fetched is never sent upstream', async () => {
  oauth.takeDown('hold');
  const baseline = await openConnections();
  const socket = await openRaw(gw.url);
  socket.write(requestHead(gw.url, { method: 'DELETE', target: '/api/held/orders/7', headers: [['Authorization', `Bearer ${token}`]] }));
  await waitFor('the token request to be held', () => oauth.heldRequests === 1);
  socket.destroy();
  await waitFor('the gateway to see the hang-up', async () => (await openConnections()) <= baseline);

  oauth.bringUp();
  await waitFor('the held token request to be answered', () => oauth.tokenRequests.some((r) => r.status === 200));
  // The control goes after the token arrived: had the DELETE been resumed, it would be upstream first.
  await control('held');
  expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /api/held/control']);
  expect(errorLines()).toEqual([]);
});

it('a caller that hangs up while its small body is kept for the 401 replay: no 500, no error log, upstream not reached', async () => {
  await control('buffered'); // the service token is cached: the body is what the request waits for
  upstream.requests.length = 0;
  const before = gw.logs.length;
  const baseline = await openConnections();
  const socket = await openRaw(gw.url);
  socket.write(
    requestHead(gw.url, {
      method: 'POST',
      target: '/api/buffered/orders',
      headers: [['Authorization', `Bearer ${token}`], ['Content-Type', 'application/json'], ['Content-Length', '1000']],
    }),
  );
  socket.write('{"partial":');
  await new Promise((resolve) => setTimeout(resolve, 100));
  socket.destroy();
  await waitFor('the gateway to see the hang-up', async () => (await openConnections()) <= baseline);

  await control('buffered');
  expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /api/buffered/control']);
  expect(errorLines()).toEqual([]);
  expect(gw.logText()).not.toContain('unhandled error');
  expect(gw.logs.slice(before).some((line) => line.status === 500)).toBe(false);
});
