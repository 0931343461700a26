// The path family: a route's sample path with its segments mutated: dot segments in every
// encoding, encoded separators, `;params`, suffixes, case and full-width characters. CONTRACT
// fixes 400 for some of these; for the rest, a 2xx must still land under the route's forwarded
// prefix however leniently the upstream reads the path (checked by the invariants).
import { STANDARD_CREDENTIAL, type FuzzContext } from './fuzz-context.js';
import { ANY, type Expectation, type NamedDraft, signatureOf, statuses } from './fuzz-case.js';
import { bearer, latin1 } from './request-bytes.js';
import type { Rng } from './rng.js';
import { type FuzzRoute, type RouteName, ROUTES } from './routes.js';
import { show } from './show.js';

/** What segment edits insert, replace with, append and put between segments. */
const DOT_LIKE = [
  '.', '..', '%2e', '%2E', '%2e%2e', '.%2e', '%2e.', '%2E%2E', '..;', '..;x=1', '.;a', '%2e%2e;b', '%252e%252e', '%EF%BC%8E%EF%BC%8E', '%EF%BC%8E',
  '%c0%ae%c0%ae', '%u002e%u002e', '..%00', '..%2f', '..%5c', '...', '..%20', '%20..', '%2e%2e%2f', '..\\', '.\\', '%2e%2e%5c', '..%3b', '..%3F', '..%23',
];
const NAMES = ['admin', 'orders', 'api', 'public', 'svc', 'items', 'reports', 'ADMIN', 'Admin', 'adm%69n', 'adm%C4%B1n', '%61dmin', 'healthz', 'metrics', 'admin.json', 'orders.', 'admin%20', 'ad;x=1min'];
const SUFFIXES = [';', ';x=1', ';jsessionid=1', '.', '%2e', '%20', '%09', '%00', '%3F', '%3f', '%23', '%3F.json', '.json', '~', '%2f', '%2F', '%5c', '\\', '%EF%BC%8E', '%', '%zz', '%2', 'é', '%C3%A9', '%FF', '%ef%bc%8f'];
const SEPARATORS = ['\\', '%2f', '%2F', '%5c', '%5C', '%252f', '//', '/./', '/../', '/;/', '/%2e/', '%EF%BC%8F'];

/** CONTRACT "Paths": refused with 400 before routing. Undecodable segments are left to the gateway (not stated). */
function contractBadPath(target: string): boolean {
  const path = target.split('?')[0]!.split('#')[0]!;
  if (path.includes('\\')) return true;
  for (const raw of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      continue;
    }
    if (decoded.includes('/') || decoded.includes('\\')) return true;
    const cut = (s: string) => s.split(';')[0]!;
    if (['.', '..'].includes(cut(decoded)) || ['.', '..'].includes(cut(raw))) return true;
  }
  return false;
}

/** One edit of `segments` at index `i` (an insertion point, or the segment there for an in-place edit). */
function mutateSegment(rng: Rng, segments: string[], op: string, i: number): void {
  switch (op) {
    case 'insert-dot':
      segments.splice(i, 0, rng.pick(DOT_LIKE));
      break;
    case 'insert-name':
      segments.splice(i, 0, rng.pick(NAMES));
      break;
    case 'replace':
      segments[Math.min(i, segments.length - 1)] = rng.pick([...DOT_LIKE, ...NAMES]);
      break;
    case 'encode-char': {
      const j = Math.min(i, segments.length - 1);
      const seg = segments[j]!;
      const c = rng.int(seg.length);
      const hex = seg.charCodeAt(c).toString(16).padStart(2, '0');
      segments[j] = `${seg.slice(0, c)}%${rng.chance(0.5) ? hex.toUpperCase() : hex}${seg.slice(c + 1)}`;
      break;
    }
    case 'suffix': {
      const j = Math.min(i, segments.length - 1);
      segments[j] = `${segments[j]}${rng.pick(SUFFIXES)}`;
      break;
    }
    case 'empty':
      segments.splice(i, 0, '');
      break;
    case 'upper': {
      const j = Math.min(i, segments.length - 1);
      segments[j] = rng.chance(0.5) ? segments[j]!.toUpperCase() : segments[j]!.replace(/^./, (c) => c.toUpperCase());
      break;
    }
    case 'trailing-slash':
      segments.push('');
      break;
    default: {
      const j = Math.min(i, segments.length - 1);
      segments[j] = `${segments[j]}${latin1(rng.pick(['é', 'ı', '．', '／']))}`;
    }
  }
}

/** The route's sample path after one to three segment edits, then maybe a replaced separator, a prefix and a query. */
function mutatedPath(rng: Rng, route: FuzzRoute): { path: string; ops: string[] } {
  const segments = [...route.sample.split('/').filter(Boolean), String(rng.int(1000))];
  const ops: string[] = [];
  for (let k = rng.range(1, 3); k > 0; k--) {
    const op = rng.pick(['insert-dot', 'insert-name', 'replace', 'encode-char', 'suffix', 'empty', 'upper', 'trailing-slash', 'raw-utf8']);
    const i = rng.int(segments.length + 1);
    mutateSegment(rng, segments, op, i);
    ops.push(op);
  }
  let path = `/${segments.join('/')}`;
  if (rng.chance(0.25)) {
    // Replace one separator (not the leading one).
    const slashes = [...path.matchAll(/\//g)].map((m) => m.index!).filter((index) => index > 0);
    if (slashes.length > 0) {
      const at = rng.pick(slashes);
      path = `${path.slice(0, at)}${rng.pick(SEPARATORS)}${path.slice(at + 1)}`;
      ops.push('separator');
    }
  }
  if (rng.chance(0.05)) {
    path = rng.pick([`//${path.slice(1)}`, `/./${path.slice(1)}`, `/%2e/${path.slice(1)}`, `http://evil.example${path}`, `*`, path.slice(1)]);
    ops.push('prefix');
  }
  if (rng.chance(0.1)) {
    path += rng.pick(['?a=%2e%2e/..', '??x', '?', '#frag', '?a=1#b', '?%00']);
    ops.push('query');
  }
  return { path, ops };
}

export async function pathDraft(ctx: FuzzContext, rng: Rng): Promise<NamedDraft> {
  const token = await ctx.standardToken();
  const route = ROUTES[rng.pick<RouteName>(['orders', 'public', 'reports', 'strip', 'admin'])];
  const { path, ops } = mutatedPath(rng, route);
  const method = rng.chance(0.85) ? 'GET' : rng.pick(['HEAD', 'OPTIONS', 'POST']);
  const withToken = rng.chance(0.9);
  const expect: Expectation = contractBadPath(path) ? statuses('CONTRACT Paths: dot segment, encoded / or \\, backslash → 400', 400) : ANY;
  return {
    mutation: `path:${ops.join('+')}`,
    draft: {
      spec: {
        method,
        target: path,
        headers: [...(withToken ? [['Authorization', bearer(token)] as const] : []), ...(method === 'POST' ? [['Content-Length', '2'] as const] : [])],
        ...(method === 'POST' ? { body: Buffer.from('{}') } : {}),
      },
      summary: `${method} ${show(path, 100)}${withToken ? '' : ' (no token)'}`,
      expect,
      credential: withToken ? STANDARD_CREDENTIAL : undefined,
      secrets: signatureOf(token),
      ...(method === 'POST' ? { bodies: [Buffer.from('{}')] } : {}),
    },
  };
}
