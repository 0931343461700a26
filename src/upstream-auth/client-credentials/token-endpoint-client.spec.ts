import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { pino } from 'pino';
import type { ClientConfig } from '../../config/gateway-config.js';
import { createAssertionSigner } from './client-assertion.js';
import { loadPrivateKey } from './private-key.js';
import { ServiceTokenProvider } from './service-token-provider.js';
import { ServiceTokenError } from './service-token.js';
import { requestServiceToken } from './token-endpoint-client.js';

interface TokenRequest {
  readonly headers: IncomingHttpHeaders;
  readonly form: URLSearchParams;
}
type Handler = (request: TokenRequest, response: ServerResponse) => void;

const grant = (fields: Record<string, unknown> = {}): Handler => (_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, ...fields }));
};

/** A real token endpoint on 127.0.0.1 that records every request it gets. */
async function startTokenEndpoint() {
  const requests: TokenRequest[] = [];
  const sockets = new Set<Socket>();
  let handler: Handler = grant();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded = { headers: req.headers, form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) };
      requests.push(recorded);
      handler(recorded, res);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    tokenUrl: `http://127.0.0.1:${port}/oauth/token`,
    requests,
    handle(next: Handler) {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** RFC 6749 §2.3.1 read the way a server does: base64 → split at the first ':' → form-urldecode each. */
function decodeBasic(authorization: string | undefined) {
  expect(authorization).toMatch(/^Basic [A-Za-z0-9+/]+=*$/);
  const decoded = Buffer.from(authorization!.slice('Basic '.length), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const formDecode = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
  return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
}

const SECRET = 'p+ss%20w:rd é/=';
const now = () => Date.now();
const silent = pino({ level: 'silent' });

let endpoint: Awaited<ReturnType<typeof startTokenEndpoint>>;
beforeEach(async () => {
  endpoint = await startTokenEndpoint();
});
afterEach(() => endpoint.close());

const basicClient = (extra: Partial<ClientConfig> = {}): ClientConfig => ({
  tokenUrl: endpoint.tokenUrl,
  clientId: 'gateway:orders one',
  clientSecret: SECRET,
  authMethod: 'client_secret_basic',
  ...extra,
});

/** The rejection of a token request, for assertions on all its fields. */
async function failureOf(promise: Promise<unknown>): Promise<ServiceTokenError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ServiceTokenError);
  return error as ServiceTokenError;
}

describe('requestServiceToken: client authentication', () => {
  it('client_secret_basic: id and secret form-urlencoded before base64 (+ % : é survive)', async () => {
    const result = await requestServiceToken('orders', basicClient(), { now });
    expect(result).toEqual({ accessToken: 'at-1', expiresInSeconds: 3600 });
    const [request] = endpoint.requests;
    expect(decodeBasic(request!.headers.authorization)).toEqual({ clientId: 'gateway:orders one', clientSecret: SECRET });
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.headers.accept).toBe('application/json');
    expect([...request!.form.keys()]).toEqual(['grant_type']);
    expect(request!.form.get('grant_type')).toBe('client_credentials');
  });

  it('client_secret_post: client_id and client_secret in the body, no Authorization', async () => {
    await requestServiceToken('orders', basicClient({ authMethod: 'client_secret_post' }), { now });
    const [request] = endpoint.requests;
    expect(request!.headers.authorization).toBeUndefined();
    expect(request!.form.get('client_id')).toBe('gateway:orders one');
    expect(request!.form.get('client_secret')).toBe(SECRET);
    expect(request!.form.get('grant_type')).toBe('client_credentials');
  });

  it('private_key_jwt: an RFC 7523 assertion the public key verifies, a fresh jti each time', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signAssertion = createAssertionSigner({ key: privateKey, alg: 'ES256' }, 'key-1');
    const client: ClientConfig = { tokenUrl: endpoint.tokenUrl, clientId: 'gateway', authMethod: 'private_key_jwt', keyId: 'key-1' };
    await requestServiceToken('orders', client, { now, signAssertion });
    await requestServiceToken('orders', client, { now, signAssertion });
    const claims = [];
    for (const { headers, form } of endpoint.requests) {
      expect(headers.authorization).toBeUndefined();
      expect(form.get('client_id')).toBe('gateway');
      expect(form.get('client_secret')).toBeNull();
      expect(form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      const assertion = form.get('client_assertion')!;
      const { payload, protectedHeader } = await jwtVerify(assertion, publicKey, {
        issuer: 'gateway',
        subject: 'gateway',
        audience: endpoint.tokenUrl,
      });
      expect(protectedHeader).toEqual({ alg: 'ES256', kid: 'key-1' });
      expect(payload.exp! - payload.iat!).toBe(60);
      expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(5);
      expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
      claims.push(payload);
    }
    expect(claims[0]!.jti).not.toBe(claims[1]!.jti);
  });

  it('private_key_jwt without a loaded key: not retryable, no request', async () => {
    const client: ClientConfig = { tokenUrl: endpoint.tokenUrl, clientId: 'gateway', authMethod: 'private_key_jwt' };
    const error = await failureOf(requestServiceToken('orders', client, { now }));
    expect(error).toMatchObject({ client: 'orders', retryable: false });
    expect(endpoint.requests).toHaveLength(0);
  });
});

describe('requestServiceToken: request parameters', () => {
  it('sends scope, audience and resource (RFC 8707)', async () => {
    await requestServiceToken('orders', basicClient({ scope: 'orders.read orders.write', audience: 'https://orders.internal' }), { now });
    const { form } = endpoint.requests[0]!;
    expect(form.get('scope')).toBe('orders.read orders.write');
    expect(form.get('audience')).toBe('https://orders.internal');
    expect(form.getAll('resource')).toEqual(['https://orders.internal']);
  });

  it('an audience that is not an absolute URI goes as audience only (a resource must be one)', async () => {
    await requestServiceToken('orders', basicClient({ audience: 'orders-api' }), { now });
    const { form } = endpoint.requests[0]!;
    expect(form.get('audience')).toBe('orders-api');
    expect(form.has('resource')).toBe(false);
    expect(form.has('scope')).toBe(false);
  });
});

describe('requestServiceToken: responses', () => {
  it.each([
    { name: 'lower-case bearer', fields: { token_type: 'bearer' }, expected: { accessToken: 'at-1', expiresInSeconds: 3600 } },
    { name: 'no token_type', fields: { token_type: undefined }, expected: { accessToken: 'at-1', expiresInSeconds: 3600 } },
    { name: 'expires_in as digits', fields: { expires_in: '120' }, expected: { accessToken: 'at-1', expiresInSeconds: 120 } },
    { name: 'no expires_in', fields: { expires_in: undefined }, expected: { accessToken: 'at-1' } },
    { name: 'expires_in 0', fields: { expires_in: 0 }, expected: { accessToken: 'at-1' } },
    { name: 'negative expires_in', fields: { expires_in: -5 }, expected: { accessToken: 'at-1' } },
    { name: 'expires_in "1h"', fields: { expires_in: '1h' }, expected: { accessToken: 'at-1' } },
    { name: 'expires_in null', fields: { expires_in: null }, expected: { accessToken: 'at-1' } },
  ])('200 with $name', async ({ fields, expected }) => {
    endpoint.handle(grant(fields));
    await expect(requestServiceToken('orders', basicClient(), { now })).resolves.toEqual(expected);
  });

  const raw = (status: number, body: string, headers: Record<string, string> = {}): Handler => (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(body);
  };

  it.each([
    { name: '500', handler: raw(500, '{"error":"server_error"}'), retryable: true, message: 'client orders: token endpoint answered HTTP 500' },
    { name: '503', handler: raw(503, 'down'), retryable: true, message: 'client orders: token endpoint answered HTTP 503' },
    { name: '429', handler: raw(429, '{}'), retryable: true, message: 'client orders: token endpoint answered HTTP 429' },
    { name: '200 with invalid JSON', handler: raw(200, '{"access_token":'), retryable: true, message: 'client orders: token endpoint answered 200 with a body that is not JSON' },
    { name: '200 without access_token', handler: grant({ access_token: undefined }), retryable: true, message: 'client orders: token endpoint answered 200 without a usable access_token' },
    { name: '200 with an access_token holding CR LF', handler: grant({ access_token: 'a\r\nx-injected: 1' }), retryable: true, message: 'client orders: token endpoint answered 200 without a usable access_token' },
    { name: '200 with token_type DPoP', handler: grant({ token_type: 'DPoP' }), retryable: false, message: 'client orders: token endpoint issued a token whose token_type is not Bearer' },
    { name: '400 invalid_scope', handler: raw(400, '{"error":"invalid_scope","error_description":"nope"}'), retryable: false, oauthError: 'invalid_scope', message: 'client orders: token endpoint refused the request: HTTP 400 invalid_scope' },
    { name: '400 with an odd error code', handler: raw(400, '{"error":"Bad <b>Thing</b>"}'), retryable: false, message: 'client orders: token endpoint refused the request: HTTP 400' },
    { name: '403 with an HTML body', handler: raw(403, '<html>forbidden</html>'), retryable: false, message: 'client orders: token endpoint refused the request: HTTP 403' },
    { name: '302 (not followed)', handler: raw(302, '', { location: '/elsewhere' }), retryable: false, message: 'client orders: token endpoint answered HTTP 302 (redirects are not followed)' },
  ])('$name → ServiceTokenError, retryable $retryable', async ({ handler, retryable, oauthError, message }) => {
    endpoint.handle(handler);
    const error = await failureOf(requestServiceToken('orders', basicClient(), { now }));
    expect(error).toMatchObject({ client: 'orders', retryable, message });
    expect(error.oauthError).toBe(oauthError);
    expect(endpoint.requests).toHaveLength(1); // one request: no retry here, no redirect followed
  });

  it('401 invalid_client with WWW-Authenticate: Basic → not retryable; nothing of the secret or the header in the error', async () => {
    endpoint.handle(raw(401, '{"error":"invalid_client","error_description":"client authentication failed"}', {
      'www-authenticate': 'Basic realm="idp"',
    }));
    const error = await failureOf(requestServiceToken('orders', basicClient(), { now }));
    expect(error).toMatchObject({
      client: 'orders',
      retryable: false,
      oauthError: 'invalid_client',
      message: 'client orders: token endpoint refused the request: HTTP 401 invalid_client',
    });
    const everything = JSON.stringify({ ...error, message: error.message, stack: error.stack });
    for (const secretPart of [SECRET, encodeURIComponent(SECRET), 'p+ss', 'realm', 'Basic', 'authentication failed']) {
      expect(everything).not.toContain(secretPart);
    }
  });

  it('a 200 body larger than 64 KiB → retryable error', async () => {
    endpoint.handle(grant({ padding: 'x'.repeat(70 * 1024) }));
    const error = await failureOf(requestServiceToken('orders', basicClient(), { now }));
    expect(error).toMatchObject({ retryable: true, message: 'client orders: token endpoint answered 200 but the response is larger than 65536 bytes' });
  });

  it('an endpoint that never answers → retryable time-out at the deadline', async () => {
    endpoint.handle(() => undefined);
    const started = Date.now();
    const error = await failureOf(requestServiceToken('orders', basicClient(), { now, timeoutMs: 200 }));
    expect(error).toMatchObject({ retryable: true, message: 'client orders: token request failed (timed out after 200 ms)' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('an endpoint that stalls in the middle of the body → retryable time-out', async () => {
    endpoint.handle((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"access_token":"at-1",');
    });
    const error = await failureOf(requestServiceToken('orders', basicClient(), { now, timeoutMs: 200 }));
    expect(error).toMatchObject({ retryable: true, message: 'client orders: token endpoint answered 200 but the response did not complete within 200 ms' });
  });

  it('connection refused → retryable, with the error code', async () => {
    const url = endpoint.tokenUrl;
    await endpoint.close();
    const error = await failureOf(requestServiceToken('orders', basicClient({ tokenUrl: url }), { now }));
    expect(error).toMatchObject({ retryable: true, message: 'client orders: token request failed (ECONNREFUSED)' });
  });
});

describe('ServiceTokenProvider against a real token endpoint', () => {
  const timing = { now, random: () => 0.5, sleep: async () => undefined, log: silent };

  it('100 concurrent getToken() → one token request, one token for all', async () => {
    endpoint.handle((request, response) => setTimeout(() => grant()(request, response), 20));
    const provider = new ServiceTokenProvider({ orders: basicClient() }, timing);
    const tokens = await Promise.all(Array.from({ length: 100 }, () => provider.getToken('orders')));
    expect(new Set(tokens)).toEqual(new Set(['at-1']));
    expect(endpoint.requests).toHaveLength(1);
    await provider.getToken('orders');
    expect(endpoint.requests).toHaveLength(1);
  });

  it('500 → three attempts, then a retryable error', async () => {
    endpoint.handle((_request, response) => {
      response.writeHead(500);
      response.end();
    });
    const provider = new ServiceTokenProvider({ orders: basicClient() }, timing);
    await expect(provider.getToken('orders')).rejects.toMatchObject({ retryable: true, message: 'client orders: token endpoint answered HTTP 500' });
    expect(endpoint.requests).toHaveLength(3);
  });

  it('401 invalid_client → one attempt, not retryable, no secret in the error', async () => {
    endpoint.handle((_request, response) => {
      response.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="idp"' });
      response.end('{"error":"invalid_client"}');
    });
    const provider = new ServiceTokenProvider({ orders: basicClient() }, timing);
    const error = await failureOf(provider.getToken('orders'));
    expect(error).toMatchObject({ retryable: false, oauthError: 'invalid_client' });
    expect(error.message).not.toContain(SECRET);
    expect(endpoint.requests).toHaveLength(1);
  });

  it('private_key_jwt from a key file read at construction: each token request has a new assertion', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provider-key-'));
    try {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const path = join(dir, 'key.json');
      writeFileSync(path, JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid: 'jwk-kid' }));
      const client: ClientConfig = { tokenUrl: endpoint.tokenUrl, clientId: 'gateway', authMethod: 'private_key_jwt', privateKeyFile: path };
      expect(loadPrivateKey(path).kid).toBe('jwk-kid');
      const provider = new ServiceTokenProvider({ orders: client }, timing);
      rmSync(path); // read once, at construction
      await provider.getToken('orders');
      provider.invalidate('orders', 'at-1');
      endpoint.handle(grant({ access_token: 'at-2' }));
      await expect(provider.getToken('orders')).resolves.toBe('at-2');
      const assertions = endpoint.requests.map((r) => r.form.get('client_assertion')!);
      expect(assertions).toHaveLength(2);
      for (const assertion of assertions) {
        await jwtVerify(assertion, publicKey, { issuer: 'gateway', subject: 'gateway', audience: endpoint.tokenUrl });
        expect(decodeProtectedHeader(assertion)).toEqual({ alg: 'RS256', kid: 'jwk-kid' });
      }
      expect(decodeJwt(assertions[0]!).jti).not.toBe(decodeJwt(assertions[1]!).jti);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
