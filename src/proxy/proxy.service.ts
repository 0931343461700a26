import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatewayConfig } from '../config/gateway-config.js';
import { GatewayError } from '../errors/gateway-error.js';
import { TrustedProxies } from '../request/client-address.js';
import type { RouteMatchResult } from '../routing/route-access.js';
import { upstreamPath } from '../routing/upstream-path.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { Readiness } from '../observability/readiness.js';
import { limitBody } from './body-limit.js';
import { copyEndToEndHeaders } from './hop-by-hop.js';
import { upstreamAuthorization } from './upstream-authorization.js';
import { UpstreamHeadersTimeout, upstreamFailure } from './upstream-error.js';
import { UpstreamPools } from './upstream-pools.js';
import { upstreamRequestHeaders } from './upstream-request-headers.js';

/** Forwards one matched request to its upstream and streams the answer back. */
@Injectable()
export class ProxyService {
  private readonly trustedProxies: TrustedProxies;

  constructor(
    @Inject(GatewayConfig) config: GatewayConfig,
    @Inject(UpstreamPools) private readonly pools: UpstreamPools,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(Readiness) private readonly readiness: Readiness,
  ) {
    this.trustedProxies = new TrustedProxies(config.trustProxy);
  }

  async forward(request: FastifyRequest, reply: FastifyReply, match: RouteMatchResult): Promise<void> {
    const { route } = match;
    const raw = request.raw;
    const method = raw.method ?? 'GET';
    const declaredLength = contentLength(raw.headers['content-length']);
    if (declaredLength !== undefined && declaredLength > route.maxBodyBytes) {
      throw new GatewayError('payload_too_large', `The request body exceeds the limit of route ${route.id}`);
    }
    const principal = request.gateway.principal;
    const headers = upstreamRequestHeaders(raw.headers, {
      requestId: request.gateway.requestId,
      forwardedFor: this.trustedProxies.forwardedFor(raw.socket.remoteAddress ?? '', raw.headers['x-forwarded-for']),
      forwardedProto: this.forwardedProto(request),
      forwardedHost: raw.headers.host,
      authorization: upstreamAuthorization(route.upstreamAuth, principal),
      identity: principal && { subject: principal.subject, clientId: principal.clientId, scopes: principal.scopes },
    });

    // Streamed, never buffered whole; a body without a declared length is counted as it passes.
    // RFC 9112 §6.3: without Content-Length or Transfer-Encoding a request has no body.
    const hasBody = declaredLength !== undefined ? declaredLength > 0 : raw.headers['transfer-encoding'] !== undefined;
    const body: Readable | undefined = hasBody
      ? declaredLength !== undefined
        ? raw
        : pipeline(raw, limitBody(route.maxBodyBytes), () => undefined)
      : undefined;

    // One controller ends the upstream request when the caller hangs up or the
    // header deadline passes. Our own timer: undici's headersTimeout runs on a
    // coarse ~500 ms clock, too late for short route timeouts.
    const abort = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) abort.abort();
    };
    reply.raw.once('close', onClose);
    const deadline = setTimeout(() => abort.abort(new UpstreamHeadersTimeout()), route.timeoutMs);

    const requestId = request.gateway.requestId;
    let answered = false;
    try {
      // undici writes the upstream body straight into the caller's response
      // (backpressure included): no intermediate stream per request.
      await this.pools.get(originOf(route.upstream)).stream(
        {
          method: method as Dispatcher.HttpMethod,
          path: upstreamPath(route, match.rawSegments, match.query),
          headers,
          body: body ?? null,
          signal: abort.signal,
        },
        ({ statusCode, headers: upstreamHeaders }) => {
          clearTimeout(deadline);
          answered = true;
          const responseHeaders: Record<string, string | string[]> = {};
          copyEndToEndHeaders(upstreamHeaders, responseHeaders);
          responseHeaders['x-request-id'] = requestId;
          if (this.readiness.draining) responseHeaders.connection = 'close';
          reply.hijack();
          reply.raw.writeHead(statusCode, responseHeaders);
          return reply.raw;
        },
      );
    } catch (error) {
      clearTimeout(deadline);
      if (answered) {
        // The answer had started: a cut connection is the only honest signal left.
        reply.raw.destroy();
        return;
      }
      // The caller hung up: nobody to answer, and not the upstream's failure.
      if (abort.signal.aborted && !(abort.signal.reason instanceof UpstreamHeadersTimeout)) return;
      const failure = upstreamFailure(abort.signal.reason ?? error, route.id);
      this.metrics.upstreamErrors.inc({ route: route.id, kind: failure.code });
      throw failure;
    } finally {
      reply.raw.off('close', onClose);
    }
  }

  private forwardedProto(request: FastifyRequest): string {
    const socketProto = (request.raw.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    if (!this.trustedProxies.isTrusted(request.raw.socket.remoteAddress ?? '')) return socketProto;
    const sent = request.raw.headers['x-forwarded-proto'];
    return sent === 'https' || sent === 'http' ? sent : socketProto;
  }
}

const origins = new Map<string, string>();
function originOf(upstream: string): string {
  let origin = origins.get(upstream);
  if (origin === undefined) {
    origin = new URL(upstream).origin;
    origins.set(upstream, origin);
  }
  return origin;
}

function contentLength(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const length = Number(value);
  if (!Number.isSafeInteger(length) || length < 0) throw new GatewayError('bad_request', 'Content-Length is not a valid length');
  return length;
}
