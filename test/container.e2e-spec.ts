// Container (issue #9; README "Operating it › Container"). No Docker engine runs in CI, so the
// Dockerfile is read and held to its properties (Node 24 stages, a production-only `npm ci` that
// runs no lifecycle script, node dist/main.js in exec form as the non-root node user, a
// HEALTHCHECK on /healthz), and the runtime stage is then run for real on a copy of the build
// output: its COPYs and RUNs in a temporary directory, then its CMD with its ENV and a config
// file: /healthz and /readyz 200, the HEALTHCHECK command passes, SIGTERM exits 0.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { staleReason } from '../scripts/build-if-stale.mjs';
import { TestIssuer } from '../src/testing/index.js';
import { waitFor } from './support/attacks.js';
import { execForm, parseDockerfile, stageEnv, type Instruction, type Stage } from './support/dockerfile.js';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const build = stages[0]!;
const runtime = stages.at(-1)!;
const all = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.keyword === keyword);
const one = (stage: Stage, keyword: string): Instruction => {
  const found = all(stage, keyword);
  if (found.length !== 1) throw new Error(`expected one ${keyword} in stage ${stage.name ?? stage.image}, found ${found.length}`);
  return found[0]!;
};
const workdir = (stage: Stage): string => one(stage, 'WORKDIR').body;
const runs = (stage: Stage): string[] => all(stage, 'RUN').map((i) => i.body);
const npmCi = (stage: Stage): string | undefined => runs(stage).find((body) => /\bnpm ci\b/.test(body));

describe('Dockerfile', () => {
  it('is multi-stage, every stage on Node 24', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.image).toMatch(/^node:24([.-]|$)/);
  });

  it('the build stage installs every dependency, then runs the full build', () => {
    expect(npmCi(build)).toBeDefined();
    expect(npmCi(build)).not.toMatch(/--omit[= ]dev/);
    expect(runs(build).at(-1)).toBe('npm run build');
  });

  it('the runtime stage installs production dependencies from the lockfile and takes only dist/ from the build', () => {
    expect(npmCi(runtime)).toMatch(/\bnpm ci\b.*--omit=dev/);
    const fromBuild = all(runtime, 'COPY').filter((i) => i.flags.from !== undefined);
    expect(fromBuild.map((i) => [i.flags.from, i.body])).toEqual([[build.name, `${workdir(build)}/dist ./dist`]]);
    expect(stageEnv(runtime).NODE_ENV).toBe('production');
  });

  // A prepare/prepack script (one builds the package for `npm pack`) would run in `npm ci`
  // before src/ is there, and tsc is not installed in the runtime stage at all.
  it('no `npm ci` runs lifecycle scripts', () => {
    const installs = stages.flatMap((stage) => runs(stage)).filter((body) => /\bnpm (ci|install)\b/.test(body));
    expect(installs.length).toBeGreaterThanOrEqual(2);
    for (const body of installs) expect(body).toContain('--ignore-scripts');
  });

  it('runs as the node user from after the last COPY/RUN on', () => {
    const { instructions } = runtime;
    const user = instructions.findIndex((i) => i.keyword === 'USER');
    expect(instructions[user]?.body).toBe('node');
    const lastWrite = instructions.findLastIndex((i) => i.keyword === 'COPY' || i.keyword === 'RUN');
    expect(user).toBeGreaterThan(lastWrite);
    for (const copy of all(runtime, 'COPY')) expect(copy.flags.chown).toBeUndefined(); // code owned by root, read-only to node
  });

  // Exec form: no npm and no shell between Docker and node, so SIGTERM reaches node, PID 1
  // (the node image's entrypoint script execs its arguments).
  it('CMD is ["node", "dist/main.js"] in exec form, with no ENTRYPOINT or SHELL of ours', () => {
    expect(execForm(one(runtime, 'CMD').body)).toEqual(['node', 'dist/main.js']);
    for (const stage of stages) expect(all(stage, 'ENTRYPOINT').concat(all(stage, 'SHELL'))).toEqual([]);
  });

  it('HEALTHCHECK probes /healthz on $PORT', () => {
    const { body } = one(runtime, 'HEALTHCHECK');
    expect(body).toMatch(/^CMD /);
    expect(body).toContain('/healthz');
    expect(body).toContain('process.env.PORT');
  });

  it('.dockerignore keeps node_modules, dist, .git, test, deploy, docs, logs and .env out of the context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim());
    for (const entry of ['node_modules', 'dist', '.git', 'test', 'deploy', 'docs', '*.log', '.env']) expect(ignored).toContain(entry);
  });
});

describe('the runtime stage, run on a copy of the build output', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'gw-container-'));
  const app = join(scratch, 'app');
  const env = stageEnv(runtime);
  const processes: GatewayProcess[] = [];
  let issuer: TestIssuer;
  let config: string;

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await issuer?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  beforeAll(async () => {
    issuer = await TestIssuer.start({ algorithms: ['ES256'] });
    config = join(scratch, 'gateway.yaml');
    writeFileSync(
      config,
      stringify({
        auth: { issuers: [{ issuer: issuer.issuer, audience: [issuer.audience], jwksUri: issuer.jwksUri }] },
        routes: [{ id: 'orders', pathPrefix: '/api/orders', upstream: 'http://127.0.0.1:9', scopes: ['orders:read'] }],
        shutdown: { delaySeconds: 0, drainSeconds: 5 },
      }),
    );
  });

  // The build stage's output: this checkout's dist/ when it is up to date, else compiled afresh
  // into the scratch directory (never over a dist/ another test may be running).
  beforeAll(() => {
    const builtAt = staleReason(ROOT) === undefined ? ROOT : join(scratch, 'build');
    if (builtAt !== ROOT) {
      const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(builtAt, 'dist')], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    }
    for (const copy of all(runtime, 'COPY')) copyInto(copy, builtAt);
    trapLifecycleScripts();
    for (const { body } of all(runtime, 'RUN')) {
      const run = spawnSync('sh', ['-c', body], {
        cwd: app,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        encoding: 'utf8',
        timeout: 120_000,
      });
      if (run.status !== 0) throw new Error(`RUN ${body} failed (${run.status ?? run.signal}):\n${run.stdout}${run.stderr}`);
    }
  }, 240_000);

  /** COPY into the image's WORKDIR (`app`): from the build stage's WORKDIR (`builtAt`), else from the repository. */
  function copyInto({ flags, body }: Instruction, builtAt: string): void {
    const words = body.split(/\s+/);
    const sources = words.slice(0, -1).map((source) =>
      flags.from === undefined ? join(ROOT, source) : join(builtAt, posix.relative(workdir(build), source)),
    );
    const destination = join(app, words.at(-1)!);
    for (const source of sources) {
      cpSync(source, sources.length > 1 || destination.endsWith('/') ? join(destination, basename(source)) : destination, { recursive: true });
    }
  }

  /** Lifecycle scripts in the copied package.json that would leave a mark if `npm ci` ran them. */
  function trapLifecycleScripts(): void {
    const file = join(app, 'package.json');
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { scripts?: Record<string, string> };
    const mark = `node -e "require('fs').writeFileSync('lifecycle-script-ran', '')"`;
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare', 'prepack']) pkg.scripts = { ...pkg.scripts, [hook]: mark };
    writeFileSync(file, JSON.stringify(pkg, null, 2));
  }

  async function start(extraEnv: Record<string, string>): Promise<GatewayProcess> {
    const argv = execForm(one(runtime, 'CMD').body) as [string, string, ...string[]];
    const gateway = await startGatewayProcess({ ...env, PORT: '0', ...extraEnv }, 20_000, { cwd: app, argv });
    processes.push(gateway);
    return gateway;
  }

  it('installed production dependencies only, and ran no lifecycle script', () => {
    expect(existsSync(join(app, 'node_modules/@nestjs/core/package.json'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/jest'))).toBe(false);
    expect(existsSync(join(app, 'lifecycle-script-ran'))).toBe(false);
  });

  it('without the mounted config (the image’s GATEWAY_CONFIG): exit 2 naming the path, never dev mode', async () => {
    expect(env.GATEWAY_CONFIG).toBe('/etc/gateway/gateway.yaml');
    await expect(start({})).rejects.toThrow(/exit 2\):[\s\S]*GATEWAY_CONFIG: config file \/etc\/gateway\/gateway\.yaml does not exist/);
  });

  it('CMD with a config: /healthz and /readyz 200, the HEALTHCHECK command passes, SIGTERM exits 0', async () => {
    const gateway = await start({ GATEWAY_CONFIG: config });
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    await waitFor('/readyz 200', async () => (await fetch(`${gateway.url}/readyz`)).status === 200, 10_000);

    const probe = one(runtime, 'HEALTHCHECK').body.replace(/^CMD /, '');
    const healthcheck = spawnSync('sh', ['-c', probe], {
      env: { PATH: process.env.PATH, ...env, PORT: new URL(gateway.url).port },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(healthcheck.status).toBe(0);

    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  }, 30_000);
});
