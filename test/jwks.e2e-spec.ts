// Where the gateway gets an issuer's keys and how it keeps them (CONTRACT "What a caller
// sees": unknown kid with the JWKS unreachable → 503; "Issuers whose keys cannot be fetched
// at startup are retried…"): discovery, rotation, unknown-kid floods, outages. Every block
// starts its own TestIssuer and gateway, so JWKS request counts and refetch cooldowns start
// from a known state; only one gateway runs at a time (see the passport note in auth.e2e-spec.ts).
import { TestIssuer, type TestIssuerOptions } from '../src/testing/index.js';
import type { IssuerConfig } from '../src/config/gateway-config.js';
import { printLogOnFailure, randomKid, validClaims, waitFor } from './support/attacks.js';
import { expectProblem } from './support/expect-problem.js';
import { startTestGateway, waitForReady, type TestGateway, type TestGatewayOptions } from './support/gateway.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

const ORDERS = '/api/orders/1';
const UNKNOWN_KID_CHALLENGE =
  'Bearer realm="gateway", error="invalid_token", error_description="The token signing key is unknown"';

let upstream: TestUpstream;
/** The gateway of the running test or block, for the log on failure. */
let current: TestGateway | undefined;

const fileCleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of fileCleanups.reverse()) await cleanup();
});
beforeAll(async () => {
  upstream = await startUpstream();
  fileCleanups.push(() => upstream.close());
});
beforeEach(() => {
  upstream.requests.length = 0;
});
printLogOnFailure(() => [current]);

/**
 * Per-block set-up: registers its cleanup right away, so whatever a block starts is closed when
 * the block ends (or, with `perTest`, when each test ends), before the next gateway starts.
 */
function blockResources(options: { perTest?: boolean } = {}) {
  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  };
  if (options.perTest) afterEach(closeAll);
  afterAll(closeAll);
  return {
    onClose(cleanup: () => Promise<void>): void {
      cleanups.push(cleanup);
    },
    async issuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
      const issuer = await TestIssuer.start({ algorithms: ['RS256'], ...options });
      cleanups.push(() => issuer.close());
      return issuer;
    },
    async gateway(issuers: TestGatewayOptions['issuers'], options: Partial<TestGatewayOptions> = {}): Promise<TestGateway> {
      const gw = await startTestGateway({
        issuers,
        routes: [{ id: 'orders', pathPrefix: '/api/orders', upstream: upstream.url, scopes: ['orders:read'] }],
        ...options,
      });
      cleanups.push(() => gw.close());
      current = gw;
      return gw;
    },
  };
}

function token(issuer: TestIssuer, kid?: string): Promise<string> {
  return issuer.token({ kid, claims: { scope: 'orders:read' } });
}

function send(gw: TestGateway, bearer: string): Promise<Response> {
  return fetch(`${gw.url}${ORDERS}`, { headers: { authorization: `Bearer ${bearer}` } });
}

async function expectAccepted(res: Response): Promise<void> {
  const text = await res.text();
  expect(`${res.status} ${text}`).toMatch(/^200 /);
  expect(upstream.requests).toHaveLength(1);
}

async function expectUnknownKid(res: Response): Promise<void> {
  await expectProblem(res, { status: 401, code: 'invalid_token', challenge: UNKNOWN_KID_CHALLENGE });
  expect(upstream.requests).toHaveLength(0);
}

async function expectKeysUnavailable(res: Response): Promise<void> {
  await expectProblem(res, { status: 503, code: 'keys_unavailable', challenge: null, retryAfter: '5' });
  expect(upstream.requests).toHaveLength(0);
}

async function expectNotReady(gw: TestGateway): Promise<void> {
  await expectProblem(await fetch(`${gw.url}/readyz`), { status: 503, code: 'not_ready', retryAfter: '1' });
}

describe('discovery of the JWKS', () => {
  const resources = blockResources({ perTest: true });

  it('OIDC discovery (openid-configuration), no jwksUri configured → keys loaded, token 200', async () => {
    const issuer = await resources.issuer({ discovery: 'openid' });
    const gw = await resources.gateway([issuer]);
    await expectAccepted(await send(gw, await token(issuer)));
    expect(issuer.requests).toEqual({ discovery: 1, jwks: 1 });
  });

  // Regression: fetch-json destroyed the unread body of a non-200 answer, and undici's
  // RequestAbortedError went unhandled (an uncaught exception: the process ended). Jest reports
  // such an error against the test whose gateway raised it, so these gateways start in the test.
  it('RFC 8414 metadata under an issuer path (OIDC URL 404 first, no uncaught error) → keys loaded, token 200', async () => {
    const issuer = await resources.issuer({ discovery: 'oauth', issuerPath: '/realms/test' });
    const gw = await resources.gateway([issuer]);
    await expectAccepted(await send(gw, await token(issuer)));
    expect(issuer.requests).toEqual({ discovery: 2, jwks: 1 });
  });

  it('jwksUri configured → no discovery request, token 200', async () => {
    const issuer = await resources.issuer({ discovery: 'none' });
    const config: IssuerConfig = { issuer: issuer.issuer, audience: [issuer.audience], jwksUri: issuer.jwksUri, algorithms: ['RS256'] };
    const gw = await resources.gateway([config]);
    await expectAccepted(await send(gw, await token(issuer)));
    expect(issuer.requests).toEqual({ discovery: 0, jwks: 1 });
  });

  it('a discovery document naming another issuer is refused: never ready, its JWKS never fetched', async () => {
    const issuer = await resources.issuer({ discovery: 'both' });
    // Trusted as "<issuer>/": the documents served there say "<issuer>" (OIDC Discovery §4.3, RFC 8414 §3.3).
    const trusted = `${issuer.issuer}/`;
    const gw = await resources.gateway([{ issuer: trusted, audience: [issuer.audience], algorithms: ['RS256'] }], {
      waitReady: false,
    });
    // Two full attempts (both documents each time): the refusal is not a start-up race.
    await waitFor('two discovery attempts', () => issuer.requests.discovery >= 4);
    await expectNotReady(gw);
    const res = await send(gw, await issuer.token({ claims: { iss: trusted, scope: 'orders:read' } }));
    await expectKeysUnavailable(res);
    await expectNotReady(gw);
    expect(issuer.requests.jwks).toBe(0);
  });
});

/** The positive control of a block: a token of a key already loaded → 200, and no JWKS request. */
function itAcceptsAKnownKeyWithoutFetching(title: string, block: () => { issuer: TestIssuer; gw: TestGateway }): void {
  it(title, async () => {
    const { issuer, gw } = block();
    const before = issuer.requests.jwks;
    await expectAccepted(await send(gw, await token(issuer)));
    expect(issuer.requests.jwks).toBe(before);
  });
}

describe('key rotation without restart (cooldown 1 s)', () => {
  const resources = blockResources();
  let issuer: TestIssuer;
  let gw: TestGateway;
  beforeAll(async () => {
    issuer = await resources.issuer();
    gw = await resources.gateway([issuer], { auth: { jwksRefetchCooldownSeconds: 1 } });
  });

  itAcceptsAKnownKeyWithoutFetching('control: a token of the first key → 200 without a JWKS request', () => ({ issuer, gw }));

  it('rotate → a token of the new key → 200 after exactly one JWKS refetch; the old key still verifies', async () => {
    const oldKid = issuer.keys()[0]!.kid;
    const oldToken = await token(issuer);
    const before = issuer.requests.jwks;
    const { kid } = await issuer.rotate('RS256');
    await expectAccepted(await send(gw, await token(issuer, kid)));
    expect(issuer.requests.jwks).toBe(before + 1);
    upstream.requests.length = 0;
    const freshOfOldKey = await issuer.sign({ kid: oldKid, typ: 'JWT' }, validClaims(issuer.issuer, issuer.audience, { scope: 'orders:read' }));
    await expectAccepted(await send(gw, freshOfOldKey));
    upstream.requests.length = 0;
    await expectAccepted(await send(gw, oldToken));
    expect(issuer.requests.jwks).toBe(before + 1);
  });
});

describe('a key removed from the JWKS (cooldown 1 s)', () => {
  const resources = blockResources({ perTest: true });

  it('stops verifying once the JWKS is refetched, even for a token already verified', async () => {
    const issuer = await resources.issuer();
    const gw = await resources.gateway([issuer], { auth: { jwksRefetchCooldownSeconds: 1 } });
    const removedKid = issuer.keys()[0]!.kid;
    const oldToken = await token(issuer);
    await expectAccepted(await send(gw, oldToken));

    issuer.removeKey(removedKid);
    const { kid } = await issuer.rotate('RS256');
    const before = issuer.requests.jwks;
    upstream.requests.length = 0;
    await expectAccepted(await send(gw, await token(issuer, kid))); // the new kid makes the gateway refetch
    expect(issuer.requests.jwks).toBe(before + 1);

    upstream.requests.length = 0;
    await expectUnknownKid(await send(gw, oldToken));
  });
});

describe('a flood of unknown kids (cooldown 5 s)', () => {
  const resources = blockResources();
  let issuer: TestIssuer;
  let gw: TestGateway;
  beforeAll(async () => {
    issuer = await resources.issuer();
    gw = await resources.gateway([issuer], { auth: { jwksRefetchCooldownSeconds: 5 } });
  });

  itAcceptsAKnownKeyWithoutFetching('control: a token of a known key → 200 without a JWKS request', () => ({ issuer, gw }));

  it('50 random kids in parallel → all 401 unknown_kid, one JWKS refetch in all', async () => {
    const tokens = await Promise.all(Array.from({ length: 50 }, () => token(issuer, randomKid())));
    const before = issuer.requests.jwks;
    const responses = await Promise.all(tokens.map((bearer) => send(gw, bearer)));
    for (const res of responses) await expectUnknownKid(res);
    expect(issuer.requests.jwks).toBe(before + 1);
  });

  it('another unknown kid within the cooldown → 401 unknown_kid without a JWKS request', async () => {
    const before = issuer.requests.jwks;
    await expectUnknownKid(await send(gw, await token(issuer, randomKid())));
    expect(issuer.requests.jwks).toBe(before);
  });
});

describe('the refetch cooldown ends (cooldown 1 s)', () => {
  const resources = blockResources({ perTest: true });

  it('one refetch per cooldown: the second unknown kid waits, a third after 1 s refetches', async () => {
    const issuer = await resources.issuer();
    const gw = await resources.gateway([issuer], { auth: { jwksRefetchCooldownSeconds: 1 } });
    const before = issuer.requests.jwks;

    const firstAt = Date.now();
    await expectUnknownKid(await send(gw, await token(issuer, randomKid())));
    expect(issuer.requests.jwks).toBe(before + 1);
    await expectUnknownKid(await send(gw, await token(issuer, randomKid())));
    expect(issuer.requests.jwks).toBe(before + 1);

    // The one real wait in this file: the 1 s cooldown itself.
    const { kid } = await issuer.rotate('RS256');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstAt + 1_100 - Date.now())));
    await expectAccepted(await send(gw, await token(issuer, kid)));
    expect(issuer.requests.jwks).toBe(before + 2);
  });
});

/**
 * A JWKS endpoint in front of `issuer` that resets connections while `down` (an outage with no
 * HTTP answer at all), else relays the issuer's JWKS. `requests` counts every attempt.
 */
async function startJwksFront(issuer: TestIssuer): Promise<{ url: string; requests: () => number; down: boolean; close(): Promise<void> }> {
  const server = await startUpstream();
  const front = {
    url: `${server.url}/jwks`,
    requests: () => server.requests.length,
    down: true,
    close: () => server.close(),
  };
  server.handle((_request, response) => {
    if (front.down) return void response.socket?.destroy();
    void fetch(issuer.jwksUri).then(async (jwks) => {
      response.writeHead(jwks.status, { 'content-type': 'application/json' });
      response.end(await jwks.text());
    });
  });
  return front;
}

describe('JWKS unreachable after start (connection reset)', () => {
  const resources = blockResources();
  let issuer: TestIssuer;
  let front: Awaited<ReturnType<typeof startJwksFront>>;
  let gw: TestGateway;
  beforeAll(async () => {
    issuer = await resources.issuer({ discovery: 'none' });
    front = await startJwksFront(issuer);
    resources.onClose(() => front.close());
    front.down = false;
    const config: IssuerConfig = { issuer: issuer.issuer, audience: [issuer.audience], jwksUri: front.url, algorithms: ['RS256'] };
    gw = await resources.gateway([config], { auth: { jwksRefetchCooldownSeconds: 5 } });
    front.down = true;
  });

  it('a known kid still verifies (keys kept while the JWKS is down), /readyz stays 200', async () => {
    const before = front.requests();
    await expectAccepted(await send(gw, await token(issuer)));
    expect(front.requests()).toBe(before);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
  });

  it('an unknown kid → 503 keys_unavailable with Retry-After, after one JWKS attempt', async () => {
    const before = front.requests();
    await expectKeysUnavailable(await send(gw, await token(issuer, randomKid())));
    expect(front.requests()).toBe(before + 1);
  });

  // Regression: within the cooldown after a *failed* fetch an unknown kid was answered 401
  // unknown_kid although the JWKS was known to be down.
  it('unknown kids one after another while the JWKS is still down → each 503 keys_unavailable, not 401', async () => {
    await expectKeysUnavailable(await send(gw, await token(issuer, randomKid())));
    await expectKeysUnavailable(await send(gw, await token(issuer, randomKid())));
  });
});

describe('JWKS answering 503 after start (takeJwksDown error)', () => {
  const resources = blockResources({ perTest: true });

  // Regression: the same uncaught RequestAbortedError (see the RFC 8414 test) on the JWKS's 503.
  it('a known kid → 200; an unknown kid → 503 keys_unavailable with Retry-After, no uncaught error', async () => {
    const issuer = await resources.issuer();
    const gw = await resources.gateway([issuer], { auth: { jwksRefetchCooldownSeconds: 5 } });
    issuer.takeJwksDown('error');
    await expectAccepted(await send(gw, await token(issuer)));
    upstream.requests.length = 0;
    const before = issuer.requests.jwks;
    await expectKeysUnavailable(await send(gw, await token(issuer, randomKid())));
    expect(issuer.requests.jwks).toBe(before + 1);
  });
});

describe('JWKS hangs after start (fetch time-out 5 s)', () => {
  const resources = blockResources();
  let issuer: TestIssuer;
  let gw: TestGateway;
  beforeAll(async () => {
    issuer = await resources.issuer();
    gw = await resources.gateway([issuer], { auth: { jwksRefetchCooldownSeconds: 1 } });
    issuer.takeJwksDown('hang');
  });

  it('a known kid → 200 at once, no JWKS request', async () => {
    const before = issuer.requests.jwks;
    const startedAt = Date.now();
    await expectAccepted(await send(gw, await token(issuer)));
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(issuer.requests.jwks).toBe(before);
  });

  it('an unknown kid → 503 keys_unavailable within about 6 s', async () => {
    const bearer = await token(issuer, randomKid());
    const startedAt = Date.now();
    await expectKeysUnavailable(await send(gw, bearer));
    expect(Date.now() - startedAt).toBeLessThan(6_500);
  }, 15_000);
});

describe('JWKS hangs: unknown kids arriving together', () => {
  const resources = blockResources({ perTest: true });

  // Regression: requests joining an in-flight fetch that failed got 401 unknown_kid while the
  // one that started it got 503, for the same outage at the same moment.
  it('three unknown kids during one hanging fetch → all 503 keys_unavailable', async () => {
    const issuer = await resources.issuer();
    const gw = await resources.gateway([issuer], { auth: { jwksRefetchCooldownSeconds: 1 } });
    issuer.takeJwksDown('hang');
    const tokens = await Promise.all([1, 2, 3].map(() => token(issuer, randomKid())));
    const responses = await Promise.all(tokens.map((bearer) => send(gw, bearer)));
    for (const res of responses) await expectKeysUnavailable(res);
  }, 15_000);
});

describe('issuer keys unavailable at startup', () => {
  const resources = blockResources({ perTest: true });

  it('JWKS unreachable (connection reset): /readyz 503 and tokens 503, then ready within 10 s of the JWKS answering, no restart', async () => {
    const issuer = await resources.issuer({ discovery: 'none' });
    const front = await startJwksFront(issuer);
    resources.onClose(() => front.close());
    const config: IssuerConfig = { issuer: issuer.issuer, audience: [issuer.audience], jwksUri: front.url, algorithms: ['RS256'] };
    const gw = await resources.gateway([config], { waitReady: false });

    await waitFor('two start-up attempts', () => front.requests() >= 2);
    await expectNotReady(gw);
    await expectKeysUnavailable(await send(gw, await token(issuer)));

    front.down = false;
    const upAt = Date.now();
    await waitForReady(gw.url, 10_000);
    expect(Date.now() - upAt).toBeLessThan(10_000);
    await expectAccepted(await send(gw, await token(issuer)));
  });

  // Regression: each start-up attempt's 503 raised the uncaught RequestAbortedError (the process
  // ended instead of retrying).
  it('JWKS answering 503 (takeJwksDown error): /readyz 503 until it answers, then ready within 10 s, no uncaught error', async () => {
    const issuer = await resources.issuer();
    issuer.takeJwksDown('error');
    const gw = await resources.gateway([issuer], { waitReady: false });

    await waitFor('two start-up attempts', () => issuer.requests.jwks >= 2);
    await expectNotReady(gw);
    await expectKeysUnavailable(await send(gw, await token(issuer)));

    issuer.bringJwksUp();
    const upAt = Date.now();
    await waitForReady(gw.url, 10_000);
    expect(Date.now() - upAt).toBeLessThan(10_000);
    await expectAccepted(await send(gw, await token(issuer)));
  });
});
