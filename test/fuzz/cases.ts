// The case generator: cases one at a time from the seeded PRNG, in id order whatever the
// concurrency, so a seed always yields the same cases. A case is one family's drafts (or a
// pipeline of several) turned into marked requests and the bytes that carry them.
import { randomBytes } from 'node:crypto';
import { ALGORITHMS, STANDARD_CREDENTIAL, type FuzzContext } from './fuzz-context.js';
import { type Draft, type FuzzCase, type NamedDraft, type Sent, signatureOf, statuses } from './fuzz-case.js';
import { framingDraft } from './framing-mutations.js';
import { headerDraft } from './header-mutations.js';
import { methodDraft } from './method-mutations.js';
import { pathDraft } from './path-mutations.js';
import { bearer, encodeRequest } from './request-bytes.js';
import type { Rng } from './rng.js';
import { OPEN_ROUTES, ROUTES } from './routes.js';
import { tokenDraft } from './token-mutations.js';

type Family = 'control' | 'token' | 'header' | 'path' | 'method' | 'framing' | 'pipeline';
const FAMILIES: readonly Family[] = ['control', 'token', 'header', 'path', 'method', 'framing', 'pipeline'];

/** Marks request `index` of case `id`; the smuggled request of a framing case is index 9. */
const caseMarker = (id: number, index: number) => `fz-${id}-${index}`;

/** A GET with the standard token to a route it may use: must get 200 and reach the upstream once. */
function controlDraft(rng: Rng, token: string): NamedDraft {
  const route = ROUTES[rng.pick(OPEN_ROUTES)];
  return {
    mutation: `control:${route.name}`,
    draft: {
      spec: { method: 'GET', target: `${route.sample}${rng.int(1000)}`, headers: [['Authorization', bearer(token)]] },
      summary: `GET ${route.name} with the standard token`,
      expect: statuses('control', 200),
      control: true,
      credential: STANDARD_CREDENTIAL,
      secrets: signatureOf(token),
    },
  };
}

/**
 * Two to four requests on one connection. Methods whose answer the wire client could not frame
 * (HEAD's has no body, CONNECT's none at all) are replaced by a control.
 */
async function pipelineDrafts(ctx: FuzzContext, rng: Rng, now: number): Promise<NamedDraft[]> {
  const drafts: NamedDraft[] = [];
  for (let i = rng.range(2, 4); i > 0; i--) {
    const pick = rng.pick(['control', 'token', 'method', 'framing-cl', 'no-token']);
    if (pick === 'control') drafts.push(controlDraft(rng, await ctx.standardToken()));
    else if (pick === 'token') drafts.push(await tokenDraft(ctx, rng, now));
    else if (pick === 'method') {
      const m = await methodDraft(ctx, rng);
      if (m.draft.spec.method === 'HEAD' || m.draft.spec.method === 'CONNECT') drafts.push(controlDraft(rng, await ctx.standardToken()));
      else drafts.push(m);
    } else if (pick === 'framing-cl') {
      const body = randomBytes(rng.range(0, 200));
      drafts.push({
        mutation: 'framing:cl',
        draft: {
          spec: { method: 'POST', target: `/api/orders/${rng.int(1000)}`, headers: [['Authorization', bearer(await ctx.standardToken())], ['Content-Length', String(body.length)]], body },
          summary: `POST orders (${body.length} bytes)`,
          expect: statuses('valid body', 200),
          credential: STANDARD_CREDENTIAL,
          bodies: [body],
          secrets: [],
        },
      });
    } else {
      drafts.push({ mutation: 'no-token', draft: { spec: { method: 'GET', target: `/api/orders/${rng.int(1000)}` }, summary: 'GET orders without a token', expect: statuses('no token', 401), secrets: [] } });
    }
  }
  return drafts;
}

/** The drafts of one case of `family`, and the request smuggled in the first one's body, if any. */
async function draftsOf(ctx: FuzzContext, rng: Rng, family: Family, now: number, innerMarker: string): Promise<{ drafts: NamedDraft[]; inner?: Draft }> {
  switch (family) {
    case 'control':
      return { drafts: [controlDraft(rng, rng.chance(0.5) ? await ctx.standardToken() : await ctx.issuer.token({ alg: rng.pick(ALGORITHMS), claims: { scope: 'orders:read' } }))] };
    case 'token':
      return { drafts: [await tokenDraft(ctx, rng, now)] };
    case 'header':
      return { drafts: [await headerDraft(ctx, rng)] };
    case 'path':
      return { drafts: [await pathDraft(ctx, rng)] };
    case 'method':
      return { drafts: [await methodDraft(ctx, rng)] };
    case 'framing': {
      const framed = await framingDraft(ctx, rng, innerMarker);
      return { drafts: [framed], inner: framed.inner };
    }
    case 'pipeline':
      return { drafts: await pipelineDrafts(ctx, rng, now) };
  }
}

async function generateCase(ctx: FuzzContext, id: number, rng: Rng, family: Family): Promise<FuzzCase> {
  const now = Math.floor(Date.now() / 1000);
  const marker = (i: number) => caseMarker(id, i);
  const { drafts, inner } = await draftsOf(ctx, rng, family, now, marker(9));
  const requests: Sent[] = drafts.map(({ draft, mutation }, i) => ({
    marker: marker(i),
    mutation: family === 'pipeline' ? `pipeline#${i + 1}:${mutation}` : mutation,
    method: draft.spec.method,
    target: draft.spec.target,
    summary: draft.summary,
    expect: draft.expect,
    control: draft.control,
    credential: draft.credential,
    bodies: draft.bodies,
    echoHeader: draft.echoHeader,
    secrets: draft.secrets ?? [],
  }));
  const wire = Buffer.concat(drafts.map(({ draft }, i) => encodeRequest(draft.spec, marker(i), i === drafts.length - 1, ctx.gatewayHost)));
  if (inner) {
    requests.push({ marker: marker(9), mutation: `${drafts[0]!.mutation} (smuggled request)`, method: inner.spec.method, target: inner.spec.target, summary: inner.summary, expect: inner.expect, credential: inner.credential, secrets: inner.secrets ?? [], inner: true });
  }
  // Sometimes the bytes go out in small pieces, to exercise incremental parsing.
  let pieces: Buffer[] | undefined;
  if (rng.chance(0.15) && wire.length > 8) {
    const cuts = [...new Set(Array.from({ length: rng.range(1, 5) }, () => rng.range(1, wire.length - 1)))].sort((a, b) => a - b);
    pieces = [0, ...cuts].map((from, i) => wire.subarray(from, cuts[i] ?? wire.length));
  }
  const mutation = family === 'pipeline' ? `pipeline[${drafts.map((d) => d.mutation.split(':')[0]).join(',')}]` : drafts[0]!.mutation;
  return { id, family, mutation, requests, wire, pieces };
}

/** The first rounds cover every family, then controls are every 8th case and the rest is weighted. */
function familyOf(id: number, rng: Rng): Family {
  if (id < FAMILIES.length * 3) return FAMILIES[id % FAMILIES.length]!;
  if (id % 8 === 0) return 'control';
  return rng.weighted<Family>([[8, 'token'], [3, 'header'], [4, 'path'], [2, 'method'], [2, 'framing'], [1, 'pipeline']]);
}

/**
 * Cases from one generator in order, however many workers ask: each request waits for the one
 * before it, so the PRNG is drawn from in the same order on every run of a seed.
 */
export class CaseSequence {
  /** How many case ids have been handed out. */
  count = 0;
  #generating: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: FuzzContext,
    private readonly rng: Rng,
    private readonly limits: { readonly iterations: number; readonly deadline: number },
  ) {}

  /** The next case; undefined once `iterations` cases were made or the deadline has passed. */
  next(): Promise<FuzzCase | undefined> {
    const result = this.#generating.then(async () => {
      if (this.count >= this.limits.iterations || Date.now() >= this.limits.deadline) return undefined;
      const id = this.count++;
      return generateCase(this.ctx, id, this.rng, familyOf(id, this.rng));
    });
    this.#generating = result.catch(() => undefined);
    return result;
  }

  /** One more control past the limits, once every other case has finished. */
  finalControl(): Promise<FuzzCase> {
    return generateCase(this.ctx, this.count++, this.rng, 'control');
  }
}
