// The machine's Redis for e2e tests (STYLE §5): where it is, and whether it answers. With CI set,
// a Redis that does not answer is a test failure; without CI, the Redis-backed tests are skipped
// with a message (as in src/upstream-auth/client-credentials/redis-token-store.spec.ts).
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const IN_CI = Boolean(process.env.CI);

/** PING within 1 s, no retries; never throws. */
export async function redisAnswers(url: string = REDIS_URL): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined); // the outcome is the return value
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * `describe` when Redis answers or CI is set (then the caller's beforeAll must fail via
 * `requireRedis`), else `describe.skip` after a warning naming REDIS_URL.
 */
export function describeWithRedis(redisUp: boolean): typeof describe | typeof describe.skip {
  if (!redisUp && !IN_CI) {
    console.warn(
      'Skipping the Redis-backed client-credentials tests: nothing answers at REDIS_URL (default redis://127.0.0.1:6379).\n' +
        'Start one (e.g. redis-server --port 6379 --save "" --appendonly no) or set REDIS_URL. With CI set, this is a failure instead.',
    );
  }
  return redisUp || IN_CI ? describe : describe.skip;
}

/** In a beforeAll: CI is set and Redis does not answer → the tests fail, never skip. */
export function requireRedis(redisUp: boolean): void {
  if (!redisUp) {
    throw new Error(`CI is set and no Redis answers at REDIS_URL (${new URL(REDIS_URL).host}): the Redis-backed tests cannot run`);
  }
}
