// Self-test of test/support/oauth-server.ts, the authorization server the client-credentials
// tests rely on: if it hands out the wrong kind of token, or miscounts, those tests prove nothing.
// Plain fetch against the token endpoint, no gateway.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { decodeProtectedHeader, importPKCS8, SignJWT } from 'jose';
import { startOAuthServer, type OAuthServer } from './support/oauth-server.js';

let as: OAuthServer;
beforeAll(async () => {
  as = await startOAuthServer({ accessTokenTtlSeconds: 120 });
});
afterAll(() => as?.close());
beforeEach(() => {
  as.bringUp();
  as.tokenRequests.length = 0;
});

/** RFC 6749 §2.3.1: id and secret form-urlencoded, then joined and base64-encoded. */
function basicHeader(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** An RFC 7523 client assertion with a fresh jti. */
async function clientAssertion(): Promise<string> {
  const { clientId, privateKeyFile, keyId } = as.clients.privateKeyJwt;
  const key = await importPKCS8(await readFile(privateKeyFile, 'utf8'), 'RS256');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: keyId })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(as.tokenUrl)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(key);
}

function tokenRequest(params: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(as.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...params }),
  });
}

const methods: { name: string; clientId: () => string; send: (params: Record<string, string>) => Promise<Response> }[] = [
  {
    name: 'client_secret_basic',
    clientId: () => as.clients.basic.clientId,
    send: (params) => tokenRequest(params, { authorization: basicHeader(as.clients.basic.clientId, as.clients.basic.clientSecret) }),
  },
  {
    name: 'client_secret_post',
    clientId: () => as.clients.post.clientId,
    send: (params) => tokenRequest({ ...params, client_id: as.clients.post.clientId, client_secret: as.clients.post.clientSecret }),
  },
  {
    name: 'private_key_jwt',
    clientId: () => as.clients.privateKeyJwt.clientId,
    send: async (params) =>
      tokenRequest({
        ...params,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await clientAssertion(),
      }),
  },
];

describe('each client authentication method', () => {
  it.each(methods)('$name → a JWT access token for the resource, its own client_id', async ({ clientId, send }) => {
    const res = await send({ scope: as.scope, resource: as.resource });
    const body = (await res.json()) as Record<string, unknown>;
    expect({ status: res.status, body }).toEqual({
      status: 200,
      body: { access_token: expect.any(String), token_type: 'Bearer', expires_in: 120, scope: as.scope },
    });
    const token = body.access_token as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    const claims = await as.verifyAccessToken(token);
    expect(claims).toMatchObject({ iss: as.issuer, aud: as.resource, client_id: clientId(), sub: clientId(), scope: as.scope });
    expect((claims.exp as number) - (claims.iat as number)).toBe(120);
    expect(as.tokenRequests).toEqual([{ method: 'POST', clientId: clientId(), grantType: 'client_credentials', status: 200 }]);
  });

  it('without resource the token is opaque, which verifyAccessToken refuses (the known trap)', async () => {
    const res = await methods[1].send({ scope: as.scope, audience: as.resource });
    expect(res.status).toBe(200);
    const { access_token: token } = (await res.json()) as { access_token: string };
    expect(token.split('.')).toHaveLength(1);
    await expect(as.verifyAccessToken(token)).rejects.toMatchObject({ code: 'ERR_JWS_INVALID' });
  });

  it('audience and resource together (what the gateway sends) → a JWT for the resource', async () => {
    const res = await methods[0].send({ scope: as.scope, audience: as.resource, resource: as.resource });
    expect(res.status).toBe(200);
    const { access_token: token } = (await res.json()) as { access_token: string };
    expect(await as.verifyAccessToken(token)).toMatchObject({ aud: as.resource, client_id: as.clients.basic.clientId });
  });

  it('deniedScope → 400 invalid_scope', async () => {
    const res = await methods[0].send({ scope: as.deniedScope, resource: as.resource });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_scope' });
  });

  it('an unknown resource → 400 invalid_target', async () => {
    const res = await methods[1].send({ scope: as.scope, resource: 'https://elsewhere.internal' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_target' });
  });
});

describe('client authentication failures', () => {
  it('client_secret_post with a wrong secret → 401 invalid_client', async () => {
    const res = await tokenRequest({ scope: as.scope, resource: as.resource, client_id: as.clients.post.clientId, client_secret: 'wrong' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    expect(as.tokenRequests).toEqual([{ method: 'POST', clientId: as.clients.post.clientId, grantType: 'client_credentials', status: 401 }]);
  });

  it('client_secret_basic without form-urlencoding the secret (the §2.3.1 trap) → 401 invalid_client', async () => {
    const { clientId, clientSecret } = as.clients.basic;
    expect(clientSecret).toMatch(/\+.*%.*:/);
    const raw = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
    const res = await tokenRequest({ scope: as.scope, resource: as.resource }, { authorization: raw });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(as.tokenRequests).toEqual([{ method: 'POST', clientId, grantType: 'client_credentials', status: 401 }]);
  });

  it('a reused private_key_jwt assertion (same jti) → 401 invalid_client', async () => {
    const assertion = await clientAssertion();
    const params = {
      scope: as.scope,
      resource: as.resource,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    };
    expect((await tokenRequest(params)).status).toBe(200);
    const replay = await tokenRequest(params);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'invalid_client' });
    expect(as.tokenRequests.map((r) => [r.clientId, r.status])).toEqual([
      [as.clients.privateKeyJwt.clientId, 200],
      [as.clients.privateKeyJwt.clientId, 401],
    ]);
  });
});

describe('outages', () => {
  it("takeDown('error') → 503 until bringUp(), then 200; every request counted", async () => {
    as.takeDown('error');
    const down = await methods[0].send({ scope: as.scope, resource: as.resource });
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ error: 'temporarily_unavailable' });
    as.bringUp();
    const up = await methods[0].send({ scope: as.scope, resource: as.resource });
    expect(up.status).toBe(200);
    await up.body?.cancel();
    expect(as.tokenRequests).toEqual([
      { method: 'POST', clientId: as.clients.basic.clientId, grantType: 'client_credentials', status: 503 },
      { method: 'POST', clientId: as.clients.basic.clientId, grantType: 'client_credentials', status: 200 },
    ]);
  });

  it("takeDown('reset') → the connection is reset (fetch rejects), recorded with status 0", async () => {
    as.takeDown('reset');
    await expect(methods[2].send({ scope: as.scope, resource: as.resource })).rejects.toThrow('fetch failed');
    expect(as.tokenRequests).toEqual([
      { method: 'POST', clientId: as.clients.privateKeyJwt.clientId, grantType: 'client_credentials', status: 0 },
    ]);
    as.bringUp();
    const up = await methods[2].send({ scope: as.scope, resource: as.resource });
    expect(up.status).toBe(200);
    await up.body?.cancel();
  });

  it('requests to other endpoints are not counted (discovery, JWKS)', async () => {
    const discovery = (await (await fetch(`${as.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({ issuer: as.issuer, token_endpoint: as.tokenUrl, jwks_uri: as.jwksUri });
    const jwks = (await (await fetch(as.jwksUri)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String) })]);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect(as.tokenRequests).toHaveLength(0);
  });
});
