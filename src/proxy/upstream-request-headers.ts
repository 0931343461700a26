import { copyEndToEndHeaders, isHopByHop } from './hop-by-hop.js';

/** What the gateway itself tells the upstream about one request (CONTRACT "What an upstream sees"). */
export interface ForwardContext {
  requestId: string;
  /** From `TrustedProxies.forwardedFor`. */
  forwardedFor: string;
  forwardedProto: string;
  /** The caller's `Host`. */
  forwardedHost: string | undefined;
  /** The upstream's `Authorization` (service token or the caller's); absent: none is sent. */
  authorization?: string;
  /** The verified caller; absent on public routes, so no `X-Auth-*` is sent. */
  identity?: { subject?: string; clientId?: string; scopes: readonly string[] };
}

/** Headers the gateway sets itself, or must not pass on, whatever the caller sent. */
const REPLACED = new Set([
  'host', // the HTTP client sets the upstream's; the caller's goes in X-Forwarded-Host
  'authorization',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  // Node's server has already answered `Expect: 100-continue` to the caller, and undici
  // refuses to send an `expect` header at all (NotSupportedError), so it cannot be forwarded.
  'expect',
]);

/**
 * Headers by which a proxy vouches for the client or the original URL (CONTRACT "What an
 * upstream sees"). Upstreams feed them to allow-lists, audit logs and redirect URLs; the
 * gateway states the client in X-Forwarded-* and is the only proxy the upstream believes, so
 * these go whoever sent them, trusted proxies included. The first group is CONTRACT's list;
 * the second, the same kind of header read by other common servers (nginx, Envoy, Rails,
 * IIS/ARR, Akamai), removed for the same reason.
 */
export const PROXY_VOUCHED = new Set([
  'forwarded', // RFC 7239: would contradict the X-Forwarded-* the gateway sets
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'x-original-host',
  'x-host',
  // Beyond CONTRACT's list:
  'x-forwarded',
  'x-forwarded-uri',
  'x-forwarded-path',
  'x-forwarded-protocol',
  'x-forwarded-by',
  'x-original-forwarded-for',
  'x-original-uri',
  'x-originating-ip',
  'x-remote-ip',
  'x-remote-addr',
  'client-ip',
  'x-proxyuser-ip',
  'x-url-scheme',
  'front-end-https',
  'x-envoy-external-address',
  'x-envoy-original-path',
]);

/**
 * Headers that make common frameworks change the method or path they route on
 * (Symfony, IIS, method-override middleware): the gateway checked scopes for
 * the method and path it saw, so the upstream must see the same.
 */
const OVERRIDES = new Set(['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url']);

function notForwarded(lowerName: string): boolean {
  // CGI-style servers (Rack, PHP, WSGI) read `X_Auth_Subject` as `X-Auth-Subject`: compare with `_` as `-`.
  if (lowerName.includes('_')) {
    const name = lowerName.replaceAll('_', '-');
    // `Keep_Alive`, `Proxy_Authorization`…: hop-by-hop to such a server, so never passed on either.
    return isHopByHop(name) || isControlled(name);
  }
  return isControlled(lowerName);
}

function isControlled(name: string): boolean {
  // Identity headers come only from the verified token: a caller's own X-Auth-* is removed.
  return REPLACED.has(name) || PROXY_VOUCHED.has(name) || OVERRIDES.has(name) || name.startsWith('x-auth-');
}

/**
 * The headers the upstream gets: the caller's end-to-end headers (`content-length` included),
 * less `Host`, `Authorization`, `X-Forwarded-*` (for/proto/host), `X-Request-Id`, `Expect`, any
 * `X-Auth-*` and every header of PROXY_VOUCHED (`Forwarded`, `X-Real-IP`…); then the gateway's own `X-Request-Id`, `X-Forwarded-For`,
 * `X-Forwarded-Proto`, `X-Forwarded-Host`, `Authorization` and, for a verified caller,
 * `X-Auth-Subject`, `X-Auth-Client-Id` and `X-Auth-Scopes` (space-separated; omitted when there
 * are no scopes). Incoming names must be lower-case, as Node gives them.
 *
 * @example
 * upstreamRequestHeaders(req.headers, {
 *   requestId: 'r-1', forwardedFor: '198.51.100.7', forwardedProto: 'https', forwardedHost: 'api.example.com',
 *   authorization: 'Bearer <service token>',
 *   identity: { subject: 'svc-a', clientId: 'svc-a', scopes: ['orders:read'] },
 * });
 */
export function upstreamRequestHeaders(
  incoming: Record<string, string | string[] | undefined>,
  ctx: ForwardContext,
): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  copyEndToEndHeaders(incoming, headers, notForwarded);
  headers['x-request-id'] = ctx.requestId;
  headers['x-forwarded-for'] = ctx.forwardedFor;
  headers['x-forwarded-proto'] = ctx.forwardedProto;
  if (ctx.forwardedHost !== undefined) headers['x-forwarded-host'] = ctx.forwardedHost;
  if (ctx.authorization !== undefined) headers['authorization'] = ctx.authorization;
  const identity = ctx.identity;
  if (identity !== undefined) {
    if (identity.subject !== undefined) headers['x-auth-subject'] = identity.subject;
    if (identity.clientId !== undefined) headers['x-auth-client-id'] = identity.clientId;
    if (identity.scopes.length > 0) headers['x-auth-scopes'] = identity.scopes.join(' ');
  }
  return headers;
}
