import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { ClientConfig } from '../../config/gateway-config.js';
import { FORCED_REFRESH_INTERVAL_MS, ServiceTokenProvider, type TokenFetcher } from './service-token-provider.js';
import { ServiceTokenError, type ServiceToken, type SharedTokenStore } from './service-token.js';
import type { TokenResponse } from './token-endpoint-client.js';
import { serviceTokenFrom, usableUntil } from './token-lifetime.js';
import { tokenSlot } from './token-slot.js';

const SECRET = 'hunter2-secret';
const orders: ClientConfig = {
  tokenUrl: 'https://idp.test/token',
  clientId: 'gateway',
  clientSecret: SECRET,
  authMethod: 'client_secret_basic',
  scope: 'orders.read',
  audience: 'https://orders.internal',
};
const billing: ClientConfig = { ...orders, scope: 'billing' };
const T0 = 1_700_000_000_000;

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const retryable = (n: number) => new ServiceTokenError(`client orders: token endpoint answered HTTP 50${n}`, 'orders', true);
const refused = () =>
  new ServiceTokenError('client orders: token endpoint refused the request: HTTP 401 invalid_client', 'orders', false, 'invalid_client');

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An in-memory SharedTokenStore with SET NX lock semantics and a call log. */
class FakeStore implements SharedTokenStore {
  readonly tokens = new Map<string, ServiceToken>();
  readonly locks = new Set<string>();
  readonly calls: string[] = [];
  lockAnswer?: 'held' | 'unavailable';
  /** Runs on every get (e.g. another replica storing its token meanwhile). */
  onGet?: (getCount: number) => void;
  private gets = 0;

  async get(slot: string) {
    this.calls.push('get');
    this.onGet?.(++this.gets);
    return this.tokens.get(slot);
  }
  async set(slot: string, token: ServiceToken) {
    this.calls.push('set');
    this.tokens.set(slot, token);
  }
  async delete(slot: string) {
    this.calls.push('delete');
    this.tokens.delete(slot);
  }
  async lock(slot: string) {
    this.calls.push('lock');
    if (this.lockAnswer) return this.lockAnswer;
    if (this.locks.has(slot)) return 'held' as const;
    this.locks.add(slot);
    return 'acquired' as const;
  }
  async unlock(slot: string) {
    this.calls.push('unlock');
    this.locks.delete(slot);
  }
  async close() {}
}

/**
 * A provider on a fake clock: `sleep` advances it, `fetch` is scripted per
 * call (default: token `at-N` for 3600 s), and the log is kept.
 */
function setup(options: { store?: SharedTokenStore; clients?: Record<string, ClientConfig> } = {}) {
  const clock = { now: T0 };
  const sleeps: number[] = [];
  const calls: string[] = [];
  const logLines: string[] = [];
  let respond: (call: number) => Promise<TokenResponse> = async (call) => ({ accessToken: `at-${call}`, expiresInSeconds: 3600 });
  const fetchToken: TokenFetcher = (name) => {
    calls.push(name);
    return respond(calls.length);
  };
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  const provider = new ServiceTokenProvider(options.clients ?? { orders, billing }, {
    now: () => clock.now,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.now += ms;
    },
    log,
    store: options.store,
    fetchToken,
  });
  return {
    provider,
    clock,
    sleeps,
    calls,
    logLines,
    respondWith(next: (call: number) => Promise<TokenResponse>) {
      respond = next;
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<ServiceTokenError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ServiceTokenError);
  return error as ServiceTokenError;
}

describe('ServiceTokenProvider: cache and refresh', () => {
  it.each([
    { expiresIn: 3600, refreshAfterMs: 2_880_000 },
    { expiresIn: 300, refreshAfterMs: 240_000 },
    { expiresIn: 90, refreshAfterMs: 30_000 },
    { expiresIn: 30, refreshAfterMs: 7_500 },
    { expiresIn: undefined, refreshAfterMs: 240_000 },
  ])('expires_in $expiresIn: cached until $refreshAfterMs ms, then served while one background refresh runs', async ({ expiresIn, refreshAfterMs }) => {
    const t = setup();
    t.respondWith(async (call) => ({ accessToken: `at-${call}`, expiresInSeconds: expiresIn }));
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    t.clock.now = T0 + refreshAfterMs - 1;
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    expect(t.calls).toHaveLength(1);

    t.clock.now = T0 + refreshAfterMs;
    const next = deferred<TokenResponse>();
    t.respondWith(() => next.promise);
    const during = await Promise.all(Array.from({ length: 20 }, () => t.provider.getToken('orders')));
    expect(new Set(during)).toEqual(new Set(['at-1']));
    expect(t.calls).toHaveLength(2);

    next.resolve({ accessToken: 'at-2', expiresInSeconds: expiresIn });
    await flush();
    await expect(t.provider.getToken('orders')).resolves.toBe('at-2');
    expect(t.calls).toHaveLength(2);
  });

  it('100 concurrent callers on a cold cache share one fetch', async () => {
    const t = setup();
    const response = deferred<TokenResponse>();
    t.respondWith(() => response.promise);
    const all = Promise.all(Array.from({ length: 100 }, () => t.provider.getToken('orders')));
    response.resolve({ accessToken: 'shared', expiresInSeconds: 3600 });
    expect(new Set(await all)).toEqual(new Set(['shared']));
    expect(t.calls).toEqual(['orders']);
  });

  it('100 concurrent callers share one failure too', async () => {
    const t = setup();
    t.respondWith(async () => {
      throw refused();
    });
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => t.provider.getToken('orders')));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as ServiceTokenError).oauthError === 'invalid_client')).toBe(true);
    expect(t.calls).toHaveLength(1);
  });

  it('clients are cached separately', async () => {
    const t = setup();
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    await expect(t.provider.getToken('billing')).resolves.toBe('at-2');
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    expect(t.calls).toEqual(['orders', 'billing']);
  });

  it('a failed refresh keeps serving the old token, retries after the backoff window, then takes the new one', async () => {
    const t = setup();
    await t.provider.getToken('orders'); // at-1, refresh at 2880 s, usable until 3570 s
    t.respondWith(async () => {
      throw refused();
    });
    t.clock.now = T0 + 2_880_000;
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    await flush();
    expect(t.calls).toHaveLength(2);

    t.clock.now += 999; // inside the 1 s window: old token, no new attempt
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    await flush();
    expect(t.calls).toHaveLength(2);

    t.clock.now += 1; // window over: one more refresh, which fails again (window now 2 s)
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    await flush();
    expect(t.calls).toHaveLength(3);

    t.respondWith(async () => ({ accessToken: 'at-new', expiresInSeconds: 3600 }));
    t.clock.now += 2_000;
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    await flush();
    await expect(t.provider.getToken('orders')).resolves.toBe('at-new');
    expect(t.calls).toHaveLength(4);
  });

  it('an expired token is never served: from 30 s before expiry the caller waits for a new one or gets the error', async () => {
    const t = setup();
    await t.provider.getToken('orders');
    const last = usableUntil(serviceTokenFrom('at-1', 3600, T0));
    expect(last).toBe(T0 + 3_570_000);
    t.respondWith(async () => {
      throw refused();
    });
    t.clock.now = last - 1;
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1'); // starts a refresh, which fails
    await flush();
    t.clock.now = last; // inside the backoff window of that failure: fail fast, never at-1
    await expect(t.provider.getToken('orders')).rejects.toMatchObject({ oauthError: 'invalid_client', retryAfterSeconds: 1 });
    t.clock.now = T0 + 3_600_000 + 5_000; // window over: a new fetch, which fails too
    await expect(t.provider.getToken('orders')).rejects.toMatchObject({ oauthError: 'invalid_client' });
    expect(t.calls).toHaveLength(3);

    t.respondWith(async () => ({ accessToken: 'at-fresh', expiresInSeconds: 3600 }));
    t.clock.now += 2_000;
    await expect(t.provider.getToken('orders')).resolves.toBe('at-fresh');
  });

  it('invalidate drops only that token; the next caller fetches a new one', async () => {
    const t = setup();
    await t.provider.getToken('orders');
    t.provider.invalidate('orders', 'some-other-token');
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    expect(t.calls).toHaveLength(1);
    t.provider.invalidate('orders', 'at-1');
    await expect(t.provider.getToken('orders')).resolves.toBe('at-2');
    expect(t.calls).toHaveLength(2);
    expect(() => t.provider.invalidate('nope', 'at-2')).not.toThrow();
  });

  it('an unknown client name is a non-retryable error and no fetch', async () => {
    const t = setup();
    await expect(t.provider.getToken('toString')).rejects.toMatchObject({
      name: 'ServiceTokenError',
      client: 'toString',
      retryable: false,
      message: 'unknown client "toString"',
    });
    expect(t.calls).toHaveLength(0);
  });
});

describe('ServiceTokenProvider: retries and backoff', () => {
  it('retryable failures: three attempts in one fetch, full-jitter delays 200·2ⁿ × random', async () => {
    const t = setup();
    t.respondWith(async (call) => {
      throw retryable(call);
    });
    const error = await rejection(t.provider.getToken('orders'));
    expect(error).toMatchObject({ retryable: true, message: 'client orders: token endpoint answered HTTP 503' });
    expect(t.calls).toHaveLength(3);
    expect(t.sleeps).toEqual([100, 200]); // random 0.5 × 200, × 400
  });

  it('a retry that succeeds gives the token (dated from the successful attempt)', async () => {
    const t = setup();
    t.respondWith(async (call) => {
      if (call < 3) throw retryable(call);
      return { accessToken: 'third-time', expiresInSeconds: 90 };
    });
    await expect(t.provider.getToken('orders')).resolves.toBe('third-time');
    const issuedAt = T0 + 300;
    t.clock.now = issuedAt + 30_000 - 1; // refresh at 30 s after the third attempt began
    await t.provider.getToken('orders');
    expect(t.calls).toHaveLength(3);
  });

  it('non-retryable failures are not retried', async () => {
    const t = setup();
    t.respondWith(async () => {
      throw refused();
    });
    await expect(t.provider.getToken('orders')).rejects.toMatchObject({ retryable: false, oauthError: 'invalid_client' });
    expect(t.calls).toHaveLength(1);
    expect(t.sleeps).toEqual([]);
  });

  it('after a failed fetch, callers fail fast for 1 s, 2 s, 4 s … 30 s, and a success resets the window', async () => {
    const t = setup();
    t.respondWith(async () => {
      throw refused();
    });
    const windows = [1, 2, 4, 8, 16, 30, 30];
    for (const [i, seconds] of windows.entries()) {
      const failed = await rejection(t.provider.getToken('orders'));
      expect(failed.retryAfterSeconds).toBe(seconds);
      expect(t.calls).toHaveLength(i + 1);
      t.clock.now += seconds * 1000 - 500;
      const fast = await rejection(t.provider.getToken('orders'));
      expect(fast).toMatchObject({ message: failed.message, oauthError: 'invalid_client', retryable: false, retryAfterSeconds: 1 });
      expect(t.calls).toHaveLength(i + 1); // the IdP was not asked again
      t.clock.now += 500;
    }
    t.respondWith(async () => ({ accessToken: 'back', expiresInSeconds: 3600 }));
    await expect(t.provider.getToken('orders')).resolves.toBe('back');
    t.provider.invalidate('orders', 'back');
    t.respondWith(async () => {
      throw refused();
    });
    await expect(t.provider.getToken('orders')).rejects.toMatchObject({ retryAfterSeconds: 1 });
  });

  it('retryAfterSeconds counts down the window (at least 1)', async () => {
    const t = setup();
    t.respondWith(async () => {
      throw refused();
    });
    await rejection(t.provider.getToken('orders'));
    t.clock.now += 1_000;
    await expect(t.provider.getToken('orders')).rejects.toMatchObject({ retryAfterSeconds: 2 });
    t.clock.now += 1;
    await expect(t.provider.getToken('orders')).rejects.toMatchObject({ retryAfterSeconds: 2 });
    t.clock.now += 1_000;
    await expect(t.provider.getToken('orders')).rejects.toMatchObject({ retryAfterSeconds: 1 });
  });

  it('a failing client does not block another', async () => {
    const t = setup();
    t.respondWith(async (call) => {
      if (call === 1) throw refused();
      return { accessToken: `at-${call}`, expiresInSeconds: 3600 };
    });
    await rejection(t.provider.getToken('orders'));
    await expect(t.provider.getToken('billing')).resolves.toBe('at-2');
  });

  it('an unexpected error becomes a retryable ServiceTokenError without its message', async () => {
    const t = setup();
    t.respondWith(async () => {
      throw new TypeError(`boom with ${SECRET}`);
    });
    const error = await rejection(t.provider.getToken('orders'));
    expect(error).toMatchObject({ retryable: true, message: 'client orders: token request failed (TypeError)' });
  });

  it('logs name the client but never a token or a secret', async () => {
    const t = setup();
    await t.provider.getToken('orders');
    t.provider.invalidate('orders', 'at-1');
    t.respondWith(async () => {
      throw retryable(0);
    });
    await rejection(t.provider.getToken('orders'));
    const log = t.logLines.join('');
    expect(log).toContain('"client":"orders"');
    expect(log).toContain('service token could not be obtained');
    expect(log).not.toContain('at-1');
    expect(log).not.toContain(SECRET);
  });
});

describe('ServiceTokenProvider with a SharedTokenStore', () => {
  const slot = tokenSlot('orders', orders);

  it('a usable token in the store is used without a fetch, then cached locally', async () => {
    const store = new FakeStore();
    store.tokens.set(slot, serviceTokenFrom('from-replica', 3600, T0 - 60_000));
    const t = setup({ store });
    await expect(t.provider.getToken('orders')).resolves.toBe('from-replica');
    await expect(t.provider.getToken('orders')).resolves.toBe('from-replica');
    expect(t.calls).toHaveLength(0);
    expect(store.calls).toEqual(['get']);
  });

  it("'acquired': re-reads, fetches, stores, unlocks", async () => {
    const store = new FakeStore();
    const t = setup({ store });
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    expect(store.calls).toEqual(['get', 'lock', 'get', 'set', 'unlock']);
    expect(store.tokens.get(slot)).toEqual(serviceTokenFrom('at-1', 3600, T0));
    expect(store.locks.size).toBe(0);
  });

  it("'acquired' and the fetch fails: unlocks, stores nothing", async () => {
    const store = new FakeStore();
    const t = setup({ store });
    t.respondWith(async () => {
      throw refused();
    });
    await rejection(t.provider.getToken('orders'));
    expect(store.calls).toEqual(['get', 'lock', 'get', 'unlock']);
    expect(store.tokens.size).toBe(0);
  });

  it("'held': polls the store every 100 ms and takes the other replica's token", async () => {
    const store = new FakeStore();
    store.lockAnswer = 'held';
    store.onGet = (count) => {
      if (count === 4) store.tokens.set(slot, serviceTokenFrom('replica-b', 3600, T0));
    };
    const t = setup({ store });
    await expect(t.provider.getToken('orders')).resolves.toBe('replica-b');
    expect(t.sleeps).toEqual([100, 100, 100]);
    expect(t.calls).toHaveLength(0);
    expect(store.calls).toEqual(['get', 'lock', 'get', 'get', 'get']);
  });

  it("'held' for over 2 s: fetches locally (and does not store)", async () => {
    const store = new FakeStore();
    store.lockAnswer = 'held';
    const t = setup({ store });
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    expect(t.sleeps).toEqual(Array.from({ length: 20 }, () => 100));
    expect(t.calls).toHaveLength(1);
    expect(store.calls).not.toContain('set');
  });

  it("'unavailable' (Redis down): fetches locally, once for concurrent callers", async () => {
    const store = new FakeStore();
    store.lockAnswer = 'unavailable';
    const t = setup({ store });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => t.provider.getToken('orders')));
    expect(new Set(tokens)).toEqual(new Set(['at-1']));
    expect(t.calls).toHaveLength(1);
    expect(store.calls).toEqual(['get', 'lock']);
  });

  it('a store that rejects (against its contract) is treated as unavailable', async () => {
    const store = new FakeStore();
    store.get = async () => {
      throw new Error('ECONNRESET');
    };
    store.lock = async () => {
      throw new Error('ECONNRESET');
    };
    const t = setup({ store });
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    expect(t.logLines.join('')).toContain('shared token store failed');
  });

  it('two providers (replicas) on one store: one token request between them', async () => {
    const store = new FakeStore();
    const a = setup({ store });
    const b = setup({ store });
    b.clock.now = a.clock.now;
    const tokens = await Promise.all([
      ...Array.from({ length: 50 }, () => a.provider.getToken('orders')),
      ...Array.from({ length: 50 }, () => b.provider.getToken('orders')),
    ]);
    expect(new Set(tokens)).toEqual(new Set(['at-1']));
    expect(a.calls.length + b.calls.length).toBe(1);
  });

  it('tokens from the store obey the same validity rules: an expiring one is not used', async () => {
    const store = new FakeStore();
    const stale = serviceTokenFrom('stale', 3600, T0 - 3_575_000); // 25 s left: inside the 30 s margin
    store.tokens.set(slot, stale);
    const t = setup({ store });
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    expect(store.tokens.get(slot)?.accessToken).toBe('at-1');
  });

  it('a malformed store entry is ignored', async () => {
    const store = new FakeStore();
    store.tokens.set(slot, { accessToken: 'x\r\ny', expiresAt: T0 + 3_600_000, refreshAt: T0 + 1 });
    const t = setup({ store });
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
  });

  it('a refresh does not take back the token due for refresh from the store; it fetches a new one', async () => {
    const store = new FakeStore();
    const t = setup({ store });
    await t.provider.getToken('orders'); // at-1 fetched and stored
    t.clock.now = T0 + 2_880_000;
    await expect(t.provider.getToken('orders')).resolves.toBe('at-1');
    await flush();
    expect(t.calls).toHaveLength(2);
    await expect(t.provider.getToken('orders')).resolves.toBe('at-2');
    expect(store.tokens.get(slot)?.accessToken).toBe('at-2');
  });

  it('a refresh takes a newer token another replica stored', async () => {
    const store = new FakeStore();
    const t = setup({ store });
    await t.provider.getToken('orders');
    t.clock.now = T0 + 2_880_000;
    store.tokens.set(slot, serviceTokenFrom('newer', 3600, t.clock.now - 1_000));
    await t.provider.getToken('orders');
    await flush();
    await expect(t.provider.getToken('orders')).resolves.toBe('newer');
    expect(t.calls).toHaveLength(1);
  });

  it('invalidate deletes the token from the store, and never takes it back from there', async () => {
    const store = new FakeStore();
    const t = setup({ store });
    await t.provider.getToken('orders');
    t.provider.invalidate('orders', 'at-1');
    await flush();
    expect(store.tokens.has(slot)).toBe(false);
    expect(store.calls.slice(-2)).toEqual(['get', 'delete']);

    // Another replica stored the refused token again before it heard: still not used.
    store.tokens.set(slot, serviceTokenFrom('at-1', 3600, T0));
    await expect(t.provider.getToken('orders')).resolves.toBe('at-2');
  });

  it("invalidate leaves the store alone when it already holds another replica's successor", async () => {
    const store = new FakeStore();
    const t = setup({ store });
    await t.provider.getToken('orders');
    store.tokens.set(slot, serviceTokenFrom('successor', 3600, T0));
    t.provider.invalidate('orders', 'at-1');
    await flush();
    expect(store.calls).not.toContain('delete');
    await expect(t.provider.getToken('orders')).resolves.toBe('successor');
  });
});

describe('tokenSlot', () => {
  it('names the client, changes with what the token is for, and holds no secret', () => {
    const slot = tokenSlot('orders', orders);
    expect(slot).toMatch(/^orders:[0-9a-f]{16}$/);
    expect(tokenSlot('orders', { ...orders, clientSecret: 'rotated' })).toBe(slot);
    for (const change of [{ scope: 'orders.write' }, { audience: 'https://other' }, { clientId: 'gw2' }, { tokenUrl: 'https://idp2.test/token' }]) {
      expect(tokenSlot('orders', { ...orders, ...change })).not.toBe(slot);
    }
    // no collision by moving characters from one field to the next
    expect(tokenSlot('orders', { ...orders, clientId: 'ab', scope: 'c' })).not.toBe(tokenSlot('orders', { ...orders, clientId: 'a', scope: 'bc' }));
  });
});

describe('ServiceTokenProvider: forced refreshes after upstream refusals', () => {
  it('at most one forced refresh per client per interval; a token already replaced costs nothing', async () => {
    const t = setup();
    expect(await t.provider.getToken('orders')).toBe('at-1');
    expect(t.provider.invalidate('orders', 'at-1')).toBe(true);
    expect(await t.provider.getToken('orders')).toBe('at-2');
    // at-2 refused at once as well: no second token request within the interval.
    expect(t.provider.invalidate('orders', 'at-2')).toBe(false);
    expect(await t.provider.getToken('orders')).toBe('at-2');
    expect(t.calls).toHaveLength(2);
    // at-1 again (a late answer): already replaced, so a retry is fine and free.
    expect(t.provider.invalidate('orders', 'at-1')).toBe(true);
    expect(t.calls).toHaveLength(2);
    t.clock.now += FORCED_REFRESH_INTERVAL_MS;
    expect(t.provider.invalidate('orders', 'at-2')).toBe(true);
    expect(await t.provider.getToken('orders')).toBe('at-3');
  });
});
