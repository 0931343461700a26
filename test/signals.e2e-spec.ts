// Signals (CONTRACT "Signals", issue #9), on the built gateway as a real process: SIGTERM under
// load drains (readyz 503 at once, every request that reached an upstream answered, exit 0);
// SIGHUP reloads the config file (a new route serves, a request in flight across the reload is
// answered) and a file that fails validation is refused line by line while the old config
// keeps serving; the process never exits on SIGHUP.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { TestIssuer } from '../src/testing/index.js';
import { waitFor } from './support/attacks.js';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';
import { answerAfter, startUpstream, type TestUpstream } from './support/upstream.js';

let issuer: TestIssuer;
let upstream: TestUpstream;
let dir: string;
let token: string;
const processes: GatewayProcess[] = [];

beforeAll(async () => {
  issuer = await TestIssuer.start({ algorithms: ['RS256'] });
  upstream = await startUpstream();
  dir = await mkdtemp(join(tmpdir(), 'gateway-signals-'));
  token = await issuer.token({ claims: { scope: 'orders:read' } });
});
afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await upstream?.close();
  await issuer?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  upstream.requests.length = 0;
  upstream.handle(undefined);
});

/** A config file with one protected route per prefix, all to the test upstream. */
function configText(prefixes: string[], shutdown = { delaySeconds: 0, drainSeconds: 5 }): string {
  return stringify({
    auth: { issuers: [{ issuer: issuer.issuer, audience: [issuer.audience], jwksUri: issuer.jwksUri, algorithms: ['RS256'] }] },
    routes: prefixes.map((prefix) => ({ id: prefix.slice(1), pathPrefix: prefix, upstream: upstream.url, scopes: ['orders:read'] })),
    throttle: { default: { limit: 1_000_000, ttlSeconds: 60 } },
    shutdown,
  });
}

async function start(file: string, text: string): Promise<GatewayProcess> {
  await writeFile(file, text);
  const gateway = await startGatewayProcess({ GATEWAY_CONFIG: file, LOG_LEVEL: 'info' });
  processes.push(gateway);
  await waitFor('/readyz 200', async () => (await fetch(`${gateway.url}/readyz`)).status === 200, 10_000);
  return gateway;
}

const call = (gateway: GatewayProcess, path: string) => fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

describe('SIGTERM under load', () => {
  it('readyz 503 at once; every request that reached the upstream is answered 200; exit code 0', async () => {
    const gateway = await start(join(dir, 'term.yaml'), configText(['/orders'], { delaySeconds: 1, drainSeconds: 5 }));
    upstream.handle(answerAfter(300));
    const answered: number[] = [];
    const failures: string[] = [];
    let sending = true;
    // 20 callers sending one request after another on keep-alive connections.
    const callers = Array.from({ length: 20 }, async (_, caller) => {
      for (let i = 0; sending; i++) {
        try {
          const res = await call(gateway, `/orders/${caller}-${i}`);
          await res.text();
          answered.push(res.status);
        } catch (error) {
          failures.push(String((error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message));
          return; // the listener is closed: this caller is done
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    gateway.child.kill('SIGTERM');
    await waitFor('readyz 503 while draining', async () => (await fetch(`${gateway.url}/readyz`)).status === 503, 900);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // through delaySeconds and beyond
    sending = false;
    await Promise.all(callers);

    expect(await gateway.exited).toBe(0);
    expect(answered.length).toBeGreaterThan(20);
    expect(answered.every((status) => status === 200)).toBe(true);
    // Nothing the gateway forwarded went unanswered: every upstream request has its 200.
    expect(upstream.requests).toHaveLength(answered.length);
    // Callers only found the door closed (refused, or a keep-alive connection closed between requests).
    for (const failure of failures) expect(['ECONNREFUSED', 'UND_ERR_SOCKET', 'ECONNRESET', 'fetch failed']).toContain(failure);
    expect(gateway.logs().some((line) => line.msg === 'shutting down' && line.signal === 'SIGTERM')).toBe(true);
  }, 30_000);
});

describe('SIGHUP reloads the config file', () => {
  let gateway: GatewayProcess;
  let file: string;
  beforeAll(async () => {
    file = join(dir, 'hup.yaml');
    gateway = await start(file, configText(['/orders']));
  });

  it('a new route serves without a restart; a request in flight across the reload is answered', async () => {
    expect((await call(gateway, '/reports/1')).status).toBe(404);
    upstream.handle(answerAfter(800));
    const inFlight = call(gateway, '/orders/slow');
    await waitFor('the slow request to reach the upstream', () => upstream.requests.length === 1);

    await writeFile(file, configText(['/orders', '/reports']));
    gateway.child.kill('SIGHUP');
    await waitFor('the new route', async () => (await call(gateway, '/reports/1')).status === 200, 15_000);

    const slow = await inFlight;
    expect(slow.status).toBe(200);
    expect(await slow.json()).toEqual({ url: '/orders/slow' });
    expect((await call(gateway, '/orders/2')).status).toBe(200);
    expect(gateway.child.exitCode).toBeNull();
    expect(gateway.logs().filter((line) => line.msg === 'config reloaded')).toHaveLength(1);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toContain('gateway_config_reloads_total{outcome="applied"} 1');
  }, 30_000);

  it('a file that fails validation is refused, each problem on its own log line; the running config keeps serving', async () => {
    const broken = configText(['/orders', '/reports']).replace('pathPrefix: /reports', 'pathPrefix: /reports/v1.').concat('unknownKey: 1\n');
    await writeFile(file, broken);
    const before = gateway.logs().length;
    gateway.child.kill('SIGHUP');
    await waitFor('the refusal in the log', () => gateway.logs().slice(before).some((line) => line.msg === 'config reload refused: invalid config'));

    const problems = gateway
      .logs()
      .slice(before)
      .filter((line) => line.msg === 'config reload refused: invalid config')
      .map((line) => line.problem);
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^routes\[1\]\.pathPrefix: /), expect.stringMatching(/unknownKey/)]),
    );
    expect((await call(gateway, '/reports/1')).status).toBe(200); // still the last good config
    expect((await call(gateway, '/orders/1')).status).toBe(200);
    expect(gateway.child.exitCode).toBeNull();
  }, 30_000);

  it('the process never exits on SIGHUP: a second and a third in a row are both served', async () => {
    await writeFile(file, configText(['/orders']));
    gateway.child.kill('SIGHUP');
    gateway.child.kill('SIGHUP');
    await waitFor('/reports removed', async () => (await call(gateway, '/reports/1')).status === 404, 15_000);
    expect((await call(gateway, '/orders/1')).status).toBe(200);
    expect(gateway.child.exitCode).toBeNull();
  }, 30_000);
});
