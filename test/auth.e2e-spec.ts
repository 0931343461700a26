// How the gateway reads and verifies a caller's token (CONTRACT "What a caller sees",
// "How a token is read"), through the real gateway on a random port, real keys from
// TestIssuer and a recording upstream. Every refusal asserts the exact status, the
// whole WWW-Authenticate value, the problem body and that the upstream got nothing.
import { randomBytes } from 'node:crypto';
import { TestIssuer, type TestKeyAlgorithm } from '../src/testing/index.js';
import {
  b64url,
  hmacToken,
  printLogOnFailure,
  randomKid,
  rawRequest,
  tokenOfLength,
  unsecuredToken,
  validClaims,
} from './support/attacks.js';
import { AUTH_FAILURES } from '../src/auth/auth-failure.js';
import { expectProblem } from './support/expect-problem.js';
import { startTestGateway, type TestGateway, type TestRoute } from './support/gateway.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

// The fixed error_description texts callers see; src/errors/problem-catalog.spec.ts pins
// each of them to the README, so a changed text fails there as well as here.
const DESCRIPTION = AUTH_FAILURES;
type Reason = keyof typeof DESCRIPTION;

const MISSING_TOKEN_CHALLENGE = 'Bearer realm="gateway"';
const ORDERS = '/api/orders/42';
const BOTH = '/api/both/7';
const PUBLIC = '/public/info';
const PASS = '/api/pass/1';
const NONE = '/api/none/1';

let issuer: TestIssuer; // trusted for every asymmetric algorithm
let restricted: TestIssuer; // trusted for RS256 only
let longKids: TestIssuer; // 80-character kids, JWKS without alg and use
let attacker: TestIssuer; // never trusted: its keys sign the forgeries
let attackerServer: TestUpstream; // where jku / x5u point; must never be asked
let upstream: TestUpstream;
let gw: TestGateway;
let gwTyp: TestGateway | undefined; // auth.requireTyp: true, started last (see the requireTyp block)
let routes: TestRoute[];

/** Every token sent to a gateway in this file, for the "never in the logs" check. */
const sentTokens = new Set<string>();
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

beforeAll(async () => {
  issuer = await TestIssuer.start({ algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] });
  cleanups.push(() => issuer.close());
  restricted = await TestIssuer.start({ algorithms: ['RS256', 'ES256'] });
  cleanups.push(() => restricted.close());
  longKids = await TestIssuer.start({
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    jwksOptions: { kidLength: 80, omitAlg: true, omitUse: true },
  });
  cleanups.push(() => longKids.close());
  attacker = await TestIssuer.start({ algorithms: ['RS256'] });
  cleanups.push(() => attacker.close());
  attackerServer = await startUpstream();
  cleanups.push(() => attackerServer.close());
  upstream = await startUpstream();
  cleanups.push(() => upstream.close());

  routes = [
    { id: 'orders', pathPrefix: '/api/orders', upstream: upstream.url, scopes: ['orders:read'] },
    { id: 'both', pathPrefix: '/api/both', upstream: upstream.url, scopes: ['orders:read', 'orders:write'] },
    { id: 'public', pathPrefix: '/public', upstream: upstream.url, public: true },
    { id: 'pass', pathPrefix: '/api/pass', upstream: upstream.url, upstreamAuth: { type: 'passthrough' as const } },
    { id: 'none', pathPrefix: '/api/none', upstream: upstream.url, upstreamAuth: { type: 'none' as const } },
  ];
  gw = await startTestGateway({
    issuers: [
      issuer,
      { issuer: restricted.issuer, audience: [restricted.audience], algorithms: ['RS256'] },
      longKids,
    ],
    routes,
    auth: { clockToleranceSeconds: 30, jwksRefetchCooldownSeconds: 5 },
  });
  cleanups.push(() => gw.close());
});

beforeEach(() => {
  upstream.requests.length = 0;
  attackerServer.requests.length = 0;
});
printLogOnFailure(() => [gw, gwTyp]);

function kidOf(source: TestIssuer, alg: TestKeyAlgorithm): string {
  const key = source.keys().find((candidate) => candidate.alg === alg);
  if (!key) throw new Error(`no ${alg} key`);
  return key.kid;
}

/** A token the main gateway accepts on ORDERS. */
function goodToken(options: Parameters<TestIssuer['token']>[0] = {}): Promise<string> {
  return issuer.token({ ...options, claims: { scope: 'orders:read', ...options.claims } });
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return validClaims(issuer.issuer, issuer.audience, { scope: 'orders:read', ...extra });
}

function send(path: string, token: string | undefined, headers: Record<string, string> = {}, target: TestGateway = gw): Promise<Response> {
  if (token !== undefined) sentTokens.add(token);
  const authorization: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  return fetch(`${target.url}${path}`, { headers: { ...authorization, ...headers } });
}

async function expectAccepted(res: Response): Promise<void> {
  const text = await res.text();
  expect(`${res.status} ${text}`).toMatch(/^200 /);
  expect(upstream.requests).toHaveLength(1);
}

async function expectInvalidToken(res: Response, reason: Reason, token?: string): Promise<void> {
  const body = await expectProblem(res, {
    status: 401,
    code: 'invalid_token',
    challenge: `Bearer realm="gateway", error="invalid_token", error_description="${DESCRIPTION[reason]}"`,
  });
  if (token !== undefined) expectNoTokenIn(JSON.stringify(body), token);
  expect(upstream.requests).toHaveLength(0);
}

async function expectMissingToken(res: Response): Promise<void> {
  await expectProblem(res, { status: 401, code: 'missing_token', challenge: MISSING_TOKEN_CHALLENGE });
  expect(upstream.requests).toHaveLength(0);
}

async function expectInsufficientScope(res: Response, scopes: string): Promise<void> {
  await expectProblem(res, {
    status: 403,
    code: 'insufficient_scope',
    challenge: `Bearer realm="gateway", error="insufficient_scope", scope="${scopes}"`,
  });
  expect(upstream.requests).toHaveLength(0);
}

/** Neither the token nor its signature (the part that makes it usable) appears in `text`. */
function expectNoTokenIn(text: string, token: string): void {
  expect(text).not.toContain(token);
  const signature = token.split('.')[2];
  if (signature !== undefined && signature.length >= 16) expect(text).not.toContain(signature);
}

interface Attack {
  readonly name: string;
  readonly token: () => Promise<string> | string;
  readonly reason: Reason;
}

describe('algorithms and signatures', () => {
  it.each<TestKeyAlgorithm>(['RS256', 'PS256', 'ES256', 'EdDSA'])(
    'control: %s token from the trusted issuer → 200, upstream hit once',
    async (alg) => {
      await expectAccepted(await send(ORDERS, await goodToken({ alg })));
    },
  );

  const forgeries: Attack[] = [
    { name: 'alg none with an empty signature', reason: 'alg_not_allowed', token: () => unsecuredToken({ alg: 'none', typ: 'JWT' }, claims()) },
    { name: 'alg NONE', reason: 'alg_not_allowed', token: () => unsecuredToken({ alg: 'NONE', typ: 'JWT' }, claims()) },
    { name: 'alg None', reason: 'alg_not_allowed', token: () => unsecuredToken({ alg: 'None', typ: 'JWT' }, claims()) },
    {
      name: 'alg none naming a trusted kid',
      reason: 'alg_not_allowed',
      token: () => unsecuredToken({ alg: 'none', kid: kidOf(issuer, 'RS256') }, claims()),
    },
    {
      name: 'alg none header swapped onto a genuine token, signature kept',
      reason: 'alg_not_allowed',
      token: async () => {
        const [, payload, signature] = (await goodToken()).split('.');
        return `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`;
      },
    },
    {
      name: 'HS256 signed with the issuer RSA public key PEM as HMAC secret',
      reason: 'alg_not_allowed',
      token: () => {
        const kid = kidOf(issuer, 'RS256');
        return hmacToken(issuer.publicKeyPem(kid), { alg: 'HS256', typ: 'JWT', kid }, claims());
      },
    },
    {
      name: 'HS256 with the RSA public key PEM, no kid',
      reason: 'alg_not_allowed',
      token: () => hmacToken(issuer.publicKeyPem(kidOf(issuer, 'RS256')), { alg: 'HS256', typ: 'JWT' }, claims()),
    },
    { name: 'no alg in the header', reason: 'alg_not_allowed', token: () => issuer.sign({ alg: undefined }, claims(), 'RS256') },
    {
      name: 'RS256 header naming the EC key kid (key type mismatch)',
      reason: 'alg_not_allowed',
      token: () => issuer.sign({ alg: 'RS256', kid: kidOf(issuer, 'ES256') }, claims(), 'RS256'),
    },
    {
      name: 'PS256 header naming the RS256 key kid (JWK alg mismatch)',
      reason: 'alg_not_allowed',
      token: () => issuer.sign({ alg: 'PS256', kid: kidOf(issuer, 'RS256') }, claims(), 'PS256'),
    },
    {
      name: 'ES256 header and kid, signed by the RSA key',
      reason: 'bad_signature',
      token: () => issuer.sign({ alg: 'ES256', kid: kidOf(issuer, 'ES256') }, claims(), 'RS256'),
    },
    {
      name: 'signature of another genuine token',
      reason: 'bad_signature',
      token: async () => {
        const [header, payload] = (await goodToken()).split('.');
        const [, , otherSignature] = (await goodToken({ claims: { sub: 'someone-else' } })).split('.');
        return `${header}.${payload}.${otherSignature}`;
      },
    },
    {
      name: 'payload widened after signing (scope orders:write added)',
      reason: 'bad_signature',
      token: async () => {
        const [header, payload, signature] = (await goodToken()).split('.');
        const widened = { ...JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')), scope: 'orders:read orders:write' };
        return `${header}.${b64url(widened)}.${signature}`;
      },
    },
    {
      name: 'RS256 token with the signature stripped',
      reason: 'bad_signature',
      token: async () => (await goodToken()).split('.').slice(0, 2).join('.') + '.',
    },
    { name: 'unknown kid', reason: 'unknown_kid', token: () => goodToken({ kid: randomKid() }) },
    { name: 'kid as a path (../../../dev/null)', reason: 'unknown_kid', token: () => goodToken({ kid: '../../../dev/null' }) },
    { name: 'kid an empty string', reason: 'unknown_kid', token: () => goodToken({ kid: '' }) },
    {
      name: 'no kid while the issuer publishes several keys',
      reason: 'unknown_kid',
      token: () => issuer.sign({ kid: undefined, typ: 'JWT' }, claims(), 'RS256'),
    },
    {
      name: "embedded jwk header with the attacker's own key and kid",
      reason: 'unknown_kid',
      token: () => {
        const kid = kidOf(attacker, 'RS256');
        return attacker.sign({ alg: 'RS256', kid, jwk: attacker.publicJwk(kid) }, claims());
      },
    },
    {
      name: "embedded jwk header with the attacker's own key, no kid",
      reason: 'unknown_kid',
      token: () => attacker.sign({ alg: 'RS256', kid: undefined, jwk: attacker.publicJwk(kidOf(attacker, 'RS256')) }, claims()),
    },
    {
      name: "embedded jwk header with the attacker's key under a trusted kid",
      reason: 'bad_signature',
      token: () => {
        const jwk = { ...attacker.publicJwk(kidOf(attacker, 'RS256')), kid: kidOf(issuer, 'RS256') };
        return attacker.sign({ alg: 'RS256', kid: kidOf(issuer, 'RS256'), jwk }, claims());
      },
    },
    {
      name: 'jku pointing to an attacker server',
      reason: 'unknown_kid',
      token: () => attacker.sign({ alg: 'RS256', kid: kidOf(attacker, 'RS256'), jku: `${attackerServer.url}/jwks` }, claims()),
    },
    {
      name: 'jku pointing to an attacker server, under a trusted kid',
      reason: 'bad_signature',
      token: () => attacker.sign({ alg: 'RS256', kid: kidOf(issuer, 'RS256'), jku: `${attackerServer.url}/jwks` }, claims()),
    },
    {
      name: 'x5u pointing to an attacker server',
      reason: 'unknown_kid',
      token: () => attacker.sign({ alg: 'RS256', kid: kidOf(attacker, 'RS256'), x5u: `${attackerServer.url}/cert.pem` }, claims()),
    },
    {
      name: 'x5c with attacker certificate-like garbage',
      reason: 'unknown_kid',
      token: () =>
        attacker.sign({ alg: 'RS256', kid: kidOf(attacker, 'RS256'), x5c: [randomBytes(600).toString('base64')] }, claims()),
    },
    {
      name: 'x5c with garbage, no kid',
      reason: 'unknown_kid',
      token: () => attacker.sign({ alg: 'RS256', kid: undefined, x5c: [`MII${randomBytes(300).toString('base64')}`] }, claims()),
    },
  ];

  it.each(forgeries)('$name → 401 $reason, upstream and attacker server not reached', async ({ token, reason }) => {
    const forged = await token();
    await expectInvalidToken(await send(ORDERS, forged), reason, forged);
    expect(attackerServer.requests).toHaveLength(0);
  });

  it('control: the restricted issuer RS256 token → 200, upstream hit once', async () => {
    const token = await restricted.token({ alg: 'RS256', claims: { scope: 'orders:read' } });
    await expectAccepted(await send(ORDERS, token));
  });

  it('an ES256 token from an issuer configured with algorithms [RS256] → 401 alg_not_allowed', async () => {
    const token = await restricted.token({ alg: 'ES256', claims: { scope: 'orders:read' } });
    await expectInvalidToken(await send(ORDERS, token), 'alg_not_allowed', token);
  });
});

describe('JWKS without alg and use, 80-character kids', () => {
  it.each<TestKeyAlgorithm>(['RS256', 'ES256', 'EdDSA'])('control: %s token with an 80-character kid → 200', async (alg) => {
    const token = await longKids.token({ alg, claims: { scope: 'orders:read' } });
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')).kid).toHaveLength(80);
    await expectAccepted(await send(ORDERS, token));
  });

  const mismatches: Attack[] = [
    {
      name: 'RS256 header naming the Ed25519 key (no JWK alg to compare)',
      reason: 'alg_not_allowed',
      token: () => longKids.sign({ alg: 'RS256', kid: kidOf(longKids, 'EdDSA') }, validClaims(longKids.issuer, longKids.audience, { scope: 'orders:read' }), 'RS256'),
    },
    {
      name: 'ES256 header naming the RSA key (no JWK alg to compare)',
      reason: 'alg_not_allowed',
      token: () => longKids.sign({ alg: 'ES256', kid: kidOf(longKids, 'RS256') }, validClaims(longKids.issuer, longKids.audience, { scope: 'orders:read' }), 'ES256'),
    },
    {
      name: 'PS256 header naming the RS256 key, signed with RSA-PSS by another key',
      reason: 'bad_signature',
      token: () => issuer.sign({ alg: 'PS256', kid: kidOf(longKids, 'RS256') }, validClaims(longKids.issuer, longKids.audience, { scope: 'orders:read' }), 'PS256'),
    },
  ];
  it.each(mismatches)('$name → 401 $reason, upstream not reached', async ({ token, reason }) => {
    const forged = await token();
    await expectInvalidToken(await send(ORDERS, forged), reason, forged);
  });
});

describe('issuer and audience', () => {
  it('control: the trusted issuer and audience → 200, upstream hit once', async () => {
    await expectAccepted(await send(ORDERS, await goodToken()));
  });

  it.each([
    { name: 'aud as an array containing the accepted one', aud: () => ['api://someone-else', issuer.audience] },
    { name: 'aud as a string', aud: () => issuer.audience },
  ])('control: $name → 200', async ({ aud }) => {
    await expectAccepted(await send(ORDERS, await goodToken({ claims: { aud: aud() } })));
  });

  const wrongIssuer: Attack[] = [
    { name: "the attacker issuer's own token", reason: 'issuer', token: () => attacker.token({ claims: { aud: issuer.audience, scope: 'orders:read' } }) },
    { name: 'iss missing', reason: 'issuer', token: () => goodToken({ claims: { iss: undefined } }) },
    { name: 'iss as an array holding the trusted issuer', reason: 'issuer', token: () => goodToken({ claims: { iss: [issuer.issuer] } }) },
    { name: 'iss with a trailing slash', reason: 'issuer', token: () => goodToken({ claims: { iss: `${issuer.issuer}/` } }) },
    { name: 'iss in upper case', reason: 'issuer', token: () => goodToken({ claims: { iss: issuer.issuer.toUpperCase() } }) },
    { name: 'iss extending the trusted one (prefix match)', reason: 'issuer', token: () => goodToken({ claims: { iss: `${issuer.issuer}/evil` } }) },
    { name: 'iss extending the trusted port', reason: 'issuer', token: () => goodToken({ claims: { iss: `${issuer.issuer}0` } }) },
    { name: 'iss a prefix of the trusted one', reason: 'issuer', token: () => goodToken({ claims: { iss: issuer.issuer.slice(0, -1) } }) },
    { name: 'iss with trailing whitespace', reason: 'issuer', token: () => goodToken({ claims: { iss: `${issuer.issuer} ` } }) },
    {
      name: 'iss of another trusted issuer, signed with this issuer key',
      reason: 'unknown_kid',
      token: () => goodToken({ claims: { iss: restricted.issuer } }),
    },
  ];
  it.each(wrongIssuer)('$name → 401 $reason, upstream not reached, no request to the attacker issuer', async ({ token, reason }) => {
    const forged = await token();
    const before = attacker.requests;
    await expectInvalidToken(await send(ORDERS, forged), reason, forged);
    expect(attacker.requests).toEqual(before);
  });

  const wrongAudience: Attack[] = [
    { name: 'aud of another API', reason: 'audience', token: () => goodToken({ claims: { aud: 'api://billing' } }) },
    { name: 'aud missing', reason: 'audience', token: () => goodToken({ claims: { aud: undefined } }) },
    { name: 'aud an empty array', reason: 'audience', token: () => goodToken({ claims: { aud: [] } }) },
    { name: 'aud array without the accepted one', reason: 'audience', token: () => goodToken({ claims: { aud: ['api://billing', 'api://x'] } }) },
    { name: 'aud with a trailing slash', reason: 'audience', token: () => goodToken({ claims: { aud: `${issuer.audience}/` } }) },
    { name: 'aud in upper case', reason: 'audience', token: () => goodToken({ claims: { aud: issuer.audience.toUpperCase() } }) },
    { name: 'aud a prefix of the accepted one', reason: 'audience', token: () => goodToken({ claims: { aud: issuer.audience.slice(0, -1) } }) },
    { name: 'aud extending the accepted one', reason: 'audience', token: () => goodToken({ claims: { aud: `${issuer.audience}2` } }) },
    { name: 'aud with surrounding spaces', reason: 'audience', token: () => goodToken({ claims: { aud: ` ${issuer.audience} ` } }) },
  ];
  it.each(wrongAudience)('$name → 401 $reason, upstream not reached', async ({ token, reason }) => {
    const forged = await token();
    await expectInvalidToken(await send(ORDERS, forged), reason, forged);
  });
});

describe('time claims (clock tolerance 30 s)', () => {
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    { name: 'expired 10 s ago, within the tolerance', token: () => goodToken({ expiresInSeconds: -10 }) },
    { name: 'nbf 10 s ahead, within the tolerance', token: () => goodToken({ claims: { nbf: now() + 10 } }) },
    { name: 'iat 10 s ahead, within the tolerance', token: () => goodToken({ claims: { iat: now() + 10 } }) },
    { name: 'nbf in the past', token: () => goodToken({ claims: { nbf: now() - 60 } }) },
  ])('control: $name → 200, upstream hit once', async ({ token }) => {
    await expectAccepted(await send(ORDERS, await token()));
  });

  const badTimes: Attack[] = [
    { name: 'expired 60 s ago', reason: 'expired', token: () => goodToken({ expiresInSeconds: -60 }) },
    { name: 'expired a day ago', reason: 'expired', token: () => goodToken({ expiresInSeconds: -86_400 }) },
    { name: 'nbf 120 s in the future', reason: 'not_yet_valid', token: () => goodToken({ claims: { nbf: now() + 120 } }) },
    { name: 'iat 120 s in the future', reason: 'not_yet_valid', token: () => goodToken({ claims: { iat: now() + 120, exp: now() + 600 } }) },
    { name: 'exp missing', reason: 'malformed', token: () => goodToken({ claims: { exp: undefined } }) },
    { name: 'exp as a string', reason: 'malformed', token: () => goodToken({ claims: { exp: String(now() + 300) } }) },
    { name: 'nbf as a string', reason: 'malformed', token: () => goodToken({ claims: { nbf: String(now() - 60) } }) },
    { name: 'iat as a string', reason: 'malformed', token: () => goodToken({ claims: { iat: String(now()) } }) },
    // Issue #8: JSON.parse reads 1e309 as Infinity, a token that never expired.
    ...numericDateOverflows(),
  ];
  /** exp/nbf/iat written verbatim into the payload JSON: values JSON.stringify cannot produce. */
  function numericDateOverflows(): Attack[] {
    const withDates = (dates: { exp?: string; nbf?: string; iat?: string }) => () => {
      const n = now();
      const json = (name: 'exp' | 'nbf' | 'iat', fallback: number) => `"${name}":${dates[name] ?? fallback}`;
      const payload =
        `{"iss":${JSON.stringify(issuer.issuer)},"aud":${JSON.stringify(issuer.audience)},"sub":"a","scope":"orders:read",` +
        `${json('iat', n)},${json('nbf', n - 10)},${json('exp', n + 300)}}`;
      return issuer.sign({ kid: kidOf(issuer, 'RS256') }, payload, 'RS256');
    };
    return [
      { name: 'exp 1e309 (Infinity: never expires)', reason: 'malformed', token: withDates({ exp: '1e309' }) },
      { name: 'exp -1e309', reason: 'malformed', token: withDates({ exp: '-1e309' }) },
      { name: 'exp null', reason: 'malformed', token: withDates({ exp: 'null' }) },
      { name: 'exp true', reason: 'malformed', token: withDates({ exp: 'true' }) },
      { name: 'exp as an array', reason: 'malformed', token: withDates({ exp: `[${now() + 300}]` }) },
      { name: 'nbf -1e309', reason: 'malformed', token: withDates({ nbf: '-1e309' }) },
      { name: 'nbf 1e309', reason: 'malformed', token: withDates({ nbf: '1e309' }) },
      { name: 'nbf null', reason: 'malformed', token: withDates({ nbf: 'null' }) },
      { name: 'iat -1e309', reason: 'malformed', token: withDates({ iat: '-1e309' }) },
      { name: 'iat 1e309', reason: 'malformed', token: withDates({ iat: '1e309' }) },
      { name: 'iat false', reason: 'malformed', token: withDates({ iat: 'false' }) },
    ];
  }

  it('control: NumericDates written verbatim as plain and exponent numbers → 200', async () => {
    const n = now();
    const payload =
      `{"iss":${JSON.stringify(issuer.issuer)},"aud":${JSON.stringify(issuer.audience)},"sub":"a","scope":"orders:read",` +
      `"iat":${n}.5,"nbf":${n - 10},"exp":${(n + 300) / 1e9}e9}`;
    await expectAccepted(await send(ORDERS, await issuer.sign({ kid: kidOf(issuer, 'RS256') }, payload, 'RS256')));
  });

  it.each(badTimes)('$name → 401 $reason, upstream not reached', async ({ token, reason }) => {
    const forged = await token();
    await expectInvalidToken(await send(ORDERS, forged), reason, forged);
  });
});

describe('token structure', () => {
  const kid = () => kidOf(issuer, 'RS256');
  const payloadJson = (middle: string) => {
    const n = Math.floor(Date.now() / 1000);
    return `{"iss":${JSON.stringify(issuer.issuer)},"aud":${JSON.stringify(issuer.audience)},${middle}"scope":"orders:read","iat":${n},"exp":${n + 300}}`;
  };

  it('control: verbatim header and payload strings without repeats → 200', async () => {
    const token = await issuer.sign(`{"alg":"RS256","kid":"${kid()}"}`, payloadJson('"sub":"a",'), 'RS256');
    await expectAccepted(await send(ORDERS, token));
  });

  it('control: a token of exactly 8192 characters (8 KiB) → 200', async () => {
    const token = await tokenOfLength(8192, (pad) => goodToken({ claims: { pad } }));
    expect(token).toHaveLength(8192);
    await expectAccepted(await send(ORDERS, token));
  });

  const malformed: Attack[] = [
    { name: 'payload repeating sub', reason: 'malformed', token: () => issuer.sign({}, payloadJson('"sub":"a","sub":"admin",'), 'RS256') },
    {
      name: 'payload repeating iss (trusted first, attacker last)',
      reason: 'malformed',
      token: () => issuer.sign({}, payloadJson(`"sub":"a","iss":${JSON.stringify(attacker.issuer)},`), 'RS256'),
    },
    {
      name: 'payload repeating scope through an escaped name (\\u0073cope)',
      reason: 'malformed',
      token: () => issuer.sign({}, payloadJson('"sub":"a","\\u0073cope":"orders:write",'), 'RS256'),
    },
    {
      name: 'payload repeating a member inside a nested object',
      reason: 'malformed',
      token: () => issuer.sign({}, payloadJson('"sub":"a","act":{"sub":"x","sub":"y"},'), 'RS256'),
    },
    {
      name: 'header repeating alg (none, then RS256)',
      reason: 'malformed',
      token: () => issuer.sign(`{"alg":"none","alg":"RS256","kid":"${kid()}"}`, payloadJson('"sub":"a",'), 'RS256'),
    },
    {
      name: 'header repeating kid',
      reason: 'malformed',
      token: () => issuer.sign(`{"alg":"RS256","kid":"${randomKid()}","kid":"${kid()}"}`, payloadJson('"sub":"a",'), 'RS256'),
    },
    { name: 'crit ["exp"]', reason: 'crit', token: () => issuer.sign({ crit: ['exp'], exp: 1 }, claims(), 'RS256') },
    { name: 'crit []', reason: 'crit', token: () => issuer.sign({ crit: [] }, claims(), 'RS256') },
    { name: 'crit ["b64"] with b64 false', reason: 'crit', token: () => issuer.sign({ crit: ['b64'], b64: false }, claims(), 'RS256') },
    {
      name: 'JWE compact serialisation (5 parts)',
      reason: 'malformed',
      token: () =>
        [b64url({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: kid() }), b64url(randomBytes(256).toString('hex')), 'AxY8DCtDaGlsbGljb3RoZQ', randomBytes(64).toString('base64url'), 'Mz-VPPyU4RlcuYv1IwIvzw'].join('.'),
    },
    { name: 'garbage "abc"', reason: 'malformed', token: () => 'abc' },
    { name: 'garbage "..."', reason: 'malformed', token: () => '...' },
    { name: 'two parts', reason: 'malformed', token: async () => (await goodToken()).split('.').slice(0, 2).join('.') },
    { name: 'four parts', reason: 'malformed', token: async () => `${await goodToken()}.x` },
    { name: 'header with a character outside base64url', reason: 'malformed', token: async () => `*${await goodToken()}` },
    { name: 'standard base64 with padding in the payload', reason: 'malformed', token: async () => {
      const [header, , signature] = (await goodToken()).split('.');
      return `${header}.${Buffer.from(JSON.stringify(claims({ pad: '>>>?' }))).toString('base64')}=.${signature}`;
    } },
    { name: 'header that is not JSON', reason: 'malformed', token: async () => `${b64url('{"alg":"RS256"')}.${(await goodToken()).split('.').slice(1).join('.')}` },
    { name: 'header that is a JSON array', reason: 'malformed', token: async () => `${b64url(['RS256'])}.${(await goodToken()).split('.').slice(1).join('.')}` },
    { name: 'payload that is JSON null', reason: 'malformed', token: () => issuer.sign({}, 'null', 'RS256') },
    { name: 'kid that is a number', reason: 'malformed', token: () => issuer.sign({ kid: 42 }, claims(), 'RS256') },
    { name: 'a token of 8193 characters', reason: 'too_large', token: () => tokenOfLength(8193, (pad) => goodToken({ claims: { pad } })) },
    { name: 'a token padded past 8 KiB (a 9000-byte claim)', reason: 'too_large', token: () => goodToken({ claims: { pad: 'x'.repeat(9000) } }) },
    { name: '9000 characters that are no JWT at all (refused unparsed)', reason: 'too_large', token: () => 'x'.repeat(9000) },
  ];
  it.each(malformed)('$name → 401 $reason, upstream not reached', async ({ token, reason }) => {
    const forged = await token();
    await expectInvalidToken(await send(ORDERS, forged), reason, forged);
  });
});

describe('the Authorization header', () => {
  it.each(['Bearer', 'bearer', 'BEARER', 'bEaReR'])('control: scheme %s (case-insensitive) → 200', async (scheme) => {
    const token = await goodToken();
    sentTokens.add(token);
    await expectAccepted(await fetch(`${gw.url}${ORDERS}`, { headers: { authorization: `${scheme} ${token}` } }));
  });

  it('no Authorization header → 401 missing_token with the plain challenge', async () => {
    await expectMissingToken(await send(ORDERS, undefined));
  });

  it.each([
    { name: 'Basic credentials', value: () => `Basic ${Buffer.from('user:pass').toString('base64')}` },
    { name: 'a token without a scheme', value: () => goodToken() },
    { name: 'scheme glued to the token (Bearer<token>)', value: async () => `Bearer${await goodToken()}` },
    { name: 'another scheme (DPoP)', value: async () => `DPoP ${await goodToken()}` },
  ])('$name → 401 missing_token with the plain challenge', async ({ value }) => {
    const header = await value();
    await expectMissingToken(await fetch(`${gw.url}${ORDERS}`, { headers: { authorization: header } }));
  });

  it('a valid token in the query string (?access_token=) is ignored → 401 missing_token', async () => {
    const token = await goodToken();
    const res = await fetch(`${gw.url}${ORDERS}?access_token=${token}`);
    await expectMissingToken(res);
  });

  it('control: one Authorization line sent byte for byte → 200', async () => {
    const token = await goodToken();
    sentTokens.add(token);
    await expectAccepted(await rawRequest(gw.url, { path: ORDERS, headers: [['Authorization', `Bearer ${token}`]] }));
  });

  it.each([
    { name: 'the same valid token twice', second: (token: string) => ['Authorization', `Bearer ${token}`] as const },
    { name: 'a valid token and garbage', second: () => ['Authorization', 'Bearer abc'] as const },
    { name: 'Authorization and authorization', second: (token: string) => ['authorization', `Bearer ${token}`] as const },
    { name: 'Bearer and Basic', second: () => ['Authorization', 'Basic dXNlcjpwYXNz'] as const },
  ])('two Authorization headers ($name) → 400 invalid_request', async ({ second }) => {
    const token = await goodToken();
    sentTokens.add(token);
    const res = await rawRequest(gw.url, { path: ORDERS, headers: [['Authorization', `Bearer ${token}`], second(token)] });
    await expectProblem(res, {
      status: 400,
      code: 'invalid_request',
      challenge: 'Bearer realm="gateway", error="invalid_request", error_description="More than one Authorization header"',
    });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('scopes', () => {
  it.each([
    { name: 'scope string with the one needed', claims: { scope: 'orders:read' } },
    { name: 'scope string among others', claims: { scope: 'a orders:read b' } },
    { name: 'scope as an array', claims: { scope: ['x', 'orders:read'] } },
    { name: 'scp as an array (no scope claim)', claims: { scope: undefined, scp: ['orders:read'] } },
    { name: 'scp as a string (no scope claim)', claims: { scope: undefined, scp: 'x orders:read' } },
  ])('control: $name → 200, upstream hit once', async ({ claims: extra }) => {
    await expectAccepted(await send(ORDERS, await issuer.token({ claims: extra })));
  });

  it.each([
    { name: 'orders:read2', scope: 'orders:read2' },
    { name: 'orders:rea', scope: 'orders:rea' },
    { name: 'Orders:read', scope: 'Orders:read' },
    { name: 'tab-separated (orders:read\\torders:write)', scope: 'orders:read\torders:write' },
    { name: 'no-break space (orders:read\\u00a0x)', scope: 'orders:read\u00a0x' },
    { name: 'comma-separated', scope: 'orders:read,orders:write' },
    { name: 'array element holding two scopes', scope: ['orders:read orders:write'] },
    { name: 'array element with a trailing tab', scope: ['orders:read\t'] },
    { name: 'array of non-strings', scope: [1, true, null] },
    { name: 'empty scope', scope: '' },
    { name: 'scope present but empty, scp granting it', scope: '', scp: ['orders:read'] },
    { name: 'no scope claim at all', scope: undefined },
  ])('scope look-alike $name → 403 insufficient_scope, upstream not reached', async (row) => {
    const token = await issuer.token({ claims: { scope: row.scope, ...('scp' in row ? { scp: row.scp } : {}) } });
    await expectInsufficientScope(await send(ORDERS, token), 'orders:read');
  });

  it('control: a route needing two scopes, token with both → 200', async () => {
    await expectAccepted(await send(BOTH, await issuer.token({ claims: { scope: 'orders:write orders:read' } })));
  });

  it('a route needing two scopes, token with only one → 403 naming both', async () => {
    await expectInsufficientScope(await send(BOTH, await goodToken()), 'orders:read orders:write');
  });

  it('scopes that are not RFC 6749 scope-tokens are neither granted nor forwarded', async () => {
    const token = await issuer.token({ claims: { scope: 'orders:read b\tc d\u00a0e "q" f' } });
    await expectAccepted(await send(ORDERS, token));
    expect(upstream.requests[0]!.headers['x-auth-scopes']).toBe('orders:read f');
  });
});

describe('identity forwarded to the upstream', () => {
  const spoofed = {
    'x-auth-subject': 'admin',
    'x-auth-client-id': 'root-client',
    'x-auth-scopes': 'admin:all',
    'x-auth-tenant': 'other-tenant',
  };

  it("caller's own X-Auth-* are replaced by the token's values", async () => {
    await expectAccepted(await send(ORDERS, await goodToken(), spoofed));
    const { headers, rawHeaders } = upstream.requests[0]!;
    expect(headers['x-auth-subject']).toBe('test-subject');
    expect(headers['x-auth-client-id']).toBe('test-client');
    expect(headers['x-auth-scopes']).toBe('orders:read');
    expect(headers['x-auth-tenant']).toBeUndefined();
    expect(rawHeaders.filter((name) => /^x-auth-/i.test(name))).toHaveLength(3);
  });

  it('azp is the client id when client_id is absent', async () => {
    await expectAccepted(await send(ORDERS, await goodToken({ claims: { client_id: undefined, azp: 'azp-client' } })));
    expect(upstream.requests[0]!.headers['x-auth-client-id']).toBe('azp-client');
  });

  it('control: a sub with spaces is forwarded as is → 200', async () => {
    await expectAccepted(await send(ORDERS, await goodToken({ claims: { sub: 'service orders 1' } })));
    expect(upstream.requests[0]!.headers['x-auth-subject']).toBe('service orders 1');
  });

  const unforwardable: Attack[] = [
    { name: 'sub with a newline (header injection)', reason: 'identity', token: () => goodToken({ claims: { sub: 'a\r\nX-Auth-Scopes: admin' } }) },
    { name: 'sub with non-ASCII', reason: 'identity', token: () => goodToken({ claims: { sub: 'jöhn' } }) },
    { name: 'sub with a NUL', reason: 'identity', token: () => goodToken({ claims: { sub: 'a\u0000b' } }) },
    { name: 'sub with DEL', reason: 'identity', token: () => goodToken({ claims: { sub: 'a\u007f' } }) },
    { name: 'sub as a number', reason: 'identity', token: () => goodToken({ claims: { sub: 42 } }) },
    { name: 'client_id with a newline', reason: 'identity', token: () => goodToken({ claims: { client_id: 'c\nX-Evil: 1' } }) },
    { name: 'client_id as an object', reason: 'identity', token: () => goodToken({ claims: { client_id: { id: 'c' } } }) },
    { name: 'azp with non-ASCII, no client_id', reason: 'identity', token: () => goodToken({ claims: { client_id: undefined, azp: 'clïent' } }) },
    { name: 'sub of 257 characters (CONTRACT: at most 256)', reason: 'identity', token: () => goodToken({ claims: { sub: 's'.repeat(257) } }) },
    { name: 'client_id of 257 characters', reason: 'identity', token: () => goodToken({ claims: { client_id: 'c'.repeat(257) } }) },
  ];

  it('control: sub and client_id of exactly 256 characters are forwarded → 200', async () => {
    await expectAccepted(await send(ORDERS, await goodToken({ claims: { sub: 's'.repeat(256), client_id: 'c'.repeat(256) } })));
    expect(upstream.requests[0]!.headers['x-auth-subject']).toBe('s'.repeat(256));
    expect(upstream.requests[0]!.headers['x-auth-client-id']).toBe('c'.repeat(256));
  });
  it.each(unforwardable)('$name → 401 $reason, upstream not reached', async ({ token, reason }) => {
    const forged = await token();
    await expectInvalidToken(await send(ORDERS, forged), reason, forged);
  });

  it('public route: an invalid token is ignored → 200, no X-Auth-*, no Authorization forwarded', async () => {
    await expectAccepted(await send(PUBLIC, 'not-a-token', spoofed));
    const { headers } = upstream.requests[0]!;
    expect(headers.authorization).toBeUndefined();
    expect(headers['x-auth-subject']).toBeUndefined();
    expect(headers['x-auth-client-id']).toBeUndefined();
    expect(headers['x-auth-scopes']).toBeUndefined();
    expect(headers['x-auth-tenant']).toBeUndefined();
  });

  it('public route: a valid token is not read either (no X-Auth-*, no Authorization)', async () => {
    await expectAccepted(await send(PUBLIC, await goodToken()));
    const { headers } = upstream.requests[0]!;
    expect(headers.authorization).toBeUndefined();
    expect(headers['x-auth-subject']).toBeUndefined();
    expect(headers['x-auth-client-id']).toBeUndefined();
    expect(headers['x-auth-scopes']).toBeUndefined();
  });

  it('public route: two Authorization headers are not read → 200', async () => {
    const res = await rawRequest(gw.url, { path: PUBLIC, headers: [['Authorization', 'Bearer a'], ['Authorization', 'Bearer b']] });
    await expectAccepted(res);
    expect(upstream.requests[0]!.headers.authorization).toBeUndefined();
  });

  it("passthrough route forwards the caller's exact token", async () => {
    const token = await goodToken();
    await expectAccepted(await send(PASS, token));
    expect(upstream.requests[0]!.headers.authorization).toBe(`Bearer ${token}`);
    expect(upstream.requests[0]!.rawHeaders.filter((name) => name.toLowerCase() === 'authorization')).toHaveLength(1);
  });

  it('upstreamAuth none forwards no Authorization', async () => {
    await expectAccepted(await send(NONE, await goodToken()));
    expect(upstream.requests[0]!.headers.authorization).toBeUndefined();
  });
});

// A second gateway in this process. Started only now: the gateway registers its passport
// strategy under the process-wide name 'jwt', so the last one started authenticates for all
// (see the failing test at the end of this block).
describe('requireTyp: true (RFC 9068)', () => {
  let typ: TestGateway;
  beforeAll(async () => {
    typ = gwTyp = await startTestGateway({ issuers: [issuer], routes, auth: { requireTyp: true } });
    cleanups.push(() => typ.close());
  });

  it.each(['at+jwt', 'application/at+jwt'])('control: typ %s → 200', async (typValue) => {
    await expectAccepted(await send(ORDERS, await goodToken({ header: { typ: typValue } }), {}, typ));
  });

  const wrongTyp: Attack[] = [
    { name: 'typ JWT', reason: 'typ', token: () => goodToken({ header: { typ: 'JWT' } }) },
    { name: 'typ missing', reason: 'typ', token: () => goodToken({ header: { typ: undefined } }) },
    { name: 'typ application/jwt', reason: 'typ', token: () => goodToken({ header: { typ: 'application/jwt' } }) },
    { name: 'typ at+jwt with a suffix', reason: 'typ', token: () => goodToken({ header: { typ: 'at+jwtx' } }) },
    { name: 'typ as an array', reason: 'typ', token: () => goodToken({ header: { typ: ['at+jwt'] } }) },
  ];
  it.each(wrongTyp)('$name → 401 $reason, upstream not reached', async ({ token, reason }) => {
    const forged = await token();
    await expectInvalidToken(await send(ORDERS, forged, {}, typ), reason, forged);
  });

  // Regression: passport's strategy registry is process-wide; each gateway now registers its own
  // strategy name, so the first gateway must not verify with the requireTyp gateway's verifier.
  it('control: typ JWT is still accepted by the first gateway, where typ is not required', async () => {
    await expectAccepted(await send(ORDERS, await goodToken({ header: { typ: 'JWT' } }), {}, gw));
  });
});

describe('no token text leaks', () => {
  it.each([
    ['403 insufficient_scope', BOTH, () => goodToken({ claims: { scope: 'orders:read' } })],
    ['401 expired', ORDERS, () => goodToken({ expiresInSeconds: -3600 })],
    ['400 two Authorization headers', ORDERS, null],
  ] as const)('%s: neither the body nor any response header contains the token', async (_name, path, mint) => {
    const token = mint ? await mint() : await goodToken();
    const res = mint
      ? await send(path, token)
      : await rawRequest(gw.url, { path, headers: [['Authorization', `Bearer ${token}`], ['Authorization', `Bearer ${token}`]] });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const headerText = [...res.headers.entries()].map(([name, value]) => `${name}: ${value}`).join('\n');
    expectNoTokenIn(headerText, token);
    expectNoTokenIn(await res.text(), token);
  });

  it('no token sent in this file appears in any gateway log', async () => {
    // Its own sample first, so the check holds when this test runs alone (jest -t).
    const sample = [
      await goodToken(),
      await goodToken({ expiresInSeconds: -3600 }),
      await goodToken({ kid: randomKid() }),
      `${await goodToken()}x`,
      await goodToken({ claims: { sub: 'a\nb' } }),
      await goodToken({ claims: { pad: 'x'.repeat(9000) } }),
    ];
    for (const token of sample) await (await send(ORDERS, token)).text();
    await (await send(PASS, sample[0])).text();
    const logs = `${gw.logText()}\n${gwTyp?.logText() ?? ''}`;
    expect(logs).toContain('"status":401');
    const checked = [...sentTokens].filter((token) => token.length >= 40);
    expect(checked.length).toBeGreaterThanOrEqual(sample.length);
    for (const token of checked) expectNoTokenIn(logs, token);
  });
});
