import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { authFailureReason } from '../auth/auth-failure.js';
import { HTTP_METHODS } from '../config/gateway-config.js';
import type { GatewayError } from '../errors/gateway-error.js';
import { refusalOf } from '../errors/problem-response.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { RequestContext } from './request-context.js';
import { traceIdFrom } from './trace-context.js';

/** Labels for requests that matched no configured route (operating endpoints, 404s). */
export const NO_ROUTE = '-';

/**
 * One access line per request, with its metrics, when the answer is written (onResponse);
 * or, when the connection closed before it was (the caller hung up, or stopped reading and
 * was cut), one line with `abandoned: true` and no metrics. Whichever comes first writes it.
 * Never headers or the query string: either may carry credentials.
 */
export class AccessLog {
  constructor(
    private readonly log: Logger,
    private readonly metrics: GatewayMetrics,
  ) {}

  /** onRequest made the context: from here on the request gets its line, even if it is abandoned. */
  started(request: FastifyRequest, reply: FastifyReply): void {
    reply.raw.once('close', () => this.closed(request.raw, reply.raw, request.gateway));
  }

  /** onResponse: the answer is written. */
  finished(request: FastifyRequest, reply: FastifyReply): void {
    if (request.gateway) this.write(request.raw, reply.raw, request.gateway);
  }

  /**
   * Fastify answers a malformed URL (400 bad_path, through frameworkErrors) before any hook runs,
   * so onRequest made no context and onResponse never comes: sendProblem reports it here.
   */
  answeredBeforeHooks(request: FastifyRequest, reply: FastifyReply): void {
    const answeredId = reply.getHeader('x-request-id');
    const context: RequestContext = {
      requestId: typeof answeredId === 'string' ? answeredId : '-',
      clientAddress: request.raw.socket.remoteAddress ?? '',
      startedAt: performance.now(),
    };
    reply.raw.once('finish', () => this.write(request.raw, reply.raw, context));
  }

  /** Counted, timed and logged, once. */
  private write(request: IncomingMessage, response: ServerResponse, context: RequestContext): void {
    if (context.logged) return;
    context.logged = true;
    const seconds = (performance.now() - context.startedAt) / 1000;
    const route = routeOf(context);
    const refusal = refusalOf(response);
    this.metrics.requests.inc({ route, method: methodLabel(request.method), status: statusClass(response.statusCode) });
    this.metrics.requestDuration.observe({ route }, seconds);
    // Every 429 the gateway answers itself: a route's window and the unauthenticated budget alike.
    if (refusal?.code === 'rate_limited') this.metrics.rateLimited.inc({ route });
    if (this.log.isLevelEnabled('info')) this.log.info(accessFields(request, context, seconds, response.statusCode, refusal), 'request');
  }

  /** The response closed: unless it finished, the caller abandoned it (no status class to count). */
  private closed(request: IncomingMessage, response: ServerResponse, context: RequestContext): void {
    // A finished response is onResponse's, even when another hook delayed it past 'close'.
    if (context.logged || response.writableFinished) return;
    context.logged = true;
    if (!this.log.isLevelEnabled('info')) return;
    const seconds = (performance.now() - context.startedAt) / 1000;
    // The status is known only when the answer had started (a cut stream); otherwise it never existed.
    const status = response.headersSent ? response.statusCode : undefined;
    this.log.info({ ...accessFields(request, context, seconds, status, refusalOf(response)), abandoned: true }, 'request');
  }
}

/** The access line's fields, in a fixed order; README "Logs" lists them. */
function accessFields(
  request: IncomingMessage,
  context: RequestContext,
  seconds: number,
  status: number | undefined,
  refusal: GatewayError | undefined,
) {
  return {
    requestId: context.requestId,
    method: request.method,
    path: pathOnly(request.url),
    route: routeOf(context),
    status,
    durationMs: tenths(seconds * 1000),
    upstreamMs: context.upstreamMs === undefined ? undefined : tenths(context.upstreamMs),
    client: context.clientAddress,
    caller: context.principal?.clientId ?? context.principal?.subject,
    // 401 invalid_token: the auth failure reason (a closed set); any other refusal: its problem code.
    reason: refusal === undefined ? undefined : (authFailureReason(refusal) ?? refusal.code),
    traceId: traceIdFrom(request.headers.traceparent),
  };
}

function routeOf(context: RequestContext): string {
  return context.route?.route.id ?? NO_ROUTE;
}

function tenths(ms: number): number {
  return Math.round(ms * 10) / 10;
}

const METHOD_LABELS = new Set<string>(HTTP_METHODS);

/** A closed label set: the methods config can name, else OTHER (PURGE, PROPFIND… and junk). */
function methodLabel(method: string | undefined): string {
  return method !== undefined && METHOD_LABELS.has(method) ? method : 'OTHER';
}

function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

function pathOnly(url: string | undefined): string {
  if (!url) return '';
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return path.length > 512 ? `${path.slice(0, 512)}…` : path;
}
