import { GatewayError } from '../errors/gateway-error.js';
import type { ProblemCode } from '../errors/problem-catalog.js';

/** Raised by the body limiter; mapped to 413. */
export class RequestBodyTooLarge extends Error {
  readonly code = 'GATEWAY_BODY_TOO_LARGE';
}

/** The route's timeoutMs passed before the upstream sent its response headers. */
export class UpstreamHeadersTimeout extends Error {
  readonly code = 'GATEWAY_UPSTREAM_TIMEOUT';
}

const CODE_FOR_ERROR: Readonly<Record<string, ProblemCode>> = {
  GATEWAY_UPSTREAM_TIMEOUT: 'upstream_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'upstream_timeout',
  // No connection within the connect timeout: the upstream was unreachable, not slow to answer.
  UND_ERR_CONNECT_TIMEOUT: 'upstream_unreachable',
  ECONNREFUSED: 'upstream_unreachable',
  ECONNRESET: 'upstream_unreachable',
  EPIPE: 'upstream_unreachable',
  EHOSTUNREACH: 'upstream_unreachable',
  ENETUNREACH: 'upstream_unreachable',
  ENOTFOUND: 'upstream_unreachable',
  EAI_AGAIN: 'upstream_unreachable',
  UND_ERR_SOCKET: 'upstream_unreachable',
  UND_ERR_CLOSED: 'upstream_unreachable',
  UND_ERR_INVALID_ARG: 'upstream_unreachable',
  HPE_INVALID_CONSTANT: 'upstream_unreachable',
  GATEWAY_BODY_TOO_LARGE: 'payload_too_large',
};

/** Upstream failures by `err.code`, never by message text. */
export function upstreamFailure(error: unknown, routeId: string): GatewayError {
  const errorCode = errorCodeOf(error);
  const code = (errorCode && CODE_FOR_ERROR[errorCode]) || 'upstream_unreachable';
  const detail =
    code === 'upstream_timeout'
      ? `The upstream of route ${routeId} did not answer in time`
      : code === 'payload_too_large'
        ? `The request body exceeds the limit of route ${routeId}`
        : `The upstream of route ${routeId} could not be reached`;
  return new GatewayError(code, detail, { reason: errorCode ?? 'unknown' }, { cause: error });
}

function errorCodeOf(error: unknown): string | undefined {
  // undici wraps socket errors; the useful code may sit on the cause.
  for (let current = error, depth = 0; current && depth < 3; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code in CODE_FOR_ERROR) return code;
    current = (current as { cause?: unknown }).cause;
  }
  const top = (error as { code?: unknown } | null)?.code;
  return typeof top === 'string' ? top : undefined;
}
