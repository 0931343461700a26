import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { MemoryWindowStore, secondsUntil, windowMs } from './memory-window.store.js';

/** A clock the test moves by hand. */
function clock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

const hit = (store: MemoryWindowStore, key: string, ttlMs: number, limit: number) => store.increment(key, ttlMs, limit, ttlMs, 'default');

describe('MemoryWindowStore', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('limit 5: hits 1..5 are allowed, 6 and 7 blocked until the window ends', async () => {
    const t = clock();
    const store = new MemoryWindowStore({ now: t.now });
    const results = [];
    for (let i = 0; i < 7; i += 1) results.push(await hit(store, 'k', 60_000, 5));
    expect(results.map((r) => [r.totalHits, r.isBlocked])).toEqual([
      [1, false], [2, false], [3, false], [4, false], [5, false], [6, true], [7, true],
    ]);
    expect(results[4]).toEqual({ totalHits: 5, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 });
    expect(results[5]).toEqual({ totalHits: 6, timeToExpire: 60, isBlocked: true, timeToBlockExpire: 60 });
  });

  it('the budget returns when the window ends (at windowEndsAt, not before)', async () => {
    const t = clock();
    const store = new MemoryWindowStore({ now: t.now });
    for (let i = 0; i < 3; i += 1) await hit(store, 'k', 1_000, 2);
    t.advance(999);
    await expect(hit(store, 'k', 1_000, 2)).resolves.toMatchObject({ totalHits: 4, isBlocked: true, timeToExpire: 1 });
    t.advance(1); // exactly windowEndsAt: a new window
    await expect(hit(store, 'k', 1_000, 2)).resolves.toEqual({ totalHits: 1, timeToExpire: 1, isBlocked: false, timeToBlockExpire: 0 });
    await expect(hit(store, 'k', 1_000, 2)).resolves.toMatchObject({ totalHits: 2, isBlocked: false });
    await expect(hit(store, 'k', 1_000, 2)).resolves.toMatchObject({ totalHits: 3, isBlocked: true });
  });

  it('a window is fixed: hits inside it do not extend it', async () => {
    const t = clock();
    const store = new MemoryWindowStore({ now: t.now });
    await hit(store, 'k', 10_000, 100);
    t.advance(9_000);
    await expect(hit(store, 'k', 10_000, 100)).resolves.toMatchObject({ totalHits: 2, timeToExpire: 1 });
    t.advance(1_000);
    await expect(hit(store, 'k', 10_000, 100)).resolves.toMatchObject({ totalHits: 1, timeToExpire: 10 });
  });

  it('separate keys have separate budgets', async () => {
    const t = clock();
    const store = new MemoryWindowStore({ now: t.now });
    for (let i = 0; i < 3; i += 1) await hit(store, 'route:w:alice', 60_000, 2);
    await expect(hit(store, 'route:w:alice', 60_000, 2)).resolves.toMatchObject({ totalHits: 4, isBlocked: true });
    await expect(hit(store, 'route:w:bob', 60_000, 2)).resolves.toMatchObject({ totalHits: 1, isBlocked: false });
    await expect(store.peek('route:w:alice')).resolves.toBe(4);
    await expect(store.peek('route:w:bob')).resolves.toBe(1);
  });

  it.each([
    // [ms since the window opened, ttl ms, timeToExpire s]
    [0, 60_000, 60],
    [1, 60_000, 60], // 59.999 s → 60
    [999, 60_000, 60],
    [1_000, 60_000, 59],
    [59_001, 60_000, 1], // 0.999 s → 1
    [59_999, 60_000, 1], // 1 ms left → still 1, never 0 inside the window
    [0, 1_500, 2],
    [0, 1, 1],
  ])('timeToExpire %d ms into a %d ms window → %d s', async (elapsed, ttlMs, seconds) => {
    const t = clock();
    const store = new MemoryWindowStore({ now: t.now });
    await hit(store, 'k', ttlMs, 10);
    t.advance(elapsed);
    const record = await hit(store, 'k', ttlMs, 10);
    expect(record.timeToExpire).toBe(seconds);
    expect(record.totalHits).toBe(elapsed < ttlMs ? 2 : 1);
  });

  it('a fractional ttl is rounded up to a whole ms; a ttl that is not positive is refused', async () => {
    expect(windowMs(999.2)).toBe(1_000);
    expect(secondsUntil(1_001, 0)).toBe(2);
    const store = new MemoryWindowStore();
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(store.increment('k', ttl, 1, ttl, 'default')).rejects.toThrow(RangeError);
    }
    expect(store.size).toBe(0);
  });

  it('peek: 0 for an unknown key, the count without adding one, 0 (and dropped) once expired', async () => {
    const t = clock();
    const store = new MemoryWindowStore({ now: t.now });
    await expect(store.peek('k')).resolves.toBe(0);
    await hit(store, 'k', 1_000, 5);
    await hit(store, 'k', 1_000, 5);
    await expect(store.peek('k')).resolves.toBe(2);
    await expect(store.peek('k')).resolves.toBe(2);
    t.advance(1_000);
    await expect(store.peek('k')).resolves.toBe(0);
    expect(store.size).toBe(0);
  });

  it('expired windows are swept by increment() at most once a second', async () => {
    const t = clock();
    const store = new MemoryWindowStore({ now: t.now });
    await hit(store, 'a', 100, 5); // first call sweeps (nothing to sweep)
    await hit(store, 'b', 100, 5);
    t.advance(500); // a and b expired, but the last sweep was 500 ms ago
    await hit(store, 'c', 10_000, 5);
    expect(store.size).toBe(3);
    t.advance(500); // a second since the last sweep
    await hit(store, 'c', 10_000, 5);
    expect(store.size).toBe(1);
    await expect(store.peek('c')).resolves.toBe(2);
  });

  it('maxKeys 3: expired windows go first, then the oldest-inserted live one; the map never exceeds 3', async () => {
    const t = clock();
    const store = new MemoryWindowStore({ now: t.now, maxKeys: 3 });
    await hit(store, 'short', 1_000, 5);
    await hit(store, 'long-1', 60_000, 5);
    await hit(store, 'long-2', 60_000, 5);
    t.advance(1_500); // 'short' expired; a sweep is due
    await hit(store, 'new-1', 60_000, 5);
    expect(store.size).toBe(3);
    await expect(store.peek('long-1')).resolves.toBe(1); // live windows kept while an expired one could go
    await expect(store.peek('long-2')).resolves.toBe(1);

    t.advance(100); // full of live windows, no sweep due: the oldest-inserted (long-1) is evicted
    await hit(store, 'new-2', 60_000, 5);
    expect(store.size).toBe(3);
    await expect(store.peek('long-1')).resolves.toBe(0);
    await expect(store.peek('long-2')).resolves.toBe(1);
    await expect(store.peek('new-1')).resolves.toBe(1);
    await expect(store.peek('new-2')).resolves.toBe(1);

    for (let i = 0; i < 50; i += 1) await hit(store, `flood-${i}`, 60_000, 5);
    expect(store.size).toBe(3);
    await expect(store.peek('flood-49')).resolves.toBe(1);
  });

  it('a key starting a new window moves to the end of the eviction order', async () => {
    const t = clock();
    const store = new MemoryWindowStore({ now: t.now, maxKeys: 2 });
    await hit(store, 'a', 1_000, 5);
    await hit(store, 'b', 60_000, 5);
    t.advance(1_000); // a expired; the sweep runs first, then a re-enters as the newest
    await hit(store, 'a', 1_000, 5);
    t.advance(10);
    await hit(store, 'c', 60_000, 5); // full, no sweep due: b is now the oldest
    await expect(store.peek('b')).resolves.toBe(0);
    await expect(store.peek('a')).resolves.toBe(1);
    await expect(store.peek('c')).resolves.toBe(1);
  });

  it('creates no timer: neither increment() nor peek() nor close() schedules anything', async () => {
    const timers = [
      jest.spyOn(globalThis, 'setTimeout'),
      jest.spyOn(globalThis, 'setInterval'),
      jest.spyOn(globalThis, 'setImmediate'),
    ];
    const store = new MemoryWindowStore({ maxKeys: 10 });
    for (let i = 0; i < 100; i += 1) await store.increment(`k${i % 20}`, 1_000, 5, 1_000, 'default');
    await store.peek('k1');
    await store.close();
    for (const timer of timers) expect(timer).not.toHaveBeenCalled();
    // positive control: the spies do see a timer made here
    clearTimeout(setTimeout(() => undefined, 1));
    expect(timers[0]).toHaveBeenCalledTimes(1);
  });

  it('close() clears every window; healthy is always true', async () => {
    const store = new MemoryWindowStore();
    await store.increment('k', 60_000, 1, 60_000, 'default');
    expect(store.healthy).toBe(true);
    await store.close();
    expect(store.size).toBe(0);
    await expect(store.peek('k')).resolves.toBe(0);
    expect(store.healthy).toBe(true);
  });

  it('refuses a maxKeys that is not a positive integer', () => {
    expect(() => new MemoryWindowStore({ maxKeys: 0 })).toThrow('MemoryWindowStore: maxKeys must be a positive integer');
    expect(() => new MemoryWindowStore({ maxKeys: 1.5 })).toThrow(RangeError);
  });
});
