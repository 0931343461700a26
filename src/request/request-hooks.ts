import type { FastifyInstance } from 'fastify';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../observability/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { TrustedProxies } from './client-address.js';
import { GatewayError } from '../errors/gateway-error.js';
import { sendProblem } from '../errors/problem-response.js';
import { requestIdFrom } from './request-id.js';
import './request-context.js';

/** Labels for requests that matched no configured route (operating endpoints, 404s). */
const NO_ROUTE = '-';

/**
 * The first and last thing every request passes: its id and client address,
 * then one access-log line and the request metrics. Never logs headers or the
 * query string (either may carry credentials).
 */
export function registerRequestHooks(
  fastify: FastifyInstance,
  deps: { trustedProxies: TrustedProxies; log: Logger; metrics: GatewayMetrics; isDraining: () => boolean },
): void {
  const { trustedProxies, log, metrics, isDraining } = deps;
  fastify.decorateRequest('gateway', null as never);

  fastify.addHook('onRequest', (request, reply, done) => {
    const requestId = requestIdFrom(request.headers['x-request-id']);
    request.gateway = {
      requestId,
      clientAddress: trustedProxies.clientAddress(request.raw.socket.remoteAddress ?? '', request.headers['x-forwarded-for']),
      startedAt: performance.now(),
    };
    reply.header('x-request-id', requestId);
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. Node's server would answer it
    // itself, bare (no problem+json, no X-Request-Id); gateway.ts turns that off and it is done here.
    if (request.headers.host === undefined && request.raw.httpVersionMinor === 1) {
      sendProblem(reply, new GatewayError('bad_request', 'The request has no Host header', { reason: 'no_host' }), requestId);
      return;
    }
    done();
  });

  // While draining, each answer closes its connection, so the drain ends with the last request.
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (isDraining()) reply.header('connection', 'close');
    done(null, payload);
  });

  fastify.addHook('onResponse', (request, reply, done) => {
    const context = request.gateway;
    if (context) {
      const seconds = (performance.now() - context.startedAt) / 1000;
      const route = context.route?.route.id ?? NO_ROUTE;
      metrics.requests.inc({ route, status: statusClass(reply.statusCode) });
      metrics.requestDuration.observe({ route }, seconds);
      if (log.isLevelEnabled('info')) {
        log.info(
          {
            requestId: context.requestId,
            method: request.raw.method,
            path: pathOnly(request.raw.url),
            route,
            status: reply.statusCode,
            durationMs: Math.round(seconds * 10_000) / 10,
            client: context.clientAddress,
            caller: context.principal?.clientId ?? context.principal?.subject,
          },
          'request',
        );
      }
    }
    done();
  });
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
