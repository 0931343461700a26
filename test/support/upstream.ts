import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

export type UpstreamHandler = (request: RecordedRequest, response: ServerResponse) => void;

export interface TestUpstream {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Replaces the default answer (200 JSON echo of method and url). */
  handle(handler: UpstreamHandler | undefined): void;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 that records what the gateway forwards. */
export async function startUpstream(): Promise<TestUpstream> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let handler: UpstreamHandler | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
      };
      requests.push(recorded);
      if (handler) return handler(recorded, res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: recorded.method, url: recorded.url }));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    handle(next) {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A handler answering 200 `{"url": …}` after `ms`: a request that stays in flight for a while. */
export function answerAfter(ms: number): UpstreamHandler {
  return (request, response) => {
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ url: request.url }));
    }, ms);
  };
}
