import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTP_METHODS } from '../config/gateway-config.js';
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
    // A CGI-style upstream (Rack, PHP, WSGI) reads `Transfer_Encoding` as `Transfer-Encoding`: it
    // would frame the body differently from Node, the ground of request smuggling (found by the fuzzer).
    if (request.headers['transfer_encoding'] !== undefined || request.headers['content_length'] !== undefined) {
      const refused = new GatewayError('bad_request', 'A message framing header is spelled with "_"', { reason: 'underscore_framing_header' });
      // Where this request's body ends is in doubt: nothing more is read from this connection.
      reply.header('connection', 'close');
      sendProblem(reply, refused, requestId);
      return;
    }
    if (reply.raw.socket === null) waitForTurn(request.raw, reply.raw, done);
    else if (onClosingConnection(reply.raw)) return; // never handled: see waitForTurn
    else done();
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
      metrics.requests.inc({ route, method: methodLabel(request.raw.method), status: statusClass(reply.statusCode) });
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

/**
 * A pipelined request waits until the answers before it are written. Node hands every parsed
 * request to the server at once and only queues the answers, so a request behind one whose answer
 * closes the connection would still be forwarded, and its answer dropped (found by the fuzzer).
 * Its turn comes when Node gives its response the socket; a connection that closes first means it
 * is never handled.
 */
function waitForTurn(request: IncomingMessage, response: ServerResponse, proceed: () => void): void {
  const onTurn = () => {
    request.off('close', onClosed);
    if (!onClosingConnection(response)) proceed();
  };
  const onClosed = () => {
    if (response.socket === null) response.off('socket', onTurn);
  };
  response.once('socket', onTurn);
  request.once('close', onClosed);
}

/**
 * Node ends the connection after an answer that said `Connection: close`, but its parser still
 * hands over requests already received behind it: those are never handled.
 */
function onClosingConnection(response: ServerResponse): boolean {
  return response.socket !== null && !response.socket.writable;
}
