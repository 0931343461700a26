import { describe, expect, it } from '@jest/globals';
import { normalizePath } from '../request/normalize-path.js';
import { normalisePath } from './path-prefix.js';

// CONTRACT: "A pathPrefix no request could match (one the path rules refuse) is a config error."
// Every prefix the config accepts must therefore be one the request-path rules accept too.
describe('prefixes the config accepts are paths a request can have', () => {
  const ALPHABET = ['a', 'Z', '0', '.', '-', '_', '~', '!', '$', '&', "'", '(', ')', '*', '+', ',', '=', ':', '@', ' ', ';', '%', '?', '#', '\\', 'é', '/'];

  /** Deterministic: every string up to 3 characters of ALPHABET after a leading `/`, then a few longer shapes. */
  function* candidates(): Generator<string> {
    const grow = function* (prefix: string, depth: number): Generator<string> {
      yield prefix;
      if (depth === 0) return;
      for (const c of ALPHABET) yield* grow(prefix + c, depth - 1);
    };
    yield* grow('/', 3);
    yield* ['/api/v1.', '/api../x', '/a/./b', '/a/.../b', '/.well-known', '/api/v1.2/x', '/x/..'];
  }

  it('no accepted prefix is refused by normalizePath (and the control set is not empty)', () => {
    let accepted = 0;
    const refusedByRequestRules: string[] = [];
    for (const candidate of candidates()) {
      const result = normalisePath(candidate);
      if (!('path' in result)) continue;
      accepted++;
      const request = normalizePath(result.path);
      if (!request.ok) refusedByRequestRules.push(`${candidate} (${request.reason})`);
    }
    expect(refusedByRequestRules).toEqual([]);
    expect(accepted).toBeGreaterThan(1000);
  });

  it.each([
    { prefix: '/api/v1.', problem: 'must not have a segment ending in "." (no request could match it)' },
    { prefix: '/api/orders/', path: '/api/orders' },
    { prefix: '/api/v1.2/x', path: '/api/v1.2/x' },
  ])('$prefix', ({ prefix, problem, path }) => {
    expect(normalisePath(prefix)).toEqual(problem ? { problem } : { path });
  });
});
