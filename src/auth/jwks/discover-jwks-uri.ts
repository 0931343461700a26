import { isLoopbackHost } from '../../config/url-rules.js';
import { FetchJsonError, withoutQuery } from './fetch-json.js';

export type JsonFetcher = (url: string) => Promise<unknown>;

/** The metadata documents to try, in order: OIDC Discovery §4, then RFC 8414 §3. */
export function metadataUrls(issuer: string): string[] {
  const trimmed = issuer.replace(/\/+$/, '');
  const url = new URL(trimmed);
  const path = url.pathname === '/' ? '' : url.pathname;
  return [`${trimmed}/.well-known/openid-configuration`, `${url.origin}/.well-known/oauth-authorization-server${path}`];
}

/**
 * The issuer's jwks_uri from its metadata. The document must name the same
 * issuer (OIDC Discovery §4.3, RFC 8414 §3.3): a mismatch means the wrong
 * document, and its keys must not be trusted for this issuer.
 */
export async function discoverJwksUri(issuer: string, fetchJson: JsonFetcher): Promise<string> {
  const failures: string[] = [];
  for (const url of metadataUrls(issuer)) {
    let document: unknown;
    try {
      document = await fetchJson(url);
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
      continue;
    }
    const metadata = (typeof document === 'object' && document !== null ? document : {}) as Record<string, unknown>;
    if (metadata.issuer !== issuer) {
      failures.push(`${withoutQuery(url)}: "issuer" in the document does not match`);
      continue;
    }
    if (typeof metadata.jwks_uri !== 'string' || !isAcceptableKeyUrl(metadata.jwks_uri)) {
      failures.push(`${withoutQuery(url)}: "jwks_uri" is missing or not https`);
      continue;
    }
    return metadata.jwks_uri;
  }
  throw new FetchJsonError(`discovery for ${issuer} failed: ${failures.join('; ')}`);
}

/** https, or http to a loopback host (local IdPs and tests). */
export function isAcceptableKeyUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}
