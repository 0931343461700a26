// One redis-server child process owned by a test (a plain server, a cluster node or a Sentinel):
// spawned with the caller's arguments, awaited until it answers PING, and ended by its own handle
// (STYLE §5: no killall, no fixed ports: the caller picks a free one).
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { redisAnswers } from './redis.js';

/** No persistence, loopback only: what every test-owned server runs with. */
export const EPHEMERAL_ARGS = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'] as const;

export interface RedisProcess {
  readonly port: number;
  /** What the process printed so far (for failure messages). */
  output(): string;
  /** SIGKILL (a crash, not a graceful shutdown) and waits for the exit; nothing when it has exited. */
  kill(): Promise<void>;
}

export interface SpawnRedisOptions {
  readonly binary: string;
  /** The server's requirepass, for the PING that tells it is up. */
  readonly password?: string;
  readonly startTimeoutMs?: number;
}

/** Starts `binary args…` and waits until 127.0.0.1:`port` answers PING; kills it and throws with its output if it does not. */
export async function spawnRedisServer(args: readonly string[], port: number, options: SpawnRedisOptions): Promise<RedisProcess> {
  const child = spawn(options.binary, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started: RedisProcess = {
    port,
    output: () => output.join(''),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  const url = localRedisUrl(port, options.password);
  const timeoutMs = options.startTimeoutMs ?? 5_000;
  const deadline = Date.now() + timeoutMs;
  while (!(await redisAnswers(url))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await started.kill();
      throw new Error(`${options.binary} on port ${port} did not answer within ${timeoutMs} ms:\n${started.output().slice(-2_000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return started;
}

/** `redis://[:password@]127.0.0.1:<port>`: a test-owned server's address. */
export function localRedisUrl(port: number, password?: string): string {
  return `redis://${password === undefined ? '' : `:${encodeURIComponent(password)}@`}127.0.0.1:${port}`;
}

/** A short-lived admin connection for assertions (no retry, no reconnect), closed after `use`. */
export async function withRedisClient<T>(url: string, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, disconnectTimeout: 10, retryStrategy: () => null });
  redis.on('error', () => undefined); // the command's own rejection reports it
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}
