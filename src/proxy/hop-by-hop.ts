// RFC 9110 §7.6.1: connection-specific fields, and any field the Connection header names,
// belong to one hop and are never forwarded. The same rules serve requests and responses.

type HeaderMap = Record<string, string | string[] | undefined>;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Whether a (lower-case) header name is hop-by-hop: `Connection`, `Keep-Alive`, `TE`,
 * `Trailer`, `Transfer-Encoding`, `Upgrade` and every `Proxy-*` (`Proxy-Authorization`,
 * `Proxy-Authenticate`, `Proxy-Connection`…).
 *
 * @example
 * isHopByHop('keep-alive');          // true
 * isHopByHop('proxy-authorization'); // true
 * isHopByHop('content-length');      // false
 */
export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName) || lowerName.startsWith('proxy-');
}

/**
 * The lower-cased field names a `Connection` header lists, or `undefined` when it lists none.
 *
 * @example
 * connectionListed('keep-alive, X-Secret'); // Set { 'keep-alive', 'x-secret' }
 * connectionListed(undefined);              // undefined
 */
export function connectionListed(connectionHeader: string | string[] | undefined): Set<string> | undefined {
  if (connectionHeader === undefined) return undefined;
  if (typeof connectionHeader === 'string') return addListed(connectionHeader, undefined);
  let listed: Set<string> | undefined;
  for (const value of connectionHeader) listed = addListed(value, listed);
  return listed;
}

function addListed(value: string, listed: Set<string> | undefined): Set<string> | undefined {
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '') (listed ??= new Set()).add(name);
  }
  return listed;
}

/**
 * Copies every end-to-end header of `source` into `into`: not the hop-by-hop ones, not those
 * `source`'s `Connection` header names, not those `drop` refuses, not undefined values.
 * Names must already be lower-case (Node's and undici's header objects are).
 *
 * @example
 * const out: Record<string, string | string[]> = {};
 * copyEndToEndHeaders({ connection: 'x-secret', 'x-secret': '1', accept: 'text/plain' }, out);
 * // out: { accept: 'text/plain' }
 */
export function copyEndToEndHeaders(
  source: HeaderMap,
  into: Record<string, string | string[]>,
  drop?: (lowerName: string) => boolean,
): void {
  const connection = source['connection'];
  const listed = connection === undefined ? undefined : connectionListed(connection);
  for (const name of Object.keys(source)) {
    const value = source[name];
    if (value === undefined || isHopByHop(name)) continue;
    if (listed !== undefined && listed.has(name)) continue;
    if (drop !== undefined && drop(name)) continue;
    into[name] = value;
  }
}
