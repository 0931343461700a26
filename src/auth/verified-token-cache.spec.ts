import type { Principal } from './principal.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

function principal(expiresAt: number, issuer = 'https://idp'): Principal {
  return { issuer, scopes: [], expiresAt, claims: {}, token: 't' };
}
const generation = { generation: () => 1 };

describe('VerifiedTokenCache', () => {
  it('returns a cached principal while unexpired and the key set is unchanged', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set('a', principal(1000), 1);
    expect(cache.get('a', generation, 999, 0)).toEqual(principal(1000));
  });

  it('drops an entry at exp (with the tolerance), never serving an expired token', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set('a', principal(1000), 1);
    expect(cache.get('a', generation, 1029, 30)).toBeDefined();
    expect(cache.get('a', generation, 1030, 30)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops an entry when the issuer key set changed since it was verified', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set('a', principal(1000), 1);
    expect(cache.get('a', { generation: () => 2 }, 10, 0)).toBeUndefined();
  });

  it('is bounded: the oldest entry goes first', () => {
    const cache = new VerifiedTokenCache(2);
    cache.set('a', principal(1000), 1);
    cache.set('b', principal(1000), 1);
    cache.set('c', principal(1000), 1);
    expect(cache.size).toBe(2);
    expect(cache.get('a', generation, 10, 0)).toBeUndefined();
    expect(cache.get('c', generation, 10, 0)).toBeDefined();
  });

  it('with a size of 0 keeps nothing', () => {
    const cache = new VerifiedTokenCache(0);
    cache.set('a', principal(1000), 1);
    expect(cache.size).toBe(0);
  });
});
