// Config reload in the process (RunningGateway.reload, what SIGHUP calls; the signal itself is in
// signals.e2e-spec.ts): requests in flight finish on the config they started with, new ones get
// the new config, the replaced application is closed only once its requests have ended (no
// leaked upstream pools), and a config whose issuer keys cannot be loaded is refused.
import { TestIssuer } from '../src/testing/index.js';
import { configFor, startTestGateway, type TestGateway, type TestRoute } from './support/gateway.js';
import { waitFor } from './support/attacks.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';
import { UpstreamPools } from '../src/proxy/upstream-pools.js';

let issuer: TestIssuer;
let other: TestIssuer;
let upstream: TestUpstream;
let gw: TestGateway;
let token: string;

const route = (id: string): TestRoute => ({ id, pathPrefix: `/${id}`, upstream: upstream.url, public: true });

beforeAll(async () => {
  issuer = await TestIssuer.start({ algorithms: ['RS256'] });
  other = await TestIssuer.start({ algorithms: ['RS256'] });
  upstream = await startUpstream();
  token = await issuer.token();
});
beforeEach(async () => {
  // A drain longer than any request here: the replaced application waits for its requests up to it.
  gw = await startTestGateway({ issuers: [issuer], routes: [route('orders')], shutdown: { delaySeconds: 0, drainSeconds: 10 } });
  upstream.handle(undefined);
  upstream.requests.length = 0;
});
afterEach(() => gw?.close());
afterAll(async () => {
  await upstream?.close();
  await issuer?.close();
  await other?.close();
});

/** Open upstream pools of an application (one per route used so far). */
const openPools = (pools: UpstreamPools) => (pools as unknown as { pools: Map<string, unknown> }).pools.size;

it('a request in flight finishes on the old config; the old application closes only after it', async () => {
  // The upstream holds its answer until the test lets it go.
  let release = () => {};
  upstream.handle((request, response) => (release = () => response.end(`done ${request.url}`)));
  const oldPools = gw.running.app.get(UpstreamPools);
  const inFlight = fetch(`${gw.url}/orders/slow`);
  await waitFor('the slow request upstream', () => upstream.requests.length === 1);

  await gw.running.reload(configFor({ issuers: [issuer], routes: [route('orders'), route('reports')] }));
  upstream.handle(undefined);
  expect((await fetch(`${gw.url}/reports/1`)).status).toBe(200); // the new config serves at once
  expect(openPools(oldPools)).toBe(1); // the old one still holds the slow request's pool

  release();
  const answer = await inFlight;
  expect(await answer.text()).toBe('done /orders/slow');
  await waitFor('the old application to close', () => openPools(oldPools) === 0);
  expect(gw.running.app.get(UpstreamPools)).not.toBe(oldPools);
});

it('new issuers and routes apply: a token of a newly trusted issuer passes, a removed route is gone', async () => {
  const protectedRoute: TestRoute = { id: 'secure', pathPrefix: '/secure', upstream: upstream.url };
  await gw.running.reload(configFor({ issuers: [issuer, other], routes: [protectedRoute] }));
  const res = await fetch(`${gw.url}/secure/1`, { headers: { authorization: `Bearer ${await other.token()}` } });
  expect(res.status).toBe(200);
  expect((await fetch(`${gw.url}/orders/1`)).status).toBe(404);
  expect((await fetch(`${gw.url}/secure/1`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
});

it("a config whose issuer keys cannot be loaded is refused; the running config keeps serving", async () => {
  other.takeJwksDown('error');
  try {
    await expect(
      gw.running.reload(configFor({ issuers: [issuer, other], routes: [route('orders'), route('reports')] }), 500),
    ).rejects.toThrow("the new config's issuer keys did not load within 500 ms");
  } finally {
    other.bringJwksUp();
  }
  expect((await fetch(`${gw.url}/orders/1`)).status).toBe(200);
  expect((await fetch(`${gw.url}/reports/1`)).status).toBe(404);
  expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
});

it('reloads run one at a time, in order: the last one wins', async () => {
  const first = gw.running.reload(configFor({ issuers: [issuer], routes: [route('a')] }));
  const second = gw.running.reload(configFor({ issuers: [issuer], routes: [route('b')] }));
  await Promise.all([first, second]);
  expect((await fetch(`${gw.url}/a/1`)).status).toBe(404);
  expect((await fetch(`${gw.url}/b/1`)).status).toBe(200);
});
