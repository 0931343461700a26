// Slow callers (CONTRACT "What an upstream sees": a response the gateway can write nothing more
// of is cut and both connections closed, slow readers cannot hold the upstream's connections, a
// request waiting for an upstream connection gets its 504 at timeoutMs; "What a caller sees":
// 504 for an upstream slower than timeoutMs). Every case has its positive control: while the
// slow caller does its worst, a normal caller is served.
//
// The stall limit is 30 s in production; tests shorten it with the runtime setting
// `responseStallMs` and shrink each route's upstream pool with `upstreamConnections`
// (RuntimeSettings, set by code only). No test waits for Node's own request or header timeouts (60 to 120 s):
// their values are read from the running server instead.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { TestIssuer } from '../src/testing/index.js';
import { expectProblem } from './support/expect-problem.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { openRaw, parseResponse, readAll, requestHead } from './support/raw-http.js';

/** The stall limit under test (CONTRACT: 30 s), shortened so no test waits for it. */
const STALL_MS = 1_000;
/** Route timeoutMs on the pool-exhaustion gateway. */
const TIMEOUT_MS = 1_000;
/** Upstream connections per pool on the pool-exhaustion gateway. */
const POOL_CONNECTIONS = 4;
/** A response larger than every buffer between upstream and caller (socket buffers autotune to MiBs). */
const BIG_BYTES = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);


// ---------------------------------------------------------------------------------------------
// The upstream: `…/big…` streams BIG_BYTES with backpressure; a POST body is recorded chunk by
// chunk as it arrives and echoed; anything else gets a small JSON answer.

interface BigResponse {
  readonly url: string;
  /** Bytes the upstream's socket has accepted so far. */
  sentBytes: number;
  /** Resolves at the response's 'close': `finished` tells whether it had ended first. */
  readonly closed: Promise<{ readonly finished: boolean }>;
}

interface ArrivingBody {
  readonly url: string;
  /** Each chunk with the time it arrived (performance.now()). */
  readonly chunks: { readonly atMs: number; readonly bytes: Buffer }[];
  complete: boolean;
}

interface SlowTestUpstream {
  readonly url: string;
  /** Method and url of every request, in arrival order. */
  readonly requests: { readonly method: string; readonly url: string }[];
  readonly big: BigResponse[];
  readonly bodies: ArrivingBody[];
  close(): Promise<void>;
}

async function startSlowTestUpstream(): Promise<SlowTestUpstream> {
  const sockets = new Set<Socket>();
  const upstream: Omit<SlowTestUpstream, 'url' | 'close'> = { requests: [], big: [], bodies: [] };
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '';
    upstream.requests.push({ method: req.method ?? '', url });
    if (url.includes('/big')) {
      req.resume();
      return streamBig(url, res, upstream.big);
    }
    if (url.includes('/quiet')) {
      // A quiet upstream (a long poll): one chunk, a pause longer than the stall limit, the rest.
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first,');
      const timer = setTimeout(() => res.end('last'), STALL_MS * 2);
      res.once('close', () => clearTimeout(timer));
      return;
    }
    const body: ArrivingBody = { url, chunks: [], complete: false };
    if (req.method === 'POST') upstream.bodies.push(body);
    req.on('data', (bytes: Buffer) => body.chunks.push({ atMs: performance.now(), bytes }));
    req.on('end', () => {
      body.complete = true;
      const echoed = Buffer.concat(body.chunks.map((chunk) => chunk.bytes));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url, body: echoed.toString('latin1') }));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...upstream,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Writes BIG_BYTES, never faster than the gateway takes them (the upstream honours backpressure). */
function streamBig(url: string, res: ServerResponse, registry: BigResponse[]): void {
  const closed = new Promise<{ finished: boolean }>((resolve) => res.once('close', () => resolve({ finished: res.writableFinished })));
  const big: BigResponse = { url, sentBytes: 0, closed };
  registry.push(big);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG_BYTES) });
  const write = (): void => {
    while (big.sentBytes < BIG_BYTES && !res.destroyed) {
      const size = Math.min(CHUNK.length, BIG_BYTES - big.sentBytes);
      big.sentBytes += size;
      if (!res.write(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size))) {
        res.once('drain', write);
        return;
      }
    }
    if (big.sentBytes >= BIG_BYTES) res.end();
  };
  write();
}

// ---------------------------------------------------------------------------------------------
// Callers and bounded waits.

/** Polls `condition` every 20 ms; fails with `what` after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** The promise's value, or 'timeout' after `ms` (the timer is cleared either way). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A BigResponse whose byte count has not moved for `quietMs`: every buffer on the way is full. */
async function stalled(big: BigResponse, quietMs = 300, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = -1;
  let since = performance.now();
  for (;;) {
    if (big.sentBytes !== last) [last, since] = [big.sentBytes, performance.now()];
    else if (performance.now() - since >= quietMs) return;
    if (big.sentBytes >= BIG_BYTES) throw new Error(`${big.url}: the whole response was taken, nothing stalled`);
    if (performance.now() > deadline) throw new Error(`${big.url}: still moving after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A caller that sends its request and never reads: Node stops taking from the kernel once its own buffer is full. */
async function nonReadingCaller(baseUrl: string, target: string, headers: [string, string][] = []): Promise<Socket> {
  const socket = await openRaw(baseUrl);
  socket.on('error', () => undefined);
  socket.pause();
  socket.write(requestHead(baseUrl, { target, headers }));
  return socket;
}

/** Resumes a paused caller and reads until the connection closes: the status and how much body came. */
async function drain(socket: Socket): Promise<{ status: number | undefined; bodyBytes: number }> {
  let head = Buffer.alloc(0);
  let headEnd = -1;
  let total = 0;
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (headEnd === -1) {
        head = Buffer.concat([head, chunk]);
        headEnd = head.indexOf('\r\n\r\n');
      }
    });
    socket.once('close', () => resolve());
    socket.resume();
  });
  const status = /^HTTP\/1\.1 (\d{3})/.exec(head.toString('latin1'))?.[1];
  return { status: status === undefined ? undefined : Number(status), bodyBytes: headEnd === -1 ? 0 : total - headEnd - 4 };
}

/** A normal caller's GET: status and elapsed time; bounded so a starved gateway fails the test instead of hanging it. */
async function timedGet(url: string, headers: Record<string, string> = {}, limitMs = 10_000) {
  const started = performance.now();
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(limitMs) });
  const body = await res.text();
  return { res, status: res.status, body, elapsedMs: performance.now() - started };
}

// ---------------------------------------------------------------------------------------------

let issuer: TestIssuer;
let up: SlowTestUpstream;
/** responseStallMs shortened to STALL_MS. */
let gw: TestGateway;
/** upstreamConnections POOL_CONNECTIONS, routes with timeoutMs TIMEOUT_MS, the stall limit left long. */
let pool: TestGateway;
let token: string;
/** Every caller socket a test opened; destroyed after each test even when it failed. */
const callers = new Set<Socket>();

const bearer = () => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  issuer = await TestIssuer.start();
});
afterAll(() => issuer?.close());

beforeAll(async () => {
  up = await startSlowTestUpstream();
});
afterAll(() => up?.close());

beforeAll(async () => {
  gw = await startTestGateway({
    issuers: [issuer],
    routes: [
      { id: 'open', pathPrefix: '/open', upstream: up.url, public: true },
      { id: 'orders', pathPrefix: '/orders', upstream: up.url, scopes: ['orders:write'] },
    ],
    settings: { responseStallMs: STALL_MS },
  });
});
afterAll(() => gw?.close());

beforeAll(async () => {
  pool = await startTestGateway({
    issuers: [issuer],
    routes: [
      { id: 'pool-open', pathPrefix: '/open', upstream: up.url, public: true, timeoutMs: TIMEOUT_MS },
      { id: 'pool-orders', pathPrefix: '/orders', upstream: up.url, scopes: ['orders:write'], timeoutMs: TIMEOUT_MS },
    ],
    // The stall limit stays longer than any test here, so the slow readers hold their connections throughout.
    settings: { upstreamConnections: POOL_CONNECTIONS, responseStallMs: 60_000 },
  });
});
afterAll(() => pool?.close());

beforeAll(async () => {
  token = await issuer.token({ claims: { sub: 'svc-a', client_id: 'client-a', scope: 'orders:write' } });
});

afterEach(async () => {
  for (const socket of callers) socket.destroy();
  callers.clear();
  // A gateway that lets go of its callers lets go of the upstream: wait for every big answer to end.
  await within(Promise.all(up.big.map((big) => big.closed)), 5_000);
  up.requests.length = 0;
  up.big.length = 0;
  up.bodies.length = 0;
});

async function track(socket: Promise<Socket>): Promise<Socket> {
  const opened = await socket;
  callers.add(opened);
  return opened;
}

describe('slowloris: request headers one byte at a time', () => {
  const SLOW_SOCKETS = 50;
  const TICK_MS = 200;
  const TICKS = 15; // 3 s of trickling

  it(`${SLOW_SOCKETS} connections trickling headers every ${TICK_MS} ms: normal callers get 200 meanwhile, the upstream never sees them`, async () => {
    const slow = await Promise.all(Array.from({ length: SLOW_SOCKETS }, () => track(openRaw(gw.url))));
    const answered = slow.map(() => false);
    slow.forEach((socket, index) => {
      socket.on('error', () => undefined);
      socket.on('data', () => (answered[index] = true));
      socket.write(`GET /open/slowloris-${index} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `);
    });
    const trickling = (async () => {
      for (let tick = 0; tick < TICKS; tick++) {
        await sleep(TICK_MS);
        for (const socket of slow) if (!socket.destroyed) socket.write('a');
      }
    })();

    const normal: { status: number; elapsedMs: number }[] = [];
    for (let round = 0; round < 4; round++) {
      const batch = await Promise.all(Array.from({ length: 5 }, (_, i) => timedGet(`${gw.url}/open/normal-${round}-${i}`, {}, 5_000)));
      normal.push(...batch.map(({ status, elapsedMs }) => ({ status, elapsedMs })));
      await sleep(TICK_MS);
    }
    await trickling;

    expect(normal).toHaveLength(20);
    for (const { status, elapsedMs } of normal) {
      expect(status).toBe(200);
      expect(elapsedMs).toBeLessThan(2_000); // a correctness bound (not queued behind the slow ones), not a benchmark
    }
    expect(up.requests.filter(({ url }) => url.startsWith('/open/slowloris'))).toEqual([]);
    expect(up.requests.filter(({ url }) => url.startsWith('/open/normal'))).toHaveLength(20);
    // Their headers never ended: nothing to answer yet (Node's headersTimeout will, see below).
    expect(answered.filter(Boolean)).toHaveLength(0);
  }, 15_000);

  it('the running server bounds headers and requests in time (finite headersTimeout and requestTimeout)', () => {
    const server = gw.running.server;
    // Node: 0 disables the timeout; a slowloris connection would then live forever.
    expect(server.requestTimeout).toBeGreaterThan(0);
    expect(server.requestTimeout).toBeLessThanOrEqual(120_000);
    expect(server.headersTimeout).toBeGreaterThan(0);
    expect(server.headersTimeout).toBeLessThanOrEqual(server.requestTimeout);
  });
});

describe('a request body trickled one byte a second', () => {
  const BODY = 'abcde';

  it('to a protected POST route: normal callers get 200 meanwhile; the upstream gets every byte, in order; nothing hangs', async () => {
    const socket = await track(openRaw(gw.url));
    const answer = readAll(socket);
    socket.write(
      requestHead(gw.url, {
        method: 'POST',
        target: '/orders/trickle',
        headers: [
          ['Authorization', `Bearer ${token}`],
          ['Content-Type', 'application/octet-stream'],
          ['Content-Length', String(BODY.length)],
        ],
      }),
    );
    const sentAtMs: number[] = [];
    const meanwhile: number[] = [];
    for (const byte of BODY) {
      sentAtMs.push(performance.now());
      socket.write(byte);
      const { status, elapsedMs } = await timedGet(`${gw.url}/orders/normal`, bearer(), 5_000);
      expect(elapsedMs).toBeLessThan(1_000);
      meanwhile.push(status);
      await sleep(Math.max(0, 1_000 - elapsedMs));
    }

    const bytes = await within(answer, 5_000);
    expect(bytes).not.toBe('timeout');
    const res = parseResponse(bytes as Buffer);
    expect(res?.status).toBe(200);
    expect(JSON.parse(res!.body.toString())).toEqual({ url: '/orders/trickle', body: BODY });
    expect(meanwhile).toEqual([200, 200, 200, 200, 200]);

    const trickled = up.bodies.filter(({ url }) => url === '/orders/trickle');
    expect(trickled).toHaveLength(1);
    expect(trickled[0]!.complete).toBe(true);
    expect(Buffer.concat(trickled[0]!.chunks.map((chunk) => chunk.bytes)).toString()).toBe(BODY);
    // Streamed as it came, or handed over whole at the end: either way never before it was sent.
    for (const [index, chunk] of trickled[0]!.chunks.entries()) expect(chunk.atMs).toBeGreaterThanOrEqual(sentAtMs[index] ?? 0);
  }, 15_000);
});

describe(`a caller that stops reading a large answer (stall limit shortened to ${STALL_MS} ms)`, () => {
  it('both connections are closed once nothing can be written for the stall limit; the same route keeps serving', async () => {
    const caller = await track(nonReadingCaller(gw.url, '/open/big/stall'));
    await waitFor('the upstream gets the big request', () => up.big.length === 1);
    const big = up.big[0]!;
    await stalled(big);

    // Positive control: the same route, meanwhile.
    const during = await timedGet(`${gw.url}/open/small-during`, {}, 5_000);
    expect(during.status).toBe(200);

    // CONTRACT: cut, and nothing buffered to let the upstream finish.
    const upstreamEnd = await within(big.closed, STALL_MS + 4_000);
    expect(upstreamEnd).toEqual({ finished: false });
    expect(big.sentBytes).toBeLessThan(BIG_BYTES);

    // The caller's connection is closed too: reading now gets what was in flight, then the end,
    // never the whole answer.
    const drained = await within(drain(caller), 5_000);
    expect(drained).not.toBe('timeout');
    const { status, bodyBytes } = drained as { status: number | undefined; bodyBytes: number };
    expect(status).toBe(200);
    expect(bodyBytes).toBeLessThan(BIG_BYTES);

    // Positive control: after the cut, the route is served as before.
    const after = await timedGet(`${gw.url}/open/small-after`, {}, 5_000);
    expect(after.status).toBe(200);
  }, 25_000);

  it('an upstream that is quiet for longer than the stall limit is not cut: the caller was not the one stalling', async () => {
    const answer = await timedGet(`${gw.url}/open/quiet`, {}, STALL_MS * 2 + 5_000);
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: 'first,last' });
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(STALL_MS * 2 - 50);
  }, 15_000);

  it('positive control: a caller that reads the same large answer gets all of it', async () => {
    const caller = await track(nonReadingCaller(gw.url, '/open/big/reader'));
    const drained = await within(drain(caller), 10_000);
    expect(drained).toEqual({ status: 200, bodyBytes: BIG_BYTES });
    expect(await up.big[0]!.closed).toEqual({ finished: true });
  }, 15_000);
});

describe(`upstream pool exhaustion (upstreamConnections ${POOL_CONNECTIONS}, timeoutMs ${TIMEOUT_MS})`, () => {
  /** POOL_CONNECTIONS non-reading callers on one route, each holding an upstream connection. */
  async function holdPool(prefix: string, headers: [string, string][] = []): Promise<void> {
    for (let i = 0; i < POOL_CONNECTIONS; i++) await track(nonReadingCaller(pool.url, `${prefix}/big/${i}`, headers));
    await waitFor(`${POOL_CONNECTIONS} big answers under way`, () => up.big.length === POOL_CONNECTIONS);
    await Promise.all(up.big.map((big) => stalled(big)));
  }

  it('a request waiting for a connection gets its 504 at timeoutMs (not the 26 s of the bug); other routes keep serving', async () => {
    await holdPool('/orders', [['Authorization', `Bearer ${token}`]]);

    const waiting = await timedGet(`${pool.url}/orders/small-waiting`, bearer(), TIMEOUT_MS + 5_000);
    expect({ status: waiting.status, body: waiting.body }).toMatchObject({ status: 504 });
    await expectProblem(new Response(waiting.body, { status: waiting.status, headers: waiting.res.headers }), {
      status: 504,
      code: 'upstream_timeout',
    });
    expect(waiting.elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(waiting.elapsedMs).toBeLessThan(TIMEOUT_MS + 1_500); // a correctness bound, not a benchmark
    expect(up.requests.filter(({ url }) => url === '/orders/small-waiting')).toEqual([]);

    // Positive controls: another route on the same origin, and the gateway's own endpoint.
    const other = await timedGet(`${pool.url}/open/small-other`, {}, 5_000);
    expect(other.status).toBe(200);
    expect((await timedGet(`${pool.url}/healthz`, {}, 5_000)).status).toBe(200);
  }, 20_000);

  it('the wait queue is bounded: past as many waiting as connections, 503 upstream_busy at once, Retry-After 1', async () => {
    await holdPool('/orders', [['Authorization', `Bearer ${token}`]]);
    // POOL_CONNECTIONS more wait for a connection (each gets its 504 at timeoutMs)…
    const queued = Array.from({ length: POOL_CONNECTIONS }, (_, i) => timedGet(`${pool.url}/orders/small-queued-${i}`, bearer(), TIMEOUT_MS + 5_000));
    await sleep(100);
    // …and the next finds the queue full.
    const refused = await timedGet(`${pool.url}/orders/small-refused`, bearer(), 5_000);
    await expectProblem(new Response(refused.body, { status: refused.status, headers: refused.res.headers }), {
      status: 503,
      code: 'upstream_busy',
      retryAfter: '1',
    });
    expect(refused.elapsedMs).toBeLessThan(TIMEOUT_MS); // refused at once, not after waiting
    expect((await Promise.all(queued)).map(({ status }) => status)).toEqual(Array.from({ length: POOL_CONNECTIONS }, () => 504));
    expect(up.requests.filter(({ url }) => url.startsWith('/orders/small-'))).toEqual([]);
  }, 20_000);

  it('slow readers of a public route do not starve a protected route on the same upstream origin', async () => {
    await holdPool('/open');

    const [publicFifth, protectedRoute] = await Promise.all([
      timedGet(`${pool.url}/open/small-fifth`, {}, TIMEOUT_MS + 5_000),
      timedGet(`${pool.url}/orders/small-protected`, bearer(), TIMEOUT_MS + 5_000),
    ]);
    expect({ status: protectedRoute.status, fast: protectedRoute.elapsedMs < TIMEOUT_MS }).toEqual({ status: 200, fast: true });
    // Not vacuous: the public route's own pool is indeed exhausted.
    expect(publicFifth.status).toBe(504);
  }, 20_000);
});
