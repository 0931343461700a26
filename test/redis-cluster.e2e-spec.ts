// Redis beyond one node (issue #9, CONTRACT REDIS_CLUSTER_NODES, REDIS_SENTINELS): the real gateway
// on a 3-master Redis Cluster and behind a Sentinel, each started by this file on free ports of
// 127.0.0.1 and ended after it (test/support/redis-cluster.ts, redis-sentinel.ts). Through the
// cluster: an exact limit across two replicas, one service token shared by two replicas, and
// `deny` with one master down (readiness needs every master; only the callers whose counter lives
// on that master are refused). Behind the Sentinel: counting on the master it names, and following
// a fail-over within 20 s. Without redis-server and redis-cli the file is skipped with a message;
// with CI set, that is a failure.
import { randomBytes } from 'node:crypto';
import type { ClientConfig, RouteConfig, ThrottleWindow } from '../src/config/gateway-config.js';
import { TestIssuer } from '../src/testing/index.js';
import { closeAfterAll } from './support/close-after-all.js';
import { printLogOnFailure, waitFor } from './support/attacks.js';
import { expectProblem } from './support/expect-problem.js';
import { startTestGateway, type TestGateway, type TestGatewayOptions, type TestRoute } from './support/gateway.js';
import { startOAuthServer, type OAuthServer } from './support/oauth-server.js';
import { describeIfAvailable, requireAvailable } from './support/redis.js';
import { REDIS_CLI_BINARY, redisClusterAvailable, startRedisCluster, type TestRedisCluster } from './support/redis-cluster.js';
import { REDIS_SERVER_BINARY } from './support/redis-server.js';
import { startRedisSentinel, type TestSentinel } from './support/redis-sentinel.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

const RUN = randomBytes(4).toString('hex');

let issuer: TestIssuer;
let upstream: TestUpstream;
let oauth: OAuthServer;

const gateways: TestGateway[] = [];
const closing = closeAfterAll();

beforeAll(async () => {
  issuer = closing(await TestIssuer.start({ algorithms: ['RS256'] }));
  upstream = closing(await startUpstream());
  oauth = closing(await startOAuthServer());
});

printLogOnFailure(() => gateways);

async function gateway(options: Omit<TestGatewayOptions, 'issuers'>): Promise<TestGateway> {
  const gw = closing(await startTestGateway({ issuers: [issuer], ...options }));
  gateways.push(gw);
  return gw;
}

function route(id: string, throttle: readonly ThrottleWindow[], extra: Partial<TestRoute> = {}): TestRoute {
  return { id, pathPrefix: `/api/${id}`, upstream: upstream.url, throttle, ...extra };
}

function upstreamHits(id: string): number {
  return upstream.requests.filter((r) => r.url.startsWith(`/api/${id}`)).length;
}

/** GET /api/<id> on `gw` as `token`: status and RateLimit-Remaining (body read, so connections are reused). */
async function send(gw: TestGateway, id: string, token: string): Promise<{ status: number; remaining: string | null }> {
  const res = await fetch(`${gw.url}/api/${id}`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return { status: res.status, remaining: res.headers.get('ratelimit-remaining') };
}

async function readyz(gw: TestGateway): Promise<number> {
  const res = await fetch(`${gw.url}/readyz`);
  await res.arrayBuffer();
  return res.status;
}

async function redisErrors(gw: TestGateway, store: 'throttle' | 'token_cache'): Promise<number> {
  return (await gw.metrics.redisErrors.get()).values.find((v) => v.labels.store === store)?.value ?? 0;
}

/** 40 requests alternating over `pair`: 10 one by one, 20 at once, 10 one by one. */
async function fortyAlternating(pair: readonly [TestGateway, TestGateway], id: string, token: string) {
  const one = async (i: number) => ({ instance: i % 2, ...(await send(pair[i % 2]!, id, token)) });
  const answers = [];
  for (let i = 0; i < 10; i++) answers.push(await one(i));
  answers.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => one(10 + i)))));
  for (let i = 30; i < 40; i++) answers.push(await one(i));
  return answers;
}

const haveServers = redisClusterAvailable();
const missing = `no redis-server at ${REDIS_SERVER_BINARY} or no redis-cli at ${REDIS_CLI_BINARY} (set REDIS_SERVER_BINARY, REDIS_CLI_BINARY)`;

describeIfAvailable(haveServers, `Skipping the Redis Cluster and Sentinel tests: ${missing}.`)('Redis beyond one node', () => {
  beforeAll(() => requireAvailable(haveServers, `CI is set and there is ${missing}: the Redis Cluster and Sentinel tests cannot run`));

  describe('a 3-master Redis Cluster (REDIS_CLUSTER_NODES)', () => {
    let cluster: TestRedisCluster;
    beforeAll(async () => {
      cluster = await startRedisCluster(3);
      closing({ close: () => cluster.stop() });
    }, 30_000);

    it('two replicas, limit 20/60 s: 40 requests alternating (20 of them concurrent) → exactly 20 pass (Remaining 19..0, each once), 20 get 429, the upstream sees 20; one counter, on its slot’s master', async () => {
      const id = `cluster-limit-${RUN}`;
      const options = { routes: [route(id, [{ limit: 20, ttlSeconds: 60 }])], throttle: { storage: 'redis' as const }, settings: { redis: cluster.settings } };
      const pair = [await gateway(options), await gateway(options)] as const;
      const answers = await fortyAlternating(pair, id, await issuer.token({ claims: { client_id: 'two-replicas' } }));

      const passed = answers.filter((a) => a.status === 200);
      expect({ passed: passed.length, limited: answers.filter((a) => a.status === 429).length }).toEqual({ passed: 20, limited: 20 });
      expect(new Set(passed.map((a) => a.instance))).toEqual(new Set([0, 1]));
      expect(passed.map((a) => Number(a.remaining)).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(answers.slice(30).every((a) => a.status === 429)).toBe(true);
      expect(upstreamHits(id)).toBe(20);

      const keys = await cluster.keys(`gateway:throttle:{${id}:*`);
      expect(keys).toHaveLength(1);
      const [key] = keys as [string];
      const { count, pttl } = await cluster.withNode(await cluster.masterOf(key), async (node) => ({ count: await node.get(key), pttl: await node.pttl(key) }));
      expect(count).toBe('40');
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(60_000);
      for (const gw of pair) expect(await redisErrors(gw, 'throttle')).toBe(0);
    }, 30_000);

    it('client credentials on two replicas: concurrent first requests on both → exactly 1 token request; the sealed token and its lock share a hash slot', async () => {
      const client = `cluster-cc-${RUN}`;
      const clientConfig: ClientConfig = {
        tokenUrl: oauth.tokenUrl, clientId: oauth.clients.basic.clientId, clientSecret: oauth.clients.basic.clientSecret,
        authMethod: 'client_secret_basic', scope: oauth.scope, audience: oauth.resource,
      };
      const upstreamAuth: RouteConfig['upstreamAuth'] = { type: 'client-credentials', client };
      const options = {
        routes: [route(client, [{ limit: 1_000, ttlSeconds: 60 }], { upstreamAuth })],
        clients: { [client]: clientConfig },
        settings: { redis: cluster.settings, tokenCacheKeys: [{ kid: 'k1', key: randomBytes(32) }] },
      };
      const pair = [await gateway(options), await gateway(options)] as const;
      oauth.tokenRequests.length = 0;
      const caller = await issuer.token({ claims: { client_id: 'cc-caller' } });

      const firsts = await Promise.all(Array.from({ length: 20 }, (_, i) => send(pair[i % 2]!, client, caller)));
      expect(firsts.map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 200));
      for (let i = 0; i < 6; i++) expect((await send(pair[i % 2]!, client, caller)).status).toBe(200);
      expect(oauth.tokenRequests).toEqual([{ method: 'POST', clientId: oauth.clients.basic.clientId, grantType: 'client_credentials', status: 200 }]);
      const tokens = new Set(upstream.requests.filter((r) => r.url.startsWith(`/api/${client}`)).map((r) => r.headers.authorization));
      expect(tokens.size).toBe(1);

      const keys = await cluster.keys(`gateway:svc-token:{${client}:*`);
      expect(keys).toHaveLength(1);
      const [key] = keys as [string];
      expect(key).toMatch(new RegExp(`^gateway:svc-token:\\{${client}:[0-9a-f]{16}\\}$`));
      expect(await cluster.masterOf(key.replace('svc-token:', 'svc-token-lock:'))).toBe(await cluster.masterOf(key));
      expect(await cluster.keys(`gateway:svc-token-lock:{${client}:*`)).toEqual([]); // no lock left behind
      for (const gw of pair) expect(await redisErrors(gw, 'token_cache')).toBe(0);
    }, 30_000);

    it('onStorageError deny, one master crashed: /readyz 503; only the callers whose counter lives on it get 503 (counted in gateway_redis_errors_total), the rest are counted as before; master back → ready, all served', async () => {
      const id = `cluster-deny-${RUN}`;
      const gw = await gateway({
        routes: [route(id, [{ limit: 100, ttlSeconds: 60 }])],
        throttle: { storage: 'redis', onStorageError: 'deny' },
        settings: { redis: cluster.settings },
      });
      const tokens = await Promise.all(Array.from({ length: 24 }, (_, i) => issuer.token({ claims: { client_id: `deny-caller-${i}` } })));
      const round = () => Promise.all(tokens.map((token) => send(gw, id, token)));

      expect((await round()).map((a) => a.status)).toEqual(tokens.map(() => 200));
      const keys = await cluster.keys(`gateway:throttle:{${id}:*`);
      expect(keys).toHaveLength(24);
      const owners = await Promise.all(keys.map((key) => cluster.masterOf(key)));
      const victim = owners[0]!; // a master that holds at least one caller's counter
      const onVictim = owners.filter((port) => port === victim).length;
      expect(onVictim).toBeLessThan(24); // the others hold the rest (24 random keys never all land on one of 3 masters)

      await cluster.crash(victim);
      await waitFor('/readyz 503 with a master down', async () => (await readyz(gw)) === 503, 5_000);
      const during = await round();
      expect(during.filter((a) => a.status === 503)).toHaveLength(onVictim);
      expect(during.filter((a) => a.status === 200)).toEqual(Array.from({ length: 24 - onVictim }, () => ({ status: 200, remaining: '98' })));
      const onDeadMaster = tokens[during.findIndex((a) => a.status === 503)];
      const refused = await fetch(`${gw.url}/api/${id}`, { headers: { authorization: `Bearer ${onDeadMaster}` } });
      await expectProblem(refused, { status: 503, code: 'rate_limit_unavailable', retryAfter: '5' });
      expect(await redisErrors(gw, 'throttle')).toBeGreaterThanOrEqual(onVictim + 1);

      await cluster.revive(victim);
      await waitFor('/readyz 200 with every master back', async () => (await readyz(gw)) === 200, 15_000);
      expect((await round()).map((a) => a.status)).toEqual(tokens.map(() => 200));
    }, 45_000);
  });

  describe('a master behind a Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_PASSWORD)', () => {
    let sentinel: TestSentinel;
    let gw: TestGateway;
    const id = `sentinel-${RUN}`;
    const failoverId = `sentinel-failover-${RUN}`;
    /** The values of a route's counters on the data node at `port`, sorted. */
    const countersOn = (port: number, routeId: string): Promise<(string | null)[]> =>
      sentinel.withNode(port, async (node) => {
        const keys = await node.keys(`gateway:throttle:{${routeId}:*`);
        return (await Promise.all(keys.map((key) => node.get(key)))).sort();
      });

    beforeAll(async () => {
      sentinel = await startRedisSentinel({ replica: true });
      closing({ close: () => sentinel.stop() });
      gw = await gateway({
        routes: [route(id, [{ limit: 3, ttlSeconds: 60 }]), route(failoverId, [{ limit: 10, ttlSeconds: 60 }])],
        // deny: a 200 proves the master counted it (local would count in memory)
        throttle: { storage: 'redis', onStorageError: 'deny' },
        settings: { redis: sentinel.settings },
      });
    }, 30_000);

    it('limit 3: 3 pass, the 4th gets 429; the counter is on the master the Sentinel names', async () => {
      const token = await issuer.token({ claims: { client_id: 'behind-sentinel' } });
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await send(gw, id, token));
      expect(answers).toEqual([
        { status: 200, remaining: '2' },
        { status: 200, remaining: '1' },
        { status: 200, remaining: '0' },
        { status: 429, remaining: '0' },
      ]);
      expect(await countersOn(await sentinel.masterPort(), id)).toEqual(['4']);
    });

    it('the master crashes and the Sentinel promotes the replica: within 20 s the gateway counts on the new master and is ready', async () => {
      const before = await issuer.token({ claims: { client_id: 'before-failover' } });
      expect(await send(gw, failoverId, before)).toEqual({ status: 200, remaining: '9' });
      const promoted = await sentinel.failover();
      const token = await issuer.token({ claims: { client_id: 'after-failover' } });
      const started = Date.now();
      await waitFor('a request counted on the promoted master', async () => (await send(gw, failoverId, token)).status === 200, 20_000);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(await sentinel.masterPort()).toBe(promoted);
      expect(await readyz(gw)).toBe(200);
      // The earlier caller's counter came over by replication; the new caller's was counted there.
      expect(await countersOn(promoted, failoverId)).toEqual(['1', '1']);
    }, 40_000);
  });
});
