// A redis-server owned by one test file: started on a free port of 127.0.0.1, killed and
// started again on the same port to simulate an outage (STYLE §5: no fixed ports, no killall:
// only the child this helper spawned is ever signalled, by its own handle).
import { existsSync } from 'node:fs';
import { describe } from '@jest/globals';
import type { Redis } from 'ioredis';
import { describeIfAvailable, freePort, requireAvailable } from './redis.js';
import { EPHEMERAL_ARGS, spawnRedisServer, withRedisClient, type RedisProcess } from './redis-process.js';

/** REDIS_SERVER_BINARY (or the older REDIS_SERVER_BIN), default /usr/bin/redis-server. */
export const REDIS_SERVER_BINARY = process.env.REDIS_SERVER_BINARY ?? process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

/** Whether a redis-server binary is there to start. */
export function redisServerAvailable(binary: string = REDIS_SERVER_BINARY): boolean {
  return existsSync(binary);
}

/**
 * `describe` when redis-server is there or CI is set (then the caller's beforeAll must fail via
 * `requireRedisServer`), else `describe.skip` after a warning. `subject` names the tests.
 */
export function describeWithRedisServer(
  haveServer: boolean,
  subject = 'the tests with a test-owned redis-server',
): typeof describe | typeof describe.skip {
  return describeIfAvailable(haveServer, `Skipping ${subject}: no redis-server at ${REDIS_SERVER_BINARY} (set REDIS_SERVER_BINARY).`);
}

/** In a beforeAll: CI is set and there is no redis-server → the tests fail, never skip. */
export function requireRedisServer(haveServer: boolean): void {
  requireAvailable(haveServer, `CI is set and there is no redis-server at ${REDIS_SERVER_BINARY}: the outage tests cannot run`);
}

export interface OwnedRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** True between start() and stop(). */
  readonly running: boolean;
  /** Starts the server (again) on the same port and waits until it answers PING. Empty: no persistence. */
  start(): Promise<void>;
  /** SIGKILL (a crash, not a graceful shutdown) and waits for the process to exit. */
  stop(): Promise<void>;
  /** stop() then start(): a crash and a recovery on the same port. */
  restart(): Promise<void>;
  /** A short-lived admin connection for assertions; closed after `use`. */
  withClient<T>(use: (redis: Redis) => Promise<T>): Promise<T>;
}

/** Starts a redis-server on a free port; call stop() (e.g. in afterAll) to end it. */
export async function startOwnedRedis(binary: string = REDIS_SERVER_BINARY): Promise<OwnedRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: RedisProcess | undefined;

  const owned: OwnedRedis = {
    port,
    url,
    get running() {
      return server !== undefined;
    },
    async start() {
      server ??= await spawnRedisServer(['--port', String(port), ...EPHEMERAL_ARGS], port, { binary });
    },
    async stop() {
      const running = server;
      server = undefined;
      await running?.kill();
    },
    async restart() {
      await owned.stop();
      await owned.start();
    },
    withClient: (use) => withRedisClient(url, use),
  };
  await owned.start();
  return owned;
}
