import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { performance } from 'node:perf_hooks';
import { AccessLog } from './access-log.js';
import type { Logger } from '../observability/logger.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { TrustedProxies } from './client-address.js';
import { GatewayError } from '../errors/gateway-error.js';
import { sendProblem } from '../errors/problem-response.js';
import { requestIdFrom } from './request-id.js';
import './request-context.js';

/**
 * The first and last thing every request passes: its id and client address,
 * then one access-log line and the request metrics (access-log.ts).
 */
export function registerRequestHooks(
  fastify: FastifyInstance,
  deps: { trustedProxies: TrustedProxies; log: Logger; metrics: GatewayMetrics; isDraining: () => boolean },
): void {
  const { trustedProxies, isDraining } = deps;
  const accessLog = new AccessLog(deps.log, deps.metrics);
  // sendProblem calls it for a request Fastify refused before any hook ran (frameworkErrors).
  fastify.decorate('gatewayAnsweredBeforeHooks', (request: FastifyRequest, reply: FastifyReply) => accessLog.answeredBeforeHooks(request, reply));
  fastify.decorateRequest('gateway', null as never);

  fastify.addHook('onRequest', (request, reply, done) => {
    const requestId = requestIdFrom(request.headers['x-request-id']);
    request.gateway = {
      requestId,
      clientAddress: trustedProxies.clientAddress(request.raw.socket.remoteAddress ?? '', request.headers['x-forwarded-for']),
      startedAt: performance.now(),
    };
    reply.header('x-request-id', requestId);
    // From here the request gets its access line, even if the caller hangs up (onResponse never runs then).
    accessLog.started(request, reply);
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. Node's server would answer it
    // itself, bare (no problem+json, no X-Request-Id); gateway.ts turns that off and it is done here.
    if (request.headers.host === undefined && request.raw.httpVersionMinor === 1) {
      sendProblem(reply, new GatewayError('bad_request', 'The request has no Host header', { reason: 'no_host' }), requestId);
      return;
    }
    // A CGI-style upstream (Rack, PHP, WSGI) reads `Transfer_Encoding` as `Transfer-Encoding`: it
    // would frame the body differently from Node, the ground of request smuggling (found by the fuzzer).
    if (request.headers['transfer_encoding'] !== undefined || request.headers['content_length'] !== undefined) {
      const refused = new GatewayError('bad_request', 'A message framing header is spelled with "_"', { reason: 'underscore_framing_header' });
      // Where this request's body ends is in doubt: nothing more is read from this connection.
      reply.header('connection', 'close');
      sendProblem(reply, refused, requestId);
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
    accessLog.finished(request, reply);
    done();
  });
}
