// The machine's Redis for the Redis-backed tests (STYLE §5): where it is, whether it answers, and
// what a test file does when it does not. With CI set, a Redis that does not answer is a test
// failure; without CI, the Redis-backed tests are skipped with a message naming REDIS_URL.
// Also the probe and port helpers that test/support/redis-server.ts builds on.
import { createServer } from 'node:net';
import { describe } from '@jest/globals';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const IN_CI = Boolean(process.env.CI);

/**
 * PING within `timeoutMs`, no retries; never throws, and leaves nothing running: ioredis keeps a
 * disconnect timer (disconnectTimeout, 2 s by default) after a refused connection, so the probe
 * sets it to a few milliseconds and disconnects in `finally`.
 */
export async function redisAnswers(url: string = REDIS_URL, timeoutMs = 1_000): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    disconnectTimeout: 10,
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

/** A port of 127.0.0.1 that was free a moment ago (listen(0), close): nothing listens there now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from listen(0)');
  return address.port;
}

/**
 * `count` distinct ports of 127.0.0.1 that were free a moment ago: all bound at once, then
 * released, since one freePort() after another may hand out the same port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(servers.map((server) => new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    })));
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}

/** A port on 127.0.0.1 where nothing listens (bound, then released): "Redis down" without a Redis. */
export const closedPort = freePort;

/**
 * `describe` when the prerequisite is there or CI is set (then the caller's beforeAll must fail via
 * `requireAvailable`), else `describe.skip` after warning `skipMessage` (with the CI note appended).
 */
export function describeIfAvailable(available: boolean, skipMessage: string): typeof describe | typeof describe.skip {
  if (!available && !IN_CI) console.warn(`${skipMessage}\nWith CI set, this is a failure instead.`);
  return available || IN_CI ? describe : describe.skip;
}

/** In a beforeAll: the prerequisite is missing (so CI is set, or the suite would be skipped) → fail. */
export function requireAvailable(available: boolean, failMessage: string): void {
  if (!available) throw new Error(failMessage);
}

/**
 * `describe` when Redis answers or CI is set (then the caller's beforeAll must fail via
 * `requireRedis`), else `describe.skip` after a warning naming REDIS_URL. `subject` names the
 * tests in the warning ("the RedisWindowStore tests that need Redis").
 */
export function describeWithRedis(redisUp: boolean, subject = 'the Redis-backed tests'): typeof describe | typeof describe.skip {
  return describeIfAvailable(
    redisUp,
    `Skipping ${subject}: nothing answers at REDIS_URL (default redis://127.0.0.1:6379).\n` +
      'Start one (e.g. redis-server --port 6379 --save "" --appendonly no) or set REDIS_URL.',
  );
}

/** In a beforeAll: CI is set and Redis does not answer → the tests fail, never skip. */
export function requireRedis(redisUp: boolean): void {
  requireAvailable(
    redisUp,
    `CI is set and no Redis answers at REDIS_URL (${new URL(REDIS_URL).host}): the Redis-backed tests cannot run`,
  );
}
