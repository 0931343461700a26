import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { METHODS, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AppModule } from './app.module.js';
import { HTTP_METHODS, type GatewayConfig, type RuntimeSettings } from './config/gateway-config.js';
import { GatewayError } from './errors/gateway-error.js';
import { sendProblem } from './errors/problem-response.js';
import { PROBLEMS, problemType, type ProblemCode } from './errors/problem-catalog.js';
import { randomUUID } from 'node:crypto';
import { NestPinoLogger } from './observability/nest-logger.js';
import type { Logger } from './observability/logger.js';
import { GatewayMetrics } from './observability/metrics.js';
import { Readiness } from './observability/readiness.js';
import { TrustedProxies } from './request/client-address.js';
import { requestIdFrom } from './request/request-id.js';
import { registerRequestHooks } from './request/request-hooks.js';
import type { DynamicModule } from '@nestjs/common';

export interface GatewayOptions {
  readonly config: GatewayConfig;
  readonly settings: RuntimeSettings;
  readonly log: Logger;
  readonly metrics?: GatewayMetrics;
  readonly extraModules?: readonly DynamicModule[];
}

export interface RunningGateway {
  readonly app: NestFastifyApplication;
  /** `http://host:port` the gateway listens on. */
  readonly url: string;
  readonly port: number;
  /** Readiness turns 503, then the listener closes and in-flight requests get `drainMs`. */
  shutdown(delayMs: number, drainMs: number): Promise<void>;
}

/** Node's limits on what a caller may send before any handler runs. */
const SERVER_LIMITS = {
  maxHeaderSize: 16 * 1024,
  keepAliveTimeout: 72_000, // longer than common load-balancer idle timeouts (60 s)
  requestTimeout: 120_000,
} as const;

/** Builds and starts the gateway: the one bootstrap main.ts, dev mode and the e2e tests share. */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { config, settings, log } = options;
  const metrics = options.metrics ?? new GatewayMetrics();
  const adapter = new FastifyAdapter({
    logger: false,
    trustProxy: false, // client addresses follow CONTRACT's trustProxy rule, in TrustedProxies
    requestIdHeader: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 1024 },
    // requireHostHeader: a request without Host gets a problem+json 400 from the request hooks instead.
    http: { maxHeaderSize: SERVER_LIMITS.maxHeaderSize, requireHostHeader: false },
    keepAliveTimeout: SERVER_LIMITS.keepAliveTimeout,
    requestTimeout: SERVER_LIMITS.requestTimeout,
    // Errors Fastify raises before any Nest code runs (bad URL, bad content type) are problems too.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const requestId = request.gateway?.requestId ?? requestIdFrom(request.headers['x-request-id']);
      const problem =
        error.code === 'FST_ERR_BAD_URL'
          ? new GatewayError('bad_path', 'The request path is refused: invalid percent-encoding', { reason: 'bad_path' })
          : new GatewayError('bad_request', 'The request could not be parsed', { reason: error.code });
      sendProblem(reply, problem, requestId);
    },
    // Requests Node's HTTP parser refuses never reach Fastify: answer them as problems too.
    clientErrorHandler: answerUnparsableRequest,
  });
  routeEveryMethod(adapter.getInstance());
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot({ config, settings, log, metrics, extraModules: options.extraModules }),
    adapter,
    { bodyParser: false, logger: new NestPinoLogger(log), abortOnError: false },
  );

  const fastify = app.getHttpAdapter().getInstance();
  // Bodies stay unread streams so the proxy can forward them as they arrive.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null));
  const readiness = app.get(Readiness);
  const trustedProxies = app.get(TrustedProxies);
  registerRequestHooks(fastify, { trustedProxies, log, metrics, isDraining: () => readiness.draining });
  fastify.server.on('connect', answerConnect);

  await app.listen({ port: settings.port, host: settings.host });
  const address = fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  const host = settings.host === '0.0.0.0' || settings.host === '::' ? '127.0.0.1' : settings.host;

  return {
    app,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    async shutdown(delayMs: number, drainMs: number) {
      readiness.draining = true;
      if (delayMs > 0) await sleep(delayMs);
      const forced = setTimeout(() => fastify.server.closeAllConnections(), drainMs);
      forced.unref();
      await app.close();
      clearTimeout(forced);
    },
  };
}

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

/**
 * Node's clientError: a raw problem+json answer (431 for oversized headers), then close.
 * Requests parsed whole before the bad bytes (pipelined) were already taken, and maybe
 * forwarded: their answers go out first, in order, and the problem follows them (issue #8: the
 * fuzzer saw the 400 overtake a forwarded request's answer, which was then lost). When the bad
 * bytes are inside the body of the request being answered, that request is the one refused.
 */
function answerUnparsableRequest(error: Error & { code?: string }, socket: Socket): void {
  if (unparsable.has(socket)) return;
  unparsable.add(socket);
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const title = status === 431 ? 'Request header fields too large' : status === 408 ? 'Request timeout' : 'Bad request';
  afterWholeRequestsAnswered(socket, () =>
    writeRawProblem(socket, { status, title, code: 'bad_request', detail: 'The request could not be parsed as HTTP' }),
  );
}

/** Sockets whose parse error is answered (or will be): Node reports the error again for every later chunk. */
const unparsable = new WeakSet<Socket>();

type ServerSocket = Socket & { _httpMessage?: (ServerResponse & { req?: IncomingMessage }) | null };

/**
 * Runs `then` once no answer to a wholly received request is being written on `socket`. An answer
 * already under way to an incomplete request (whose body held the bad bytes) cannot be followed
 * by another: the connection is cut instead, as it is when the socket can no longer be written.
 */
function afterWholeRequestsAnswered(socket: ServerSocket, then: () => void): void {
  const inFlight = socket._httpMessage;
  if (inFlight && !inFlight.writableFinished && !inFlight.destroyed && inFlight.req?.complete === true) {
    // Node hands the socket to the next queued response on 'finish'; look again after it has.
    inFlight.once('finish', () => setImmediate(afterWholeRequestsAnswered, socket, then));
    return;
  }
  if (!socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  then();
}

/**
 * CONNECT never reaches Fastify (Node hands it to the server's 'connect' event, which
 * would otherwise cut the connection without a word): 405, like TRACE on a route.
 */
function answerConnect(_request: IncomingMessage, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  writeRawProblem(socket, {
    status: 405,
    title: PROBLEMS.method_not_allowed.title,
    code: 'method_not_allowed',
    detail: 'The gateway does not tunnel CONNECT requests',
    extraHeaders: `allow: ${HTTP_METHODS.join(', ')}\r\n`,
  });
}

/** A problem+json answer written straight to a socket Fastify never saw, then the connection ends. */
function writeRawProblem(
  socket: Duplex,
  problem: { status: number; title: string; code: ProblemCode; detail: string; extraHeaders?: string },
): void {
  const requestId = randomUUID();
  const { status, title } = problem;
  const body = JSON.stringify({ type: problemType(problem.code), title, status, detail: problem.detail, requestId });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${requestId}\r\n${problem.extraHeaders ?? ''}connection: close\r\n\r\n${body}`,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
