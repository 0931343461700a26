// HTTP framing and methods the fuzzer (test/fuzz.e2e-spec.ts) found mishandled (issue #8), as
// regression cases named after the bug: a parse error after a pipelined request that was already
// forwarded, methods Fastify does not route by default, and a request without Host.
import { TestIssuer } from '../src/testing/index.js';
import { printLogOnFailure } from './support/attacks.js';
import { expectProblem } from './support/expect-problem.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { asFetchResponse, openRaw, parseResponse, readAll, type RawResponse } from './support/raw-http.js';
import { answerAfter, startUpstream, type TestUpstream } from './support/upstream.js';

let issuer: TestIssuer;
let upstream: TestUpstream;
let gw: TestGateway;
let token: string;

beforeAll(async () => {
  issuer = await TestIssuer.start({ algorithms: ['RS256'] });
  upstream = await startUpstream();
  gw = await startTestGateway({
    issuers: [issuer],
    routes: [
      { id: 'open', pathPrefix: '/open', upstream: upstream.url, public: true },
      { id: 'any', pathPrefix: '/any', upstream: upstream.url, scopes: ['any:use'] },
      { id: 'listed', pathPrefix: '/listed', methods: ['GET', 'HEAD'], upstream: upstream.url, public: true },
    ],
  });
  token = await issuer.token({ claims: { scope: 'any:use' } });
});
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await issuer?.close();
});
beforeEach(() => {
  upstream.requests.length = 0;
  upstream.handle(undefined);
});
printLogOnFailure(() => [gw]);

/** Writes `bytes` on one connection and returns every answer on it, in order, until the gateway closes it. */
async function exchange(bytes: string): Promise<RawResponse[]> {
  const socket = await openRaw(gw.url);
  const received = readAll(socket);
  socket.write(bytes);
  return splitResponses(await received);
}

/** Answers one after another on a connection (Content-Length or chunked bodies). */
function splitResponses(bytes: Buffer): RawResponse[] {
  const answers: RawResponse[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const head = parseResponse(rest, true);
    if (head === undefined) break;
    const bodyStart = rest.indexOf('\r\n\r\n') + 4;
    const bodyEnd = head.headers['transfer-encoding'] === 'chunked' ? chunkedEnd(rest, bodyStart) : bodyStart + Number(head.headers['content-length'] ?? 0);
    answers.push(parseResponse(rest.subarray(0, bodyEnd))!);
    rest = rest.subarray(bodyEnd);
  }
  return answers;
}

/** Where a chunked body that starts at `at` ends (after its last-chunk and final CRLF). */
function chunkedEnd(bytes: Buffer, at: number): number {
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    at = lineEnd + 2 + size + 2;
    if (size === 0 || lineEnd === -1) return at;
  }
}

describe('a parse error after a pipelined request that was already forwarded (found by the fuzzer)', () => {
  it('the forwarded request is answered first (its 200), then the 400 problem; the upstream saw it once', async () => {
    upstream.handle(answerAfter(150));
    const answers = await exchange('GET /open/first HTTP/1.1\r\nHost: h\r\n\r\nxx\r\n\r\n');
    expect(answers.map((a) => a.status)).toEqual([200, 400]);
    expect(JSON.parse(answers[0]!.body.toString('utf8'))).toEqual({ url: '/open/first' });
    await expectProblem(asFetchResponse(answers[1]!), { status: 400, code: 'bad_request', challenge: null });
    expect(upstream.requests.map((r) => r.url)).toEqual(['/open/first']);
  });

  it('two forwarded requests, then an unparsable one: both answers in order, then the 400', async () => {
    upstream.handle(answerAfter(100));
    const answers = await exchange('GET /open/1 HTTP/1.1\r\nHost: h\r\n\r\nGET /open/2 HTTP/1.1\r\nHost: h\r\n\r\nget /x HTTP/1.1\r\n\r\n');
    expect(answers.map((a) => a.status)).toEqual([200, 200, 400]);
    expect(answers.slice(0, 2).map((a) => JSON.parse(a.body.toString('utf8')))).toEqual([{ url: '/open/1' }, { url: '/open/2' }]);
    expect(upstream.requests.map((r) => r.url)).toEqual(['/open/1', '/open/2']);
  });

  it('after a Connection: close request, trailing bytes get no answer: only the real one comes back', async () => {
    upstream.handle(answerAfter(150));
    const answers = await exchange('GET /open/last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nxx\r\n\r\n');
    expect(answers.map((a) => a.status)).toEqual([200]);
    expect(upstream.requests.map((r) => r.url)).toEqual(['/open/last']);
  });

  it('a refused request (401) is answered before the parse error too', async () => {
    const answers = await exchange('GET /any/x HTTP/1.1\r\nHost: h\r\n\r\nTRACK /x HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(answers.map((a) => a.status)).toEqual([401, 400]);
    expect(upstream.requests).toHaveLength(0);
  });

  it('a DELETE pipelined behind a Connection: close request is never forwarded (its answer could never be sent)', async () => {
    upstream.handle(answerAfter(50));
    const answers = await exchange(
      'GET /open/first HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nDELETE /open/second HTTP/1.1\r\nHost: h\r\n\r\n',
    );
    expect(answers.map((a) => a.status)).toEqual([200]);
    expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /open/first']);
  });

  it('pipelined requests are handled one at a time, in order: the second reaches the upstream after the first is answered', async () => {
    const events: string[] = [];
    upstream.handle((request, response) => {
      events.push(`arrived ${request.url}`);
      setTimeout(() => {
        events.push(`answered ${request.url}`);
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ url: request.url }));
      }, 100);
    });
    const answers = await exchange('GET /open/1 HTTP/1.1\r\nHost: h\r\n\r\nGET /open/2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(answers.map((a) => JSON.parse(a.body.toString('utf8')))).toEqual([{ url: '/open/1' }, { url: '/open/2' }]);
    expect(events).toEqual(['arrived /open/1', 'answered /open/1', 'arrived /open/2', 'answered /open/2']);
  });

  it('positive control: an unparsable first request → 400 problem at once, upstream not reached', async () => {
    const answers = await exchange('xx\r\n\r\n');
    expect(answers.map((a) => a.status)).toEqual([400]);
    await expectProblem(asFetchResponse(answers[0]!), { status: 400, code: 'bad_request', challenge: null });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('methods beyond the ones Fastify routes by default (found by the fuzzer: 404)', () => {
  const methods = ['PURGE', 'REPORT', 'PROPFIND', 'ACL', 'LINK', 'M-SEARCH', 'SOURCE', 'MKCOL', 'COPY', 'UNLOCK'];

  it.each(methods)('%s on a protected route without methods → 200, the upstream gets that method', async (method) => {
    const [answer] = await exchange(`${method} /any/thing HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    expect(answer?.status).toBe(200);
    expect(upstream.requests.map((r) => `${r.method} ${r.url}`)).toEqual([`${method} /any/thing`]);
  });

  it.each(methods)('%s without a token → 401, upstream not reached', async (method) => {
    const [answer] = await exchange(`${method} /any/thing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);
    expect(answer?.status).toBe(401);
    expect(upstream.requests).toHaveLength(0);
  });

  it.each(methods)('%s on a route listing GET, HEAD → 405 Allow "GET, HEAD"', async (method) => {
    const [answer] = await exchange(`${method} /listed/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);
    await expectProblem(asFetchResponse(answer!), { status: 405, code: 'method_not_allowed', allow: 'GET, HEAD', challenge: null });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('framing headers spelled with _ (found by the fuzzer: smuggling through a CGI-style upstream)', () => {
  it.each([
    ['Transfer_Encoding', 'chunked'],
    ['Content_Length', '5'],
    ['TRANSFER_ENCODING', 'identity, chunked'],
  ])('%s → 400 problem, upstream not reached', async (name, value) => {
    const [answer] = await exchange(`POST /open/x HTTP/1.1\r\nHost: h\r\n${name}: ${value}\r\nConnection: close\r\n\r\n0\r\n\r\n`);
    await expectProblem(asFetchResponse(answer!), { status: 400, code: 'bad_request', challenge: null });
    expect(upstream.requests).toHaveLength(0);
  });

  it('the connection closes after the refusal: bytes after it are never read as another request', async () => {
    const smuggled = 'GET /open/smuggled HTTP/1.1\r\nHost: h\r\n\r\n';
    const answers = await exchange(`POST /open/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer_Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`);
    expect(answers.map((a) => a.status)).toEqual([400]);
    expect(upstream.requests).toHaveLength(0);
  });

  it('positive control: other _ names pass as sent; _ spellings of hop-by-hop headers do not', async () => {
    const [answer] = await exchange('GET /open/x HTTP/1.1\r\nHost: h\r\nX_Custom: 1\r\nKeep_Alive: 5\r\nConnection: close\r\n\r\n');
    expect(answer?.status).toBe(200);
    expect(upstream.requests[0]!.headers['x_custom']).toBe('1');
    expect(upstream.requests[0]!.headers['keep_alive']).toBeUndefined();
  });
});

describe('a broken chunked body on the request being answered (found by the fuzzer: a 504 after timeoutMs)', () => {
  it.each(['-1', 'zz', 'ffffffffffffffffff', '0x5'])('chunk size %s → 400 at once, the upstream request abandoned', async (size) => {
    const started = performance.now();
    const answers = await exchange(`POST /open/chunks HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\nhello\r\n0\r\n\r\n`);
    expect(answers.map((a) => a.status)).toEqual([400]);
    await expectProblem(asFetchResponse(answers[0]!), { status: 400, code: 'bad_request', challenge: null });
    expect(performance.now() - started).toBeLessThan(5_000); // the route's timeoutMs is 10 s: not waited for
  });
});

describe('a request without Host (found by the fuzzer: a bare 400 without problem or X-Request-Id)', () => {
  it('HTTP/1.1 without Host → 400 problem+json with X-Request-Id, upstream not reached', async () => {
    const [answer] = await exchange('GET /open/a HTTP/1.1\r\nConnection: close\r\n\r\n');
    await expectProblem(asFetchResponse(answer!), { status: 400, code: 'bad_request', challenge: null });
    expect(upstream.requests).toHaveLength(0);
  });

  it('positive control: HTTP/1.0 needs no Host → 200', async () => {
    const [answer] = await exchange('GET /open/a HTTP/1.0\r\n\r\n');
    expect(answer?.status).toBe(200);
    expect(upstream.requests.map((r) => r.url)).toEqual(['/open/a']);
  });
});
