import type { Principal } from './principal.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** A token whose payload decodes (the cache decodes claims from the caller's token when read). */
const TOKEN = `e30.${Buffer.from(JSON.stringify({ sub: 'svc', scope: 'a' })).toString('base64url')}.sig`;

function principal(expiresAt: number, issuer = 'https://idp'): Principal {
  return { issuer, subject: 'svc', clientId: 'client', scopes: ['a'], expiresAt, claims: { sub: 'svc', scope: 'a' }, token: TOKEN };
}
const generation = { generation: () => 1 };

describe('VerifiedTokenCache', () => {
  const cacheWith = (size: number, ...keys: string[]) => {
    const cache = new VerifiedTokenCache(size);
    for (const key of keys) cache.set(cache.keyOf(key), principal(1000), 1);
    return cache;
  };
  const lookup = (cache: VerifiedTokenCache, key: string, now = 10, keySets = generation, tolerance = 0) =>
    cache.get(cache.keyOf(key), TOKEN, keySets, now, tolerance);

  it('returns the cached identity around the caller’s token while unexpired and the key set is unchanged', () => {
    const cache = cacheWith(10, 'a');
    expect(lookup(cache, 'a', 999)).toEqual(principal(1000));
  });

  it('claims are decoded from the caller’s token on first read, and spread like own properties', () => {
    const hit = lookup(cacheWith(10, 'a'), 'a')!;
    expect(hit.claims).toEqual({ sub: 'svc', scope: 'a' });
    expect(hit.claims).toBe(hit.claims);
    expect({ ...hit }.claims).toEqual({ sub: 'svc', scope: 'a' });
    expect(Object.isFrozen(hit)).toBe(true);
  });

  it('keys by a digest of the token, never the token text', () => {
    const cache = new VerifiedTokenCache(10);
    expect(cache.keyOf(TOKEN)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cache.keyOf(TOKEN)).not.toContain(TOKEN.slice(0, 10));
    expect(cache.keyOf(`${TOKEN}x`)).not.toBe(cache.keyOf(TOKEN));
  });

  it('drops an entry at exp (with the tolerance), never serving an expired token', () => {
    const cache = cacheWith(10, 'a');
    expect(lookup(cache, 'a', 1029, generation, 30)).toBeDefined();
    expect(lookup(cache, 'a', 1030, generation, 30)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops an entry when the issuer key set changed since it was verified', () => {
    expect(lookup(cacheWith(10, 'a'), 'a', 10, { generation: () => 2 })).toBeUndefined();
  });

  it('is bounded: the oldest entry goes first', () => {
    const cache = cacheWith(2, 'a', 'b', 'c');
    expect(cache.size).toBe(2);
    expect(lookup(cache, 'a')).toBeUndefined();
    expect(lookup(cache, 'c')).toBeDefined();
  });

  it('with a size of 0 keeps nothing', () => {
    const cache = cacheWith(0, 'a');
    expect(cache.size).toBe(0);
    expect(lookup(cache, 'a')).toBeUndefined();
  });
});
