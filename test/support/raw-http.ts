// Requests written byte for byte over node:net, for what fetch and http.request would
// normalise or refuse: `..` segments, backslashes, repeated headers, hop-by-hop headers,
// chunked bodies sent in pieces. The answer is parsed just enough for assertions.
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** Lower-case names; a repeated header is an array in arrival order. */
  readonly headers: Record<string, string | string[]>;
  /** Name/value pairs as received. */
  readonly rawHeaders: readonly [string, string][];
  /** Decoded from chunked transfer coding when the answer used it. */
  readonly body: Buffer;
}

/** What came back on a connection: a parsed answer, or how the connection ended without one. */
export type RawOutcome = { readonly kind: 'response'; readonly response: RawResponse } | { readonly kind: 'cut'; readonly bytes: number };

export interface RawRequestOptions {
  readonly method?: string;
  /** Sent exactly as given: no encoding, no dot-segment removal. */
  readonly target: string;
  /** Written in this order, repeats allowed. `Host` and `Connection: close` are added unless given. */
  readonly headers?: readonly [string, string][];
  /** A body sent as is after the head (set Content-Length or Transfer-Encoding yourself). */
  readonly body?: Buffer | string;
  /** The method has no body in the answer (HEAD). */
  readonly noResponseBody?: boolean;
}

function hostOf(baseUrl: string): { host: string; port: number } {
  const url = new URL(baseUrl);
  return { host: url.hostname, port: Number(url.port) };
}

/** The request head, CRLF-terminated. */
export function requestHead(baseUrl: string, options: RawRequestOptions): string {
  const { host, port } = hostOf(baseUrl);
  const headers = [...(options.headers ?? [])];
  if (!headers.some(([name]) => name.toLowerCase() === 'host')) headers.unshift(['Host', `${host}:${port}`]);
  if (!headers.some(([name]) => name.toLowerCase() === 'connection')) headers.push(['Connection', 'close']);
  const lines = [`${options.method ?? 'GET'} ${options.target} HTTP/1.1`, ...headers.map(([n, v]) => `${n}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Opens a connection to the gateway; resolves once connected. */
export function openRaw(baseUrl: string): Promise<Socket> {
  const { host, port } = hostOf(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Everything the socket sends until it closes (a reset counts as a close). */
export function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** Parses one HTTP/1.1 answer; undefined when `bytes` holds no complete head. */
export function parseResponse(bytes: Buffer, noBody = false): RawResponse | undefined {
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const [statusLine, ...lines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (!match) return undefined;
  const rawHeaders: [string, string][] = lines.map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of rawHeaders) {
    const key = name.toLowerCase();
    const seen = headers[key];
    headers[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  const rest = bytes.subarray(headEnd + 4);
  const chunked = String(headers['transfer-encoding'] ?? '').toLowerCase() === 'chunked';
  const body = noBody ? Buffer.alloc(0) : chunked ? dechunk(rest) : rest;
  return { status: Number(match[1]), headers, rawHeaders, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** Sends one request on a new connection (closed by the server after its answer) and parses the answer. */
export async function rawExchange(baseUrl: string, options: RawRequestOptions): Promise<RawOutcome> {
  const socket = await openRaw(baseUrl);
  const received = readAll(socket);
  socket.write(requestHead(baseUrl, options));
  if (options.body !== undefined) socket.write(options.body);
  const bytes = await received;
  const response = parseResponse(bytes, options.noResponseBody ?? options.method === 'HEAD');
  return response ? { kind: 'response', response } : { kind: 'cut', bytes: bytes.length };
}

/** Like rawExchange, but a connection cut without an answer fails the test. */
export async function rawRequest(baseUrl: string, options: RawRequestOptions): Promise<RawResponse> {
  const outcome = await rawExchange(baseUrl, options);
  if (outcome.kind !== 'response') throw new Error(`no HTTP answer to ${options.method ?? 'GET'} ${options.target} (${outcome.bytes} bytes)`);
  return outcome.response;
}

/** A fetch Response with the same status, headers and body, for helpers such as expectProblem. */
export function asFetchResponse(response: RawResponse): Response {
  const headers = new Headers();
  for (const [name, value] of response.rawHeaders) headers.append(name, value);
  const nullBody = response.status === 204 || response.status === 304;
  return new Response(nullBody ? null : new Uint8Array(response.body), { status: response.status, headers });
}
