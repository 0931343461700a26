import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Headers the echo shows back: what the gateway added, never the Authorization it forwarded. */
const SHOWN = ['x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-auth-subject', 'x-auth-client-id', 'x-auth-scopes'];

/** The demo route's upstream: answers with what it received, on 127.0.0.1 only. */
export async function startEchoUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const headers = Object.fromEntries(SHOWN.filter((name) => req.headers[name] !== undefined).map((name) => [name, req.headers[name]]));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ upstream: 'dev-echo', method: req.method, path: req.url, headers }, null, 2) + '\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
