import { verify } from 'node:crypto';
import { createRemoteJWKSet, compactVerify, decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { TEST_KEY_ALGORITHMS, TestIssuer, type TestIssuerOptions } from './index.js';

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

function decodeSegment(token: string, index: 0 | 1): string {
  return Buffer.from(token.split('.')[index]!, 'base64url').toString('utf8');
}

async function getJson(url: string): Promise<{ status: number; contentType: string | null; body: any }> {
  const res = await fetch(url);
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.json() };
}

describe('TestIssuer', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await TestIssuer.start();
  });
  afterAll(() => issuer.close());

  describe('endpoints', () => {
    it('serves OIDC discovery under the issuer by default, and no RFC 8414 document', async () => {
      expect(issuer.issuer).toBe(`http://127.0.0.1:${issuer.port}`);
      expect(issuer.jwksUri).toBe(`http://127.0.0.1:${issuer.port}/jwks`);
      const openid = await getJson(`${issuer.issuer}/.well-known/openid-configuration`);
      expect(openid.status).toBe(200);
      expect(openid.contentType).toBe('application/json');
      expect(openid.body).toMatchObject({
        issuer: issuer.issuer,
        jwks_uri: issuer.jwksUri,
        token_endpoint: `${issuer.issuer}/token`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256', 'EdDSA'],
      });
      expect((await fetch(`${issuer.origin}/.well-known/oauth-authorization-server`)).status).toBe(404);
    });

    it.each<{ discovery: TestIssuerOptions['discovery']; openid: number; oauth: number }>([
      { discovery: 'openid', openid: 200, oauth: 404 },
      { discovery: 'oauth', openid: 404, oauth: 200 },
      { discovery: 'both', openid: 200, oauth: 200 },
      { discovery: 'none', openid: 404, oauth: 404 },
    ])('discovery $discovery with an issuerPath: openid $openid, RFC 8414 $oauth', async (row) => {
      const { discovery, openid, oauth } = row;
      const other = await TestIssuer.start({ discovery, issuerPath: '/realms/test', algorithms: ['ES256'] });
      try {
        expect(other.issuer).toBe(`http://127.0.0.1:${other.port}/realms/test`);
        expect(other.jwksUri).toBe(`${other.issuer}/jwks`);
        const openidRes = await getJson(`${other.issuer}/.well-known/openid-configuration`);
        // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path
        const oauthRes = await getJson(`${other.origin}/.well-known/oauth-authorization-server/realms/test`);
        expect([openidRes.status, oauthRes.status]).toEqual([openid, oauth]);
        for (const served of [openidRes, oauthRes].filter((res) => res.status === 200)) {
          expect(served.body).toMatchObject({ issuer: other.issuer, jwks_uri: other.jwksUri });
        }
        expect(other.requests.discovery).toBe(2);
      } finally {
        await other.close();
      }
    });

    it('keeps a trailing slash in the issuer but not in the endpoint paths', async () => {
      const other = await TestIssuer.start({ issuerPath: '/tenant/', algorithms: ['ES256'] });
      try {
        expect(other.issuer).toBe(`${other.origin}/tenant/`);
        expect(other.jwksUri).toBe(`${other.origin}/tenant/jwks`);
        const openid = await getJson(`${other.origin}/tenant/.well-known/openid-configuration`);
        expect(openid.body.issuer).toBe(`${other.origin}/tenant/`);
      } finally {
        await other.close();
      }
    });

    it('lists public keys only, each with kty, kid, use and alg', async () => {
      const jwks = await getJson(issuer.jwksUri);
      expect(jwks.status).toBe(200);
      expect(jwks.contentType).toBe('application/json');
      expect(jwks.body.keys.map((key: any) => [key.kid, key.alg, key.use])).toEqual(
        issuer.keys().map(({ kid, alg }) => [kid, alg, 'sig']),
      );
      for (const key of jwks.body.keys) {
        expect(key.kid).toMatch(/^[A-Za-z0-9_-]{16}$/);
        expect(['RSA', 'EC', 'OKP']).toContain(key.kty);
        for (const member of PRIVATE_JWK_MEMBERS) expect(key[member]).toBeUndefined();
      }
    });

    it('answers other paths 404 and other methods 405', async () => {
      expect((await fetch(`${issuer.origin}/token`, { method: 'POST' })).status).toBe(404);
      const post = await fetch(issuer.jwksUri, { method: 'POST' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
    });
  });

  describe('token()', () => {
    let all: TestIssuer;
    beforeAll(async () => {
      all = await TestIssuer.start({ algorithms: [...TEST_KEY_ALGORITHMS] });
    });
    afterAll(() => all.close());

    it.each(TEST_KEY_ALGORITHMS)('%s token verifies via the remote JWKS, default header and claims', async (alg) => {
      const token = await all.token({ alg });
      const before = Math.floor(Date.now() / 1000);
      const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(all.jwksUri)), {
        issuer: all.issuer,
        audience: 'api://gateway-test',
        algorithms: [alg],
      });
      const kid = all.keys().find((key) => key.alg === alg)!.kid;
      expect(protectedHeader).toEqual({ alg, kid, typ: 'JWT' });
      expect(payload).toEqual({
        iss: all.issuer,
        aud: 'api://gateway-test',
        sub: 'test-subject',
        client_id: 'test-client',
        scope: '',
        iat: expect.any(Number),
        exp: payload.iat! + 300,
        jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(Math.abs(payload.iat! - before)).toBeLessThanOrEqual(1);
    });

    it('uses the first algorithm by default', async () => {
      expect(decodeProtectedHeader(await issuer.token()).alg).toBe('RS256');
    });

    it('merges claim and header overrides, and undefined removes a default', async () => {
      const token = await issuer.token({
        alg: 'ES256',
        claims: { scope: 'orders:read', sub: undefined, client_id: undefined, azp: 'partner', aud: ['a', 'b'] },
        header: { typ: 'at+jwt', kid: undefined, x5u: 'http://evil.example/x5u' },
        expiresInSeconds: 60,
      });
      expect(JSON.parse(decodeSegment(token, 0))).toEqual({
        alg: 'ES256',
        typ: 'at+jwt',
        x5u: 'http://evil.example/x5u',
      });
      const payload = JSON.parse(decodeSegment(token, 1));
      expect(payload).toEqual({
        iss: issuer.issuer,
        aud: ['a', 'b'],
        scope: 'orders:read',
        azp: 'partner',
        iat: expect.any(Number),
        exp: payload.iat + 60,
        jti: expect.any(String),
      });
      expect(payload.sub).toBeUndefined();
      expect(payload.client_id).toBeUndefined();
    });

    it('sends the kid option in the header but signs with the chosen key', async () => {
      const token = await issuer.token({ alg: 'EdDSA', kid: 'not-in-the-jwks' });
      expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', kid: 'not-in-the-jwks', typ: 'JWT' });
      const edKid = issuer.keys().find((key) => key.alg === 'EdDSA')!.kid;
      const { payload } = await compactVerify(token, await importSPKI(issuer.publicKeyPem(edKid), 'EdDSA'));
      expect(JSON.parse(Buffer.from(payload).toString()).sub).toBe('test-subject');
    });

    it('mints an already expired token with a negative expiresInSeconds', async () => {
      const token = await issuer.token({ expiresInSeconds: -60 });
      await expect(jwtVerify(token, createRemoteJWKSet(new URL(issuer.jwksUri)))).rejects.toMatchObject({
        code: 'ERR_JWT_EXPIRED',
      });
    });

    it('refuses an algorithm it has no key for', async () => {
      await expect(issuer.token({ alg: 'PS512' })).rejects.toThrow(
        "TestIssuer has no PS512 key; list it in algorithms or call rotate('PS512')",
      );
    });
  });

  describe('sign()', () => {
    it('keeps a string payload verbatim, duplicate member names included', async () => {
      const payload = `{"iss":"${issuer.issuer}","sub":"alice","sub":"admin"}`;
      const token = await issuer.sign({ typ: 'JWT' }, payload, 'ES256');
      expect(decodeSegment(token, 1)).toBe(payload);
      const esKid = issuer.keys().find((key) => key.alg === 'ES256')!.kid;
      expect(JSON.parse(decodeSegment(token, 0))).toEqual({ alg: 'ES256', kid: esKid, typ: 'JWT' });
      const verified = await compactVerify(token, await importSPKI(issuer.publicKeyPem(esKid), 'ES256'));
      expect(Buffer.from(verified.payload).toString()).toBe(payload);
    });

    it('keeps a string header verbatim and signs a header jose would refuse (crit)', async () => {
      const header = '{"alg":"RS256","alg":"none","crit":["exp"]}';
      const token = await issuer.sign(header, { iss: issuer.issuer });
      expect(decodeSegment(token, 0)).toBe(header);
      const objectHeader = await issuer.sign({ crit: ['b64'], b64: true, kid: undefined }, { sub: 'x' });
      expect(JSON.parse(decodeSegment(objectHeader, 0))).toEqual({ alg: 'RS256', crit: ['b64'], b64: true });
    });

    it('picks the key by alg argument, then header kid, then header alg, and signs with that key', async () => {
      const [rsa, es, ed] = issuer.keys();
      const byArgument = await issuer.sign({ alg: 'RS256' }, { sub: 'x' }, 'ES256');
      expect(decodeProtectedHeader(byArgument)).toEqual({ alg: 'RS256', kid: es!.kid });
      const [headerSegment, payloadSegment, signature] = byArgument.split('.');
      const signedWithEs256 = verify(
        'sha256',
        Buffer.from(`${headerSegment}.${payloadSegment}`),
        { key: issuer.publicKeyPem(es!.kid), dsaEncoding: 'ieee-p1363' },
        Buffer.from(signature!, 'base64url'),
      );
      expect(signedWithEs256).toBe(true);
      const byKid = await issuer.sign({ kid: ed!.kid }, { sub: 'x' });
      expect(decodeProtectedHeader(byKid)).toEqual({ alg: 'EdDSA', kid: ed!.kid });
      const edKey = await importSPKI(issuer.publicKeyPem(ed!.kid), 'EdDSA');
      await expect(compactVerify(byKid, edKey)).resolves.toBeDefined();
      const byAlg = await issuer.sign({ alg: 'ES256' }, { sub: 'x' });
      expect(decodeProtectedHeader(byAlg)).toEqual({ alg: 'ES256', kid: es!.kid });
      expect(decodeProtectedHeader(await issuer.sign({}, { sub: 'x' }))).toEqual({ alg: 'RS256', kid: rsa!.kid });
    });
  });

  describe('keys', () => {
    it('rotate adds a key that token() then uses; the old one stays published', async () => {
      const other = await TestIssuer.start({ algorithms: ['RS256'] });
      try {
        const [old] = other.keys();
        const oldToken = await other.token();
        const { kid } = await other.rotate();
        expect(other.keys()).toEqual([old, { kid, alg: 'RS256' }]);
        const newToken = await other.token();
        expect(decodeProtectedHeader(newToken).kid).toBe(kid);
        const jwks = createRemoteJWKSet(new URL(other.jwksUri));
        await expect(jwtVerify(newToken, jwks)).resolves.toBeDefined();
        await expect(jwtVerify(oldToken, jwks)).resolves.toBeDefined();
      } finally {
        await other.close();
      }
    });

    it('rotate with retirePrevious removes the older keys of that algorithm only', async () => {
      const other = await TestIssuer.start({ algorithms: ['ES256', 'RS256'] });
      try {
        const [es, rsa] = other.keys();
        const oldToken = await other.token();
        const { kid } = await other.rotate('ES256', { retirePrevious: true });
        expect(other.keys()).toEqual([rsa, { kid, alg: 'ES256' }]);
        expect((await getJson(other.jwksUri)).body.keys.map((key: any) => key.kid)).toEqual([rsa!.kid, kid]);
        await expect(jwtVerify(oldToken, createRemoteJWKSet(new URL(other.jwksUri)))).rejects.toMatchObject({
          code: 'ERR_JWKS_NO_MATCHING_KEY',
        });
        expect(() => other.publicJwk(es!.kid)).toThrow(`TestIssuer has no key with kid "${es!.kid}"`);
      } finally {
        await other.close();
      }
    });

    it('rotate can add an algorithm the issuer did not start with', async () => {
      const other = await TestIssuer.start({ algorithms: ['ES256'] });
      try {
        const { kid } = await other.rotate('PS384');
        expect(decodeProtectedHeader(await other.token({ alg: 'PS384' }))).toEqual({ alg: 'PS384', kid, typ: 'JWT' });
      } finally {
        await other.close();
      }
    });

    it('removeKey unpublishes a key; an unknown kid throws', async () => {
      const other = await TestIssuer.start({ algorithms: ['ES256', 'EdDSA'] });
      try {
        const [es, ed] = other.keys();
        other.removeKey(es!.kid);
        expect(other.keys()).toEqual([ed]);
        expect((await getJson(other.jwksUri)).body.keys.map((key: any) => key.kid)).toEqual([ed!.kid]);
        await expect(other.token()).rejects.toThrow('TestIssuer has no ES256 key');
        expect(() => other.removeKey(es!.kid)).toThrow(`TestIssuer has no key with kid "${es!.kid}"`);
      } finally {
        await other.close();
      }
    });

    it('publicJwk has kid, alg and use but no private member; publicKeyPem is SPKI', async () => {
      const [rsa] = issuer.keys();
      const jwk = issuer.publicJwk(rsa!.kid);
      expect(jwk).toMatchObject({ kty: 'RSA', kid: rsa!.kid, alg: 'RS256', use: 'sig', e: 'AQAB' });
      for (const member of PRIVATE_JWK_MEMBERS) expect((jwk as Record<string, unknown>)[member]).toBeUndefined();
      jwk.kid = 'mutated';
      expect(issuer.publicJwk(rsa!.kid).kid).toBe(rsa!.kid);
      const pem = issuer.publicKeyPem(rsa!.kid);
      expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n?$/);
    });

    it('jwksOptions: omitAlg and omitUse shape the next JWKS; kidLength applies to new keys', async () => {
      const other = await TestIssuer.start({ algorithms: ['ES256'], jwksOptions: { kidLength: 40 } });
      try {
        expect(other.keys()[0]!.kid).toHaveLength(40);
        other.jwksOptions.kidLength = 80;
        const { kid } = await other.rotate();
        expect(kid).toMatch(/^[A-Za-z0-9_-]{80}$/);
        other.jwksOptions = { omitAlg: true, omitUse: true };
        const keys = (await getJson(other.jwksUri)).body.keys;
        expect(keys).toHaveLength(2);
        for (const key of keys) {
          expect(key.alg).toBeUndefined();
          expect(key.use).toBeUndefined();
          expect(key).toMatchObject({ kty: 'EC', crv: 'P-256' });
        }
        await expect(jwtVerify(await other.token(), createRemoteJWKSet(new URL(other.jwksUri)))).resolves.toBeDefined();
      } finally {
        await other.close();
      }
    });
  });

  describe('outages and counters', () => {
    it("takeJwksDown('error') answers 503 while discovery stays up; bringJwksUp restores 200", async () => {
      issuer.takeJwksDown('error');
      const down = await fetch(issuer.jwksUri);
      expect(down.status).toBe(503);
      await down.body?.cancel();
      expect((await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).status).toBe(200);
      issuer.bringJwksUp();
      expect((await getJson(issuer.jwksUri)).status).toBe(200);
    });

    it("takeJwksDown('hang') never answers, and close() still resolves", async () => {
      const other = await TestIssuer.start({ algorithms: ['ES256'] });
      other.takeJwksDown('hang');
      const hanging = fetch(other.jwksUri, { signal: AbortSignal.timeout(300) });
      await expect(hanging).rejects.toMatchObject({ name: 'TimeoutError' });
      const stillHanging = fetch(other.jwksUri).catch((error: unknown) => error);
      await waitFor(() => other.requests.jwks === 2);
      await expect(other.close()).resolves.toBeUndefined();
      // the socket of the never-answered request was destroyed, so the client sees a network error
      // (matched by name: Jest's VM realm has its own TypeError)
      expect(await stillHanging).toMatchObject({ name: 'TypeError', message: 'fetch failed' });
      await expect(other.close()).resolves.toBeUndefined();
    });

    it('counts JWKS and discovery requests, answered or not, until resetCounters', async () => {
      const other = await TestIssuer.start({ algorithms: ['ES256'], discovery: 'openid' });
      try {
        await getJson(other.jwksUri);
        other.takeJwksDown();
        await (await fetch(other.jwksUri)).body?.cancel();
        await getJson(`${other.issuer}/.well-known/openid-configuration`);
        await getJson(`${other.origin}/.well-known/oauth-authorization-server`); // not served, still counted
        await getJson(`${other.origin}/unrelated`);
        expect(other.requests).toEqual({ jwks: 2, discovery: 2 });
        other.resetCounters();
        expect(other.requests).toEqual({ jwks: 0, discovery: 0 });
      } finally {
        await other.close();
      }
    });
  });

  describe('options', () => {
    it.each<[string, TestIssuerOptions, string]>([
      ['HS256', { algorithms: ['HS256' as never] }, 'unsupported algorithm HS256'],
      ['relative issuerPath', { issuerPath: 'realms' }, "issuerPath must be '' or start with '/'"],
      ['issuerPath with a query', { issuerPath: '/a?b' }, "issuerPath must be '' or start with '/'"],
      ['unknown discovery', { discovery: 'oidc' as never }, 'discovery must be one of openid, oauth, both, none'],
      ['empty audience', { audience: '' }, 'audience must be a non-empty string'],
      ['kidLength 0', { jwksOptions: { kidLength: 0 } }, 'kid length must be an integer from 1 to 1024'],
    ])('%s is refused before listening', async (_name, options, message) => {
      await expect(TestIssuer.start(options)).rejects.toThrow(message);
    });

    it('with algorithms: [] serves an empty JWKS and token() needs an alg', async () => {
      const other = await TestIssuer.start({ algorithms: [] });
      try {
        expect((await getJson(other.jwksUri)).body).toEqual({ keys: [] });
        await expect(other.token()).rejects.toThrow('TestIssuer was started with algorithms: []; pass an alg');
      } finally {
        await other.close();
      }
    });
  });
});

// Polls a condition the server side sets (a request arrived); bounded so a bug fails instead of hanging.
async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
