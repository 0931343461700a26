// ResilientWindowStore: the onStorageError policy. First against a scripted
// primary (exact call counts, injected clock), then against a real
// redis-server that this file starts on a free port, kills mid-test and
// starts again on the same port. Without redis-server on the machine those
// tests are skipped with a message, or fail when CI is set.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import {
  describeWithRedisServer, type OwnedRedis, redisServerAvailable, requireRedisServer, startOwnedRedis,
} from '../../test/support/redis-server.js';
import { MemoryWindowStore, type WindowRecord } from './memory-window.store.js';
import { RedisWindowStore } from './redis-window.store.js';
import { ResilientWindowStore } from './resilient-window.store.js';
import { type StorageErrorPolicy, ThrottleStorageUnavailable, type WindowStore } from './window-store.js';

const PREFIX = `test:${process.pid}:${randomBytes(4).toString('hex')}:`;
const WARN = 40;
const INFO = 30;

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

function capturingLog() {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => { raw.push(line); lines.push(JSON.parse(line) as LogLine); } });
  return { log, lines, raw, at: (level: number) => lines.filter((l) => l.level === level) };
}

/** A primary whose outage the test switches on and off; counts in memory while up. */
class ScriptedPrimary implements WindowStore {
  healthy = true;
  failing = false;
  calls = 0;
  closed = false;
  readonly #counts = new MemoryWindowStore();

  async increment(key: string, ttl: number, limit: number, blockDuration: number, name: string): Promise<WindowRecord> {
    this.calls += 1;
    if (this.fails(key)) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' });
    this.answered();
    return this.#counts.increment(key, ttl, limit, blockDuration, name);
  }

  async peek(key: string): Promise<number> {
    this.calls += 1;
    if (this.fails(key)) throw new Error('Connection is closed.');
    this.answered();
    return this.#counts.peek(key);
  }

  protected fails(_key: string): boolean {
    return this.failing;
  }

  /** What the redis store does with an answer: one Redis that answers is healthy. */
  protected answered(): void {
    this.healthy = true;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** What the redis store does: a failure makes it unhealthy, a reconnect or an answer healthy. */
  goDown(): void {
    this.failing = true;
    this.healthy = false;
  }

  comeBack(): void {
    this.failing = false;
    this.healthy = true;
  }
}

/**
 * A cluster with one master down: its keys (`lost:`…) fail, the others answer.
 * Reachable all along; healthy (every master) only once that master is back.
 */
class ScriptedCluster extends ScriptedPrimary {
  readonly reachable = true;
  masterDown = false;

  protected override fails(key: string): boolean {
    return this.masterDown && key.startsWith('lost:');
  }

  protected override answered(): void {
    this.healthy = !this.masterDown;
  }
}

const hit = (store: WindowStore, key = 'orders:default:alice', limit = 3) => store.increment(key, 60_000, limit, 60_000, 'default');

describe('ResilientWindowStore with a scripted primary', () => {
  function setup(policy: StorageErrorPolicy) {
    let now = 1_700_000_000_000;
    const primary = new ScriptedPrimary();
    const logged = capturingLog();
    const errors: StorageErrorPolicy[] = [];
    const store = new ResilientWindowStore(primary, policy, {
      log: logged.log, now: () => now, onStorageError: (p) => errors.push(p),
    });
    return { primary, store, logged, errors, advance: (ms: number) => { now += ms; } };
  }

  it('primary up: every call goes to it; nothing logged, no storage error counted', async () => {
    const { primary, store, logged, errors } = setup('local');
    const totals = [];
    for (let i = 0; i < 4; i += 1) totals.push((await hit(store)).totalHits);
    expect(totals).toEqual([1, 2, 3, 4]);
    await expect(store.peek('orders:default:alice')).resolves.toBe(4);
    expect(primary.calls).toBe(5);
    expect(logged.lines).toEqual([]);
    expect(errors).toEqual([]);
  });

  const policyAnswers: Array<[StorageErrorPolicy, WindowRecord[], number]> = [
    ['local', [
      { totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 },
      { totalHits: 2, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 },
      { totalHits: 3, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 },
      { totalHits: 4, timeToExpire: 60, isBlocked: true, timeToBlockExpire: 60 },
    ], 4],
    ['allow', Array.from({ length: 4 }, () => ({ totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 })), 0],
  ];
  it.each(policyAnswers)('primary down, %s: answers per policy, peek per policy', async (policy, expected, peeked) => {
    const { primary, store, errors } = setup(policy);
    primary.goDown();
    const results = [];
    for (let i = 0; i < 4; i += 1) results.push(await hit(store));
    expect(results).toEqual(expected);
    await expect(store.peek('orders:default:alice')).resolves.toBe(peeked);
    expect(errors).toEqual(Array.from({ length: 5 }, () => policy));
  });

  it('primary down, deny: increment and peek throw ThrottleStorageUnavailable (retry after 5 s)', async () => {
    const { primary, store, errors } = setup('deny');
    primary.goDown();
    await expect(hit(store)).rejects.toBeInstanceOf(ThrottleStorageUnavailable);
    await expect(hit(store)).rejects.toMatchObject({ name: 'ThrottleStorageUnavailable', retryAfterSeconds: 5 });
    await expect(store.peek('orders:default:alice')).rejects.toBeInstanceOf(ThrottleStorageUnavailable);
    expect(errors).toEqual(['deny', 'deny', 'deny']);
  });

  it('while the primary is unhealthy it is skipped, but for one probe a second; one warn, then one info when a probe answers', async () => {
    const { primary, store, logged, advance } = setup('local');
    await hit(store);
    primary.goDown();
    for (let i = 0; i < 50; i += 1) await hit(store);
    expect(primary.calls).toBe(2); // the one before the outage, the one that failed
    advance(999);
    await hit(store);
    expect(primary.calls).toBe(2);
    advance(1);
    for (let i = 0; i < 10; i += 1) await hit(store); // the first is the probe (fails), the rest skip
    expect(primary.calls).toBe(3);
    expect(logged.at(WARN)).toHaveLength(1);
    expect(logged.at(WARN)[0]).toMatchObject({
      policy: 'local', storageError: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:6390',
      msg: 'throttle storage unavailable, policy local: each replica counts on its own until it answers again',
    });

    primary.failing = false; // answers again, but has not reported a reconnect: only the next probe finds out
    await hit(store);
    expect(primary.calls).toBe(3);
    advance(1_000);
    await expect(hit(store)).resolves.toMatchObject({ totalHits: 2 }); // Redis's count, not the local 62
    expect(primary.calls).toBe(4);
    await hit(store);
    expect(primary.calls).toBe(5); // outage over: every call goes to the primary again
    expect(logged.at(WARN)).toHaveLength(1);
    expect(logged.at(INFO)).toHaveLength(1);
    expect(logged.at(INFO)[0]).toMatchObject({ policy: 'local', msg: 'throttle storage available again; limits are shared across replicas again' });
  });

  it('a reconnect (healthy again) ends the skipping at once, without waiting for the probe', async () => {
    const { primary, store, logged } = setup('allow');
    primary.goDown();
    await hit(store);
    await hit(store);
    expect(primary.calls).toBe(1);
    primary.comeBack();
    await expect(hit(store)).resolves.toMatchObject({ totalHits: 1 });
    await expect(hit(store)).resolves.toMatchObject({ totalHits: 2 });
    expect(primary.calls).toBe(3);
    expect(logged.lines.map((l) => l.level)).toEqual([WARN, INFO]);
  });

  it('a second outage logs a second warn (one per outage, not one per process)', async () => {
    const { primary, store, logged } = setup('local');
    for (let round = 0; round < 2; round += 1) {
      primary.goDown();
      for (let i = 0; i < 5; i += 1) await hit(store);
      primary.comeBack();
      await hit(store);
    }
    expect(logged.lines.map((l) => l.level)).toEqual([WARN, INFO, WARN, INFO]);
  });

  it('a primary that fails while still reporting healthy is tried on every call (each failure counted, one warn)', async () => {
    const { primary, store, logged, errors } = setup('allow');
    primary.failing = true; // e.g. commands timing out on a connection that looks up
    for (let i = 0; i < 5; i += 1) await hit(store);
    expect(primary.calls).toBe(5);
    expect(errors).toHaveLength(5);
    expect(logged.at(WARN)).toHaveLength(1);
  });

  it('a cluster with one master down: every call tries its own counter (only the lost ones per policy), one warn; one info once every master answers', async () => {
    const primary = new ScriptedCluster();
    const logged = capturingLog();
    const errors: StorageErrorPolicy[] = [];
    const store = new ResilientWindowStore(primary, 'deny', { log: logged.log, onStorageError: (p) => errors.push(p) });
    primary.masterDown = true;
    primary.healthy = false;
    for (let i = 0; i < 5; i += 1) {
      await expect(hit(store, 'lost:orders:default:alice')).rejects.toBeInstanceOf(ThrottleStorageUnavailable);
      await expect(hit(store, 'kept:orders:default:bob')).resolves.toMatchObject({ totalHits: i + 1 });
    }
    expect(primary.calls).toBe(10);
    expect(errors).toEqual(Array.from({ length: 5 }, () => 'deny'));
    expect({ healthy: store.healthy, reachable: store.reachable }).toEqual({ healthy: false, reachable: true });
    expect(logged.lines.map((l) => l.level)).toEqual([WARN]);

    primary.masterDown = false;
    await expect(hit(store, 'lost:orders:default:alice')).resolves.toMatchObject({ totalHits: 1 });
    expect(store.healthy).toBe(true);
    expect(logged.lines.map((l) => l.level)).toEqual([WARN, INFO]);
  });

  it('a ttl that is not positive is the caller\'s bug: thrown, not treated as an outage', async () => {
    const { primary, store, logged, errors } = setup('allow');
    await expect(store.increment('k', 0, 5, 0, 'default')).rejects.toThrow(RangeError);
    expect(primary.calls).toBe(0);
    expect(logged.lines).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('healthy is the primary\'s; close() closes primary and fallback', async () => {
    const primary = new ScriptedPrimary();
    const fallback = new MemoryWindowStore();
    const store = new ResilientWindowStore(primary, 'local', { log: capturingLog().log, fallback });
    primary.goDown();
    await hit(store);
    expect(fallback.size).toBe(1);
    expect(store.healthy).toBe(false);
    primary.comeBack();
    expect(store.healthy).toBe(true);
    await store.close();
    expect(primary.closed).toBe(true);
    expect(fallback.size).toBe(0);
  });
});

// ---- against a real redis-server that the test kills and restarts ----

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const haveRedisServer = redisServerAvailable();

describeWithRedisServer(haveRedisServer, 'the ResilientWindowStore tests with a real Redis')('ResilientWindowStore with a redis-server killed and restarted mid-test', () => {
  let redis: OwnedRedis;
  const stores: WindowStore[] = [];

  const adminGet = (key: string): Promise<string | null> => redis.withClient((admin) => admin.get(`${PREFIX}throttle:{${key}}`));

  beforeAll(async () => {
    requireRedisServer(haveRedisServer);
    redis = await startOwnedRedis();
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await redis?.start(); // no-op while it runs: each test leaves Redis up for the next
  });

  afterAll(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await redis?.stop();
  });

  const outageChecks: Array<[StorageErrorPolicy, ((record: WindowRecord, i: number) => void) | undefined]> = [
    ['local', (r: WindowRecord, i: number) => expect(r).toMatchObject({ totalHits: i + 1, isBlocked: i + 1 > 3 })],
    ['allow', (r: WindowRecord) => expect(r).toEqual({ totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 })],
    ['deny', undefined], // checked inline: every call rejects
  ];
  it.each(outageChecks)('%s: counts in Redis; Redis killed → answers per policy within ~1 s, one warn; restarted → Redis again, one info', async (policy, duringOutage) => {
    const logged = capturingLog();
    const errors: StorageErrorPolicy[] = [];
    const primary = RedisWindowStore.create({ redis: { kind: 'single', url: redis.url }, keyPrefix: PREFIX, log: logged.log });
    const store = new ResilientWindowStore(primary, policy, { log: logged.log, onStorageError: (p) => errors.push(p) });
    stores.push(store);
    const key = `orders:default:${policy}-${randomBytes(4).toString('hex')}`;

    // Redis up: counted there.
    const before = [];
    for (let i = 0; i < 2; i += 1) before.push((await hit(store, key)).totalHits);
    expect(before).toEqual([1, 2]);
    expect(await adminGet(key)).toBe('2');
    expect(store.healthy).toBe(true);

    // Redis killed: every call answers per the policy, fast; one warn for all of them.
    await redis.stop();
    for (let i = 0; i < 30; i += 1) {
      const started = performance.now();
      if (duringOutage) duringOutage(await hit(store, key), i);
      else await expect(hit(store, key)).rejects.toBeInstanceOf(ThrottleStorageUnavailable);
      expect(performance.now() - started).toBeLessThan(1_000);
    }
    expect(errors).toHaveLength(30);
    expect(store.healthy).toBe(false);
    expect(logged.at(WARN)).toHaveLength(1);
    expect(logged.at(WARN)[0]).toMatchObject({ policy, msg: expect.stringContaining(`throttle storage unavailable, policy ${policy}`) });
    expect(logged.at(INFO)).toHaveLength(0);

    // Restarted on the same port (empty: no persistence, no loaded script): the next calls use Redis again.
    await redis.start();
    await waitFor(() => store.healthy, 5_000, 'the store to reconnect');
    await expect(hit(store, key)).resolves.toMatchObject({ totalHits: 1, isBlocked: false });
    await expect(hit(store, key)).resolves.toMatchObject({ totalHits: 2, isBlocked: false });
    expect(await adminGet(key)).toBe('2');
    expect(errors).toHaveLength(30);
    expect(logged.at(WARN)).toHaveLength(1);
    expect(logged.at(INFO)).toHaveLength(1);
  });
});
