import { Writable } from 'node:stream';
import {
  ASYMMETRIC_ALGORITHMS,
  type AuthConfig,
  type GatewayConfig,
  type IssuerConfig,
  type RouteConfig,
  type RuntimeSettings,
  type ThrottleConfig,
} from '../../src/config/gateway-config.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import type { TestIssuer } from '../../src/testing/index.js';

export type TestRoute = Partial<RouteConfig> & Pick<RouteConfig, 'id' | 'pathPrefix' | 'upstream'>;

export interface TestGatewayOptions {
  /** TestIssuers are trusted with their own audience and every algorithm. */
  readonly issuers?: readonly (TestIssuer | IssuerConfig)[];
  readonly routes: readonly TestRoute[];
  readonly auth?: Partial<Omit<AuthConfig, 'issuers'>>;
  readonly trustProxy?: readonly string[];
  /**
   * Throttle settings. Default here: limits so high that no test trips them
   * by accident (CONTRACT's defaults would 429 the attack tables); the
   * throttling tests set their own.
   */
  readonly throttle?: Partial<ThrottleConfig>;
  /** OAuth clients for client-credentials routes. */
  readonly clients?: GatewayConfig['clients'];
  /** Runtime settings beyond port/host/log level (REDIS_URL, TOKEN_CACHE_KEY). */
  readonly settings?: Partial<Omit<RuntimeSettings, 'port' | 'host' | 'logLevel'>>;
  /** Default here: no delay, 1 s of drain (tests close quickly). */
  readonly shutdown?: GatewayConfig['shutdown'];
  /** Wait for /readyz 200 before returning (default true). */
  readonly waitReady?: boolean;
}

export interface TestGateway {
  readonly url: string;
  readonly running: RunningGateway;
  readonly metrics: GatewayMetrics;
  /** Every log line the gateway wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  /** The raw log text, for "no token in the logs" checks. */
  logText(): string;
  close(): Promise<void>;
}

function issuerConfig(issuer: TestIssuer | IssuerConfig): IssuerConfig {
  if ('algorithms' in issuer && Array.isArray(issuer.audience)) return issuer as IssuerConfig;
  const test = issuer as TestIssuer;
  return { issuer: test.issuer, audience: [test.audience], algorithms: [...ASYMMETRIC_ALGORITHMS] };
}

/** A complete GatewayConfig with the defaults CONTRACT.md gives, for tests that start the gateway in-process. */
export function configFor(options: TestGatewayOptions): GatewayConfig {
  return {
    auth: {
      clockToleranceSeconds: 30,
      requireTyp: false,
      jwksRefetchCooldownSeconds: 5,
      ...options.auth,
      issuers: (options.issuers ?? []).map(issuerConfig),
    },
    routes: options.routes.map((route) => ({
      public: false,
      scopes: [],
      timeoutMs: 10_000,
      maxBodyBytes: 10 * 1024 * 1024,
      upstreamAuth: { type: 'none' as const },
      ...route,
    })),
    clients: options.clients ?? {},
    throttle: {
      default: [{ limit: 1_000_000, ttlSeconds: 60 }],
      clients: {},
      storage: 'memory',
      onStorageError: 'local',
      unauthenticated: { limit: 1_000_000, ttlSeconds: 60 },
      ...options.throttle,
    },
    trustProxy: options.trustProxy ?? [],
    shutdown: options.shutdown ?? { delaySeconds: 0, drainSeconds: 1 },
  };
}

/** The gateway on 127.0.0.1 with a random port, its log captured in memory. */
export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const metrics = new GatewayMetrics({ defaultMetrics: false });
  const running = await startGateway({
    config: configFor(options),
    settings: { ...options.settings, port: 0, host: '127.0.0.1', logLevel: 'debug' },
    // The production logger (redaction, safe error serializers), so tests see what operators see.
    log: createLogger('debug', sink),
    metrics,
  });
  const gateway: TestGateway = {
    url: running.url,
    running,
    metrics,
    get logs() {
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    logText: () => lines.join('\n'),
    close: () => running.shutdown(0, 200),
  };
  if (options.waitReady ?? true) await waitForReady(gateway.url);
  return gateway;
}

/** Polls /readyz until 200; fails with the last status after `timeoutMs`. */
export async function waitForReady(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    last = (await fetch(`${url}/readyz`)).status;
    if (last === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gateway not ready after ${timeoutMs} ms (last /readyz: ${last})`);
}
