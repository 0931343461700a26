// Throttling (CONTRACT `throttle`, "Throttling rules the config cannot show", the 429 row,
// RateLimit-* headers, readiness under onStorageError deny; issue #4), through the real
// gateway on random ports, real keys from TestIssuer, a recording upstream, the machine's
// Redis for the two-replica test and a test-owned redis-server that is killed and restarted.
// Every count is exact: with a limit of N, request N passes and N+1 gets 429.
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Redis } from 'ioredis';
import { TestIssuer } from '../src/testing/index.js';
import type { ThrottleWindow } from '../src/config/gateway-config.js';
import { printLogOnFailure, waitFor } from './support/attacks.js';
import { expectProblem } from './support/expect-problem.js';
import { startTestGateway, type TestGateway, type TestGatewayOptions, type TestRoute } from './support/gateway.js';
import { describeWithRedis, IN_CI, REDIS_URL, redisAnswers, requireRedis } from './support/redis.js';
import { redisServerAvailable, REDIS_SERVER_BINARY, startOwnedRedis, type OwnedRedis } from './support/redis-server.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

const RUN = randomBytes(4).toString('hex');
const BAD_SIGNATURE = 'Bearer realm="gateway", error="invalid_token", error_description="The token signature is invalid"';
const UNKNOWN_KID = 'Bearer realm="gateway", error="invalid_token", error_description="The token signing key is unknown"';
const MISSING_TOKEN = 'Bearer realm="gateway"';

let issuer: TestIssuer; // trusted
let otherIssuer: TestIssuer; // trusted too: same client_id there is another caller
let attacker: TestIssuer; // never trusted: signs the forgeries
let upstream: TestUpstream;

const gateways: TestGateway[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

beforeAll(async () => {
  issuer = await TestIssuer.start({ algorithms: ['RS256'] });
  cleanups.push(() => issuer.close());
  otherIssuer = await TestIssuer.start({ algorithms: ['RS256'] });
  cleanups.push(() => otherIssuer.close());
  attacker = await TestIssuer.start({ algorithms: ['RS256'] });
  cleanups.push(() => attacker.close());
  upstream = await startUpstream();
  cleanups.push(() => upstream.close());
});

printLogOnFailure(() => gateways);

/** A gateway trusting `issuer` and `otherIssuer`, closed after the file. */
async function gateway(options: Omit<TestGatewayOptions, 'issuers'>): Promise<TestGateway> {
  const gw = await startTestGateway({ issuers: [issuer, otherIssuer], ...options });
  cleanups.push(() => gw.close());
  gateways.push(gw);
  return gw;
}

/** A route on the recording upstream; its prefix is unique so upstream hits can be counted per route. */
function route(id: string, throttle?: readonly ThrottleWindow[], extra: Partial<TestRoute> = {}): TestRoute {
  return { id, pathPrefix: `/api/${id}`, upstream: upstream.url, ...(throttle ? { throttle } : {}), ...extra };
}

function upstreamHits(id: string): number {
  return upstream.requests.filter((r) => r.url.startsWith(`/api/${id}`)).length;
}

/** GET `path` with `Bearer token` (none when undefined). */
function call(gw: TestGateway, path: string, token?: string): Promise<Response> {
  return fetch(`${gw.url}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
}

/** The three RateLimit-* values (null when absent). */
function rateLimit(headers: Headers): { limit: string | null; remaining: string | null; reset: string | null } {
  return { limit: headers.get('ratelimit-limit'), remaining: headers.get('ratelimit-remaining'), reset: headers.get('ratelimit-reset') };
}

/** `n` requests one after another; their statuses (bodies read, so connections are reused). */
async function statuses(n: number, send: () => Promise<Response>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await send();
    await res.arrayBuffer();
    out.push(res.status);
  }
  return out;
}

const positiveInteger = (value: string | null): number => {
  expect(value).toMatch(/^[1-9]\d*$/);
  return Number(value);
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface PlainAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
}

/**
 * GET over node:http from a chosen loopback address (127.0.0.2 is another client than
 * 127.0.0.1), with the headers given; fetch cannot pick its source address.
 */
function getFrom(gw: TestGateway, path: string, options: { from?: string; xff?: string } = {}): Promise<PlainAnswer> {
  const url = new URL(path, gw.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        localAddress: options.from ?? '127.0.0.1',
        agent: false,
        headers: options.xff === undefined ? {} : { 'x-forwarded-for': options.xff },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** [status, RateLimit-Remaining] of a node:http answer. */
const seen = (answer: PlainAnswer): [number, string | undefined] => [answer.status, answer.headers['ratelimit-remaining'] as string | undefined];

describe('one window on a route (memory storage)', () => {
  it('limit 5/60 s: requests 1..5 → 200 with RateLimit-Limit 5, Remaining 4..0, Reset 1..60; request 6 → 429 rate_limited with Retry-After; upstream got exactly 5', async () => {
    const id = `five-${RUN}`;
    const gw = await gateway({ routes: [route(id, [{ limit: 5, ttlSeconds: 60 }])] });
    const token = await issuer.token({ claims: { client_id: 'caller-five' } });

    for (let i = 1; i <= 5; i++) {
      const res = await call(gw, `/api/${id}/x`, token);
      expect({ request: i, status: res.status }).toEqual({ request: i, status: 200 });
      const headers = rateLimit(res.headers);
      expect({ request: i, limit: headers.limit, remaining: headers.remaining }).toEqual({ request: i, limit: '5', remaining: String(5 - i) });
      expect(positiveInteger(headers.reset)).toBeLessThanOrEqual(60);
      expect(res.headers.get('retry-after')).toBeNull();
      await res.arrayBuffer();
    }
    expect(upstreamHits(id)).toBe(5);

    const sixth = await call(gw, `/api/${id}/x`, token);
    await expectProblem(sixth, { status: 429, code: 'rate_limited', challenge: null });
    expect(positiveInteger(sixth.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    const headers = rateLimit(sixth.headers);
    expect({ limit: headers.limit, remaining: headers.remaining }).toEqual({ limit: '5', remaining: '0' });
    expect(positiveInteger(headers.reset)).toBeLessThanOrEqual(60);
    expect(upstreamHits(id)).toBe(5);
  });

  it('the budget returns after the window: ttlSeconds 1 → 200, 200, 429 (Retry-After 1); after 1.1 s → 200 with Remaining 1 again', async () => {
    const id = `refill-${RUN}`;
    const gw = await gateway({ routes: [route(id, [{ limit: 2, ttlSeconds: 1 }])] });
    const token = await issuer.token({ claims: { client_id: 'caller-refill' } });

    expect(await statuses(2, () => call(gw, `/api/${id}`, token))).toEqual([200, 200]);
    const blocked = await call(gw, `/api/${id}`, token);
    await expectProblem(blocked, { status: 429, code: 'rate_limited', retryAfter: '1' });

    await sleep(1_100);
    const again = await call(gw, `/api/${id}`, token);
    expect(again.status).toBe(200);
    expect(rateLimit(again.headers)).toEqual({ limit: '2', remaining: '1', reset: '1' });
    expect(upstreamHits(id)).toBe(3);
  });
});

describe('who the caller is: issuer + client_id, else azp, else sub', () => {
  let gw: TestGateway;
  const id = `callers-${RUN}`;
  const path = `/api/${id}`;
  beforeAll(async () => {
    gw = await gateway({ routes: [route(id, [{ limit: 2, ttlSeconds: 60 }])] });
  });

  it('two client_ids on one route → two budgets (2 + 2 pass)', async () => {
    const alice = await issuer.token({ claims: { client_id: 'alice' } });
    const bob = await issuer.token({ claims: { client_id: 'bob' } });
    expect(await statuses(3, () => call(gw, path, alice))).toEqual([200, 200, 429]);
    expect(await statuses(3, () => call(gw, path, bob))).toEqual([200, 200, 429]);
  });

  it('the same client_id with different subs → one budget (the caller is issuer + client_id, not sub)', async () => {
    const first = await issuer.token({ claims: { client_id: 'shared-client', sub: 'user-1' } });
    const second = await issuer.token({ claims: { client_id: 'shared-client', sub: 'user-2' } });
    expect(await statuses(2, () => call(gw, path, first))).toEqual([200, 200]);
    const res = await call(gw, path, second);
    await expectProblem(res, { status: 429, code: 'rate_limited' });
  });

  it('the same client_id from another trusted issuer → another caller', async () => {
    const here = await issuer.token({ claims: { client_id: 'twin' } });
    const there = await otherIssuer.token({ claims: { client_id: 'twin' } });
    expect(await statuses(3, () => call(gw, path, here))).toEqual([200, 200, 429]);
    expect(await statuses(3, () => call(gw, path, there))).toEqual([200, 200, 429]);
  });

  it('no client_id → azp is the caller: shared across subs, separate per azp', async () => {
    const x1 = await issuer.token({ claims: { client_id: undefined, azp: 'app-x', sub: 'user-1' } });
    const x2 = await issuer.token({ claims: { client_id: undefined, azp: 'app-x', sub: 'user-2' } });
    const y1 = await issuer.token({ claims: { client_id: undefined, azp: 'app-y', sub: 'user-1' } });
    expect(await statuses(2, () => call(gw, path, x1))).toEqual([200, 200]);
    expect(await statuses(1, () => call(gw, path, x2))).toEqual([429]);
    expect(await statuses(3, () => call(gw, path, y1))).toEqual([200, 200, 429]);
  });

  it('neither client_id nor azp → sub is the caller', async () => {
    const first = await issuer.token({ claims: { client_id: undefined, sub: 'lonely-1' } });
    const same = await issuer.token({ claims: { client_id: undefined, sub: 'lonely-1' } });
    const other = await issuer.token({ claims: { client_id: undefined, sub: 'lonely-2' } });
    expect(await statuses(2, () => call(gw, path, first))).toEqual([200, 200]);
    expect(await statuses(1, () => call(gw, path, same))).toEqual([429]);
    expect(await statuses(3, () => call(gw, path, other))).toEqual([200, 200, 429]);
  });
});

describe('limits from the config', () => {
  it('several windows [3/1 s, 5/60 s]: 3 pass, 4th 429 (burst); after 1.1 s 2 more pass (5 in all), then 429 from the 60 s window; headers show the tightest window', async () => {
    const id = `windows-${RUN}`;
    const gw = await gateway({
      routes: [
        route(id, [
          { limit: 3, ttlSeconds: 1 },
          { limit: 5, ttlSeconds: 60 },
        ]),
      ],
    });
    const token = await issuer.token({ claims: { client_id: 'caller-windows' } });
    const send = () => call(gw, `/api/${id}`, token);

    // Burst window (3/1 s) is the tighter one: Remaining 2, 1, 0 of 3.
    for (const remaining of ['2', '1', '0']) {
      const res = await send();
      expect(res.status).toBe(200);
      expect(rateLimit(res.headers)).toEqual({ limit: '3', remaining, reset: '1' });
      await res.arrayBuffer();
    }
    const burst = await send();
    await expectProblem(burst, { status: 429, code: 'rate_limited', retryAfter: '1' });
    expect(rateLimit(burst.headers)).toEqual({ limit: '3', remaining: '0', reset: '1' });

    await sleep(1_100);
    // Now the 60 s window is the tighter one: 5 - 4 = 1, then 0 (burst has 2, then 1 left).
    for (const remaining of ['1', '0']) {
      const res = await send();
      expect({ status: res.status, limit: res.headers.get('ratelimit-limit'), remaining: res.headers.get('ratelimit-remaining') }).toEqual({
        status: 200,
        limit: '5',
        remaining,
      });
      expect(positiveInteger(res.headers.get('ratelimit-reset'))).toBeLessThanOrEqual(60);
      await res.arrayBuffer();
    }
    const hourly = await send();
    await expectProblem(hourly, { status: 429, code: 'rate_limited' });
    expect({ limit: hourly.headers.get('ratelimit-limit'), remaining: hourly.headers.get('ratelimit-remaining') }).toEqual({ limit: '5', remaining: '0' });
    // Blocked by the 60 s window: far more than the burst window's 1 s.
    expect(positiveInteger(hourly.headers.get('retry-after'))).toBeGreaterThan(50);
    expect(upstreamHits(id)).toBe(5);
  });

  it('throttle.clients: partner-42 gets its own 10/60 s (RateLimit-Limit 10), another caller the route’s 2', async () => {
    const id = `partner-${RUN}`;
    const gw = await gateway({
      routes: [route(id, [{ limit: 2, ttlSeconds: 60 }])],
      throttle: { clients: { 'partner-42': [{ limit: 10, ttlSeconds: 60 }] } },
    });
    const partner = await issuer.token({ claims: { client_id: 'partner-42' } });
    const other = await issuer.token({ claims: { client_id: 'someone-else' } });

    for (let i = 1; i <= 10; i++) {
      const res = await call(gw, `/api/${id}`, partner);
      expect({ request: i, status: res.status, limit: res.headers.get('ratelimit-limit'), remaining: res.headers.get('ratelimit-remaining') }).toEqual({
        request: i,
        status: 200,
        limit: '10',
        remaining: String(10 - i),
      });
      await res.arrayBuffer();
    }
    const eleventh = await call(gw, `/api/${id}`, partner);
    await expectProblem(eleventh, { status: 429, code: 'rate_limited' });
    expect(eleventh.headers.get('ratelimit-limit')).toBe('10');

    const first = await call(gw, `/api/${id}`, other);
    expect(first.headers.get('ratelimit-limit')).toBe('2');
    await first.arrayBuffer();
    expect([first.status, ...(await statuses(2, () => call(gw, `/api/${id}`, other)))]).toEqual([200, 200, 429]);
    expect(upstreamHits(id)).toBe(12);
  });

  it('two routes: the same caller has a budget per route id (2 + 2 pass)', async () => {
    const a = `route-a-${RUN}`;
    const b = `route-b-${RUN}`;
    const gw = await gateway({ routes: [route(a, [{ limit: 2, ttlSeconds: 60 }]), route(b, [{ limit: 2, ttlSeconds: 60 }])] });
    const token = await issuer.token({ claims: { client_id: 'caller-two-routes' } });
    expect(await statuses(3, () => call(gw, `/api/${a}`, token))).toEqual([200, 200, 429]);
    expect(await statuses(3, () => call(gw, `/api/${b}`, token))).toEqual([200, 200, 429]);
    expect([upstreamHits(a), upstreamHits(b)]).toEqual([2, 2]);
  });
});

describe('public routes: the caller is the client IP', () => {
  const limit2: ThrottleWindow[] = [{ limit: 2, ttlSeconds: 60 }];

  it('no trustProxy: a spoofed X-Forwarded-For changes nothing (one budget for 127.0.0.1); another address (127.0.0.2) has its own', async () => {
    const id = `public-${RUN}`;
    const gw = await gateway({ routes: [route(id, limit2, { public: true })] });
    const path = `/api/${id}`;
    expect(seen(await getFrom(gw, path))).toEqual([200, '1']);
    expect(seen(await getFrom(gw, path, { xff: '203.0.113.1' }))).toEqual([200, '0']);
    expect(seen(await getFrom(gw, path, { xff: '198.51.100.9' }))).toEqual([429, '0']);
    expect(seen(await getFrom(gw, path, { xff: '198.51.100.10, 203.0.113.2' }))).toEqual([429, '0']);
    // Positive control: the key really is the address.
    expect(seen(await getFrom(gw, path, { from: '127.0.0.2' }))).toEqual([200, '1']);
  });

  it('trustProxy [127.0.0.1]: different X-Forwarded-For values are different callers; an entry prepended by the caller is ignored; untrusted 127.0.0.2 cannot dodge its budget with X-Forwarded-For', async () => {
    const id = `public-proxied-${RUN}`;
    const gw = await gateway({ routes: [route(id, limit2, { public: true })], trustProxy: ['127.0.0.1'] });
    const path = `/api/${id}`;
    expect(seen(await getFrom(gw, path, { xff: '203.0.113.7' }))).toEqual([200, '1']);
    expect(seen(await getFrom(gw, path, { xff: '203.0.113.7' }))).toEqual([200, '0']);
    expect(seen(await getFrom(gw, path, { xff: '203.0.113.7' }))).toEqual([429, '0']);
    // The right-most untrusted entry is the client: a caller prepending another address stays 203.0.113.7.
    expect(seen(await getFrom(gw, path, { xff: '198.51.100.1, 203.0.113.7' }))).toEqual([429, '0']);
    expect(seen(await getFrom(gw, path, { xff: '203.0.113.8' }))).toEqual([200, '1']);
    expect(seen(await getFrom(gw, path))).toEqual([200, '1']); // the proxy's own address, no header

    // From an address outside trustProxy, a new X-Forwarded-For value per request is still one caller.
    expect(seen(await getFrom(gw, path, { from: '127.0.0.2', xff: '203.0.113.99' }))).toEqual([200, '1']);
    expect(seen(await getFrom(gw, path, { from: '127.0.0.2', xff: '203.0.113.100' }))).toEqual([200, '0']);
    expect(seen(await getFrom(gw, path, { from: '127.0.0.2', xff: '203.0.113.101' }))).toEqual([429, '0']);
  });
});

describe('authentication comes first', () => {
  it('10 forged tokens (bad signature) claiming client_id victim → 401 each, never 429; the real victim then has its full budget (Remaining 2, 1, 0, then 429)', async () => {
    const id = `forged-${RUN}`;
    const gw = await gateway({ routes: [route(id, [{ limit: 3, ttlSeconds: 60 }])] });
    const [realKey] = issuer.keys();
    // The attacker signs with its own key but names the real issuer, its audience and its kid.
    const forged = await attacker.token({ kid: realKey!.kid, claims: { iss: issuer.issuer, aud: issuer.audience, client_id: 'victim' } });

    for (let i = 0; i < 10; i++) {
      await expectProblem(await call(gw, `/api/${id}`, forged), { status: 401, code: 'invalid_token', challenge: BAD_SIGNATURE });
    }
    const victim = await issuer.token({ claims: { client_id: 'victim' } });
    for (const remaining of ['2', '1', '0']) {
      const res = await call(gw, `/api/${id}`, victim);
      expect({ status: res.status, limit: res.headers.get('ratelimit-limit'), remaining: res.headers.get('ratelimit-remaining') }).toEqual({
        status: 200,
        limit: '3',
        remaining,
      });
      await res.arrayBuffer();
    }
    await expectProblem(await call(gw, `/api/${id}`, victim), { status: 429, code: 'rate_limited' });
    expect(upstreamHits(id)).toBe(3);
  });

  it('throttle.unauthenticated 3/60 s: 3 failed authentications → 401, the 4th → 429 with Retry-After; a valid token from the same address → 200; an unknown-kid flood after that fetches no JWKS', async () => {
    const id = `unauth-${RUN}`;
    const gw = await gateway({
      routes: [route(id, [{ limit: 100, ttlSeconds: 60 }])],
      throttle: { unauthenticated: { limit: 3, ttlSeconds: 60 } },
      auth: { jwksRefetchCooldownSeconds: 1 },
    });
    const path = `/api/${id}`;
    const jwksAtStart = issuer.requests.jwks;

    // 1: unknown kid. While the budget lasts it costs a JWKS refetch (positive control for the flood below).
    await expectProblem(await call(gw, path, await issuer.token({ kid: `unknown-${RUN}-0` })), { status: 401, code: 'invalid_token', challenge: UNKNOWN_KID });
    expect(issuer.requests.jwks).toBe(jwksAtStart + 1);
    // 2: bad signature; 3: no token at all (every 401 counts).
    const [realKey] = issuer.keys();
    const forged = await attacker.token({ kid: realKey!.kid, claims: { iss: issuer.issuer, aud: issuer.audience } });
    await expectProblem(await call(gw, path, forged), { status: 401, code: 'invalid_token', challenge: BAD_SIGNATURE });
    await expectProblem(await call(gw, path), { status: 401, code: 'missing_token', challenge: MISSING_TOKEN });

    // 4: the budget is spent.
    const fourth = await call(gw, path, forged);
    await expectProblem(fourth, { status: 429, code: 'rate_limited', challenge: null });
    expect(positiveInteger(fourth.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect({ limit: fourth.headers.get('ratelimit-limit'), remaining: fourth.headers.get('ratelimit-remaining') }).toEqual({ limit: '3', remaining: '0' });

    // Callers behind one NAT: a valid token from the same address still passes, and does not spend anything.
    const valid = await issuer.token({ claims: { client_id: 'nat-neighbour' } });
    expect(await statuses(3, () => call(gw, path, valid))).toEqual([200, 200, 200]);

    // Past the refetch cooldown (1 s), an unknown kid would be allowed a refetch again, but the budget is spent.
    await sleep(1_100);
    const jwksBeforeFlood = issuer.requests.jwks;
    const flood = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await call(gw, path, await issuer.token({ kid: `unknown-${RUN}-${i + 1}` }));
        await res.arrayBuffer();
        return res.status;
      }),
    );
    expect(flood).toEqual(Array.from({ length: 20 }, () => 429));
    expect(issuer.requests.jwks).toBe(jwksBeforeFlood);
    expect(upstreamHits(id)).toBe(3);
  });
});

describe('operating endpoints', () => {
  it('are never throttled: 50 × /healthz and 50 × /readyz → 200 with a route limit of 1 and a default limit of 1 (both routes 429 on their 2nd request)', async () => {
    const own = `ops-own-${RUN}`;
    const byDefault = `ops-default-${RUN}`;
    const gw = await gateway({
      routes: [route(own, [{ limit: 1, ttlSeconds: 60 }]), route(byDefault, undefined, { public: true })],
      throttle: { default: [{ limit: 1, ttlSeconds: 60 }], unauthenticated: { limit: 1, ttlSeconds: 60 } },
    });
    const token = await issuer.token({ claims: { client_id: 'ops-caller' } });
    expect(await statuses(2, () => call(gw, `/api/${own}`, token))).toEqual([200, 429]);
    expect(await statuses(2, () => call(gw, `/api/${byDefault}`))).toEqual([200, 429]);

    for (const path of ['/healthz', '/readyz']) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const res = await call(gw, path);
          await res.arrayBuffer();
          return { status: res.status, limit: res.headers.get('ratelimit-limit') };
        }),
      );
      expect(answers).toEqual(Array.from({ length: 50 }, () => ({ status: 200, limit: null })));
    }
    expect((await statuses(3, () => call(gw, '/metrics'))).every((s) => s === 200)).toBe(true);
  });
});

const redisUp = await redisAnswers(REDIS_URL);

describeWithRedis(redisUp)('two gateway instances on the machine’s Redis', () => {
  const id = `orders-${RUN}`; // unique per run: counters of earlier runs cannot interfere
  let admin: Redis;
  let gwA: TestGateway;
  let gwB: TestGateway;

  const throttleKeys = async (): Promise<string[]> => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', `gateway:throttle:*${id}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  };

  beforeAll(async () => {
    requireRedis(redisUp);
    admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    cleanups.push(async () => {
      const keys = await throttleKeys();
      if (keys.length > 0) await admin.del(...keys);
      await admin.quit();
    });
    const options = {
      routes: [route(id, [{ limit: 20, ttlSeconds: 60 }])],
      throttle: { storage: 'redis' as const },
      settings: { redis: { kind: 'single' as const, url: REDIS_URL } },
    };
    gwA = await gateway(options);
    gwB = await gateway(options);
  });

  it('limit 20/60 s: 40 requests alternating between the instances (20 of them concurrent) → exactly 20 pass (Remaining 19..0, each once) and 20 get 429; one counter in Redis, with a TTL', async () => {
    const token = await issuer.token({ claims: { client_id: 'two-replicas' } });
    const instances = [gwA, gwB];
    const one = async (i: number) => {
      const res = await call(instances[i % 2]!, `/api/${id}`, token);
      await res.arrayBuffer();
      return { instance: i % 2, status: res.status, remaining: res.headers.get('ratelimit-remaining') };
    };
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await one(i)); // 10 sequential, alternating
    answers.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => one(10 + i))))); // 20 concurrent, 10 per instance
    for (let i = 30; i < 40; i++) answers.push(await one(i)); // 10 sequential, alternating

    const passed = answers.filter((a) => a.status === 200);
    const limited = answers.filter((a) => a.status === 429);
    expect({ passed: passed.length, limited: limited.length, other: answers.length - passed.length - limited.length }).toEqual({
      passed: 20,
      limited: 20,
      other: 0,
    });
    // Both instances let requests through, and the counter is one: every Remaining value once.
    expect(new Set(passed.map((a) => a.instance))).toEqual(new Set([0, 1]));
    expect(passed.map((a) => Number(a.remaining)).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(answers.slice(0, 10).every((a) => a.status === 200)).toBe(true);
    expect(answers.slice(30).every((a) => a.status === 429)).toBe(true);
    expect(upstreamHits(id)).toBe(20);

    const keys = await throttleKeys();
    expect(keys).toHaveLength(1);
    expect(await admin.get(keys[0]!)).toBe('40');
    const pttl = await admin.pttl(keys[0]!);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });
});

const haveRedisServer = redisServerAvailable();
if (!haveRedisServer && !IN_CI) {
  console.warn(`Skipping the Redis-outage throttling tests: no redis-server at ${REDIS_SERVER_BINARY} (set REDIS_SERVER_BINARY).`);
}

(haveRedisServer || IN_CI ? describe : describe.skip)('Redis stopped in the middle (a test-owned redis-server)', () => {
  let redis: OwnedRedis;
  beforeAll(async () => {
    if (!haveRedisServer) throw new Error(`CI is set and there is no redis-server at ${REDIS_SERVER_BINARY}`);
    redis = await startOwnedRedis();
    cleanups.push(() => redis.stop());
  });
  // Each test leaves Redis running for the next one.
  afterEach(async () => {
    await redis.start();
  });

  const redisGateway = (id: string, limit: number, onStorageError: 'local' | 'allow' | 'deny') =>
    gateway({
      routes: [route(id, [{ limit, ttlSeconds: 60 }])],
      throttle: { storage: 'redis', onStorageError },
      settings: { redis: { kind: 'single', url: redis.url } },
    });
  const counters = (id: string) =>
    redis.withClient(async (admin) => {
      const keys = await admin.keys(`gateway:throttle:{${id}:*`);
      return Promise.all(keys.map(async (key) => (await admin.get(key)) ?? ''));
    });
  const storageWarnings = (gw: TestGateway) => gw.logs.filter((line) => line.level === 40 && /storage|redis/i.test(String(line.msg)));
  const storageErrors = async (gw: TestGateway, policy: string) =>
    (await gw.metrics.throttleStorageErrors.get()).values.find((v) => v.labels.policy === policy)?.value ?? 0;

  it('onStorageError local: counted in Redis; Redis killed → still served, limited per replica, one warn; Redis back → counted in Redis again', async () => {
    const id = `outage-local-${RUN}`;
    const gw = await redisGateway(id, 5, 'local');
    const token = await issuer.token({ claims: { client_id: 'outage-local' } });
    const send = async () => {
      const res = await call(gw, `/api/${id}`, token);
      await res.arrayBuffer();
      return [res.status, res.headers.get('ratelimit-remaining')] as const;
    };

    expect([await send(), await send()]).toEqual([
      [200, '4'],
      [200, '3'],
    ]);
    expect(await counters(id)).toEqual(['2']);

    await redis.stop();
    const during = [];
    for (let i = 0; i < 8; i++) during.push(await send());
    const codes = during.map(([status]) => status);
    // Served all along (200 or 429, never an error), and a limit still holds: 429 after at most 5 passes, then only 429.
    expect(codes.every((s) => s === 200 || s === 429)).toBe(true);
    expect(codes[0]).toBe(200);
    const firstLimited = codes.indexOf(429);
    expect(firstLimited).toBeGreaterThan(0);
    expect(firstLimited).toBeLessThanOrEqual(5);
    expect(codes.slice(firstLimited).every((s) => s === 429)).toBe(true);
    // Logged once per outage, not per request; each request decided by the policy is counted in the metric.
    expect(storageWarnings(gw)).toHaveLength(1);
    expect(storageWarnings(gw)[0]).toMatchObject({ policy: 'local' });
    expect(await storageErrors(gw, 'local')).toBe(8);

    await redis.start(); // same port, empty (no persistence)
    // The local budget is spent for 60 s, so the next 200 can only come from the (empty) Redis.
    let back: readonly [number, string | null] = [0, null];
    await waitFor('the gateway counting in Redis again', async () => {
      back = await send();
      return back[0] === 200;
    });
    expect(back).toEqual([200, '4']);
    expect(await counters(id)).toEqual(['1']);
    expect(await send()).toEqual([200, '3']);
    expect(await counters(id)).toEqual(['2']);
    expect(gw.logs.filter((line) => line.level === 30 && /throttle storage available again/.test(String(line.msg)))).toHaveLength(1);
    expect(storageWarnings(gw)).toHaveLength(1);
  });

  it('onStorageError deny: Redis killed → 503 rate_limit_unavailable with Retry-After and /readyz 503 (/healthz 200); Redis back → ready and 200 again', async () => {
    const id = `outage-deny-${RUN}`;
    const gw = await redisGateway(id, 3, 'deny');
    const token = await issuer.token({ claims: { client_id: 'outage-deny' } });
    expect((await call(gw, `/api/${id}`, token)).status).toBe(200);
    expect((await call(gw, '/readyz')).status).toBe(200);

    await redis.stop();
    for (let i = 0; i < 3; i++) {
      const res = await call(gw, `/api/${id}`, token);
      await expectProblem(res, { status: 503, code: 'rate_limit_unavailable', challenge: null });
      positiveInteger(res.headers.get('retry-after'));
    }
    expect(upstreamHits(id)).toBe(1);
    await waitFor('/readyz 503 while Redis is down under deny', async () => {
      const res = await call(gw, '/readyz');
      await res.arrayBuffer();
      return res.status === 503;
    }, 3_000);
    await expectProblem(await call(gw, '/readyz'), { status: 503, code: 'not_ready' });
    expect((await call(gw, '/healthz')).status).toBe(200);
    // The 3 refused requests, plus /readyz's own probes of the storage (at most one a second gets through).
    expect(await storageErrors(gw, 'deny')).toBeGreaterThanOrEqual(3);
    expect(await storageErrors(gw, 'deny')).toBeLessThanOrEqual(10);

    await redis.start();
    await waitFor('/readyz 200 once Redis is back', async () => {
      const res = await call(gw, '/readyz');
      await res.arrayBuffer();
      return res.status === 200;
    }, 5_000);
    const after = await call(gw, `/api/${id}`, token);
    expect({ status: after.status, remaining: after.headers.get('ratelimit-remaining') }).toEqual({ status: 200, remaining: '2' });
    expect(await counters(id)).toEqual(['1']);
  });

  it('onStorageError allow: Redis killed → 200s without a limit (headers as for a first hit); Redis back → limited again', async () => {
    const id = `outage-allow-${RUN}`;
    const gw = await redisGateway(id, 2, 'allow');
    const token = await issuer.token({ claims: { client_id: 'outage-allow' } });
    expect(await statuses(3, () => call(gw, `/api/${id}`, token))).toEqual([200, 200, 429]);
    expect((await call(gw, '/readyz')).status).toBe(200);

    await redis.stop();
    for (let i = 0; i < 6; i++) {
      const res = await call(gw, `/api/${id}`, token);
      expect({ status: res.status, ...rateLimit(res.headers) }).toEqual({ status: 200, limit: '2', remaining: '1', reset: '60' });
      await res.arrayBuffer();
    }
    expect(upstreamHits(id)).toBe(8);
    // A Redis blip under allow must not take the replica out of the load balancer (CONTRACT).
    expect((await call(gw, '/readyz')).status).toBe(200);
    expect(storageWarnings(gw)).toHaveLength(1);

    await redis.start();
    await waitFor('a counter in Redis again', async () => {
      const res = await call(gw, `/api/${id}`, token);
      await res.arrayBuffer();
      return (await counters(id)).length > 0;
    });
    // Counted in Redis again: the limit of 2 holds (the request that found Redis was hit 1).
    expect(await counters(id)).toEqual(['1']);
    expect(await statuses(2, () => call(gw, `/api/${id}`, token))).toEqual([200, 429]);
  });
});
