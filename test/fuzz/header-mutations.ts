// The header family: a valid request to one route with its header block mutated: repeated or
// oddly spaced Authorization, folded lines, non-ASCII and control bytes, spoofed X-Auth-*,
// vouching and hop-by-hop headers, oversized heads, Host and HTTP-version oddities.
import { STANDARD_CREDENTIAL, type FuzzContext } from './fuzz-context.js';
import { ANY, type Draft, type Expectation, type NamedDraft, signatureOf, statuses } from './fuzz-case.js';
import { bearer, latin1, type RequestSpec } from './request-bytes.js';
import type { Rng } from './rng.js';
import { type FuzzRoute, type RouteName, ROUTES, routeStatus, VOUCHING } from './routes.js';

/** The order the PRNG picks from: changing it changes what a seed yields. */
const HEADER_VARIANTS = [
  'auth-dup-same', 'auth-dup-case', 'auth-dup-empty', 'auth-dup-garbage', 'scheme-case', 'scheme-spaces', 'scheme-tab', 'scheme-nbsp', 'scheme-glued',
  'value-ows', 'obs-fold-auth', 'obs-fold-other', 'name-space', 'non-ascii-other', 'utf8-other', 'ctl-in-value', 'nul-in-value', 'xrid-unsane',
  'xrid-dup', 'xauth-spoof', 'vouching-spoof', 'hop-by-hop', 'huge-header', 'many-headers', 'host-missing', 'host-dup', 'host-weird', 'http10',
  'http-version', 'lf-only', 'auth-no-token',
] as const;
type HeaderVariant = (typeof HEADER_VARIANTS)[number];

/** What every variant builds on: the standard request to `route`, and the answers CONTRACT allows. */
interface HeaderBase {
  readonly rng: Rng;
  readonly token: string;
  readonly route: FuzzRoute;
  /** What the request gets with nothing wrong in it. */
  readonly ok: number;
  readonly auth: [string, string];
  /** The standard request with `spec` laid over it. */
  readonly draft: (spec: Partial<RequestSpec>, expect: Expectation, extra?: Partial<Draft>) => Draft;
  readonly dupExpect: Expectation;
  readonly authFailure: Expectation;
}
type HeaderMutation = (base: HeaderBase) => Draft;

/** The Authorization header itself: repeated, re-cased, re-spaced, folded, cut. */
const AUTHORIZATION_MUTATIONS = {
  'auth-dup-same': ({ auth, draft, dupExpect }) => draft({ headers: [auth, auth] }, dupExpect),
  'auth-dup-case': ({ token, auth, draft, dupExpect }) => draft({ headers: [auth, ['authorization', bearer(token)]] }, dupExpect),
  'auth-dup-empty': ({ rng, auth, draft, dupExpect }) =>
    draft({ headers: rng.chance(0.5) ? [auth, ['Authorization', '']] : [['Authorization', ''], auth] }, dupExpect),
  'auth-dup-garbage': ({ rng, auth, draft, dupExpect }) =>
    draft({ headers: [auth, ['AUTHORIZATION', rng.pick(['Bearer abc', 'Basic dXNlcjpwYXNz', 'Bearer', 'x'])]] }, dupExpect),
  'scheme-case': ({ rng, token, ok, draft }) => {
    const scheme = [...'bearer'].map((c) => (rng.chance(0.5) ? c.toUpperCase() : c)).join('');
    return draft({ headers: [['Authorization', `${scheme} ${token}`]] }, statuses('scheme is case-insensitive', ok));
  },
  'scheme-spaces': ({ rng, token, route, ok, draft }) =>
    draft({ headers: [['Authorization', `Bearer${' '.repeat(rng.range(2, 4))}${token}`]] }, route.public ? statuses('public', 200) : statuses('one or more spaces', ok, 401)),
  'scheme-tab': ({ token, draft, authFailure }) => draft({ headers: [['Authorization', `Bearer\t${token}`]] }, authFailure),
  'scheme-nbsp': ({ token, draft, authFailure }) => draft({ headers: [['Authorization', `Bearer\u00a0${token}`]] }, authFailure),
  'scheme-glued': ({ token, draft, authFailure }) => draft({ headers: [['Authorization', `Bearer${token}`]] }, authFailure),
  'value-ows': ({ rng, token, ok, draft }) =>
    draft({ headers: [['Authorization', `${rng.pick([' ', '\t', ' \t '])}Bearer ${token}${rng.pick(['', ' ', '\t', ' \t'])}`]] }, statuses('OWS around a field value is not part of it', ok)),
  'obs-fold-auth': ({ token, route, ok, draft }) =>
    draft({ headers: [['Authorization', `Bearer\r\n ${token}`]] }, route.public ? ANY : statuses('obs-fold: refused, or unfolded to a valid header', 400, 401, ok)),
  'name-space': ({ rng, token, route, draft }) =>
    draft({ headers: [[rng.pick(['Authorization ', 'Authorization\t', ' Authorization']), bearer(token)]] }, route.public ? ANY : statuses('RFC 9112 §5.1: whitespace before the colon is refused', 400, 401)),
  'nul-in-value': ({ token, route, draft }) =>
    draft({ headers: [['Authorization', `Bearer ${token.slice(0, 20)}\u0000${token.slice(20)}`]] }, route.public ? ANY : statuses('NUL in a header', 400, 401)),
  'auth-no-token': ({ rng, token, route, draft }) =>
    draft({ headers: [['Authorization', rng.pick(['Bearer', 'Bearer ', 'Bearer  ', 'Basic x', 'Bearer \t'])]] }, route.public ? statuses('public', 200) : statuses('no token', 401), { credential: undefined }),
} satisfies Partial<Record<HeaderVariant, HeaderMutation>>;

/** Everything around it: other header bytes, identity and routing headers, the head's size and form. */
const OTHER_MUTATIONS = {
  'obs-fold-other': ({ rng, auth, draft }) => draft({ headers: [auth, ['X-Fuzz', `a\r\n${rng.pick([' ', '\t'])}b`]] }, ANY),
  'non-ascii-other': ({ rng, auth, draft }) => {
    const value = `v${String.fromCharCode(rng.range(0x80, 0xff))}${String.fromCharCode(rng.range(0x80, 0xff))}`;
    return draft({ headers: [auth, ['X-Fuzz', value]] }, ANY, { echoHeader: ['x-fuzz', value] });
  },
  'utf8-other': ({ rng, auth, draft }) => {
    const value = latin1(rng.pick(['é', '😀', '\u2028', 'ＡＢ', '\u00a0x']));
    return draft({ headers: [auth, ['X-Fuzz', value]] }, ANY, { echoHeader: ['x-fuzz', value] });
  },
  'ctl-in-value': ({ rng, auth, draft }) => draft({ headers: [auth, ['X-Fuzz', `a${String.fromCharCode(rng.pick([1, 8, 0x0b, 0x0c, 0x1b, 0x7f]))}b`]] }, ANY),
  'xrid-unsane': ({ rng, ok, auth, draft }) => {
    const rid = rng.pick(['x'.repeat(129), 'a b', 'a/b', 'é', '', '<script>', 'a\tb', 'fz-1-1,fz-2-2']);
    return draft({ headers: [auth, ['X-Request-Id', latin1(rid)]], requestId: false }, statuses('unsane X-Request-Id is replaced', ok));
  },
  'xrid-dup': ({ ok, auth, draft }) => draft({ headers: [auth, ['X-Request-Id', 'other-id']] }, statuses('duplicate X-Request-Id is replaced', ok)),
  'xauth-spoof': ({ rng, ok, auth, draft }) => {
    const names = ['X-Auth-Subject', 'x-auth-client-id', 'X-AUTH-SCOPES', 'X-Auth-Subject'];
    const spoofed = names.filter(() => rng.chance(0.6)).map((name) => [name, rng.pick(['admin', 'orders:admin', 'root'])] as [string, string]);
    return draft({ headers: [auth, ...spoofed] }, statuses('X-Auth-* from the caller are dropped', ok));
  },
  'vouching-spoof': ({ rng, ok, auth, draft }) => {
    const spoofed = VOUCHING.filter(() => rng.chance(0.4)).map((name) => [rng.chance(0.3) ? name.replaceAll('-', '_') : name, '10.0.0.1'] as [string, string]);
    return draft({ headers: [auth, ...spoofed, ['X-Forwarded-For', '10.9.9.9']] }, statuses('vouching headers are dropped', ok));
  },
  'hop-by-hop': ({ ok, auth, draft }) =>
    draft(
      { headers: [auth, ['Connection', 'close, X-Fuzz-Hop'], ['X-Fuzz-Hop', '1'], ['Keep-Alive', 'timeout=5'], ['TE', 'trailers'], ['Trailer', 'X-T'], ['Proxy-Authorization', 'Basic eDp5'], ['Proxy-Connection', 'keep-alive']] },
      statuses('hop-by-hop headers are dropped', ok),
    ),
  'huge-header': ({ rng, auth, draft }) => draft({ headers: [auth, ['X-Fuzz', 'h'.repeat(rng.pick([16_500, 20_000]))]] }, statuses('headers over 16 KiB', 431)),
  'many-headers': ({ rng, ok, auth, draft }) =>
    draft({ headers: [auth, ...Array.from({ length: rng.range(50, 300) }, (_, i) => [`X-F${i}`, 'v'] as [string, string])] }, statuses('many small headers', ok)),
  'host-missing': ({ draft }) => draft({ host: null }, ANY),
  'host-dup': ({ auth, draft }) => draft({ headers: [auth, ['Host', 'evil.example']] }, ANY),
  'host-weird': ({ rng, draft }) => draft({ host: rng.pick(['evil.example:99999', 'a b', '', 'évil', '[::1', 'x/../y', '127.0.0.1:1@evil']) }, ANY),
  http10: ({ ok, draft }) => draft({ version: 'HTTP/1.0' }, statuses('HTTP/1.0 request', ok)),
  'http-version': ({ rng, draft }) => draft({ version: rng.pick(['HTTP/2.0', 'HTTP/1.2', 'HTTP/9.9', 'http/1.1', 'HTTP/1.1 ', 'HTTP/1', 'HTTP/1.1x']) }, ANY),
  'lf-only': ({ draft }) => draft({ lineEnd: '\n' }, ANY),
} satisfies Partial<Record<HeaderVariant, HeaderMutation>>;

const HEADER_MUTATIONS: Record<HeaderVariant, HeaderMutation> = { ...AUTHORIZATION_MUTATIONS, ...OTHER_MUTATIONS };

/** Header-byte mutations around a request that is otherwise valid. */
export async function headerDraft(ctx: FuzzContext, rng: Rng): Promise<NamedDraft> {
  const token = await ctx.standardToken();
  const route = ROUTES[rng.pick<RouteName>(['orders', 'orders', 'public', 'reports', 'strip', 'admin'])];
  const target = `${route.sample}${rng.int(1000)}`;
  const ok = routeStatus(route, 'GET');
  const auth: [string, string] = ['Authorization', bearer(token)];
  const secrets = signatureOf(token);
  const base = { credential: STANDARD_CREDENTIAL, secrets };
  const variant = rng.pick(HEADER_VARIANTS);
  const draft = (spec: Partial<RequestSpec>, expect: Expectation, extra: Partial<Draft> = {}): Draft => ({
    spec: { method: 'GET', target, headers: [auth], ...spec },
    summary: `${route.name} · ${variant}`,
    expect,
    ...base,
    ...extra,
  });
  const dupExpect = route.public ? statuses('public route: Authorization not read (or 400 for two)', 200, 400) : statuses('CONTRACT: several Authorization headers → 400', 400);
  const authFailure = route.public ? statuses('public route ignores Authorization', 200) : statuses('no usable Bearer credential', 401);
  return { mutation: `header:${variant}`, draft: HEADER_MUTATIONS[variant]({ rng, token, route, ok, auth, draft, dupExpect, authFailure }) };
}
