// URL rules for the addresses the gateway calls. Keys and service tokens are
// fetched only over https (or plain http to this very machine, for tests and
// sidecars); upstreams are internal services, so plain http is fine there.
// Each function returns the reason a URL is refused, or undefined.

/** Whitespace, control characters and `\`: the WHATWG parser silently drops or rewrites them. */
const UNSAFE_CHARACTERS = /[\s\u0000-\u001f\u007f\\]/;

const LOOPBACK_IPV4 = /^127(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** localhost, 127.0.0.0/8 or ::1: traffic that never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || LOOPBACK_IPV4.test(hostname);
}

function parse(value: string): URL | undefined {
  if (UNSAFE_CHARACTERS.test(value)) return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined; // not an absolute URL: reported by the caller in its own words
  }
}

export const HTTPS_ONLY = 'must use https (plain http is allowed only for localhost, 127.0.0.0/8 and [::1])';
export const NO_CREDENTIALS = 'must not contain credentials (user:password@)';

/**
 * For `jwksUri`, `tokenUrl` and an issuer used for discovery.
 *
 * @example
 * secureUrlProblem('http://idp.example.com/jwks', {}); // HTTPS_ONLY
 * secureUrlProblem('http://127.0.0.1:8080/jwks', {});  // undefined
 */
export function secureUrlProblem(value: string, options: { allowQuery?: boolean } = {}): string | undefined {
  const url = parse(value);
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) return 'must be an absolute https URL';
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) return HTTPS_ONLY;
  if (url.username !== '' || url.password !== '') return NO_CREDENTIALS;
  if (value.includes('#')) return 'must not contain a fragment (#)';
  if (!options.allowQuery && value.includes('?')) return 'must not contain a query (?)';
  return undefined;
}

/**
 * An upstream's base: absolute http(s), no credentials, query or fragment.
 * Returns the normalised form (no trailing `/`; the path is kept) or the reason.
 *
 * @example
 * upstreamUrl('http://orders.internal:8080/v1/'); // { url: 'http://orders.internal:8080/v1' }
 */
export function upstreamUrl(value: string): { url: string } | { problem: string } {
  const url = parse(value);
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') {
    return { problem: 'must be an absolute http or https URL' };
  }
  if (url.username !== '' || url.password !== '') return { problem: NO_CREDENTIALS };
  if (value.includes('?')) return { problem: 'must not contain a query (?)' };
  if (value.includes('#')) return { problem: 'must not contain a fragment (#)' };
  const path = url.pathname.replace(/\/+$/, '');
  return { url: `${url.protocol}//${url.host}${path}` };
}
