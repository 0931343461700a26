// npm run bench: requests/s of the gateway on one route with a valid token,
// against the upstream called directly. Real processes on 127.0.0.1: the
// built gateway (dist/main.js), a node:http upstream, TestIssuer for keys, and
// autocannon as the load. Numbers are for comparison within one run.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestIssuer } from '../../dist/testing/index.js';

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);

const upstreamSource = `
  const http = require('node:http');
  const body = JSON.stringify({ id: 123, status: 'shipped' });
  http.createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); })
    .listen(0, '127.0.0.1', function () { process.send(this.address().port); });`;

function child(command, args, options) {
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], ...options });
  return proc;
}

async function waitFor(url) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never answered 200`);
}

function run(url, headers) {
  return autocannon({ url, connections: CONNECTIONS, duration: DURATION, headers });
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const peak = /VmHWM:\s+(\d+) kB/.exec(status);
  return peak ? Math.round(Number(peak[1]) / 1024) : NaN;
}

const issuer = await TestIssuer.start({ algorithms: ['RS256'] });
const upstream = child(process.execPath, ['-e', upstreamSource]);
const upstreamPort = await new Promise((resolve) => upstream.once('message', resolve));
const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;

const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
const configPath = join(dir, 'gateway.yaml');
writeFileSync(
  configPath,
  JSON.stringify({
    auth: { issuers: [{ issuer: issuer.issuer, audience: issuer.audience, jwksUri: issuer.jwksUri, algorithms: ['RS256'] }] },
    routes: [{ id: 'orders', pathPrefix: '/api/orders', methods: ['GET'], upstream: upstreamUrl, scopes: ['orders:read'], upstreamAuth: { type: 'passthrough' } }],
    // Counted like any request, but never over: the limiter's cost is measured, not its 429s.
    throttle: { default: { limit: 1_000_000_000, ttlSeconds: 60 } },
  }),
);
const gatewayPort = 18000 + Math.floor(Math.random() * 1000);
const gateway = child(process.execPath, ['dist/main.js'], {
  env: { ...process.env, GATEWAY_CONFIG: configPath, PORT: String(gatewayPort), HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_ENV: 'production' },
});
const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
await waitFor(`${gatewayUrl}/readyz`);

const token = await issuer.token({ claims: { scope: 'orders:read', client_id: 'bench' } });
const headers = { authorization: `Bearer ${token}` };
const check = await fetch(`${gatewayUrl}/api/orders/123`, { headers });
if (check.status !== 200) throw new Error(`gateway answered ${check.status} to a valid token`);

const results = [];
for (const [name, url] of [
  ['upstream direct', `${upstreamUrl}/api/orders/123`],
  ['gateway (same token)', `${gatewayUrl}/api/orders/123`],
]) {
  await run(url, headers); // warm-up (JIT, pools)
  const r = await run(url, headers);
  results.push({ name, 'req/s': Math.round(r.requests.average), 'p50 ms': r.latency.p50, 'p99 ms': r.latency.p99, non2xx: r.non2xx + r.errors });
}
// Distinct tokens defeat the verified-token cache: every request pays a signature check.
const tokens = await Promise.all(Array.from({ length: 2000 }, (_, i) => issuer.token({ claims: { scope: 'orders:read', client_id: `c${i % 100}`, sub: `s${i}` } })));
const requests = tokens.map((t) => ({ method: 'GET', path: '/api/orders/123', headers: { authorization: `Bearer ${t}` } }));
await autocannon({ url: gatewayUrl, connections: CONNECTIONS, duration: DURATION / 2, requests });
const many = await autocannon({ url: gatewayUrl, connections: CONNECTIONS, duration: DURATION, requests });
results.push({ name: 'gateway (2000 tokens)', 'req/s': Math.round(many.requests.average), 'p50 ms': many.latency.p50, 'p99 ms': many.latency.p99, non2xx: many.non2xx + many.errors });

console.table(results);
console.log(`gateway peak RSS: ${rssMb(gateway.pid)} MB; ${DURATION}s per run, ${CONNECTIONS} connections, node ${process.version}`);
console.log(`gateway / direct: ${(results[1]['req/s'] / results[0]['req/s']).toFixed(2)} (same token), ${(results[2]['req/s'] / results[0]['req/s']).toFixed(2)} (2000 tokens)`);

gateway.kill('SIGTERM');
upstream.kill();
await issuer.close();
