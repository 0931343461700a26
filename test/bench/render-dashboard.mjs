// Draws docs/dashboard.png: the panels of deploy/grafana-dashboard.json from a real run, since no
// Grafana runs here. A dev tool, not part of npm test:
//
//   npm run build && node test/bench/render-dashboard.mjs [seconds, default 75]
//
// Real processes on 127.0.0.1: the built gateway (dist/main.js), a redis-server it keeps its
// counters and service tokens in, and in this process a TestIssuer (dist/testing), an upstream
// and a token endpoint. Mixed traffic through phases (auth failure spike, slow upstream, token
// endpoint down, Redis down, JWKS down with unknown-kid tokens, one caller over its quota);
// /metrics is scraped every second; the page is drawn by render-dashboard-panels.mjs and
// screenshotted by headless Chromium. Prints two access lines of the run (README "Logs").
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestIssuer } from '../../dist/testing/index.js';
import { dashboardHtml, parsePrometheusText } from './render-dashboard-panels.mjs';

const SECONDS = Number(process.argv[2] ?? 75);
const ROOT = new URL('../../', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const REDIS_SERVER = process.env.REDIS_SERVER_BINARY ?? '/usr/bin/redis-server';
const WORKERS = 6;
const WINDOW = { width: 1400, height: 1000 };

/** What happens when (seconds from the start), so the picture has something to show. */
const PHASES = [
  { key: 'authSpike', label: 'expired/forged tokens', from: 12, to: 24, solid: '#c4162a' },
  { key: 'slowUpstream', label: 'slow inventory upstream', from: 28, to: 42, solid: '#e0752d' },
  { key: 'idpDown', label: 'token endpoint down', from: 36, to: 52, solid: '#8f3bb8' },
  { key: 'redisDown', label: 'Redis down', from: 46, to: 56, solid: '#1f9dad' },
  { key: 'jwksDown', label: 'JWKS down + unknown kids', from: 54, to: 64, solid: '#c79d00' },
  { key: 'quotaBurst', label: 'batch-job over quota', from: 62, to: 72, solid: '#3274d9' },
].map((phase) => ({ ...phase, from: scaled(phase.from), to: scaled(phase.to), tint: `${phase.solid}14` }));

function scaled(second) {
  return Math.round((second * SECONDS) / 75);
}

const dir = mkdtempSync(join(tmpdir(), 'render-dashboard-'));
/** Set when the traffic starts: the phases and the charts' time axis count from here. */
let started = Date.now();
const elapsed = () => (Date.now() - started) / 1000;
const inPhase = (key) => {
  const phase = PHASES.find((p) => p.key === key);
  return elapsed() >= phase.from && elapsed() < phase.to;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = (list) => list[Math.floor(Math.random() * list.length)];

function listen(handler) {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })));
}

// The upstream: quick JSON, but the inventory service slows down during its phase (timeoutMs 1000 → some 504s).
const upstream = await listen((req, res) => {
  req.resume();
  const slow = req.url.startsWith('/api/inventory') && inPhase('slowUpstream');
  const delay = slow ? 150 + Math.random() * 1100 : 2 + Math.random() * 25;
  setTimeout(() => {
    if (res.destroyed) return;
    const failed = Math.random() < 0.004;
    res.writeHead(failed ? 503 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: !failed, path: req.url }));
  }, delay);
});

// The token endpoint (client credentials): 40 s tokens, so the gateway refreshes during the run; 503 while down.
const tokenEndpoint = await listen((req, res) => {
  req.resume();
  req.on('end', () => {
    if (inPhase('idpDown')) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'temporarily_unavailable' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ access_token: randomBytes(24).toString('base64url'), token_type: 'Bearer', expires_in: 40 }));
  });
});

const issuer = await TestIssuer.start({ algorithms: ['RS256'] });

const redisPort = 20000 + Math.floor(Math.random() * 10000);
let redis;
function startRedis() {
  redis = spawn(REDIS_SERVER, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore', cwd: dir });
}
startRedis();

const configPath = join(dir, 'gateway.yaml');
writeFileSync(
  configPath,
  JSON.stringify({
    auth: { issuers: [{ issuer: issuer.issuer, audience: issuer.audience, jwksUri: issuer.jwksUri, algorithms: ['RS256'] }] },
    routes: [
      { id: 'orders', pathPrefix: '/api/orders', upstream: upstream.url, scopes: ['orders:read'] },
      { id: 'inventory', pathPrefix: '/api/inventory', upstream: upstream.url, scopes: ['inventory:read'], timeoutMs: 1000 },
      { id: 'partner', pathPrefix: '/api/partner', upstream: upstream.url, scopes: ['partner:write'], upstreamAuth: { type: 'client-credentials', client: 'partner' } },
      { id: 'status', pathPrefix: '/api/status', upstream: upstream.url, public: true },
    ],
    clients: {
      partner: { tokenUrl: `${tokenEndpoint.url}/token`, clientId: 'gateway', clientSecret: randomBytes(12).toString('hex'), authMethod: 'client_secret_post', scope: 'partner.internal' },
    },
    throttle: {
      default: { limit: 2000, ttlSeconds: 1 },
      clients: { 'batch-job': { limit: 15, ttlSeconds: 1 } },
      storage: 'redis',
      onStorageError: 'local',
      unauthenticated: { limit: 20, ttlSeconds: 10 },
    },
    trustProxy: ['127.0.0.1/32'],
  }),
);
const gatewayPort = 18000 + Math.floor(Math.random() * 1000);
const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
const logPath = join(dir, 'gateway.log');
const gateway = spawn(process.execPath, [join(ROOT, 'dist/main.js')], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: {
    ...process.env,
    GATEWAY_CONFIG: configPath,
    PORT: String(gatewayPort),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    TOKEN_CACHE_KEY: `k1:${randomBytes(32).toString('base64')}`,
  },
});
gateway.stdout.pipe(createWriteStream(logPath));

for (let i = 0; ; i++) {
  const ready = await fetch(`${gatewayUrl}/readyz`).then((r) => r.status === 200, () => false);
  if (ready) break;
  if (i > 200) throw new Error('the gateway never became ready');
  await sleep(50);
}

// Callers. Tokens are minted once per caller (a real client reuses its token).
const mint = (claims, options = {}) => issuer.token({ ...options, claims });
const tokens = {
  shop: await mint({ client_id: 'web-shop', scope: 'orders:read inventory:read' }),
  billing: await mint({ client_id: 'billing', scope: 'partner:write orders:read' }),
  batch: await mint({ client_id: 'batch-job', scope: 'orders:read' }),
  reporting: await mint({ client_id: 'reporting', scope: 'orders:read' }),
  expired: await mint({ client_id: 'legacy-app', scope: 'orders:read' }, { expiresInSeconds: -120 }),
};
const [header, payload] = tokens.shop.split('.');
tokens.forged = `${header}.${payload}.${(await mint({ client_id: 'x' })).split('.')[2]}`;
const traceparent = () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

/** Callers come from 60 addresses (behind a trusted proxy), so no one address spends the unauthenticated budget. */
const fromSomewhere = () => ({ 'x-forwarded-for': `10.20.${Math.floor(Math.random() * 3)}.${1 + Math.floor(Math.random() * 20)}` });

/** One request of the mix: [path, headers]. */
function nextRequest() {
  const [path, headers] = pickRequest();
  return [path, { ...fromSomewhere(), ...headers }];
}

function pickRequest() {
  const bearer = (token) => ({ authorization: `Bearer ${token}`, traceparent: traceparent() });
  if (inPhase('authSpike') && Math.random() < 0.35) return ['/api/orders/17', bearer(Math.random() < 0.6 ? tokens.expired : tokens.forged)];
  // A client still holding a token signed by a retired key: each unknown kid may refetch the JWKS (5 s cooldown).
  if (Math.random() < (inPhase('jwksDown') ? 0.05 : 0.005)) {
    return ['/api/orders/1', { ...bearer(tokens.unknownKid), 'x-forwarded-for': `203.0.113.${1 + Math.floor(Math.random() * 250)}` }];
  }
  if (inPhase('quotaBurst') && Math.random() < 0.3) return ['/api/orders/batch', bearer(tokens.batch)];
  const r = Math.random();
  if (r < 0.4) return [`/api/orders/${Math.floor(Math.random() * 900)}`, bearer(tokens.shop)];
  if (r < 0.6) return ['/api/inventory/items', bearer(tokens.shop)];
  if (r < 0.72) return ['/api/partner/invoices', bearer(tokens.billing)];
  if (r < 0.78) return ['/api/orders/batch', bearer(tokens.batch)];
  if (r < 0.82) return ['/api/inventory/items', bearer(tokens.reporting)]; // 403: no inventory:read
  if (r < 0.85) return ['/api/orders/1', {}]; // 401: no token
  if (r < 0.88) return ['/api/orders/1', { authorization: 'Bearer not-a-jwt', 'x-forwarded-for': '198.51.100.66' }]; // a scanner: 401s, then 429s
  if (r < 0.885) return ['/api/orders/1', bearer(tokens.expired)];
  return ['/api/status', {}];
}

tokens.unknownKid = await mint({ client_id: 'web-shop', scope: 'orders:read' }, { kid: 'rotated-away' });

let requests = 0;
async function worker() {
  while (elapsed() < SECONDS) {
    const [path, headers] = nextRequest();
    try {
      const res = await fetch(`${gatewayUrl}${path}`, { headers });
      await res.arrayBuffer();
      requests++;
    } catch {
      // a cut connection counts as nothing
    }
    await sleep(8 + Math.random() * 16);
  }
}

const pages = [];
async function scraper() {
  while (elapsed() < SECONDS + 1) {
    const at = Date.now();
    try {
      const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
      pages.push(parsePrometheusText(text, (at - started) / 1000, { job: 'service-gateway', instance: `gateway:${gatewayPort}` }));
    } catch {
      // a missed scrape is a gap, as in Prometheus
    }
    await sleep(Math.max(0, 1000 - (Date.now() - at)));
  }
}

async function outages() {
  const at = (key, edge) => PHASES.find((p) => p.key === key)[edge];
  const events = [
    [at('redisDown', 'from'), () => redis.kill('SIGKILL')],
    [at('redisDown', 'to'), startRedis],
    [at('jwksDown', 'from'), () => issuer.takeJwksDown('error')],
    [at('jwksDown', 'to'), () => issuer.bringJwksUp()],
  ].sort((a, b) => a[0] - b[0]);
  for (const [second, action] of events) {
    await sleep(Math.max(0, second * 1000 - (Date.now() - started)));
    action();
  }
}

console.error(`driving ${SECONDS} s of traffic at ${gatewayUrl} …`);
started = Date.now();
await Promise.all([scraper(), outages(), ...Array.from({ length: WORKERS }, worker)]);

const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana-dashboard.json'), 'utf8'));
const subtitle = `${SECONDS} s of mixed traffic, ${requests} requests, /metrics scraped every second, rate window 5 s.`;
const html = dashboardHtml(dashboard, pages, { ...WINDOW, phases: PHASES, subtitle, duration: SECONDS });
const htmlPath = join(dir, 'dashboard.html');
writeFileSync(htmlPath, html);
const png = join(ROOT, 'docs/dashboard.png');
const shot = spawnSync(
  CHROMIUM,
  [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--hide-scrollbars',
    `--user-data-dir=${join(dir, 'chromium')}`,
    `--screenshot=${png}`,
    `--window-size=${WINDOW.width},${WINDOW.height}`,
    `file://${htmlPath}`,
  ],
  { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
);
if (shot.status !== 0) throw new Error(`chromium failed (${shot.status}): ${shot.stderr}`);

// Two access lines of this run, for README "Logs": a forwarded 200 with a trace id, and a refused token.
const lines = readFileSync(logPath, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
const access = lines.filter((line) => line.msg === 'request');
const samples = [
  access.find((line) => line.route === 'partner' && line.status === 200 && line.traceId),
  access.find((line) => line.status === 401 && line.reason === 'expired'),
  access.find((line) => line.status === 429),
];
console.log(samples.filter(Boolean).map((line) => JSON.stringify(line)).join('\n'));
console.error(`${png}: ${Math.round(statSync(png).size / 1024)} KB; page ${htmlPath}; gateway log ${logPath}`);

gateway.kill('SIGTERM');
redis.kill('SIGTERM');
upstream.server.close();
tokenEndpoint.server.close();
await issuer.close();
setTimeout(() => process.exit(0), 500).unref();
