// RedisTokenStore against the machine's Redis (REDIS_URL, default
// redis://127.0.0.1:6379). With CI set, a missing Redis fails these tests;
// without CI they are skipped with a message. The "Redis down" tests need no
// Redis: they point a store at a port where nothing listens.
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket, connect } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { closedPort, describeWithRedis, REDIS_URL, redisAnswers, requireRedis } from '../../../test/support/redis.js';
import { RedisTokenStore } from './redis-token-store.js';
import type { ServiceToken } from './service-token.js';
import { TokenCipher } from './token-cipher.js';

const PREFIX = `test:${process.pid}:${randomBytes(4).toString('hex')}:`;
const KEY_1 = { kid: 'k1', key: Buffer.alloc(32, 0x11) };
const KEY_2 = { kid: 'k2', key: Buffer.alloc(32, 0x22) };
const ACCESS_TOKEN = `eyJhbGciOiJSUzI1NiJ9.${randomBytes(24).toString('base64url')}.sig`;

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}
const WARN = 40;
const INFO = 30;

/** A pino logger that keeps what it writes, and the raw text to search for secrets. */
function capturingLog() {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => { raw.push(line); lines.push(JSON.parse(line) as LogLine); } });
  return { log, lines, raw, at: (level: number) => lines.filter((l) => l.level === level) };
}

function token(lifetimeMs = 60_000, now = Date.now()): ServiceToken {
  return { accessToken: ACCESS_TOKEN, expiresAt: now + lifetimeMs, refreshAt: now + lifetimeMs * 0.8 };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A TCP server on 127.0.0.1; `handle` decides what a connection gets. stop() drops every connection. */
async function startTcp(handle: (socket: Socket) => void, port = 0) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const start = async (): Promise<void> => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      handle(socket);
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  };
  const stop = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  };
  await start();
  return { port: () => port, start, stop };
}

/** A TCP proxy to the test Redis that can be stopped and started again on the same port: a Redis outage on demand. */
async function startRedisProxy() {
  const target = new URL(REDIS_URL);
  const proxy = await startTcp((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  const url = new URL(REDIS_URL);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port());
  return { ...proxy, url: url.toString() };
}

const redisUp = await redisAnswers(REDIS_URL);
describeWithRedis(redisUp, 'the RedisTokenStore tests that need Redis')('RedisTokenStore with Redis', () => {
  let admin: Redis;
  const stores: RedisTokenStore[] = [];
  const cipher = new TokenCipher([KEY_1]);
  let logged: ReturnType<typeof capturingLog>;

  const newStore = (options: { cipher?: TokenCipher; url?: string; log?: ReturnType<typeof capturingLog> } = {}) => {
    const store = RedisTokenStore.create({
      redis: { kind: 'single', url: options.url ?? REDIS_URL }, keyPrefix: PREFIX, cipher: options.cipher ?? cipher, log: (options.log ?? logged).log,
    });
    stores.push(store);
    return store;
  };
  const slot = () => `client-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    requireRedis(redisUp);
    admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });

  beforeEach(() => {
    logged = capturingLog();
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    // Nothing any test logged may carry the token or key material.
    const text = logged.raw.join('');
    expect(text).not.toContain(ACCESS_TOKEN);
    expect(text).not.toContain(KEY_1.key.toString('base64'));
    expect(text).not.toContain('v1.k');
  });

  afterAll(async () => {
    if (!admin) return;
    const keys = await admin.keys(`${PREFIX}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it('set → get round trip, under <prefix>svc-token:{<slot>} with PX = expiresAt - now', async () => {
    const store = newStore();
    const client = slot();
    const stored = token(60_000);
    await store.set(client, stored);
    await expect(store.get(client)).resolves.toEqual(stored);
    const pttl = await admin.pttl(`${PREFIX}svc-token:{${client}}`);
    expect(pttl).toBeGreaterThan(55_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    expect(logged.lines).toEqual([]);
  });

  it('what Redis holds is sealed (v1.<kid>.…), not the plaintext token', async () => {
    const store = newStore();
    const client = slot();
    await store.set(client, token());
    const raw = await admin.get(`${PREFIX}svc-token:{${client}}`);
    expect(raw).not.toBeNull();
    expect(raw!.startsWith('v1.k1.')).toBe(true);
    expect(raw).not.toContain(ACCESS_TOKEN);
    expect(raw).not.toContain(ACCESS_TOKEN.split('.')[1]);
    expect(raw).not.toContain('accessToken');
  });

  it('a second replica (another store, same prefix and key) reads what the first stored', async () => {
    const client = slot();
    const stored = token();
    await newStore().set(client, stored);
    await expect(newStore().get(client)).resolves.toEqual(stored);
  });

  it('get of an empty slot → undefined, not logged', async () => {
    await expect(newStore().get(slot())).resolves.toBeUndefined();
    expect(logged.lines).toEqual([]);
  });

  it('an already expired token is not stored', async () => {
    const store = newStore();
    const client = slot();
    await store.set(client, token(-1));
    await store.set(client, token(0));
    expect(await admin.exists(`${PREFIX}svc-token:{${client}}`)).toBe(0);
    // positive control: the same slot takes a valid token
    await store.set(client, token(1_000));
    expect(await admin.exists(`${PREFIX}svc-token:{${client}}`)).toBe(1);
  });

  it('delete removes the slot', async () => {
    const store = newStore();
    const client = slot();
    await store.set(client, token());
    await store.delete(client);
    await expect(store.get(client)).resolves.toBeUndefined();
    expect(await admin.exists(`${PREFIX}svc-token:{${client}}`)).toBe(0);
  });

  it('rotation: a store with a new first key reads values sealed under the old one, and seals with the new one', async () => {
    const client = slot();
    const stored = token();
    await newStore({ cipher: new TokenCipher([KEY_1]) }).set(client, stored);
    const rotated = newStore({ cipher: new TokenCipher([KEY_2, KEY_1]) });
    await expect(rotated.get(client)).resolves.toEqual(stored);
    await rotated.set(client, stored);
    expect((await admin.get(`${PREFIX}svc-token:{${client}}`))!.startsWith('v1.k2.')).toBe(true);
  });

  it('a value it cannot open (a kid not configured here) is a miss, logged once per slot without the value', async () => {
    const client = slot();
    await newStore({ cipher: new TokenCipher([KEY_2]) }).set(client, token());
    const store = newStore({ cipher: new TokenCipher([KEY_1]) });
    await expect(store.get(client)).resolves.toBeUndefined();
    await expect(store.get(client)).resolves.toBeUndefined();
    await expect(store.get(client)).resolves.toBeUndefined();
    expect(logged.lines).toHaveLength(1);
    expect(logged.lines[0]).toMatchObject({ level: WARN, slot: client });
    expect(logged.raw[0]).not.toContain('v1.');
  });

  it.each([
    ['copied from another slot (aad is the key name)', async (from: string) => (await admin.get(`${PREFIX}svc-token:{${from}}`))!],
    ['tampered (one ciphertext character changed)', async (from: string) => {
      const parts = (await admin.get(`${PREFIX}svc-token:{${from}}`))!.split('.');
      const bytes = Buffer.from(parts[3]!, 'base64url');
      bytes[0]! ^= 0x01;
      parts[3] = bytes.toString('base64url');
      return parts.join('.');
    }],
    ['stored unencrypted', async () => JSON.stringify(token())],
  ])('a value %s is a miss', async (_name, forge) => {
    const store = newStore();
    const original = slot();
    const target = slot();
    const stored = token();
    await store.set(original, stored);
    await admin.set(`${PREFIX}svc-token:{${target}}`, await forge(original), 'PX', 60_000);
    await expect(store.get(target)).resolves.toBeUndefined();
    expect(logged.at(WARN)).toHaveLength(1);
    // positive control: the original still opens where it belongs
    await expect(store.get(original)).resolves.toEqual(stored);
  });

  describe('lock', () => {
    it('acquired by one replica, held for another; only the owner unlocks', async () => {
      const [a, b] = [newStore(), newStore()];
      const client = slot();
      const lockKey = `${PREFIX}svc-token-lock:{${client}}`;
      await expect(a.lock(client, 5_000)).resolves.toBe('acquired');
      const pttl = await admin.pttl(lockKey);
      expect(pttl).toBeGreaterThan(4_000);
      expect(pttl).toBeLessThanOrEqual(5_000);
      await expect(b.lock(client, 5_000)).resolves.toBe('held');
      await expect(a.lock(client, 5_000)).resolves.toBe('held'); // not re-entrant
      await b.unlock(client); // b does not own it
      expect(await admin.exists(lockKey)).toBe(1);
      await a.unlock(client);
      expect(await admin.exists(lockKey)).toBe(0);
      await expect(b.lock(client, 5_000)).resolves.toBe('acquired');
    });

    it('the lock value is a random owner, not the token or a constant', async () => {
      const [a, b] = [newStore(), newStore()];
      const [s1, s2] = [slot(), slot()];
      await a.lock(s1, 5_000);
      await b.lock(s2, 5_000);
      const owners = await admin.mget(`${PREFIX}svc-token-lock:{${s1}}`, `${PREFIX}svc-token-lock:{${s2}}`);
      expect(owners[0]).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(owners[1]).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(owners[0]).not.toBe(owners[1]);
    });

    it('an expired lock can be taken by another replica, and the former owner\'s unlock leaves the new lock alone', async () => {
      const [a, b] = [newStore(), newStore()];
      const client = slot();
      const lockKey = `${PREFIX}svc-token-lock:{${client}}`;
      await expect(a.lock(client, 100)).resolves.toBe('acquired');
      await waitFor(async () => (await admin.exists(lockKey)) === 0, 2_000, 'the lock to expire');
      await expect(b.lock(client, 5_000)).resolves.toBe('acquired');
      await a.unlock(client);
      expect(await admin.exists(lockKey)).toBe(1);
      await b.unlock(client);
      expect(await admin.exists(lockKey)).toBe(0);
    });

    it('refuses a ttl that is not a positive number (a caller bug, not an outage)', async () => {
      const store = newStore();
      await expect(store.lock(slot(), 0)).rejects.toThrow(RangeError);
      await expect(store.lock(slot(), Number.NaN)).rejects.toThrow(RangeError);
      expect(logged.lines).toEqual([]);
    });
  });

  it('Redis going away and coming back: fallbacks meanwhile, one warn, one info, then shared again', async () => {
    const proxy = await startRedisProxy();
    try {
      const store = newStore({ url: proxy.url });
      const client = slot();
      const stored = token();
      await store.set(client, stored);
      await expect(store.get(client)).resolves.toEqual(stored);

      await proxy.stop();
      await waitFor(async () => (await store.get(client)) === undefined, 2_000, 'get to fall back');
      await expect(store.lock(client, 5_000)).resolves.toBe('unavailable');
      await store.set(client, stored);
      await store.delete(client);
      expect(logged.at(WARN)).toHaveLength(1);
      expect(await admin.exists(`${PREFIX}svc-token:{${client}}`)).toBe(1); // the delete did not happen

      await proxy.start();
      await waitFor(async () => (await store.get(client)) !== undefined, 6_000, 'the store to reconnect');
      await expect(store.get(client)).resolves.toEqual(stored);
      expect(logged.at(WARN)).toHaveLength(1);
      expect(logged.at(INFO)).toHaveLength(1);
    } finally {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await proxy.stop();
    }
  });
});

describe('RedisTokenStore when Redis is down', () => {
  const cipher = new TokenCipher([KEY_1]);
  const stores: RedisTokenStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  /** Every method, timed: each resolves, to its fallback, within ~1 s. */
  async function everyMethod(store: RedisTokenStore) {
    const timed = async <T>(call: () => Promise<T>) => {
      const started = performance.now();
      const value = await call();
      return { value, ms: performance.now() - started };
    };
    return [
      await timed(() => store.get('orders')),
      await timed(() => store.set('orders', token())),
      await timed(() => store.delete('orders')),
      await timed(() => store.lock('orders', 5_000)),
      await timed(() => store.unlock('orders')),
      await timed(() => store.get('orders')),
      await timed(() => store.lock('orders', 5_000)),
    ];
  }

  it('nothing listening: get undefined, lock unavailable, the others no-ops, each fast; one warn, no password in it', async () => {
    const { log, lines, raw, at } = capturingLog();
    const store = RedisTokenStore.create({ redis: { kind: 'single', url: `redis://:hunter2@127.0.0.1:${await closedPort()}` }, keyPrefix: PREFIX, cipher, log });
    stores.push(store);
    const results = await everyMethod(store);
    expect(results.map((r) => r.value)).toEqual([undefined, undefined, undefined, 'unavailable', undefined, undefined, 'unavailable']);
    for (const { ms } of results) expect(ms).toBeLessThan(1_000);
    // ioredis keeps reconnecting in the background (each attempt an 'error'): still one warn
    await new Promise((resolve) => setTimeout(resolve, 400));
    await expect(store.get('orders')).resolves.toBeUndefined();
    expect(at(WARN)).toHaveLength(1);
    expect(at(WARN)[0]!.redisError).toMatch(/^ECONNREFUSED: /);
    expect(lines.filter((l) => l.level !== WARN)).toEqual([]);
    expect(raw.join('')).not.toContain('hunter2');
  });

  it('each failed command is reported once to onCommandError (gateway_redis_errors_total{store="token_cache"})', async () => {
    let failed = 0;
    const store = RedisTokenStore.create({
      redis: { kind: 'single', url: `redis://127.0.0.1:${await closedPort()}` }, keyPrefix: PREFIX, cipher, log: capturingLog().log,
      onCommandError: () => { failed += 1; },
    });
    stores.push(store);
    await expect(store.get('orders')).resolves.toBeUndefined();
    await expect(store.lock('orders', 5_000)).resolves.toBe('unavailable');
    await store.delete('orders');
    expect(failed).toBe(3);
  });

  it('a server that accepts connections but never answers: fallbacks within ~1 s, one warn', async () => {
    const silent = await startTcp(() => undefined);
    try {
      const { log, at } = capturingLog();
      const store = RedisTokenStore.create({ redis: { kind: 'single', url: `redis://127.0.0.1:${silent.port()}` }, keyPrefix: PREFIX, cipher, log });
      stores.push(store);
      const results = await everyMethod(store);
      expect(results.map((r) => r.value)).toEqual([undefined, undefined, undefined, 'unavailable', undefined, undefined, 'unavailable']);
      for (const { ms } of results) expect(ms).toBeLessThan(1_000);
      expect(at(WARN)).toHaveLength(1);
    } finally {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await silent.stop();
    }
  });

  it('after close(), methods still resolve to their fallbacks and log nothing', async () => {
    const { log, lines } = capturingLog();
    const store = RedisTokenStore.create({ redis: { kind: 'single', url: `redis://127.0.0.1:${await closedPort()}` }, keyPrefix: PREFIX, cipher, log });
    await store.close();
    lines.length = 0;
    const results = await everyMethod(store);
    expect(results.map((r) => r.value)).toEqual([undefined, undefined, undefined, 'unavailable', undefined, undefined, 'unavailable']);
    expect(lines).toEqual([]);
  });

  it('create() checks commandTimeoutMs', () => {
    expect(() => RedisTokenStore.create({ redis: { kind: 'single', url: 'redis://127.0.0.1:1' }, keyPrefix: PREFIX, cipher, log: capturingLog().log, commandTimeoutMs: 0 }))
      .toThrow('RedisTokenStore: commandTimeoutMs must be an integer 1..60000');
  });
});
