import { createHash } from 'node:crypto';
import type { Principal } from './principal.js';

/** Where the current key-set generation of an issuer is read (IssuerRegistry). */
export interface KeySetGenerations {
  generation(issuer: string): number;
}

/**
 * What a verification leaves behind: the identity, never the token or its claims. Measured
 * (issue #8, test/bench/rss-distinct-tokens.mjs): an entry holding the token text and its frozen
 * claims cost 1.2 KB (3 KB with an IdP's usual claims) and, under a stream of distinct tokens,
 * about four times that in RSS; this one is under 300 B.
 */
interface Entry {
  readonly issuer: string;
  readonly subject: string | undefined;
  readonly clientId: string | undefined;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  readonly keyGeneration: number;
}

/**
 * Verified tokens by a SHA-256 of their exact text, so a caller that reuses its token is not
 * re-verified per request. Bounded (oldest entry evicted first), and an entry is used only while
 * the token is unexpired and the issuer's key set is the one it was verified with (a refresh
 * that drops a key drops its tokens). A hit rebuilds the principal around the caller's own token;
 * its claims are decoded again only if something reads them.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

  /** The cache key of a token: computed once per request, passed to `get` and `set`. */
  keyOf(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  get(key: string, token: string, keySets: KeySetGenerations, nowSeconds: number, toleranceSeconds: number): Principal | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= nowSeconds - toleranceSeconds || entry.keyGeneration !== keySets.generation(entry.issuer)) {
      this.entries.delete(key);
      return undefined;
    }
    return cachedPrincipal(entry, token);
  }

  set(key: string, principal: Principal, keyGeneration: number): void {
    if (this.maxEntries <= 0) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    const { issuer, subject, clientId, scopes, expiresAt } = principal;
    this.entries.set(key, { issuer, subject, clientId, scopes, expiresAt, keyGeneration });
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The principal of a cache hit: the entry's identity, the request's token, claims decoded on first read. */
function cachedPrincipal(entry: Entry, token: string): Principal {
  let claims: Readonly<Record<string, unknown>> | undefined;
  const principal = {
    issuer: entry.issuer,
    subject: entry.subject,
    clientId: entry.clientId,
    scopes: entry.scopes,
    expiresAt: entry.expiresAt,
    token,
  };
  // An own enumerable getter, so spreading or serialising the principal still shows the claims.
  Object.defineProperty(principal, 'claims', {
    enumerable: true,
    get: () => (claims ??= Object.freeze(decodePayload(token))),
  });
  return Object.freeze(principal) as Principal;
}

/** The payload of a token that was verified before: its JSON is known to be a valid object. */
function decodePayload(token: string): Record<string, unknown> {
  const start = token.indexOf('.') + 1;
  return JSON.parse(Buffer.from(token.slice(start, token.indexOf('.', start)), 'base64url').toString('utf8')) as Record<string, unknown>;
}
