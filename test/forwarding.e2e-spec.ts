// What an upstream sees and what comes back (CONTRACT "What an upstream sees", "What a caller
// sees"): method, path, query and body as sent and streamed; the headers the gateway sets,
// replaces and removes; the upstream's own answer passed through unchanged; upstream failures
// as 502/504 problems; X-Request-Id on every response.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { TestIssuer } from '../src/testing/index.js';
import { expectProblem } from './support/expect-problem.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { asFetchResponse, openRaw, parseResponse, rawExchange, rawRequest, readAll, requestHead } from './support/raw-http.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SMALL_LIMIT = 1024;
/** Hop-by-hop request header lines a caller may send; none may reach the upstream. */
const HOP_BY_HOP_LINES: [string, string][] = [
  ['TE', 'trailers'],
  ['Trailer', 'X-Sum'],
  ['Upgrade', 'h2c'],
  ['Proxy-Authorization', 'Basic cHJveHk6c2VjcmV0'],
  ['Proxy-Connection', 'keep-alive'],
];

/** An upstream that records a request as it arrives (not only once complete), for body-limit and streaming tests. */
interface ArrivingRequest {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly chunks: Buffer[];
  complete: boolean;
  /** Resolves when the upstream request is over, complete or aborted. */
  readonly over: Promise<void>;
  /** Resolves with the first body chunk. */
  readonly firstChunk: Promise<Buffer>;
}

interface ArrivingUpstream {
  readonly url: string;
  readonly requests: ArrivingRequest[];
  close(): Promise<void>;
}

async function startArrivingUpstream(): Promise<ArrivingUpstream> {
  const requests: ArrivingRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    let gotFirst: (chunk: Buffer) => void = () => undefined;
    let over: () => void = () => undefined;
    const entry: ArrivingRequest = {
      url: req.url ?? '',
      headers: req.headers,
      chunks: [],
      complete: false,
      over: new Promise<void>((resolve) => (over = resolve)),
      firstChunk: new Promise<Buffer>((resolve) => (gotFirst = resolve)),
    };
    requests.push(entry);
    req.on('data', (chunk: Buffer) => {
      if (entry.chunks.length === 0) gotFirst(chunk);
      entry.chunks.push(chunk);
    });
    req.on('end', () => {
      entry.complete = true;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.concat(entry.chunks));
    });
    req.on('close', () => over());
    req.on('error', () => over());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let issuer: TestIssuer;
let up: TestUpstream;
let arriving: ArrivingUpstream;
let gw: TestGateway;
let trusting: TestGateway;
let token: string;

beforeAll(async () => {
  issuer = await TestIssuer.start();
});
afterAll(() => issuer?.close());

beforeAll(async () => {
  up = await startUpstream();
});
afterAll(() => up?.close());

beforeAll(async () => {
  arriving = await startArrivingUpstream();
});
afterAll(() => arriving?.close());

beforeAll(async () => {
  const deadPort = await closedPort();
  gw = await startTestGateway({
    issuers: [issuer],
    routes: [
      { id: 'echo', pathPrefix: '/echo', upstream: up.url, scopes: ['orders:read'] },
      { id: 'pass', pathPrefix: '/pass', upstream: up.url, upstreamAuth: { type: 'passthrough' } },
      { id: 'open', pathPrefix: '/open', upstream: up.url, public: true },
      { id: 'small', pathPrefix: '/small', upstream: up.url, public: true, maxBodyBytes: SMALL_LIMIT },
      { id: 'small-arriving', pathPrefix: '/arriving/small', upstream: arriving.url, public: true, maxBodyBytes: SMALL_LIMIT },
      { id: 'arriving', pathPrefix: '/arriving', upstream: arriving.url, public: true },
      { id: 'dead', pathPrefix: '/dead', upstream: `http://127.0.0.1:${deadPort}`, public: true },
      { id: 'slow', pathPrefix: '/slow', upstream: up.url, public: true, timeoutMs: 200 },
    ],
  });
});
afterAll(() => gw?.close());

beforeAll(async () => {
  trusting = await startTestGateway({
    issuers: [issuer],
    trustProxy: ['127.0.0.1'],
    routes: [{ id: 'open', pathPrefix: '/open', upstream: up.url, public: true }],
  });
});
afterAll(() => trusting?.close());

beforeAll(async () => {
  token = await issuer.token({ claims: { sub: 'svc-a', client_id: 'client-a', scope: 'orders:read orders:write' } });
});

beforeEach(() => {
  up.requests.length = 0;
  up.handle(undefined);
  arriving.requests.length = 0;
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('method, path, query and body as sent', () => {
  it.each(['GET', 'DELETE', 'POST', 'PUT', 'PATCH'])('%s with a query: method and url exact', async (method) => {
    const body = method === 'GET' ? undefined : `{"method":"${method}"}`;
    const res = await fetch(`${gw.url}/echo/items/7?b=2&a=1&a=1`, {
      method,
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]).toMatchObject({ method, url: '/echo/items/7?b=2&a=1&a=1' });
    expect(up.requests[0]!.body.toString('utf8')).toBe(body ?? '');
    expect(up.requests[0]!.headers['content-length']).toBe(body === undefined ? undefined : String(body.length));
  });

  it('POST of 1 MiB arrives byte-exact with its content-length', async () => {
    const body = randomBytes(1024 * 1024);
    const res = await fetch(`${gw.url}/echo/upload`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
      body,
    });
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.headers['content-length']).toBe('1048576');
    expect(up.requests[0]!.body.equals(body)).toBe(true);
  });

  it('a chunked body without content-length arrives whole', async () => {
    const parts = [randomBytes(1000), randomBytes(70_000), randomBytes(3)];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(new Uint8Array(part));
        controller.close();
      },
    });
    const res = await fetch(`${gw.url}/echo/upload`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.headers['content-length']).toBeUndefined();
    expect(up.requests[0]!.body.equals(Buffer.concat(parts))).toBe(true);
  });

  it('the request body is streamed: the upstream gets the first chunk before the caller sends the rest', async () => {
    const socket = await openRaw(gw.url);
    const answer = readAll(socket);
    socket.write(requestHead(gw.url, { method: 'POST', target: '/arriving/stream', headers: [['Transfer-Encoding', 'chunked']] }));
    socket.write('5\r\nfirst\r\n');
    await waitFor(() => arriving.requests.length === 1);
    expect((await arriving.requests[0]!.firstChunk).toString()).toBe('first');
    expect(arriving.requests[0]!.complete).toBe(false);
    socket.write('6\r\nsecond\r\n0\r\n\r\n');
    const res = parseResponse(await answer);
    expect(res?.status).toBe(200);
    expect(res?.body.toString()).toBe('firstsecond');
    expect(arriving.requests[0]!.complete).toBe(true);
  });

  describe(`route maxBodyBytes ${SMALL_LIMIT}`, () => {
    it('positive control: a body of exactly the limit → 200, upstream gets it whole', async () => {
      const body = randomBytes(SMALL_LIMIT);
      const res = await fetch(`${gw.url}/small/upload`, { method: 'POST', body });
      expect(res.status).toBe(200);
      expect(up.requests).toHaveLength(1);
      expect(up.requests[0]!.body.equals(body)).toBe(true);
    });

    it('a content-length one byte over the limit → 413 payload_too_large, upstream not reached', async () => {
      const res = await fetch(`${gw.url}/small/upload`, { method: 'POST', body: randomBytes(SMALL_LIMIT + 1) });
      await expectProblem(res, { status: 413, code: 'payload_too_large' });
      expect(up.requests).toHaveLength(0);
    });

    it('a large content-length is refused from the head alone (413 before any body is sent)', async () => {
      const res = await rawRequest(gw.url, {
        method: 'POST',
        target: '/small/upload',
        headers: [['Content-Length', String(1024 * 1024)]],
      });
      await expectProblem(asFetchResponse(res), { status: 413, code: 'payload_too_large' });
      expect(up.requests).toHaveLength(0);
    });

    it('positive control: a chunked body under the limit → 200, upstream gets it whole', async () => {
      const outcome = await rawExchange(gw.url, {
        method: 'POST',
        target: '/arriving/small/upload',
        headers: [['Transfer-Encoding', 'chunked']],
        body: `${(600).toString(16)}\r\n${'a'.repeat(600)}\r\n${(424).toString(16)}\r\n${'b'.repeat(424)}\r\n0\r\n\r\n`,
      });
      expect(outcome.kind === 'response' && outcome.response.status).toBe(200);
      expect(arriving.requests).toHaveLength(1);
      await arriving.requests[0]!.over;
      expect(arriving.requests[0]!.complete).toBe(true);
      expect(Buffer.concat(arriving.requests[0]!.chunks).toString()).toBe('a'.repeat(600) + 'b'.repeat(424));
    });

    it('a chunked body over the limit → 413 or a cut connection; the upstream never gets it whole', async () => {
      const outcome = await rawExchange(gw.url, {
        method: 'POST',
        target: '/arriving/small/upload',
        headers: [['Transfer-Encoding', 'chunked']],
        body: `${(600).toString(16)}\r\n${'a'.repeat(600)}\r\n${(600).toString(16)}\r\n${'b'.repeat(600)}\r\n0\r\n\r\n`,
      });
      if (outcome.kind === 'response') {
        await expectProblem(asFetchResponse(outcome.response), { status: 413, code: 'payload_too_large' });
      } else {
        expect(outcome).toEqual({ kind: 'cut', bytes: 0 });
      }
      await Promise.all(arriving.requests.map((r) => r.over));
      for (const request of arriving.requests) {
        expect(request.complete).toBe(false);
        expect(Buffer.concat(request.chunks).length).toBeLessThan(1200);
      }
    });
  });
});

describe('Authorization per upstreamAuth', () => {
  it('none: the caller’s token is not forwarded', async () => {
    const res = await fetch(`${gw.url}/echo/1`, { headers: bearer(token) });
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('passthrough: the caller’s token, exactly', async () => {
    const res = await fetch(`${gw.url}/pass/1`, { headers: bearer(token) });
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.headers.authorization).toBe(`Bearer ${token}`);
  });

  it('none on a public route: a caller’s Authorization is not forwarded either', async () => {
    const res = await fetch(`${gw.url}/open/1`, { headers: { authorization: 'Bearer not-a-token' } });
    expect(res.status).toBe(200);
    expect(up.requests[0]!.headers.authorization).toBeUndefined();
  });
});

describe('the headers an upstream gets', () => {
  it('the complete set: gateway headers set, spoofed ones replaced, hop-by-hop removed, the rest as sent', async () => {
    const res = await rawRequest(gw.url, {
      target: '/echo/all?x=1',
      headers: [
        ['Host', 'api.example.com:8443'],
        ['Authorization', `Bearer ${token}`],
        ['Accept', 'application/json'],
        ['User-Agent', 'orders-client/1.2'],
        ['X-Custom', 'one'],
        ['X-Custom', 'two'],
        ['X-Request-Id', 'req-abc.123:x_y'],
        ['X-Forwarded-For', '203.0.113.9'],
        ['X-Forwarded-Host', 'evil.example'],
        ['X-Forwarded-Proto', 'https'],
        ['Forwarded', 'for=203.0.113.9;host=evil.example'],
        ['X-Auth-Subject', 'admin'],
        ['X-Auth-Role', 'root'],
        ['Connection', 'close, X-Hop'],
        ['X-Hop', 'only-this-hop'],
        ['Keep-Alive', 'timeout=5'],
        ...HOP_BY_HOP_LINES,
      ],
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('req-abc.123:x_y');
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.headers).toEqual({
      'host': new URL(up.url).host,
      'connection': 'keep-alive',
      'accept': 'application/json',
      'user-agent': 'orders-client/1.2',
      'x-custom': 'one, two',
      'x-request-id': 'req-abc.123:x_y',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'api.example.com:8443',
      'x-auth-subject': 'svc-a',
      'x-auth-client-id': 'client-a',
      'x-auth-scopes': 'orders:read orders:write',
    });
  });

  describe('headers by which a proxy vouches for the client or the URL (issue #8)', () => {
    // CONTRACT's list, each also as a CGI-style `_` spelling and in odd case.
    const contractList = [
      'Forwarded', 'X-Real-IP', 'True-Client-IP', 'X-Client-IP', 'CF-Connecting-IP', 'Fastly-Client-IP',
      'X-Cluster-Client-IP', 'X-Forwarded-Port', 'X-Forwarded-Prefix', 'X-Forwarded-Server',
      'X-Forwarded-Scheme', 'X-Forwarded-Ssl', 'X-Original-Host', 'X-Host',
    ];
    const beyondContract = [
      'X-Forwarded', 'X-Forwarded-Uri', 'X-Forwarded-Path', 'X-Forwarded-Protocol', 'X-Forwarded-By',
      'X-Original-Forwarded-For', 'X-Original-URI', 'X-Originating-IP', 'X-Remote-IP', 'X-Remote-Addr',
      'Client-IP', 'X-ProxyUser-Ip', 'X-Url-Scheme', 'Front-End-Https', 'X-Envoy-External-Address', 'X-Envoy-Original-Path',
    ];
    const spellings = (name: string) => [name, name.replaceAll('-', '_'), name.toUpperCase()];
    const lines = (names: string[]) => names.flatMap(spellings).map((name) => [name, '203.0.113.66'] as [string, string]);

    it.each([
      { name: "CONTRACT's list", names: contractList },
      { name: 'the same kind of header beyond it', names: beyondContract },
    ])('$name: none reaches the upstream, whatever the spelling', async ({ names }) => {
      const res = await rawRequest(gw.url, { target: '/echo/vouch', headers: [['Authorization', `Bearer ${token}`], ['X-Kept', 'yes'], ...lines(names)] });
      expect(res.status).toBe(200);
      expect(up.requests).toHaveLength(1);
      const got = up.requests[0]!.headers;
      for (const name of names.flatMap(spellings)) expect(got[name.toLowerCase()]).toBeUndefined();
      expect(got['x-kept']).toBe('yes'); // positive control: other headers pass as sent
      expect(got['x-forwarded-for']).toBe('127.0.0.1');
    });
  });

  describe('X-Request-Id', () => {
    const sane = [
      { name: 'plain', id: 'abc' },
      { name: 'every allowed character', id: 'AZaz09-_.:' },
      { name: '128 characters', id: 'a'.repeat(128) },
      { name: 'one character', id: '7' },
    ];
    it.each(sane)('sane ($name) → kept for the upstream and echoed to the caller', async ({ id }) => {
      const res = await rawRequest(gw.url, { target: '/open/id', headers: [['X-Request-Id', id]] });
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toBe(id);
      expect(up.requests[0]!.headers['x-request-id']).toBe(id);
    });

    const insane: { name: string; headers: [string, string][] }[] = [
      { name: '129 characters', headers: [['X-Request-Id', 'a'.repeat(129)]] },
      { name: 'a space', headers: [['X-Request-Id', 'a b']] },
      { name: 'a slash', headers: [['X-Request-Id', 'a/b']] },
      { name: 'markup', headers: [['X-Request-Id', '<script>']] },
      { name: 'a quote and a semicolon', headers: [['X-Request-Id', 'a";b']] },
      { name: 'empty', headers: [['X-Request-Id', '']] },
      { name: 'two headers', headers: [['X-Request-Id', 'a'], ['X-Request-Id', 'b']] },
    ];
    it.each(insane)('insane ($name) → a new UUID, the same one for the upstream and the caller', async ({ headers }) => {
      const res = await rawRequest(gw.url, { target: '/open/id', headers });
      expect(res.status).toBe(200);
      const id = res.headers['x-request-id'];
      expect(id).toMatch(UUID);
      expect(up.requests[0]!.headers['x-request-id']).toBe(id);
    });

    it('absent → a new UUID for the upstream and the caller; a new one per request', async () => {
      const first = await rawRequest(gw.url, { target: '/open/id' });
      const second = await rawRequest(gw.url, { target: '/open/id' });
      expect(first.headers['x-request-id']).toMatch(UUID);
      expect(second.headers['x-request-id']).toMatch(UUID);
      expect(first.headers['x-request-id']).not.toBe(second.headers['x-request-id']);
      expect(up.requests.map((r) => r.headers['x-request-id'])).toEqual([first.headers['x-request-id'], second.headers['x-request-id']]);
    });
  });

  describe('X-Forwarded-*', () => {
    const CHAIN: [string, string][] = [['X-Forwarded-For', '203.0.113.9, 198.51.100.2']];
    it.each([
      { name: 'X-Forwarded-For is the connection address; an untrusted caller’s own chain is dropped', trusted: false, headers: CHAIN, forwarded: '127.0.0.1' },
      { name: 'no X-Forwarded-For sent → the connection address', trusted: false, headers: [], forwarded: '127.0.0.1' },
      { name: 'trustProxy [127.0.0.1]: the chain is kept and extended with the connection address', trusted: true, headers: CHAIN, forwarded: '203.0.113.9, 198.51.100.2, 127.0.0.1' },
      {
        name: 'trustProxy [127.0.0.1], repeated X-Forwarded-For headers: one chain, in order, extended',
        trusted: true,
        headers: [['X-Forwarded-For', '203.0.113.9'], ['X-Forwarded-For', '198.51.100.2']] as [string, string][],
        forwarded: '203.0.113.9, 198.51.100.2, 127.0.0.1',
      },
      { name: 'trustProxy [127.0.0.1], no chain sent → the connection address', trusted: true, headers: [], forwarded: '127.0.0.1' },
    ])('$name', async ({ trusted, headers, forwarded }) => {
      // Sent byte for byte, so repeated header lines stay repeated.
      const res = await rawRequest((trusted ? trusting : gw).url, { target: '/open/xff', headers });
      expect(res.status).toBe(200);
      expect(up.requests[0]!.headers['x-forwarded-for']).toBe(forwarded);
    });

    it('X-Forwarded-Proto is http on a plain connection, whatever an untrusted caller claims', async () => {
      const res = await fetch(`${gw.url}/open/proto`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(res.status).toBe(200);
      expect(up.requests[0]!.headers['x-forwarded-proto']).toBe('http');
    });

    it('X-Forwarded-Host is the caller’s Host; Host is the upstream’s; a caller’s X-Forwarded-Host is replaced', async () => {
      const res = await rawRequest(gw.url, {
        target: '/open/host',
        headers: [['Host', 'orders.example.com'], ['X-Forwarded-Host', 'evil.example']],
      });
      expect(res.status).toBe(200);
      expect(up.requests[0]!.headers['x-forwarded-host']).toBe('orders.example.com');
      expect(up.requests[0]!.headers.host).toBe(new URL(up.url).host);
    });
  });

  describe('X-Auth-* from the verified token', () => {
    const cases = [
      {
        name: 'sub, client_id and a scope string',
        claims: { sub: 'svc-a', client_id: 'client-a', scope: 'orders:read orders:write' },
        expected: { subject: 'svc-a', clientId: 'client-a', scopes: 'orders:read orders:write' },
      },
      {
        name: 'azp when there is no client_id',
        claims: { sub: 'svc-b', client_id: undefined, azp: 'azp-client', scope: 'orders:read' },
        expected: { subject: 'svc-b', clientId: 'azp-client', scopes: 'orders:read' },
      },
      {
        name: 'client_id wins over azp',
        claims: { sub: 'svc-c', client_id: 'client-c', azp: 'azp-client', scope: 'orders:read' },
        expected: { subject: 'svc-c', clientId: 'client-c', scopes: 'orders:read' },
      },
      {
        name: 'scp array when there is no scope',
        claims: { sub: 'svc-d', client_id: 'client-d', scope: undefined, scp: ['orders:read', 'orders:list'] },
        expected: { subject: 'svc-d', clientId: 'client-d', scopes: 'orders:read orders:list' },
      },
    ];
    it.each(cases)('$name', async ({ claims, expected }) => {
      const t = await issuer.token({ claims });
      const res = await fetch(`${gw.url}/echo/who`, { headers: bearer(t) });
      expect(res.status).toBe(200);
      const headers = up.requests[0]!.headers;
      expect(headers['x-auth-subject']).toBe(expected.subject);
      expect(headers['x-auth-client-id']).toBe(expected.clientId);
      expect(headers['x-auth-scopes']).toBe(expected.scopes);
    });

    it('caller-sent X-Auth-* are removed and replaced on a protected route', async () => {
      const res = await fetch(`${gw.url}/echo/who`, {
        headers: {
          ...bearer(token),
          'x-auth-subject': 'admin',
          'x-auth-client-id': 'root',
          'x-auth-scopes': 'admin:all',
          'x-auth-role': 'superuser',
        },
      });
      expect(res.status).toBe(200);
      const headers = up.requests[0]!.headers;
      expect(headers['x-auth-subject']).toBe('svc-a');
      expect(headers['x-auth-client-id']).toBe('client-a');
      expect(headers['x-auth-scopes']).toBe('orders:read orders:write');
      expect(headers['x-auth-role']).toBeUndefined();
    });

    it('caller-sent X-Auth-* are removed on a public route, and none is set', async () => {
      const res = await fetch(`${gw.url}/open/who`, {
        headers: { 'x-auth-subject': 'admin', 'x-auth-client-id': 'root', 'x-auth-scopes': 'admin:all', 'X-AUTH-ROLE': 'superuser' },
      });
      expect(res.status).toBe(200);
      const headers = up.requests[0]!.headers;
      expect(headers['x-auth-subject']).toBeUndefined();
      expect(headers['x-auth-client-id']).toBeUndefined();
      expect(headers['x-auth-scopes']).toBeUndefined();
      expect(headers['x-auth-role']).toBeUndefined();
    });

    it('underscore spellings (X_Auth_Subject, X_Forwarded_For) that CGI-style servers read as dashes are removed', async () => {
      const res = await fetch(`${gw.url}/open/who`, {
        headers: { x_auth_subject: 'root', X_Auth_Scopes: 'admin:all', x_forwarded_for: '10.9.9.9', x_request_id: 'spoof' },
      });
      expect(res.status).toBe(200);
      const headers = up.requests[0]!.headers;
      expect(headers.x_auth_subject).toBeUndefined();
      expect(headers.x_auth_scopes).toBeUndefined();
      expect(headers.x_forwarded_for).toBeUndefined();
      expect(headers.x_request_id).toBeUndefined();
      expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    });

    it('method and path override headers are removed (the upstream routes on what the gateway checked)', async () => {
      const res = await fetch(`${gw.url}/open/who`, {
        headers: {
          'x-http-method-override': 'DELETE',
          'x-http-method': 'DELETE',
          'x-method-override': 'DELETE',
          'x-original-url': '/admin',
          'x-rewrite-url': '/admin',
          'x-custom': 'kept',
        },
      });
      expect(res.status).toBe(200);
      const headers = up.requests[0]!.headers;
      for (const name of ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url']) {
        expect(headers[name]).toBeUndefined();
      }
      expect(headers['x-custom']).toBe('kept');
    });
  });

  describe('hop-by-hop request headers', () => {
    it('Connection and what it names, Keep-Alive, TE, Trailer, Upgrade, Proxy-* are removed; their neighbours stay', async () => {
      const res = await rawRequest(gw.url, {
        target: '/open/hop',
        headers: [
          ['Connection', 'close, X-Custom, x-second'],
          ['X-Custom', 'hop'],
          ['X-Second', 'hop'],
          ['X-Kept', 'end-to-end'],
          ['Keep-Alive', 'timeout=5, max=100'],
          ...HOP_BY_HOP_LINES,
        ],
      });
      expect(res.status).toBe(200);
      const headers = up.requests[0]!.headers;
      expect(headers['x-custom']).toBeUndefined();
      expect(headers['x-second']).toBeUndefined();
      expect(headers['keep-alive']).toBeUndefined();
      expect(headers['te']).toBeUndefined();
      expect(headers['trailer']).toBeUndefined();
      expect(headers['upgrade']).toBeUndefined();
      expect(headers['proxy-authorization']).toBeUndefined();
      expect(headers['proxy-connection']).toBeUndefined();
      expect(headers['connection']).toBe('keep-alive'); // the gateway's own hop to the upstream
      expect(headers['x-kept']).toBe('end-to-end');
    });

    it('other headers as sent: custom, repeated, cookies, content-type', async () => {
      const res = await rawRequest(gw.url, {
        method: 'POST',
        target: '/open/other',
        headers: [
          ['X-Custom', 'value with spaces'],
          ['X-Multi', 'a'],
          ['X-Multi', 'b'],
          ['Cookie', 'a=1'],
          ['Cookie', 'b=2'],
          ['Accept-Language', 'de-CH, en;q=0.5'],
          ['Content-Type', 'application/json; charset=utf-8'],
          ['Content-Length', '2'],
        ],
        body: '{}',
      });
      expect(res.status).toBe(200);
      const headers = up.requests[0]!.headers;
      expect(headers['x-custom']).toBe('value with spaces');
      expect(headers['x-multi']).toBe('a, b');
      expect(headers['cookie']).toBe('a=1; b=2');
      expect(headers['accept-language']).toBe('de-CH, en;q=0.5');
      expect(headers['content-type']).toBe('application/json; charset=utf-8');
      expect(headers['content-length']).toBe('2');
      expect(up.requests[0]!.body.toString()).toBe('{}');
    });
  });
});

describe('the upstream’s answer reaches the caller unchanged', () => {
  const answers = [
    { status: 201, contentType: 'text/plain; charset=utf-8', body: 'created' },
    { status: 404, contentType: 'application/json', body: '{"error":"no such order"}' },
    { status: 500, contentType: 'text/html', body: '<h1>boom</h1>' },
    { status: 400, contentType: 'application/problem+json', body: '{"title":"upstream says no"}' },
  ];
  it.each(answers)('$status $contentType: status, body, content-type and headers as the upstream sent them', async ({ status, contentType, body }) => {
    up.handle((_req, res) => {
      res.writeHead(status, {
        'content-type': contentType,
        'x-upstream': 'orders-v2',
        'cache-control': 'private, max-age=10',
        'set-cookie': ['a=1; Path=/', 'b=2; HttpOnly'],
      });
      res.end(body);
    });
    const res = await rawRequest(gw.url, { target: '/open/answer', headers: [['X-Request-Id', 'answer-1']] });
    expect(res.status).toBe(status);
    expect(res.body.toString('utf8')).toBe(body);
    expect(res.headers['content-type']).toBe(contentType);
    expect(res.headers['x-upstream']).toBe('orders-v2');
    expect(res.headers['cache-control']).toBe('private, max-age=10');
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(res.headers['x-request-id']).toBe('answer-1');
    expect(up.requests).toHaveLength(1);
  });

  it('hop-by-hop response headers are removed (Connection and what it names, Keep-Alive, Proxy-*, Trailer, Upgrade)', async () => {
    up.handle((_req, res) => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'connection': 'keep-alive, X-Upstream-Hop',
        'x-upstream-hop': 'internal',
        'keep-alive': 'timeout=99',
        'proxy-authenticate': 'Basic realm="upstream"',
        'proxy-connection': 'keep-alive',
        'upgrade': 'h2c',
        'trailer': 'X-Sum',
        'x-kept': 'yes',
      });
      res.addTrailers({ 'x-sum': 'abc' });
      res.end('body');
    });
    const res = await rawRequest(gw.url, { target: '/open/hop-response' });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('body');
    expect(res.headers['x-kept']).toBe('yes');
    expect(res.headers['x-upstream-hop']).toBeUndefined();
    expect(res.headers['proxy-authenticate']).toBeUndefined();
    expect(res.headers['proxy-connection']).toBeUndefined();
    expect(res.headers['upgrade']).toBeUndefined();
    expect(res.headers['trailer']).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=99');
    expect(res.headers['connection']).toBe('close'); // the gateway's own, for this raw caller's Connection: close
  });

  it('a streamed answer is streamed: the first chunk reaches the caller before the upstream ends', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    up.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      void released.then(() => res.end('data: second\n\n'));
    });
    const res = await fetch(`${gw.url}/open/stream`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const first = await reader.read();
    expect(decoder.decode(first.value)).toBe('data: first\n\n');
    release();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += decoder.decode(chunk.value);
    expect(rest).toBe('data: second\n\n');
  }, 5_000);
});

describe('upstream failures', () => {
  it('positive control: the same kind of request to a healthy upstream → 200', async () => {
    const res = await fetch(`${gw.url}/slow/ok`);
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
  });

  it('upstream refuses the connection → 502 upstream_unreachable', async () => {
    const res = await fetch(`${gw.url}/dead/1`);
    await expectProblem(res, { status: 502, code: 'upstream_unreachable' });
  });

  it('upstream resets the connection before answering → 502 upstream_unreachable', async () => {
    up.handle((_req, res) => {
      res.socket?.destroy();
    });
    const res = await fetch(`${gw.url}/open/reset`);
    await expectProblem(res, { status: 502, code: 'upstream_unreachable' });
    expect(up.requests).toHaveLength(1);
  });

  it('upstream slower than timeoutMs (200 ms) → 504 upstream_timeout', async () => {
    const held: (() => void)[] = [];
    up.handle((_req, res) => {
      held.push(() => res.end());
    });
    const started = performance.now();
    const res = await fetch(`${gw.url}/slow/wait`);
    const elapsed = performance.now() - started;
    await expectProblem(res, { status: 504, code: 'upstream_timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(up.requests).toHaveLength(1);
    for (const end of held) end();
  });
});

describe('timeoutMs is the upstream response-header timeout', () => {
  // Real timers: the timeout is what is tested.
  it('an upstream answering after 2× timeoutMs (400 ms on a 200 ms route) → 504 upstream_timeout', async () => {
    const timers: NodeJS.Timeout[] = [];
    up.handle((_req, res) => {
      timers.push(setTimeout(() => res.end('late'), 400));
    });
    const res = await fetch(`${gw.url}/slow/late`);
    await expectProblem(res, { status: 504, code: 'upstream_timeout' });
    timers.forEach(clearTimeout);
  });

  it('once the headers are in, a pause in the body longer than timeoutMs does not cut the answer', async () => {
    const timers: NodeJS.Timeout[] = [];
    up.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('head-');
      timers.push(setTimeout(() => res.end('tail'), 1_200));
    });
    const res = await fetch(`${gw.url}/slow/stream`);
    expect(res.status).toBe(200);
    await expect(res.text()).resolves.toBe('head-tail');
    timers.forEach(clearTimeout);
  });
});

describe('every gateway response carries X-Request-Id', () => {
  const cases = [
    { name: '200 (upstream answer)', path: '/open/1', status: 200 },
    { name: '401 (no token)', path: '/echo/1', status: 401 },
    { name: '404 (no route)', path: '/nowhere', status: 404 },
    { name: '502 (upstream refused)', path: '/dead/1', status: 502 },
    { name: '400 (bad path)', path: '/open/%2e%2e/x', status: 400 },
  ];
  it.each(cases)('$name: the caller’s sane id echoed', async ({ path, status }) => {
    const res = await rawRequest(gw.url, { target: path, headers: [['X-Request-Id', 'trace-42']] });
    expect(res.status).toBe(status);
    expect(res.headers['x-request-id']).toBe('trace-42');
    if (status !== 200) expect(JSON.parse(res.body.toString()).requestId).toBe('trace-42');
  });

  it.each(cases)('$name: a UUID when the caller sent none', async ({ path, status }) => {
    const res = await rawRequest(gw.url, { target: path });
    expect(res.status).toBe(status);
    expect(res.headers['x-request-id']).toMatch(UUID);
    if (status !== 200) expect(JSON.parse(res.body.toString()).requestId).toBe(res.headers['x-request-id']);
  });
});

describe('requests Node’s HTTP parser refuses are still answered as gateway errors', () => {
  // CONTRACT: errors are problem+json and every response carries X-Request-Id; these never
  // reach a handler, so only a clientErrorHandler can answer them that way.
  const refused: { name: string; target: string; headers: [string, string][]; status: number }[] = [
    { name: 'a raw non-ASCII byte in the target', target: '/open/adm\u00ecn', headers: [], status: 400 },
    { name: 'a header name with a space', target: '/open/1', headers: [['Bad Header', 'v']], status: 400 },
    { name: 'two different Content-Length headers', target: '/open/1', headers: [['Content-Length', '1'], ['Content-Length', '2']], status: 400 },
    { name: 'Content-Length and Transfer-Encoding together', target: '/open/1', headers: [['Content-Length', '5'], ['Transfer-Encoding', 'chunked']], status: 400 },
    { name: 'headers over 16 KiB', target: '/open/1', headers: [['X-Big', 'a'.repeat(20_000)]], status: 431 },
  ];

  it.each(refused)('$name → $status application/problem+json with an X-Request-Id, upstream not reached', async ({ target, headers, status }) => {
    const res = await rawRequest(gw.url, { method: 'POST', target, headers: [...headers, ['X-Request-Id', 'parser-1']] });
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers['x-request-id']).toMatch(/^(parser-1|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/);
    expect(up.requests).toHaveLength(0);
  });

  it('positive control: the same POST, well-formed → 200 from the upstream', async () => {
    const res = await rawRequest(gw.url, { method: 'POST', target: '/open/1', headers: [['Content-Length', '1']], body: 'x' });
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
  });
});

/** Waits for a condition the test cannot await directly (a request arriving at an upstream). */
async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
