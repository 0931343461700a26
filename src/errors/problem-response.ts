import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import { rateLimitHeaders, type RateLimitState } from '../throttling/rate-limit.js';
import { bearerChallenge } from './bearer-challenge.js';
import type { GatewayError } from './gateway-error.js';
import { PROBLEMS, problemType } from './problem-catalog.js';

/** The gateway's own refusal of each answered request, for its access line and the 429 count. */
const refusals = new WeakMap<ServerResponse, GatewayError>();

/** The GatewayError sendProblem answered this response with, if any (request/access-log.ts reads it). */
export function refusalOf(response: ServerResponse): GatewayError | undefined {
  return refusals.get(response);
}

/** The RFC 9457 body and the headers a GatewayError's catalog entry asks for. */
export function sendProblem(reply: FastifyReply, error: GatewayError, requestId: string, rateLimit?: RateLimitState): void {
  const { status, title } = PROBLEMS[error.code];
  const { extras } = error;
  refusals.set(reply.raw, error);
  reply.code(status);
  reply.header('content-type', 'application/problem+json');
  reply.header('cache-control', 'no-store');
  reply.header('x-request-id', requestId);
  const challenge = wwwAuthenticate(error);
  if (challenge) reply.header('www-authenticate', challenge);
  if (extras.retryAfterSeconds !== undefined) reply.header('retry-after', String(extras.retryAfterSeconds));
  if (extras.allow !== undefined) reply.header('allow', extras.allow);
  // Every answer of a throttled route carries its tightest window (CONTRACT).
  const limits = extras.rateLimit ?? rateLimit;
  if (limits) reply.headers(rateLimitHeaders(limits));
  // A Buffer, so Fastify sends the media type as set (it appends a charset to strings).
  reply.send(Buffer.from(JSON.stringify({ type: problemType(error.code), title, status, detail: error.detail, requestId })));
  // Fastify's frameworkErrors (a malformed URL) answer before any hook: no onResponse, so no access line without this.
  if (!reply.request.gateway) reply.server.gatewayAnsweredBeforeHooks?.(reply.request, reply);
}

function wwwAuthenticate(error: GatewayError): string | undefined {
  switch (error.code) {
    case 'missing_token':
      return bearerChallenge({ kind: 'no_credentials' });
    case 'invalid_token':
      return bearerChallenge({ kind: 'invalid_token', description: error.extras.errorDescription ?? error.detail });
    case 'invalid_request':
      return bearerChallenge({ kind: 'invalid_request', description: error.extras.errorDescription ?? error.detail });
    case 'insufficient_scope':
      return bearerChallenge({ kind: 'insufficient_scope', scopes: error.extras.scopes ?? [] });
    default:
      return undefined;
  }
}
