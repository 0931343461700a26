// RedisWindowStore against the machine's Redis (REDIS_URL, default
// redis://127.0.0.1:6379). With CI set, a missing Redis fails these tests;
// without CI they are skipped with a message. The "Redis down" tests need no
// Redis: they point a store at a port where nothing listens.
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { closedPort, describeWithRedis, REDIS_URL, redisAnswers, requireRedis } from '../../test/support/redis.js';
import { RedisWindowStore } from './redis-window.store.js';

const PREFIX = `test:${process.pid}:${randomBytes(4).toString('hex')}:`;

interface LogLine {
  level: number;
  msg: string;
}

function capturingLog() {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => { raw.push(line); lines.push(JSON.parse(line) as LogLine); } });
  return { log, lines, raw };
}

const redisUp = await redisAnswers(REDIS_URL);
describeWithRedis(redisUp, 'the RedisWindowStore tests that need Redis')('RedisWindowStore with Redis', () => {
  let admin: Redis;
  const stores: RedisWindowStore[] = [];
  const newStore = () => {
    const store = RedisWindowStore.create({ redis: { kind: 'single', url: REDIS_URL }, keyPrefix: PREFIX, log: capturingLog().log });
    stores.push(store);
    return store;
  };
  const uniqueKey = () => `orders:default:caller-${randomBytes(4).toString('hex')}`;
  const hit = (store: RedisWindowStore, key: string, ttlMs: number, limit: number) => store.increment(key, ttlMs, limit, ttlMs, 'default');

  beforeAll(async () => {
    requireRedis(redisUp);
    admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    if (!admin) return;
    const keys = await admin.keys(`${PREFIX}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it('limit 5: hits 1..5 allowed, 6 and 7 blocked, counted at <prefix>throttle:{<key>}', async () => {
    const store = newStore();
    const key = uniqueKey();
    const results = [];
    for (let i = 0; i < 7; i += 1) results.push(await hit(store, key, 60_000, 5));
    expect(results.map((r) => [r.totalHits, r.isBlocked])).toEqual([
      [1, false], [2, false], [3, false], [4, false], [5, false], [6, true], [7, true],
    ]);
    expect(results[0]).toEqual({ totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 });
    expect(results[5]!.timeToBlockExpire).toBe(results[5]!.timeToExpire);
    expect(results[5]!.timeToExpire).toBeGreaterThanOrEqual(59);
    expect(await admin.get(`${PREFIX}throttle:{${key}}`)).toBe('7');
    expect(store.healthy).toBe(true);
  });

  it('the counter expires with its window: PTTL ≤ ttl, set on the first hit and not extended by later ones', async () => {
    const store = newStore();
    const key = uniqueKey();
    const redisKey = `${PREFIX}throttle:{${key}}`;
    await hit(store, key, 30_000, 10);
    const first = await admin.pttl(redisKey);
    expect(first).toBeGreaterThan(29_000);
    expect(first).toBeLessThanOrEqual(30_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await hit(store, key, 30_000, 10);
    const second = await admin.pttl(redisKey);
    expect(second).toBeLessThan(first); // a fixed window: the second hit did not reset the expiry
    expect(second).toBeGreaterThan(0);
  });

  it('the budget returns when the window ends (a real 300 ms window)', async () => {
    const store = newStore();
    const key = uniqueKey();
    for (let i = 0; i < 3; i += 1) await hit(store, key, 300, 2);
    await expect(hit(store, key, 300, 2)).resolves.toMatchObject({ totalHits: 4, isBlocked: true, timeToExpire: 1 });
    await new Promise((resolve) => setTimeout(resolve, 350));
    await expect(store.peek(key)).resolves.toBe(0);
    await expect(hit(store, key, 300, 2)).resolves.toEqual({ totalHits: 1, timeToExpire: 1, isBlocked: false, timeToBlockExpire: 0 });
  });

  it('a counter left without a TTL gets one on the next hit (no key lives forever)', async () => {
    const store = newStore();
    const key = uniqueKey();
    const redisKey = `${PREFIX}throttle:{${key}}`;
    await admin.set(redisKey, '3');
    expect(await admin.pttl(redisKey)).toBe(-1);
    await expect(hit(store, key, 10_000, 5)).resolves.toMatchObject({ totalHits: 4, timeToExpire: 10 });
    const pttl = await admin.pttl(redisKey);
    expect(pttl).toBeGreaterThan(9_000);
    expect(pttl).toBeLessThanOrEqual(10_000);
  });

  it('atomic: 200 concurrent increments answer 1..200, each exactly once', async () => {
    const store = newStore();
    const key = uniqueKey();
    const results = await Promise.all(Array.from({ length: 200 }, () => hit(store, key, 60_000, 100)));
    const totals = results.map((r) => r.totalHits).sort((a, b) => a - b);
    expect(totals).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(results.filter((r) => !r.isBlocked)).toHaveLength(100);
    expect(await admin.get(`${PREFIX}throttle:{${key}}`)).toBe('200');
  });

  it('two store instances (two replicas) share one count', async () => {
    const [a, b] = [newStore(), newStore()];
    const key = uniqueKey();
    const results = [];
    for (let i = 0; i < 10; i += 1) results.push(await hit(i % 2 === 0 ? a : b, key, 60_000, 6));
    expect(results.map((r) => r.totalHits)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(results.filter((r) => !r.isBlocked)).toHaveLength(6);
    await expect(a.peek(key)).resolves.toBe(10);
    await expect(b.peek(key)).resolves.toBe(10);
  });

  it('separate keys have separate counts; peek does not count', async () => {
    const store = newStore();
    const [alice, bob] = [uniqueKey(), uniqueKey()];
    await hit(store, alice, 60_000, 5);
    await hit(store, alice, 60_000, 5);
    await expect(store.peek(alice)).resolves.toBe(2);
    await expect(store.peek(alice)).resolves.toBe(2);
    await expect(store.peek(bob)).resolves.toBe(0);
    await expect(hit(store, bob, 60_000, 5)).resolves.toMatchObject({ totalHits: 1 });
  });

  it('answered commands are no Redis errors: onCommandError stays uncalled; one Redis is reachable exactly when healthy', async () => {
    let failed = 0;
    const store = RedisWindowStore.create({ redis: { kind: 'single', url: REDIS_URL }, keyPrefix: PREFIX, log: capturingLog().log, onCommandError: () => { failed += 1; } });
    stores.push(store);
    await hit(store, uniqueKey(), 60_000, 5);
    await store.peek(uniqueKey());
    expect(failed).toBe(0);
    expect({ healthy: store.healthy, reachable: store.reachable }).toEqual({ healthy: true, reachable: true });
  });

  it('after close(): unhealthy, and calls reject', async () => {
    const store = newStore();
    await hit(store, uniqueKey(), 60_000, 5);
    expect(store.healthy).toBe(true);
    await store.close();
    expect(store.healthy).toBe(false);
    await expect(hit(store, uniqueKey(), 60_000, 5)).rejects.toThrow();
  });
});

describe('RedisWindowStore when Redis is down', () => {
  const stores: RedisWindowStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('nothing listening: increment and peek reject within ~1 s, healthy false, no password or warn logged', async () => {
    const { log, lines, raw } = capturingLog();
    const store = RedisWindowStore.create({ redis: { kind: 'single', url: `redis://:hunter2@127.0.0.1:${await closedPort()}` }, keyPrefix: PREFIX, log });
    stores.push(store);
    expect(store.healthy).toBe(false); // not connected yet
    for (const call of [() => store.increment('k', 1_000, 5, 1_000, 'default'), () => store.peek('k'), () => store.increment('k', 1_000, 5, 1_000, 'default')]) {
      const started = performance.now();
      await expect(call()).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(1_000);
    }
    expect(store.healthy).toBe(false);
    // The outage is logged once, with its policy, by ResilientWindowStore: nothing at warn here.
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(raw.join('')).not.toContain('hunter2');
  });

  it('each failed command is reported once to onCommandError (gateway_redis_errors_total{store="throttle"})', async () => {
    let failed = 0;
    const store = RedisWindowStore.create({
      redis: { kind: 'single', url: `redis://127.0.0.1:${await closedPort()}` }, keyPrefix: PREFIX, log: capturingLog().log,
      onCommandError: () => { failed += 1; },
    });
    stores.push(store);
    await expect(store.increment('k', 1_000, 5, 1_000, 'default')).rejects.toThrow();
    await expect(store.peek('k')).rejects.toThrow();
    expect(failed).toBe(2);
  });

  it('a server that accepts connections but never answers: reject within ~1 s, healthy false', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => { sockets.add(socket); socket.on('error', () => socket.destroy()); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const store = RedisWindowStore.create({ redis: { kind: 'single', url: `redis://127.0.0.1:${(silent.address() as AddressInfo).port}` }, keyPrefix: PREFIX, log: capturingLog().log });
      stores.push(store);
      for (let i = 0; i < 3; i += 1) {
        const started = performance.now();
        await expect(store.increment('k', 1_000, 5, 1_000, 'default')).rejects.toThrow();
        expect(performance.now() - started).toBeLessThan(1_000);
      }
      expect(store.healthy).toBe(false);
    } finally {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('create() checks commandTimeoutMs', () => {
    expect(() => RedisWindowStore.create({ redis: { kind: 'single', url: 'redis://127.0.0.1:1' }, keyPrefix: PREFIX, log: capturingLog().log, commandTimeoutMs: 0 }))
      .toThrow('RedisWindowStore: commandTimeoutMs must be an integer 1..60000');
  });
});
