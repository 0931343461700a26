// The method family: the standard request with a method from a pool of standard, extension,
// mis-cased and invalid ones. Methods Node does not know, and CONNECT, never reach an
// upstream; TRACE gets 405; a route with a method list refuses the others with 405.
import { METHODS } from 'node:http';
import { STANDARD_CREDENTIAL, type FuzzContext } from './fuzz-context.js';
import { type Expectation, type NamedDraft, signatureOf, statuses } from './fuzz-case.js';
import { bearer } from './request-bytes.js';
import type { Rng } from './rng.js';
import { type RouteName, ROUTES, routeStatus } from './routes.js';
import { show } from './show.js';

const METHOD_POOL = [
  'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'TRACK', 'CONNECT', 'PROPFIND', 'PURGE', 'QUERY', 'SEARCH', 'LINK', 'M-SEARCH',
  'MKCOL', 'REPORT', 'get', 'Get', 'gEt', 'post', 'trace', 'FOO', 'GETS', 'BREW', 'PRI', 'ACL', 'SOURCE', 'DEBUG', 'TRACE ', 'X'.repeat(40),
];

export async function methodDraft(ctx: FuzzContext, rng: Rng): Promise<NamedDraft> {
  const token = await ctx.standardToken();
  const route = ROUTES[rng.pick<RouteName>(['orders', 'public', 'reports', 'strip', 'admin'])];
  const method = rng.pick(METHOD_POOL);
  const target = method === 'CONNECT' && rng.chance(0.5) ? ctx.gatewayHost : `${route.sample}${rng.int(1000)}`;
  let expect: Expectation;
  if (!(METHODS as readonly string[]).includes(method) || method === 'CONNECT') expect = { kind: 'refused', why: `${show(method)} never reaches an upstream` };
  else if (method === 'TRACE') expect = statuses('CONTRACT: TRACE is never forwarded (405)', 405);
  // RFC 10008 §2: a QUERY without Content-Type must fail (Fastify answers 400 before routing).
  else if (method === 'QUERY') expect = statuses('RFC 10008: QUERY needs a Content-Type', 400);
  else expect = statuses(route.methods ? `methods ${route.methods.join(',')}` : 'a route without methods takes every other method', routeStatus(route, method));
  const body = ['POST', 'PUT', 'PATCH', 'QUERY'].includes(method) ? Buffer.from(`{"n":${rng.int(100)}}`) : undefined;
  return {
    mutation: `method:${method.trim() === method ? method : show(method)}`.slice(0, 40),
    draft: {
      spec: { method, target, headers: [['Authorization', bearer(token)], ...(body ? [['Content-Length', String(body.length)] as [string, string]] : [])], body },
      summary: `${show(method, 40)} ${route.name}`,
      expect,
      credential: STANDARD_CREDENTIAL,
      secrets: signatureOf(token),
      ...(body ? { bodies: [body] } : {}),
    },
  };
}
