// The HTTP side of a TestIssuer: discovery and JWKS routes, request counters, JWKS outages, socket tracking, close.
// Imports nothing else from src/ (STYLE §1): only jose types, node built-ins and modules beside it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { JWK } from 'jose';
import type { JwksOutage, TestIssuerOptions } from './issuer-options.js';

/**
 * What the routes serve, read on every request: the JWKS document and the algorithms listed in discovery.
 *
 * @example
 * ```ts
 * server.serve({ jwks: () => keys.jwksDocument(issuer.jwksOptions), algorithms: () => keys.algorithms() });
 * ```
 */
export interface IssuerContent {
  jwks(): { keys: JWK[] };
  algorithms(): string[];
}

/**
 * An HTTP server on a random port serving `GET <base>/.well-known/openid-configuration`,
 * `GET /.well-known/oauth-authorization-server<base>` (RFC 8414 §3.1) and `GET <base>/jwks`.
 * Nothing is answered until {@link IssuerServer.serve} is called.
 *
 * @example
 * ```ts
 * const server = await IssuerServer.listen({ host: '127.0.0.1', issuerPath: '/realms/test', discovery: 'both' });
 * server.serve({ jwks: () => ({ keys: [] }), algorithms: () => ['RS256'] });
 * server.jwksUri; // 'http://127.0.0.1:<port>/realms/test/jwks'
 * await server.close();
 * ```
 */
export class IssuerServer {
  /** `http://<host>:<port><issuerPath>`. */
  readonly issuer: string;
  /** `http://<host>:<port>`, no trailing `/`. */
  readonly origin: string;
  /** `<issuer without trailing />/jwks`. */
  readonly jwksUri: string;
  readonly port: number;

  readonly #server: Server;
  readonly #sockets: Set<Socket>;
  readonly #discovery: NonNullable<TestIssuerOptions['discovery']>;
  /** `issuerPath` without a trailing `/`, and the paths served under it. */
  readonly #paths: { base: string; openid: string; oauth: string; jwks: string };
  #jwksOutage: JwksOutage | undefined;
  #counters = { jwks: 0, discovery: 0 };
  #closing: Promise<void> | undefined;

  private constructor(
    server: Server,
    sockets: Set<Socket>,
    options: Pick<Required<TestIssuerOptions>, 'host' | 'issuerPath' | 'discovery'>,
  ) {
    this.#server = server;
    this.#sockets = sockets;
    this.#discovery = options.discovery;
    this.port = (server.address() as AddressInfo).port;
    this.origin = `http://${urlHost(options.host)}:${this.port}`;
    this.issuer = `${this.origin}${options.issuerPath}`;
    const base = options.issuerPath.replace(/\/$/, '');
    this.#paths = {
      base,
      openid: `${base}/.well-known/openid-configuration`,
      // RFC 8414 §3.1: the well-known segment goes between host and path
      oauth: `/.well-known/oauth-authorization-server${base}`,
      jwks: `${base}/jwks`,
    };
    this.jwksUri = `${this.origin}${this.#paths.jwks}`;
  }

  /** Listens on a random port of `host`, tracking every socket so close() leaves no handle open. */
  static async listen(
    options: Pick<Required<TestIssuerOptions>, 'host' | 'issuerPath' | 'discovery'>,
  ): Promise<IssuerServer> {
    const sockets = new Set<Socket>();
    const server = createServer();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new IssuerServer(server, sockets, options);
  }

  /** Starts answering requests from `content`. */
  serve(content: IssuerContent): void {
    this.#server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res, content));
  }

  /** `'error'` answers 503, `'hang'` never answers, `undefined` serves the JWKS again. */
  setJwksOutage(mode: JwksOutage | undefined): void {
    this.#jwksOutage = mode;
  }

  /** A frozen snapshot of the request counters. */
  get requests(): Readonly<{ jwks: number; discovery: number }> {
    return Object.freeze({ ...this.#counters });
  }

  resetCounters(): void {
    this.#counters = { jwks: 0, discovery: 0 };
  }

  /** Stops listening and destroys every open socket; safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve, reject) => {
      this.#server.close((err) => (err ? reject(err) : resolve()));
      for (const socket of this.#sockets) socket.destroy();
    });
    return this.#closing;
  }

  #handle(req: IncomingMessage, res: ServerResponse, content: IssuerContent): void {
    const path = new URL(req.url ?? '/', this.origin).pathname;
    const isDiscovery = path === this.#paths.openid || path === this.#paths.oauth;
    const isJwks = path === this.#paths.jwks;
    if (isDiscovery) this.#counters.discovery++;
    if (isJwks) this.#counters.jwks++;
    const served =
      isJwks ||
      (path === this.#paths.openid && (this.#discovery === 'openid' || this.#discovery === 'both')) ||
      (path === this.#paths.oauth && (this.#discovery === 'oauth' || this.#discovery === 'both'));
    if (!served) return sendJson(res, 404, { error: 'not_found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
    }
    if (isJwks) return this.#serveJwks(res, content);
    sendJson(res, 200, this.#metadata(content));
  }

  #serveJwks(res: ServerResponse, content: IssuerContent): void {
    if (this.#jwksOutage === 'hang') return; // never answered; close() destroys the socket
    if (this.#jwksOutage === 'error') {
      return sendJson(res, 503, { error: 'temporarily_unavailable' }, { 'retry-after': '1' });
    }
    sendJson(res, 200, content.jwks());
  }

  // OIDC Discovery 1.0 §3 required fields (RFC 8414 §2 is a subset); token and authorize endpoints are placeholders:
  // TestIssuer issues tokens only through token(), so those paths answer 404.
  #metadata(content: IssuerContent): Record<string, unknown> {
    const base = `${this.origin}${this.#paths.base}`;
    return {
      issuer: this.issuer,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      jwks_uri: this.jwksUri,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      grant_types_supported: ['authorization_code', 'client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      id_token_signing_alg_values_supported: content.algorithms(),
    };
  }
}

// A URL needs brackets round IPv6; a wildcard listen address is reached through loopback.
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
