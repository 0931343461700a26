// The built gateway (dist/main.js) as a real child process, for what only a process shows:
// signals, exit codes, what it writes to stdout and stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const GATEWAY_MAIN = `${ROOT}dist/main.js`;

export interface GatewayProcess {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:<port>` from the "gateway listening" log line. */
  readonly url: string;
  /** Everything written to stdout so far (JSON log lines). */
  stdout(): string;
  stderr(): string;
  /** Parsed stdout lines. */
  logs(): Record<string, unknown>[];
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** SIGKILL if still running; for afterAll. */
  kill(): Promise<void>;
}

/** Where the process starts: by default this repository's dist/main.js. */
export interface GatewayCommand {
  readonly cwd?: string;
  /** A command line such as the Dockerfile's CMD; `node` is the node running the tests. */
  readonly argv?: readonly [string, string, ...string[]];
}

/** Starts dist/main.js with `env` (PORT defaults to 0) and waits for its "gateway listening" line. */
export async function startGatewayProcess(
  env: Record<string, string>,
  timeoutMs = 20_000,
  { cwd = ROOT, argv = ['node', GATEWAY_MAIN] }: GatewayCommand = {},
): Promise<GatewayProcess> {
  const [program, main, ...args] = argv;
  if (!existsSync(resolve(cwd, main))) throw new Error(`${resolve(cwd, main)} is missing: npm test builds it first (npm run build)`);
  const child = spawn(program === 'node' ? process.execPath : program, [main, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const logs = () =>
    out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (url === undefined) {
    url = logs().find((line) => line.msg === 'gateway listening')?.url as string | undefined;
    if (url !== undefined) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the gateway did not start (exit ${String(child.exitCode)}):\n${err}\n${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    url,
    stdout: () => out,
    stderr: () => err,
    logs,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
