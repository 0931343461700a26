// One generation of the gateway: a Nest application (Fastify) built from one config, that
// handles requests handed to it by the long-lived HTTP server (server/gateway-server.ts) without
// listening itself. A SIGHUP builds the next generation beside it; the server switches over
// and this one is closed once its requests have ended.
import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createServer, METHODS, type IncomingMessage, type ServerResponse } from 'node:http';
import { AppModule } from '../app.module.js';
import { IssuerRegistry } from '../auth/issuer-registry.js';
import type { GatewayConfig, RuntimeSettings } from '../config/gateway-config.js';
import { GatewayError } from '../errors/gateway-error.js';
import { sendProblem } from '../errors/problem-response.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { NestPinoLogger } from '../observability/nest-logger.js';
import { Readiness } from '../observability/readiness.js';
import { TrustedProxies } from '../request/client-address.js';
import { registerRequestHooks } from '../request/request-hooks.js';
import { requestIdFrom } from '../request/request-id.js';

export interface GatewayAppOptions {
  readonly config: GatewayConfig;
  readonly settings: RuntimeSettings;
  readonly log: Logger;
  /** Shared by every generation, so counters survive a reload. */
  readonly metrics: GatewayMetrics;
  readonly extraModules?: readonly DynamicModule[];
}

type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** A built, initialised application and what the server needs of it. */
export class GatewayApp {
  /** Requests handed to `handle` whose response has not closed yet. */
  #inFlight = 0;
  readonly #onIdle = new Set<() => void>();
  #closed: Promise<void> | undefined;

  private constructor(
    readonly app: NestFastifyApplication,
    readonly config: GatewayConfig,
    private readonly handler: RequestHandler,
  ) {}

  static async build(options: GatewayAppOptions): Promise<GatewayApp> {
    let handler: RequestHandler | undefined;
    const adapter = new FastifyAdapter({
      ...FASTIFY_OPTIONS,
      // The socket side (limits, keep-alive, parse errors) is the long-lived server's; each
      // generation gets an HTTP server that never listens, and hands its handler over.
      serverFactory: (fastifyHandler: RequestHandler) => {
        handler = fastifyHandler;
        return createServer();
      },
    });
    routeEveryMethod(adapter.getInstance());
    const app = await NestFactory.create<NestFastifyApplication>(
      AppModule.forRoot({ ...options, extraModules: options.extraModules }),
      adapter,
      { bodyParser: false, logger: new NestPinoLogger(options.log), abortOnError: false },
    );
    const fastify = app.getHttpAdapter().getInstance();
    // Bodies stay unread streams so the proxy can forward them as they arrive.
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser('*', (_request, _payload, done) => done(null));
    const readiness = app.get(Readiness);
    registerRequestHooks(fastify, {
      trustedProxies: app.get(TrustedProxies),
      log: options.log,
      metrics: options.metrics,
      isDraining: () => readiness.draining,
    });
    await app.init();
    await fastify.ready();
    if (handler === undefined) throw new Error('Fastify did not hand over its request handler');
    return new GatewayApp(app, options.config, handler);
  }

  /** Every issuer's keys are loaded (what /readyz asks first). */
  get keysLoaded(): boolean {
    return this.app.get(IssuerRegistry).ready;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** /readyz turns 503 and every answer closes its connection. */
  drain(): void {
    this.app.get(Readiness).draining = true;
  }

  handle(request: IncomingMessage, response: ServerResponse): void {
    this.#inFlight++;
    // Requests come here in their turn (server/in-turn.ts), so every response has its socket and closes.
    response.once('close', this.#settled);
    this.handler(request, response);
  }

  readonly #settled = (): void => {
    this.#inFlight--;
    if (this.#inFlight === 0) for (const resolve of this.#onIdle) resolve();
  };

  /** Resolves once no request is in flight, or after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const settle = () => {
        clearTimeout(timer);
        this.#onIdle.delete(settle);
        resolve();
      };
      const timer = setTimeout(settle, timeoutMs);
      this.#onIdle.add(settle);
    });
  }

  /** Closes the application (upstream pools, JWKS timers, Redis connections); once, however often asked. */
  close(): Promise<void> {
    this.#closed ??= this.app.close();
    return this.#closed;
  }
}

const FASTIFY_OPTIONS = {
  logger: false,
  trustProxy: false, // client addresses follow CONTRACT's trustProxy rule, in TrustedProxies
  requestIdHeader: false,
  return503OnClosing: true,
  routerOptions: { maxParamLength: 1024 },
  // Errors Fastify raises before any Nest code runs (bad URL, bad content type) are problems too.
  frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const requestId = request.gateway?.requestId ?? requestIdFrom(request.headers['x-request-id']);
    const problem =
      error.code === 'FST_ERR_BAD_URL'
        ? new GatewayError('bad_path', 'The request path is refused: invalid percent-encoding', { reason: 'bad_path' })
        : new GatewayError('bad_request', 'The request could not be parsed', { reason: error.code });
    sendProblem(reply, problem, requestId);
  },
} as const;

/**
 * Fastify routes only the methods it knows (GET…QUERY); `@All` would answer 404 to PURGE, REPORT,
 * PROPFIND and the rest. CONTRACT: a route without `methods` takes every method but TRACE, so
 * every method Node's parser accepts is added (with a body, which the proxy streams), before Nest
 * registers the catch-all. CONNECT stays out: it never reaches Fastify (see answerConnect).
 */
function routeEveryMethod(fastify: FastifyInstance): void {
  const known = new Set(fastify.supportedMethods);
  for (const method of METHODS) {
    if (!known.has(method) && method !== 'CONNECT') fastify.addHttpMethod(method, { hasBody: true });
  }
}
