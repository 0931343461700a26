// A redis-server owned by one test file: started on a free port of 127.0.0.1, killed and
// started again on the same port to simulate an outage (STYLE §5: no fixed ports, no killall:
// only the child this helper spawned is ever signalled, by its own handle).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe } from '@jest/globals';
import { Redis } from 'ioredis';
import { describeIfAvailable, freePort, requireAvailable, redisAnswers } from './redis.js';

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
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const output: string[] = [];

  const owned: OwnedRedis = {
    port,
    url,
    get running() {
      return child !== undefined;
    },
    async start() {
      if (child) return;
      const started = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      started.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
      started.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
      exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
      child = started;
      const deadline = Date.now() + 5_000;
      while (!(await redisAnswers(url))) {
        if (Date.now() > deadline || started.exitCode !== null) {
          await owned.stop();
          throw new Error(`redis-server on port ${port} did not answer within 5 s:\n${output.join('').slice(-2_000)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async stop() {
      const running = child;
      if (!running) return;
      child = undefined;
      if (running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
      await exited;
    },
    async restart() {
      await owned.stop();
      await owned.start();
    },
    async withClient(use) {
      const redis = new Redis(url, { maxRetriesPerRequest: 1, disconnectTimeout: 10, retryStrategy: () => null });
      redis.on('error', () => undefined); // the command's own rejection reports it
      try {
        return await use(redis);
      } finally {
        redis.disconnect();
      }
    },
  };
  await owned.start();
  return owned;
}
