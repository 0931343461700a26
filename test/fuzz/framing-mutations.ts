// The framing family: request bodies framed by Content-Length and Transfer-Encoding, valid,
// conflicting and broken, around the routes' maxBodyBytes; and smuggling attempts, a second
// request hidden in a body whose framing the gateway and the upstream might read differently.
import { randomBytes } from 'node:crypto';
import { STANDARD_CREDENTIAL, type FuzzContext } from './fuzz-context.js';
import { ANY, type Draft, type Expectation, type NamedDraft, signatureOf, statuses } from './fuzz-case.js';
import { bearer, encodeRequest, type RequestSpec } from './request-bytes.js';
import type { Rng } from './rng.js';
import { MAX_BODY_BYTES, ROUTES, routeStatus } from './routes.js';
import { show } from './show.js';

/** A framing draft, and the request smuggled inside its body, if any. */
export type FramedDraft = NamedDraft & { readonly inner?: Draft };

/** What every framing variant builds on: a random body of `size` bytes and a request to carry a payload. */
interface FramingBase {
  readonly rng: Rng;
  readonly size: number;
  readonly body: Buffer;
  readonly auth: [string, string];
  readonly post: (headers: [string, string][], payload: Buffer, expect: Expectation, bodies?: Buffer[], method?: string) => Draft;
}

function chunked(body: Buffer, rng: Rng, style: { ext?: boolean; upper?: boolean; zeros?: boolean; trailer?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const size = Math.min(body.length - at, rng.range(1, 700));
    let hex = size.toString(16);
    if (style.upper) hex = hex.toUpperCase();
    if (style.zeros) hex = `000${hex}`;
    parts.push(Buffer.from(`${hex}${style.ext ? ';ext=1' : ''}\r\n`), body.subarray(at, at + size), Buffer.from('\r\n'));
    at += size;
  }
  parts.push(Buffer.from(style.trailer ? '0\r\nX-Trailer: t\r\n\r\n' : '0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** Request framing: Content-Length and Transfer-Encoding, valid, conflicting and broken. */
export async function framingDraft(ctx: FuzzContext, rng: Rng, innerMarker: string): Promise<FramedDraft> {
  const token = await ctx.standardToken();
  const route = rng.chance(0.7) ? ROUTES.orders : ROUTES.public;
  const target = `${route.sample}${rng.int(1000)}`;
  const ok = routeStatus(route, 'POST');
  const size = rng.weighted<number>([[6, rng.range(0, 300)], [1, MAX_BODY_BYTES], [1, MAX_BODY_BYTES + 1], [1, rng.range(MAX_BODY_BYTES + 2, 6000)]]);
  const body = randomBytes(size);
  const auth: [string, string] = ['Authorization', bearer(token)];
  const fits = size <= MAX_BODY_BYTES;
  const base = { credential: STANDARD_CREDENTIAL, secrets: signatureOf(token) };
  const variant = rng.pick(['cl', 'chunked', 'cl+te', 'te-obfuscated', 'chunk-bad-size', 'chunk-size-mismatch', 'cl-bad', 'cl-over-limit', 'get-with-body', 'expect-continue'] as const);
  const post = (headers: [string, string][], payload: Buffer, expect: Expectation, bodies?: Buffer[], method = 'POST'): Draft => ({
    spec: { method, target, headers: [auth, ...headers], body: payload },
    summary: `${method} ${route.name} · ${show(headers.map(([n, v]) => `${n}: ${v}`).join(' | '), 120)} (${payload.length} body bytes)`,
    expect,
    bodies,
    ...base,
  });
  const framing: FramingBase = { rng, size, body, auth, post };
  switch (variant) {
    case 'cl':
      return { mutation: `framing:cl${fits ? '' : '>limit'}`, draft: post([['Content-Length', String(size)]], body, fits ? statuses('valid body', ok) : statuses('body over maxBodyBytes', 413), [body]) };
    case 'chunked': {
      const style = { ext: rng.chance(0.3), upper: rng.chance(0.3), zeros: rng.chance(0.2), trailer: rng.chance(0.2) };
      return {
        mutation: `framing:chunked${fits ? '' : '>limit'}`,
        draft: post([['Transfer-Encoding', 'chunked']], chunked(body, rng, style), fits ? statuses('valid chunked body', ok) : statuses('chunked body over maxBodyBytes', 413), [body]),
      };
    }
    case 'cl+te':
    case 'te-obfuscated':
      return smugglingDraft(framing, variant, { marker: innerMarker, gatewayHost: ctx.gatewayHost, token });
    case 'chunk-bad-size':
    case 'chunk-size-mismatch':
    case 'cl-bad':
    case 'cl-over-limit':
      return brokenFramingDraft(framing, variant);
    case 'get-with-body':
      return { mutation: 'framing:get-with-body', draft: post([['Content-Length', String(Math.min(size, 200))]], body.subarray(0, 200), statuses('GET with a body', routeStatus(route, 'GET')), [body.subarray(0, 200)], 'GET') };
    case 'expect-continue': {
      const payload = body.subarray(0, 300);
      return { mutation: 'framing:expect-100-continue', draft: post([['Content-Length', String(payload.length)], ['Expect', '100-continue']], payload, statuses('Expect: 100-continue', ok), [payload]) };
    }
  }
}

/** A chunked body with a request after its last chunk, under Transfer-Encoding written plainly or obfuscated, maybe beside Content-Length. */
function smugglingDraft(
  { rng, size, body, auth, post }: FramingBase,
  variant: 'cl+te' | 'te-obfuscated',
  inner: { marker: string; gatewayHost: string; token: string },
): FramedDraft {
  const small = body.subarray(0, Math.min(size, 64));
  const innerRoute = rng.chance(0.5) ? ROUTES.admin : ROUTES.orders;
  const innerSpec: RequestSpec = {
    method: 'GET',
    target: `${innerRoute.sample}${rng.int(1000)}`,
    headers: innerRoute === ROUTES.admin ? [auth] : [],
  };
  // Half the time the outer request keeps the connection open and the smuggled one closes it.
  const innerCloses = rng.chance(0.5);
  const innerBytes = encodeRequest(innerSpec, inner.marker, innerCloses, inner.gatewayHost);
  const encoded = Buffer.concat([chunked(small, rng), rng.chance(0.6) ? innerBytes : Buffer.alloc(0)]);
  const te = variant === 'cl+te' ? 'chunked' : rng.pick(['chunked ', ' chunked', 'Chunked', 'CHUNKED', 'chunked, identity', 'identity, chunked', 'gzip, chunked', 'xchunked', 'chunked\t', 'chunk', 'chunked;q=1', '\u000bchunked', 'chunked\u000b']);
  const teName = rng.pick(['Transfer-Encoding', 'Transfer-Encoding', 'transfer-encoding', 'Transfer_Encoding', 'Transfer-Encoding ']);
  const headers: [string, string][] = [[teName, te]];
  if (variant === 'cl+te' || rng.chance(0.5)) headers.splice(rng.int(2), 0, ['Content-Length', String(rng.chance(0.5) ? encoded.length : rng.range(0, 5))]);
  if (rng.chance(0.2)) headers.push(['Transfer-Encoding', rng.pick(['identity', 'chunked'])]);
  if (innerCloses) headers.push(['Connection', 'keep-alive']);
  // If forwarded, the upstream gets the de-chunked body or the bytes as sent; anything else is a framing bug.
  return {
    mutation: `framing:${variant}${variant === 'te-obfuscated' ? `=${show(te)}` : ''}${teName === 'Transfer-Encoding' ? '' : ` (header ${show(teName)})`}`,
    draft: post(headers, encoded, ANY, [small, encoded, encoded.subarray(0, Number(headers.find(([n]) => n === 'Content-Length')?.[1] ?? encoded.length))]),
    inner: { spec: innerSpec, summary: `smuggled GET ${innerRoute.name}`, expect: ANY, credential: innerRoute === ROUTES.admin ? STANDARD_CREDENTIAL : undefined, secrets: signatureOf(inner.token) },
  };
}

/** Chunk sizes and Content-Length values that are malformed, do not match the data, or exceed the limit. */
function brokenFramingDraft({ rng, post }: FramingBase, variant: 'chunk-bad-size' | 'chunk-size-mismatch' | 'cl-bad' | 'cl-over-limit'): FramedDraft {
  switch (variant) {
    case 'chunk-bad-size': {
      const sizeText = rng.pick(['zz', '-1', '0x5', ' 5', '5 ', '+5', 'ffffffffffffffffff', '5\t', '', '5;', '5;a="\r\n"', '0005', '5 ;x', '1_0']);
      const payload = Buffer.concat([Buffer.from(`${sizeText}\r\nhello\r\n0\r\n\r\n`, 'latin1')]);
      return { mutation: `framing:chunk-size=${show(sizeText)}`, draft: post([['Transfer-Encoding', 'chunked']], payload, ANY, [Buffer.from('hello'), Buffer.alloc(0)]) };
    }
    case 'chunk-size-mismatch': {
      const declared = rng.pick([3, 4, 6, 7]);
      return { mutation: 'framing:chunk-size-mismatch', draft: post([['Transfer-Encoding', 'chunked']], Buffer.from(`${declared}\r\nhello\r\n0\r\n\r\n`), { kind: 'refused', why: 'chunk data does not match its size' }) };
    }
    case 'cl-bad': {
      const value = rng.pick(['-1', '+5', '0x5', '5, 5', '5,5', ' 5', '5 ', '05', '1e1', '5.0', '99999999999999999999', '18446744073709551615', '9007199254740993', 'dup-same', 'dup-diff', '']);
      const five = Buffer.from('hello');
      const headers: [string, string][] =
        value === 'dup-same' ? [['Content-Length', '5'], ['Content-Length', '5']] : value === 'dup-diff' ? [['Content-Length', '5'], ['Content-Length', '3']] : [['Content-Length', value]];
      return { mutation: `framing:cl=${show(value)}`, draft: post(headers, five, ANY, [five]) };
    }
    case 'cl-over-limit': {
      // Declared over the limit, only a few bytes sent: refused at once, not after waiting for the rest.
      const declared = rng.pick([MAX_BODY_BYTES + 1, 10_000_000, 2 ** 40]);
      return { mutation: 'framing:cl-over-limit-short-body', draft: post([['Content-Length', String(declared)]], Buffer.from('hello'), statuses('declared body over maxBodyBytes', 413)) };
    }
  }
}
