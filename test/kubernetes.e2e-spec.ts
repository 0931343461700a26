// Kubernetes manifests (issue #9; README "Operating it › Kubernetes"): every file under
// deploy/kubernetes parses, and what the Deployment assumes about the gateway holds: its probes
// ask endpoints the gateway serves on the port it listens on, the kubelet waits longer than the
// config's shutdown delay plus drain, the ConfigMap's gateway.yaml passes the gateway's own
// validation with the environment the Deployment gives it, and the command is the image's.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { loadConfig, type LoadedConfig } from '../src/config/load-config.js';
import { TestIssuer } from '../src/testing/index.js';
import { execForm, parseDockerfile } from './support/dockerfile.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';

interface Probe {
  readonly httpGet?: { readonly path: string; readonly port: number | string };
  readonly periodSeconds?: number;
  readonly failureThreshold?: number;
}
interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly secretKeyRef?: { readonly name: string; readonly key: string } };
}
interface Container {
  readonly name: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly ports: { readonly name?: string; readonly containerPort: number }[];
  readonly env?: EnvVar[];
  readonly volumeMounts?: { readonly name: string; readonly mountPath: string; readonly subPath?: string }[];
  readonly startupProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly resources?: { readonly requests?: Record<string, string>; readonly limits?: Record<string, string> };
  readonly securityContext?: Record<string, unknown>;
}
interface PodSpec {
  readonly terminationGracePeriodSeconds?: number;
  readonly securityContext?: { readonly runAsNonRoot?: boolean; readonly runAsUser?: number };
  readonly containers: Container[];
  readonly volumes?: { readonly name: string; readonly configMap?: { readonly name: string } }[];
}
interface Manifest {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
  readonly spec?: Record<string, unknown>;
  readonly data?: Record<string, string>;
  readonly stringData?: Record<string, string>;
  readonly resources?: string[];
}

const DIR = new URL('../deploy/kubernetes/', import.meta.url);
const files = readdirSync(DIR).filter((file) => /\.ya?ml$/.test(file));
const manifests: Manifest[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(new URL(file, DIR), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return { file, ...(doc.toJS() as Omit<Manifest, 'file'>) };
  }),
);
function only(kind: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} in deploy/kubernetes, found ${found.length}`);
  return found[0]!;
}

const deployment = only('Deployment');
const pod = deployment.spec!.template as { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
const container = pod.spec.containers[0]!;
const configMap = only('ConfigMap');
const secret = only('Secret');
const env = container.env ?? [];

/** Values a real Secret would hold, valid for the gateway's checks (the manifest's are placeholders). */
const SAMPLE_SECRETS: Record<string, string> = {
  TOKEN_CACHE_KEY: `k1:${randomBytes(32).toString('base64')}`,
  REDIS_URL: 'redis://redis.example:6379/0',
};

/** The container's environment as the kubelet would build it, secret values from `secretValue`. */
function containerEnv(secretValue: (key: string) => string): Record<string, string> {
  return Object.fromEntries(
    env.map(({ name, value, valueFrom }) => {
      if (value !== undefined) return [name, value];
      if (valueFrom?.secretKeyRef) return [name, secretValue(valueFrom.secretKeyRef.key)];
      throw new Error(`env ${name}: neither a value nor a secretKeyRef`);
    }),
  );
}

/** Files the container sees from ConfigMap volumes: mountPath/key → content. */
function mountedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.spec.volumes?.find((v) => v.name === mount.name);
    if (volume?.configMap?.name !== configMap.metadata.name) continue;
    for (const [key, text] of Object.entries(configMap.data ?? {})) files.set(`${mount.mountPath}/${key}`, text);
  }
  return files;
}

function load(environment: Record<string, string>): LoadedConfig {
  const files = mountedFiles();
  return loadConfig({
    env: environment,
    readFile: (path) => files.get(path) ?? '',
    fileExists: (path) => files.has(path),
  });
}

/** The config and settings the container would start with; throws the gateway's own ConfigError. */
function loadedAsDeployed(): LoadedConfig {
  return load(containerEnv((key) => SAMPLE_SECRETS[key] ?? `sample-${key.toLowerCase()}`));
}
const deployedPort = (): number => loadedAsDeployed().settings.port;
function deployedConfig() {
  const loaded = loadedAsDeployed();
  if (loaded.mode !== 'file') throw new Error(`expected the config file, got ${loaded.mode} mode`);
  return loaded.config;
}

/** A probe's or Service's port (a number or a container port's name) as a number. */
function portNumber(port: number | string): number | undefined {
  return typeof port === 'number' ? port : container.ports.find((p) => p.name === port)?.containerPort;
}

describe('deploy/kubernetes manifests', () => {
  it('every document parses and names its apiVersion, kind and name', () => {
    expect(files).toEqual(expect.arrayContaining(['deployment.yaml', 'configmap.yaml', 'secret.yaml', 'service.yaml']));
    for (const m of manifests) {
      expect(m).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String) });
      if (m.kind !== 'Kustomization') expect(m).toMatchObject({ metadata: { name: expect.any(String) } });
    }
  });

  it('kustomization lists every manifest but the placeholder Secret (never applied over the real one)', () => {
    const listed = only('Kustomization').resources ?? [];
    expect([...listed].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml' && f !== secret.file).sort());
  });

  it('the ConfigMap’s gateway.yaml passes the gateway’s validation with the Deployment’s environment, mounted where GATEWAY_CONFIG points', () => {
    const loaded = loadedAsDeployed();
    expect(loaded.mode).toBe('file');
    expect(loaded.mode === 'file' && loaded.path).toBe(containerEnv(() => '').GATEWAY_CONFIG);
    expect(loaded.settings.port).toBe(portNumber('http'));
  });

  it('every ${NAME} in gateway.yaml is set by the Deployment', () => {
    const text = Object.values(configMap.data ?? {}).join('\n');
    const names = [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(env.map((e) => e.name)).toContain(name);
  });

  it('every secretKeyRef names a key of the Secret, and every key of the Secret is used', () => {
    const refs = env.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
    for (const ref of refs) expect(ref.name).toBe(secret.metadata.name);
    expect(refs.map((r) => r.key).sort()).toEqual(Object.keys(secret.stringData ?? {}).sort());
    expect(refs.map((r) => r.key)).toEqual(expect.arrayContaining(['TOKEN_CACHE_KEY']));
  });

  // The Secret in the repository holds placeholders: applied unedited, no replica starts.
  it('with the Secret’s placeholder values the gateway refuses to start, naming TOKEN_CACHE_KEY and REDIS_URL', () => {
    const placeholders = containerEnv((key) => secret.stringData![key]!);
    expect(() => load(placeholders)).toThrow(/TOKEN_CACHE_KEY/);
    expect(() => load(placeholders)).toThrow(/REDIS_URL/);
  });

  it('terminationGracePeriodSeconds is above shutdown.delaySeconds + drainSeconds', () => {
    const { delaySeconds, drainSeconds } = deployedConfig().shutdown;
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(delaySeconds + drainSeconds);
  });

  // During delaySeconds /readyz answers 503 while requests are still served: long enough for
  // the readiness probe to see it fail failureThreshold times.
  it('shutdown.delaySeconds covers the readiness probe’s period × failureThreshold', () => {
    const { periodSeconds = 10, failureThreshold = 3 } = container.readinessProbe!;
    expect(deployedConfig().shutdown.delaySeconds).toBeGreaterThanOrEqual(periodSeconds * failureThreshold);
  });

  it('the command is the image’s CMD (node dist/main.js, no npm, no shell)', () => {
    const dockerfile = parseDockerfile(readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8'));
    const cmd = execForm(dockerfile.at(-1)!.instructions.find((i) => i.keyword === 'CMD')!.body);
    expect(cmd).toEqual(['node', 'dist/main.js']);
    if (container.command !== undefined || container.args !== undefined) {
      expect([...(container.command ?? []), ...(container.args ?? [])]).toEqual(cmd);
    }
  });

  it('runs as a numeric non-root user with a read-only root filesystem, no privilege escalation, with resources', () => {
    expect(pod.spec.securityContext?.runAsNonRoot).toBe(true);
    // The image's USER is a name (node): without a number the kubelet cannot check runAsNonRoot.
    expect(pod.spec.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(container.resources?.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
    expect(container.resources?.limits?.memory).toEqual(expect.any(String));
  });

  it('the config is mounted as a directory (no subPath), so a changed ConfigMap reaches the file for SIGHUP', () => {
    const mount = container.volumeMounts?.find((m) => pod.spec.volumes?.find((v) => v.name === m.name)?.configMap);
    expect(mount).toBeDefined();
    expect(mount!.subPath).toBeUndefined();
  });

  it('the Service and PodDisruptionBudget select the Deployment’s pods; the Service targets the gateway’s port', () => {
    const labels = pod.metadata.labels;
    const service = only('Service');
    const pdb = only('PodDisruptionBudget');
    expect(labels).toEqual(expect.objectContaining(service.spec!.selector as Record<string, string>));
    expect(labels).toEqual(expect.objectContaining((pdb.spec!.selector as { matchLabels: Record<string, string> }).matchLabels));
    expect(labels).toEqual(expect.objectContaining((deployment.spec!.selector as { matchLabels: Record<string, string> }).matchLabels));
    const ports = service.spec!.ports as { targetPort: number | string }[];
    for (const { targetPort } of ports) expect(portNumber(targetPort)).toBe(deployedPort());
  });
});

describe('probes ask what the gateway serves, on the port it listens on', () => {
  let issuer: TestIssuer;
  let gw: TestGateway;

  beforeAll(async () => {
    issuer = await TestIssuer.start({ algorithms: ['ES256'] });
  });
  afterAll(() => issuer?.close());

  beforeAll(async () => {
    gw = await startTestGateway({ issuers: [issuer], routes: [{ id: 'orders', pathPrefix: '/api/orders', upstream: 'http://127.0.0.1:9' }] });
  });
  afterAll(() => gw?.close());

  const probes = [
    { name: 'readinessProbe', path: '/readyz', probe: container.readinessProbe },
    { name: 'livenessProbe', path: '/healthz', probe: container.livenessProbe },
    { name: 'startupProbe', path: '/healthz', probe: container.startupProbe },
  ];

  it.each(probes)('$name: GET $path on the gateway’s port → 200', async ({ path, probe }) => {
    expect(probe?.httpGet?.path).toBe(path);
    expect(portNumber(probe!.httpGet!.port)).toBe(deployedPort());
    const res = await fetch(`${gw.url}${probe!.httpGet!.path}`);
    expect(res.status).toBe(200);
  });

  it('the Prometheus scrape annotations name /metrics on the gateway’s port → 200', async () => {
    const annotations = pod.metadata.annotations ?? {};
    expect(Number(annotations['prometheus.io/port'])).toBe(deployedPort());
    const res = await fetch(`${gw.url}${annotations['prometheus.io/path']}`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });
});
