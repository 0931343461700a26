// RSS and heap of the gateway under a stream of DISTINCT valid tokens from
// distinct callers (fuzz-style load): does memory level off once the bounded
// structures (verified-token cache, throttle windows) are full?
//
//   npm run build && node test/bench/rss-distinct-tokens.mjs
//   REQUESTS=1000000 TOKENS=200000 TOKEN_ALGS=EdDSA,RS256 node test/bench/rss-distinct-tokens.mjs
//   GATEWAY_NODE_OPTIONS='--max-semi-space-size=2' HEAP_SNAPSHOTS=20000,end node test/bench/rss-distinct-tokens.mjs
//
// Real processes on 127.0.0.1: the built gateway (dist/main.js) in a child
// process (the RSS is its own, read from /proc/<pid>/status), a node:http
// upstream in another child, TestIssuer (dist/testing) in this process for the
// JWKS and the tokens, and an undici client here as the load (closed loop,
// CONNECTIONS requests in flight, each taking the NEXT token of one shared
// pool: autocannon would give every connection its own iterator starting at
// token 0, so N connections would send each token N times, mostly cache hits).
//
// Tokens: minting is the slow part (TestIssuer signs with WebCrypto: about
// 0.9k RS256, 7k ES256, 11k EdDSA tokens/s on a 2-core VM), so a pool of
// TOKENS distinct tokens is minted up front (default EdDSA, the fastest signer
// TestIssuer has) and cycled. Every token has its own client_id and sub. With
// TOKENS larger than the verified-token cache (10k, oldest evicted first) and
// than what the throttle store holds (100k keys, or all callers of one
// window), every request is a cache miss and a new caller, as in the fuzz
// load. RS256 tokens are longer (≈665 chars vs ≈440 for ES256/EdDSA), so
// TOKEN_ALGS=RS256 (or a mix) shows the per-entry cost of the common case.
//
// Environment (all optional):
//   REQUESTS            total requests sent              (default 300000, up to 1e6 or more)
//   TOKENS              distinct tokens in the pool      (default 120000)
//   TOKEN_ALGS          comma list, minted round-robin   (default EdDSA; RS256, ES256, EdDSA, PS256 …)
//   CONNECTIONS         requests in flight               (default 64)
//   SAMPLE_EVERY        requests between samples         (default REQUESTS/15, at least 5000)
//   THROTTLE            JSON for `throttle.default`      (default the config default: 600 per 60 s)
//   FAT_CLAIMS=1        tokens carry the claims of a typical IdP (Keycloak-like: roles, email, name, sid, …;
//                       ≈1.16k chars EdDSA, ≈1.4k RS256) instead of the 8 minimal ones
//   GATEWAY_NODE_OPTIONS extra node flags for the gateway, e.g. '--max-semi-space-size=2'
//   GATEWAY_ENV         extra env for the gateway, e.g. 'MALLOC_ARENA_MAX=2'
//   HEAP_SNAPSHOTS      request counts at which to write a heap snapshot of the gateway
//                       (SIGUSR2; load paused while it is written), 'end' = after the last
//                       request, e.g. '20000,end'. Files go to SNAPSHOT_DIR (default a temp dir).
//                       Writing a snapshot costs the gateway 100+ MB of native memory that glibc
//                       does not give back: RSS figures after the first snapshot are not comparable.
//                       Analyse them with test/bench/heap-retainers.mjs.
//   IDLE_SECONDS        after the load, idle samples for this long (default 10)
//   JSON_OUT            write the samples as JSON to this file
//   GATEWAY_ROOT        measure the built gateway of another checkout (default: this one)
//
// Columns: RSS/peak from /proc (VmRSS/VmHWM); heap = nodejs_heap_size_used_bytes (live AND not yet
// collected), heapTot = V8's committed heap (what RSS follows), new = new space (2 semi-spaces),
// ext = external, majGC/gc s = major GCs and total GC seconds so far (prom-client), callers =
// estimate of the distinct callers seen within the longest throttle window (the window keys alive,
// per window; the store holds at most 100k keys), from the sample times.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

// GATEWAY_ROOT: another checkout (built) to measure, e.g. a copy with a proposed fix applied.
const root = resolve(process.env.GATEWAY_ROOT ?? resolve(dirname(fileURLToPath(import.meta.url)), '../..'));
if (!existsSync(join(root, 'dist/main.js'))) {
  console.error('dist/main.js is missing: run `npm run build` first');
  process.exit(1);
}
const { TestIssuer } = await import(join(root, 'dist/testing/index.js'));

const num = (name, fallback) => {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number, got ${value}`);
  return Math.floor(n);
};
const REQUESTS = num('REQUESTS', 300_000);
const TOKENS = Math.max(1, num('TOKENS', 120_000));
const TOKEN_ALGS = (process.env.TOKEN_ALGS ?? 'EdDSA').split(',').map((s) => s.trim()).filter(Boolean);
const CONNECTIONS = Math.max(1, num('CONNECTIONS', 64));
const SAMPLE_EVERY = Math.max(1, num('SAMPLE_EVERY', Math.max(5_000, Math.round(REQUESTS / 15 / 1000) * 1000)));
const IDLE_SECONDS = num('IDLE_SECONDS', 10);
const FAT_CLAIMS = process.env.FAT_CLAIMS === '1';
const THROTTLE_WINDOWS = process.env.THROTTLE ? [JSON.parse(process.env.THROTTLE)].flat() : [{ ttlSeconds: 60 }];
/** The longest throttle window: how long a caller's window key stays in the store. */
const WINDOW_SECONDS = Math.max(...THROTTLE_WINDOWS.map((w) => w.ttlSeconds));
const THROTTLE = process.env.THROTTLE ? JSON.parse(process.env.THROTTLE) : undefined;
const GATEWAY_NODE_OPTIONS = (process.env.GATEWAY_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
const GATEWAY_ENV = Object.fromEntries(
  (process.env.GATEWAY_ENV ?? '').split(/\s+/).filter(Boolean).map((pair) => {
    const eq = pair.indexOf('=');
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  }),
);
const SNAPSHOT_AT = (process.env.HEAP_SNAPSHOTS ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
  .map((s) => (s === 'end' ? REQUESTS : Number(s)))
  .sort((a, b) => a - b);
const work = mkdtempSync(join(tmpdir(), 'gateway-rss-'));
const SNAPSHOT_DIR = resolve(process.env.SNAPSHOT_DIR ?? join(work, 'snapshots'));
mkdirSync(SNAPSHOT_DIR, { recursive: true });

const children = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));
process.on('SIGINT', () => process.exit(130));

// --- issuer, upstream, gateway ------------------------------------------------

const issuer = await TestIssuer.start({ algorithms: [...new Set(TOKEN_ALGS)] });

const upstreamSource = `
  const http = require('node:http');
  const body = JSON.stringify({ id: 123, status: 'shipped' });
  const server = http.createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
  server.keepAliveTimeout = 120000;
  server.listen(0, '127.0.0.1', function () { process.send(this.address().port); });`;
const upstream = spawn(process.execPath, ['-e', upstreamSource], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
children.push(upstream);
const upstreamPort = await new Promise((r) => upstream.once('message', r));

const configPath = join(work, 'gateway.json');
writeFileSync(
  configPath,
  JSON.stringify({
    auth: {
      issuers: [{ issuer: issuer.issuer, audience: issuer.audience, jwksUri: issuer.jwksUri, algorithms: [...new Set(TOKEN_ALGS)] }],
    },
    routes: [
      {
        id: 'orders',
        pathPrefix: '/api/orders',
        methods: ['GET'],
        upstream: `http://127.0.0.1:${upstreamPort}`,
        scopes: ['orders:read'],
        upstreamAuth: { type: 'passthrough' },
      },
    ],
    ...(THROTTLE ? { throttle: { default: THROTTLE } } : {}),
  }),
);

const gatewayPort = 19000 + Math.floor(Math.random() * 900);
const gatewayArgs = [...GATEWAY_NODE_OPTIONS, '--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${SNAPSHOT_DIR}`, 'dist/main.js'];
const gateway = spawn(process.execPath, gatewayArgs, {
  cwd: root,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...process.env,
    ...GATEWAY_ENV,
    GATEWAY_CONFIG: configPath,
    PORT: String(gatewayPort),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    NODE_OPTIONS: '',
  },
});
children.push(gateway);
let finished = false;
gateway.on('exit', (code, signal) => {
  if (!finished) {
    console.error(`gateway exited early (code ${code}, signal ${signal})`);
    process.exit(1);
  }
});
const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
await waitFor(`${gatewayUrl}/readyz`);

// --- tokens -----------------------------------------------------------------

const mintStart = performance.now();
const tokens = new Array(TOKENS);
{
  let next = 0;
  let lastReport = performance.now();
  const worker = async () => {
    while (next < TOKENS) {
      const i = next++;
      tokens[i] = `Bearer ${await issuer.token({
        alg: TOKEN_ALGS[i % TOKEN_ALGS.length],
        claims: { scope: 'orders:read', client_id: `fuzz-client-${i}`, sub: `fuzz-subject-${i}`, ...(FAT_CLAIMS ? fatClaims(i) : {}) },
        expiresInSeconds: 4 * 3600,
      })}`;
      if (performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        process.stderr.write(`  minted ${next}/${TOKENS}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
}
const mintSeconds = (performance.now() - mintStart) / 1000;
const lengths = TOKEN_ALGS.map((alg, k) => `${alg} ${tokens[k].length - 7} chars`).join(', ');
console.log(`minted ${TOKENS} distinct tokens (${TOKEN_ALGS.join('/')}, ${lengths}) in ${mintSeconds.toFixed(1)} s`);

const check = await fetch(`${gatewayUrl}/api/orders/123`, { headers: { authorization: tokens[0] } });
if (check.status !== 200) throw new Error(`gateway answered ${check.status} to a valid token: ${await check.text()}`);

// --- sampling -----------------------------------------------------------------

function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, anon: kb('RssAnon') / 1024 };
}

async function heapMetrics() {
  const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
  const value = (name) => Number(new RegExp(`^${name} ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
  return {
    heapUsed: value('nodejs_heap_size_used_bytes'),
    heapTotal: value('nodejs_heap_size_total_bytes'),
    external: value('nodejs_external_memory_bytes'),
    newSpace: value('nodejs_heap_space_size_total_bytes\\{space="new"\\}'),
    oldUsed: value('nodejs_heap_space_size_used_bytes\\{space="old"\\}'),
    majorGcs: value('nodejs_gc_duration_seconds_count\\{kind="major"\\}') * 2 ** 20,
    gcSeconds: ['major', 'minor', 'incremental'].reduce((sum, kind) => sum + (value(`nodejs_gc_duration_seconds_sum\\{kind="${kind}"\\}`) * 2 ** 20 || 0), 0),
  };
}

const samples = [];
const progress = []; // { seconds, requests } at each sample, for the callers-in-window estimate
let statuses = new Map();
async function sample(label, requests, extra = {}) {
  const status = procStatus(gateway.pid);
  const heap = await heapMetrics();
  const seconds = (performance.now() - loadStart) / 1000;
  const windowStart = progress.find((p) => p.seconds >= seconds - WINDOW_SECONDS) ?? { requests: 0 };
  const callers = label === 'load' || label === 'end' ? Math.min(TOKENS, 100_000, requests - windowStart.requests) : '';
  progress.push({ seconds, requests });
  const row = { label, requests, seconds, callers, ...status, ...heap, ...extra };
  samples.push(row);
  const f = (n) => (Number.isFinite(n) ? n.toFixed(1) : '-');
  console.log(
    `${String(label).padEnd(10)} ${String(requests).padStart(9)} ${f(row.seconds).padStart(7)} ${String(extra.rps ?? '').padStart(6)} ` +
      `${f(row.rss).padStart(7)} ${f(row.hwm).padStart(7)} ${f(row.heapUsed).padStart(8)} ${f(row.heapTotal).padStart(8)} ` +
      `${f(row.newSpace).padStart(6)} ${f(row.external).padStart(6)} ${String(row.majorGcs || 0).padStart(6)} ${f(row.gcSeconds).padStart(6)} ${String(callers).padStart(8)}`,
  );
}

// --- heap snapshots -------------------------------------------------------------

async function snapshot(atRequests) {
  const before = new Set(readdirSync(SNAPSHOT_DIR));
  const t0 = performance.now();
  gateway.kill('SIGUSR2');
  // The gateway writes the file synchronously: it answers /healthz again once done.
  await new Promise((r) => setTimeout(r, 200));
  await waitFor(`${gatewayUrl}/healthz`, 600);
  const file = readdirSync(SNAPSHOT_DIR).find((name) => !before.has(name) && name.endsWith('.heapsnapshot'));
  const path = file ? join(SNAPSHOT_DIR, file) : '(not found)';
  const size = file ? (statSync(path).size / 2 ** 20).toFixed(0) : '?';
  console.log(`  heap snapshot at ${atRequests} requests: ${path} (${size} MB, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  snapshots.push({ requests: atRequests, path });
}
const snapshots = [];

// --- load ------------------------------------------------------------------------

const pool = new Pool(gatewayUrl, { connections: CONNECTIONS, pipelining: 1, keepAliveTimeout: 60_000 });
let issued = 0;
let completed = 0;
let errors = 0;
let pause; // a promise while load is paused (snapshot)
let nextSample = SAMPLE_EVERY;
let lastSampleAt = 0;
let lastSampleCount = 0;
let sampling = Promise.resolve();

console.log(
  `\n${REQUESTS} requests, ${CONNECTIONS} in flight, pool of ${TOKENS} distinct tokens/callers, gateway pid ${gateway.pid}` +
    (GATEWAY_NODE_OPTIONS.length ? `, node flags: ${GATEWAY_NODE_OPTIONS.join(' ')}` : '') +
    (Object.keys(GATEWAY_ENV).length ? `, env: ${process.env.GATEWAY_ENV}` : ''),
);
console.log(`${'sample'.padEnd(10)} ${'requests'.padStart(9)} ${'secs'.padStart(7)} ${'req/s'.padStart(6)} ${'RSS MB'.padStart(7)} ${'peak MB'.padStart(7)} ${'heap MB'.padStart(8)} ${'heapTot'.padStart(8)} ${'new'.padStart(6)} ${'ext'.padStart(6)} ${'majGC'.padStart(6)} ${'gc s'.padStart(6)} ${'callers'.padStart(8)}`);
const loadStart = performance.now();
await sample('start', 0);
lastSampleAt = performance.now();

async function loop() {
  while (issued < REQUESTS) {
    if (pause) await pause;
    if (issued >= REQUESTS) break;
    const n = issued++;
    try {
      const { statusCode, body } = await pool.request({
        path: '/api/orders/123',
        method: 'GET',
        headers: { authorization: tokens[n % TOKENS] },
      });
      await body.dump();
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
    } catch {
      errors++;
    }
    completed++;
    if (completed >= nextSample) {
      nextSample += SAMPLE_EVERY;
      const now = performance.now();
      const rps = Math.round(((completed - lastSampleCount) * 1000) / (now - lastSampleAt));
      lastSampleAt = now;
      lastSampleCount = completed;
      const count = completed;
      sampling = sampling.then(() => sample('load', count, { rps }));
    }
    if (SNAPSHOT_AT.length && completed >= SNAPSHOT_AT[0] && !pause) {
      const at = SNAPSHOT_AT.shift();
      let release;
      pause = new Promise((r) => (release = r));
      // Let the requests in flight finish, then snapshot, then resume.
      void (async () => {
        while (completed < issued) await new Promise((r) => setTimeout(r, 10));
        await sampling;
        await sample('pre-snap', completed);
        await snapshot(at);
        await sample('post-snap', completed);
        pause = undefined;
        lastSampleAt = performance.now();
        lastSampleCount = completed;
        release();
      })();
    }
  }
}
await Promise.all(Array.from({ length: CONNECTIONS }, loop));
while (pause) await pause;
await sampling;
const loadSeconds = (performance.now() - loadStart) / 1000;
await sample('end', completed);
for (let s = 5; s <= IDLE_SECONDS; s += 5) {
  await new Promise((r) => setTimeout(r, 5_000));
  await sample(`idle ${s}s`, completed);
}

// --- summary ----------------------------------------------------------------------

const first = samples[0];
const peak = Math.max(...samples.map((s) => s.hwm));
const last = samples.at(-1);
console.log(
  `\nstatuses: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(' ')}${errors ? `, client errors ${errors}` : ''}; ` +
    `${Math.round(completed / loadSeconds)} req/s over ${loadSeconds.toFixed(0)} s`,
);
console.log(
  `gateway RSS ${first.rss.toFixed(0)} MB at start → ${last.rss.toFixed(0)} MB at the end (peak ${peak.toFixed(0)} MB); ` +
    `heap used ${first.heapUsed.toFixed(0)} → ${last.heapUsed.toFixed(0)} MB; node ${process.version}`,
);
if (snapshots.length) console.log(`heap snapshots:\n${snapshots.map((s) => `  ${s.requests}: ${s.path}`).join('\n')}`);
if (process.env.JSON_OUT) {
  writeFileSync(
    process.env.JSON_OUT,
    JSON.stringify({ REQUESTS, TOKENS, TOKEN_ALGS, CONNECTIONS, GATEWAY_NODE_OPTIONS, GATEWAY_ENV, samples, snapshots, statuses: Object.fromEntries(statuses) }, null, 1),
  );
}

finished = true;
await pool.close();
gateway.kill('SIGTERM');
upstream.kill();
await issuer.close();
// Graceful shutdown waits shutdown.delaySeconds; the figures are taken, so do not wait long.
await new Promise((r) => (gateway.exitCode !== null ? r() : (gateway.once('exit', r), setTimeout(r, 2_000))));
process.exit(0);

/** What a Keycloak-style access token carries besides the minimal claims. */
function fatClaims(i) {
  return {
    azp: `fuzz-client-${i}`,
    typ: 'Bearer',
    sid: crypto.randomUUID(),
    acr: '1',
    'allowed-origins': ['https://app.example.com'],
    realm_access: { roles: ['offline_access', 'uma_authorization', 'default-roles-prod'] },
    resource_access: { account: { roles: ['manage-account', 'manage-account-links', 'view-profile'] } },
    scope: 'openid profile email orders:read orders:write',
    email_verified: false,
    name: `Fuzz User ${i}`,
    preferred_username: `fuzz-user-${i}`,
    given_name: 'Fuzz',
    family_name: `User ${i}`,
    email: `fuzz-user-${i}@example.com`,
  };
}

async function waitFor(url, tries = 200) {
  for (let i = 0; i < tries; i++) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never answered 200`);
}
