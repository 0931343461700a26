import { describe, expect, it } from '@jest/globals';
import { deepFreeze } from './deep-freeze.js';

describe('deepFreeze', () => {
  it('freezes objects and arrays at every depth and returns the same object', () => {
    const value = { routes: [{ id: 'orders', throttle: [{ limit: 1 }] }], clients: { a: { clientId: 'x' } } };
    const frozen = deepFreeze(value);
    expect(frozen).toBe(value);
    for (const part of [frozen, frozen.routes, frozen.routes[0], frozen.routes[0].throttle, frozen.routes[0].throttle[0], frozen.clients.a]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (frozen.routes[0] as { id: string }).id = 'other';
    }).toThrow(TypeError);
  });

  it('leaves Buffers alone (they cannot be frozen) but freezes what holds them', () => {
    const holder = { key: Buffer.alloc(32) };
    deepFreeze(holder);
    expect(Object.isFrozen(holder)).toBe(true);
    expect(Object.isFrozen(holder.key)).toBe(false);
  });

  it('survives cycles and passes primitives through', () => {
    const a: { self?: unknown } = {};
    a.self = a;
    expect(Object.isFrozen(deepFreeze(a))).toBe(true);
    expect(deepFreeze(5)).toBe(5);
    expect(deepFreeze(null)).toBeNull();
  });
});
