// A byte-exact HTTP/1.1 client: one connection per case, the bytes written exactly as given
// (whole or in pieces), every answer on the connection read back (pipelining), and a deadline,
// so a hang is a finding rather than a stuck test. fetch and http.request would normalise or
// refuse most of what the fuzzer sends.
import { connect } from 'node:net';

export interface WireResponse {
  readonly status: number;
  /** Lower-case names; a repeated header is an array in arrival order. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: Buffer;
}

export interface WireOutcome {
  /** Final answers in arrival order (1xx interim answers are skipped). */
  readonly responses: WireResponse[];
  /** How the exchange ended: the server closed, we closed an idle connection after every answer, or the deadline passed. */
  readonly end: 'closed' | 'idle' | 'timeout' | 'refused';
  /** Bytes after the last complete answer that did not form one (a cut answer, garbage). */
  readonly leftoverBytes: number;
  readonly elapsedMs: number;
}

export interface WireOptions {
  /** The whole exchange must end by then; otherwise `end: 'timeout'`. */
  readonly timeoutMs: number;
  /** How many answers make the exchange complete: after them, an idle connection is closed by us. */
  readonly expectedAnswers: number;
  /** For answer i: true when its request was HEAD (no body follows the head). */
  readonly headAt?: (index: number) => boolean;
  /** Written one after the other, `pauseMs` apart (incremental parsing); default one write. */
  readonly pieces?: readonly Buffer[];
  readonly pauseMs?: number;
  /** Idle time after the expected answers before we close; default 150 ms. */
  readonly idleMs?: number;
}

/** Sends `bytes` on a fresh connection and collects every answer until close, idle or deadline. */
export function exchangeWire(baseUrl: string, bytes: Buffer, options: WireOptions): Promise<WireOutcome> {
  const url = new URL(baseUrl);
  const started = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    let idleTimer: NodeJS.Timeout | undefined;
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const finish = (end: WireOutcome['end']) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      clearTimeout(idleTimer);
      socket.destroy();
      const { responses, consumed } = parseResponses(Buffer.concat(chunks), options.headAt ?? (() => false));
      resolve({ responses, end, leftoverBytes: Buffer.concat(chunks).length - consumed, elapsedMs: Date.now() - started });
    };
    const deadline = setTimeout(() => finish('timeout'), options.timeoutMs);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') finish('refused');
    });
    socket.on('close', () => finish('closed'));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(idleTimer);
      const { responses } = parseResponses(Buffer.concat(chunks), options.headAt ?? (() => false));
      if (responses.length >= options.expectedAnswers) idleTimer = setTimeout(() => finish('idle'), options.idleMs ?? 150);
    });
    socket.on('connect', () => {
      const pieces = options.pieces ?? [bytes];
      let i = 0;
      const writeNext = () => {
        if (done || socket.destroyed) return;
        const piece = pieces[i++];
        if (piece === undefined) return;
        socket.write(piece);
        if (i < pieces.length) setTimeout(writeNext, options.pauseMs ?? 1);
      };
      writeNext();
    });
  });
}

/** Every complete answer in `bytes`; an answer without a length ends at the end of `bytes`. */
export function parseResponses(bytes: Buffer, headAt: (index: number) => boolean): { responses: WireResponse[]; consumed: number } {
  const responses: WireResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = bytes.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const [statusLine, ...lines] = bytes.subarray(at, headEnd).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
    if (!match) break;
    const status = Number(match[1]);
    const headers: Record<string, string | string[]> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      const seen = headers[name];
      headers[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
    }
    let next = headEnd + 4;
    if (status >= 100 && status < 200) {
      at = next;
      continue;
    }
    let body: Buffer = Buffer.alloc(0);
    const noBody = headAt(responses.length) || status === 204 || status === 304;
    const te = String(headers['transfer-encoding'] ?? '').toLowerCase();
    if (!noBody && te.includes('chunked')) {
      const decoded = dechunk(bytes, next);
      if (decoded === undefined) break;
      body = decoded.body;
      next = decoded.end;
    } else if (!noBody && headers['content-length'] !== undefined) {
      const length = Number(Array.isArray(headers['content-length']) ? headers['content-length'][0] : headers['content-length']);
      if (bytes.length < next + length) break;
      body = bytes.subarray(next, next + length);
      next += length;
    } else if (!noBody) {
      body = bytes.subarray(next);
      next = bytes.length;
    }
    responses.push({ status, headers, body });
    at = next;
  }
  return { responses, consumed: at };
}

function dechunk(data: Buffer, start: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) {
      const trailerEnd = data.indexOf('\r\n\r\n', lineEnd);
      if (trailerEnd === lineEnd) return { body: Buffer.concat(parts), end: lineEnd + 4 };
      const plainEnd = data.indexOf('\r\n', lineEnd + 2);
      if (plainEnd === lineEnd + 2) return { body: Buffer.concat(parts), end: lineEnd + 4 };
      return trailerEnd === -1 ? undefined : { body: Buffer.concat(parts), end: trailerEnd + 4 };
    }
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
