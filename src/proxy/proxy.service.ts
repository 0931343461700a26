import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { pipeline, Writable, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { RuntimeSettings, type RouteConfig } from '../config/gateway-config.js';
import { GatewayError } from '../errors/gateway-error.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { Readiness } from '../observability/readiness.js';
import { TrustedProxies } from '../request/client-address.js';
import type { RouteMatchResult } from '../routing/route-access.js';
import { upstreamPath } from '../routing/upstream-path.js';
import { rateLimitHeaders } from '../throttling/rate-limit.js';
import { isInvalidTokenChallenge } from '../upstream-auth/client-credentials/bearer-error.js';
import { ServiceTokenSource } from '../upstream-auth/client-credentials/service-token.js';
import { upstreamCredential, type UpstreamCredential } from '../upstream-auth/upstream-authorization.js';
import { limitBody, readSmallBody } from './body-limit.js';
import { copyEndToEndHeaders } from './hop-by-hop.js';
import { UpstreamHeadersTimeout, upstreamFailure } from './upstream-error.js';
import { UpstreamPools } from './upstream-pools.js';
import { upstreamRequestHeaders } from './upstream-request-headers.js';

/**
 * Bodies up to this size are kept in memory on client-credentials routes, so
 * the request can be replayed once with a fresh service token after a 401.
 */
export const MAX_REPLAYABLE_BODY_BYTES = 64 * 1024;

type RequestBody = Readable | Buffer | undefined;

/** CONTRACT: a response the gateway can write nothing more of for this long is cut. */
export const DEFAULT_RESPONSE_STALL_MS = 30_000;

/** Forwards one matched request to its upstream and streams the answer back. */
@Injectable()
export class ProxyService {
  private readonly responseStallMs: number;

  constructor(
    @Inject(RuntimeSettings) settings: RuntimeSettings,
    @Inject(TrustedProxies) private readonly trustedProxies: TrustedProxies,
    @Inject(UpstreamPools) private readonly pools: UpstreamPools,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
    @Inject(Readiness) private readonly readiness: Readiness,
    @Inject(ServiceTokenSource) private readonly tokens: ServiceTokenSource,
  ) {
    this.responseStallMs = settings.responseStallMs ?? DEFAULT_RESPONSE_STALL_MS;
  }

  async forward(request: FastifyRequest, reply: FastifyReply, match: RouteMatchResult): Promise<void> {
    const { route } = match;
    const raw = request.raw;
    const declaredLength = contentLength(raw.headers['content-length']);
    if (declaredLength !== undefined && declaredLength > route.maxBodyBytes) {
      throw new GatewayError('payload_too_large', `The request body exceeds the limit of route ${route.id}`);
    }
    const credential = await upstreamCredential(route.upstreamAuth, request.gateway.principal, this.tokens);
    // CONTRACT: a caller that hung up while a key or the service token was fetched is never forwarded.
    if (reply.raw.destroyed) return;
    const body = await this.requestBody(request, route, declaredLength, credential);

    // Issue #3: an upstream that refuses the service token as invalid gets one
    // retry with a fresh token, when the body can be sent again.
    const mayRetry = credential.serviceToken !== undefined && (body === undefined || Buffer.isBuffer(body));
    const first = await this.exchange(request, reply, match, credential, body, mayRetry);
    if (first !== 'refused') return;
    const fresh = await upstreamCredential(route.upstreamAuth, request.gateway.principal, this.tokens);
    await this.exchange(request, reply, match, fresh, body, false);
  }

  /** Streamed, never buffered whole; a small body is kept when a 401 replay may need it. */
  private async requestBody(
    request: FastifyRequest,
    route: RouteConfig,
    declaredLength: number | undefined,
    credential: UpstreamCredential,
  ): Promise<RequestBody> {
    const raw = request.raw;
    // RFC 9112 §6.3: without Content-Length or Transfer-Encoding a request has no body.
    if (declaredLength === undefined ? raw.headers['transfer-encoding'] === undefined : declaredLength === 0) return undefined;
    if (declaredLength === undefined) return pipeline(raw, limitBody(route.maxBodyBytes), () => undefined);
    if (credential.serviceToken && declaredLength <= MAX_REPLAYABLE_BODY_BYTES) return readSmallBody(raw, declaredLength);
    return raw;
  }

  /**
   * One upstream request. Writes the answer to the caller, or, when
   * `mayRetry` and the upstream refused the service token, discards it and
   * returns 'refused'.
   */
  private async exchange(
    request: FastifyRequest,
    reply: FastifyReply,
    match: RouteMatchResult,
    credential: UpstreamCredential,
    body: RequestBody,
    mayRetry: boolean,
  ): Promise<'answered' | 'refused'> {
    const { route } = match;
    const raw = request.raw;
    const response = reply.raw;
    if (response.destroyed) return 'answered'; // the caller is gone: nothing is sent upstream
    const routePool = this.pools.forRoute(route);
    if (!routePool.hasRoom()) {
      throw new GatewayError('upstream_busy', `Too many requests are waiting for the upstream of route ${route.id}`, {
        retryAfterSeconds: 1,
        reason: 'queue_full',
      });
    }
    const principal = request.gateway.principal;
    const requestId = request.gateway.requestId;
    const headers = upstreamRequestHeaders(raw.headers, {
      requestId,
      forwardedFor: this.trustedProxies.forwardedFor(raw.socket.remoteAddress ?? '', raw.headers['x-forwarded-for']),
      forwardedProto: this.forwardedProto(request),
      forwardedHost: raw.headers.host,
      authorization: credential.authorization,
      identity: principal && { subject: principal.subject, clientId: principal.clientId, scopes: principal.scopes },
    });

    // One controller ends the upstream request when the caller hangs up or the
    // header deadline passes. Our own timer: undici's headersTimeout runs on a
    // coarse ~500 ms clock, too late for short route timeouts.
    // undici settles a request still waiting for a connection only once it gets one, so the same
    // two events also end `stopped`, which the wait races (issue #8: a 504 after 26 s).
    const abort = new AbortController();
    let stop!: (reason: unknown) => void;
    const stopped = new Promise<never>((_resolve, reject) => (stop = reject));
    const onClose = () => {
      if (response.writableFinished) return;
      abort.abort();
      stop(abort.signal.reason);
    };
    response.once('close', onClose);
    const deadline = setTimeout(() => {
      abort.abort(new UpstreamHeadersTimeout());
      stop(abort.signal.reason);
    }, route.timeoutMs);

    let outcome: 'answered' | 'refused' = 'answered';
    let answered = false;
    const sentAt = performance.now();
    try {
      // undici writes the upstream body straight into the caller's response
      // (backpressure included): no intermediate stream per request.
      const streamed = routePool.pool.stream(
        {
          method: (raw.method ?? 'GET') as Dispatcher.HttpMethod,
          path: upstreamPath(route, match.rawSegments, match.query),
          headers,
          body: body ?? null,
          signal: abort.signal,
        },
        ({ statusCode, headers: upstreamHeaders }) => {
          clearTimeout(deadline);
          // undici calls this factory at the upstream's response headers: dispatch to headers, queueing included.
          const upstreamMs = performance.now() - sentAt;
          this.metrics.upstreamDuration.observe({ route: route.id }, upstreamMs / 1000);
          request.gateway.upstreamMs = upstreamMs;
          const refused = credential.serviceToken;
          if (refused && statusCode === 401 && isInvalidTokenChallenge(upstreamHeaders['www-authenticate'])) {
            // Drop the refused token (never reused); retry only when a new one may be had and the body replays.
            const dropped = this.tokens.invalidate(refused.client, refused.accessToken);
            if (dropped && mayRetry) {
              outcome = 'refused';
              return discard();
            }
          }
          answered = true;
          const responseHeaders: Record<string, string | string[]> = {};
          copyEndToEndHeaders(upstreamHeaders, responseHeaders);
          responseHeaders['x-request-id'] = requestId;
          const limits = request.gateway.rateLimit;
          if (limits) Object.assign(responseHeaders, rateLimitHeaders(limits));
          if (this.readiness.draining) responseHeaders.connection = 'close';
          reply.hijack();
          response.writeHead(statusCode, responseHeaders);
          // CONTRACT: a response the caller reads none of for responseStallMs is cut (both connections).
          response.setTimeout(this.responseStallMs, cutIfStalled);
          return response;
        },
      );
      routePool.track(streamed);
      await Promise.race([streamed, stopped]);
      return outcome;
    } catch (error) {
      clearTimeout(deadline);
      if (answered) {
        // The answer had started: a cut connection is the only honest signal left.
        response.destroy();
        return 'answered';
      }
      // The caller hung up: nobody to answer, and not the upstream's failure.
      if (abort.signal.aborted && !(abort.signal.reason instanceof UpstreamHeadersTimeout)) return 'answered';
      const failure = upstreamFailure(abort.signal.reason ?? error, route.id);
      this.metrics.upstreamErrors.inc({ route: route.id, kind: failure.code });
      throw failure;
    } finally {
      response.off('close', onClose);
    }
  }

  private forwardedProto(request: FastifyRequest): string {
    const socketProto = (request.raw.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    if (!this.trustedProxies.isTrusted(request.raw.socket.remoteAddress ?? '')) return socketProto;
    const sent = request.raw.headers['x-forwarded-proto'];
    return sent === 'https' || sent === 'http' ? sent : socketProto;
  }
}

/**
 * The response socket's inactivity timer fired. Data still waiting to be written means the
 * caller stopped reading: cut it (undici then closes the upstream connection, whose body can no
 * longer be delivered). Nothing waiting means the upstream itself is quiet (a long poll, a slow
 * stream): not the caller's doing, so the response goes on.
 */
function cutIfStalled(this: ServerResponse): void {
  if (this.writableLength > 0) this.destroy();
}

/** Where a refused answer goes: read to the end (so the connection can be reused), then dropped. */
function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

function contentLength(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const length = Number(value);
  if (!Number.isSafeInteger(length) || length < 0) throw new GatewayError('bad_request', 'Content-Length is not a valid length');
  return length;
}
