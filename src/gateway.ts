import type { DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { GatewayConfig, RuntimeSettings } from './config/gateway-config.js';
import { GatewayError } from './errors/gateway-error.js';
import type { Logger } from './observability/logger.js';
import { GatewayMetrics } from './observability/metrics.js';
import { GatewayApp } from './server/gateway-app.js';
import { handleInTurn } from './server/in-turn.js';
import { answerConnect, answerUnparsableRequest } from './server/raw-answers.js';

export interface GatewayOptions {
  readonly config: GatewayConfig;
  readonly settings: RuntimeSettings;
  readonly log: Logger;
  readonly metrics?: GatewayMetrics;
  readonly extraModules?: readonly DynamicModule[];
}

export interface RunningGateway {
  /** The Nest application serving now (a reload replaces it). */
  readonly app: NestFastifyApplication;
  /** The config serving now. */
  readonly config: GatewayConfig;
  /** The listening HTTP server: one for the process's life, whatever the reloads. */
  readonly server: Server;
  /** `http://host:port` the gateway listens on. */
  readonly url: string;
  readonly port: number;
  /**
   * Serves `config` from now on without dropping a request: the new application is built and
   * must have every issuer's keys within `readyTimeoutMs` (default 10 s), else it is closed and
   * the call rejects with the old config still serving. The old application is closed once its
   * requests have ended (at most its `shutdown.drainSeconds` later).
   */
  reload(config: GatewayConfig, readyTimeoutMs?: number): Promise<void>;
  /** Readiness turns 503, then the listener closes and in-flight requests get `drainMs`. */
  shutdown(delayMs: number, drainMs: number): Promise<void>;
}

/** Node's limits on what a caller may send before any handler runs. */
const SERVER_LIMITS = {
  maxHeaderSize: 16 * 1024,
  keepAliveTimeout: 72_000, // longer than common load-balancer idle timeouts (60 s)
  requestTimeout: 120_000,
} as const;

const DEFAULT_READY_TIMEOUT_MS = 10_000;

/** Builds and starts the gateway: the one bootstrap main.ts, dev mode and the e2e tests share. */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { settings, log, extraModules } = options;
  const metrics = options.metrics ?? new GatewayMetrics();
  const build = (config: GatewayConfig) => GatewayApp.build({ config, settings, log, metrics, extraModules });

  let current = await build(options.config);
  /** Generations replaced by a reload whose requests have not all ended. */
  const retiring = new Set<GatewayApp>();
  /** A request whose turn has come goes to the config serving at that moment. */
  const handleNow = (request: IncomingMessage, response: ServerResponse) => current.handle(request, response);
  const server = createServer(
    // requireHostHeader: a request without Host gets a problem+json 400 from the request hooks instead.
    { maxHeaderSize: SERVER_LIMITS.maxHeaderSize, requireHostHeader: false },
    (request, response) => handleInTurn(request, response, handleNow),
  );
  server.keepAliveTimeout = SERVER_LIMITS.keepAliveTimeout;
  server.requestTimeout = SERVER_LIMITS.requestTimeout;
  // Requests Node's HTTP parser refuses never reach Fastify: answer them as problems too.
  server.on('clientError', answerUnparsableRequest);
  server.on('connect', answerConnect);

  server.listen({ port: settings.port, host: settings.host });
  try {
    await once(server, 'listening');
  } catch (error) {
    await current.close();
    throw error;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  const host = settings.host === '0.0.0.0' || settings.host === '::' ? '127.0.0.1' : settings.host;

  const retire = async (old: GatewayApp) => {
    retiring.add(old);
    await old.whenIdle(old.config.shutdown.drainSeconds * 1000);
    retiring.delete(old);
    await old.close().catch((error: unknown) => log.warn({ error: (error as Error).name }, 'closing the replaced config failed'));
  };
  let reloading: Promise<void> = Promise.resolve();

  return {
    get app() {
      return current.app;
    },
    get config() {
      return current.config;
    },
    server,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    reload(config, readyTimeoutMs = DEFAULT_READY_TIMEOUT_MS) {
      // One reload at a time: a second SIGHUP waits for the first.
      const next = reloading.then(async () => {
        const candidate = await build(config);
        if (!(await keysLoadedWithin(candidate, readyTimeoutMs))) {
          await candidate.close();
          throw new GatewayError('not_ready', `the new config's issuer keys did not load within ${readyTimeoutMs} ms`);
        }
        const old = current;
        current = candidate;
        void retire(old);
      });
      reloading = next.catch(() => undefined);
      return next;
    },
    async shutdown(delayMs: number, drainMs: number) {
      await reloading;
      for (const app of [current, ...retiring]) app.drain();
      if (delayMs > 0) await sleep(delayMs);
      // Stop accepting; idle keep-alive connections close now, busy ones after their answer
      // (which says Connection: close while draining), the rest after drainMs.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const forced = setTimeout(() => server.closeAllConnections(), drainMs);
      await closed;
      clearTimeout(forced);
      await Promise.all([current, ...retiring].map((app) => app.close()));
    },
  };
}

async function keysLoadedWithin(app: GatewayApp, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!app.keysLoaded) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
