// A redis-server owned by one test file: started on a free port of 127.0.0.1, killed and
// started again on the same port to simulate an outage (STYLE §5: no fixed ports, no killall:
// only the child this helper spawned is ever signalled, by its own handle).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export const REDIS_SERVER_BINARY = process.env.REDIS_SERVER_BINARY ?? '/usr/bin/redis-server';

/** Whether a redis-server binary is there to start. */
export function redisServerAvailable(binary: string = REDIS_SERVER_BINARY): boolean {
  return existsSync(binary);
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
  /** A short-lived admin connection for assertions; closed after `use`. */
  withClient<T>(use: (redis: Redis) => Promise<T>): Promise<T>;
}

/**
 * PING within 1 s, no retries, never throws. Not redis.ts's redisAnswers: after a refused connection
 * ioredis keeps a disconnect timer (disconnectTimeout, 2 s by default) alive, which polling a
 * starting server would leave behind as open handles.
 */
async function answersPing(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
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

/** A port that was free a moment ago (listen(0), close). */
async function freePort(): Promise<number> {
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
      while (!(await answersPing(url))) {
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
