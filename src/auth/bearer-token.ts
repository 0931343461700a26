import { GatewayError } from '../errors/gateway-error.js';
import { authFailure } from './auth-failure.js';

/** CONTRACT: up to 8 KiB a token is verified; over that it is refused unparsed. */
export const MAX_TOKEN_BYTES = 8 * 1024;

export interface RequestHeaders {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly rawHeaders: readonly string[];
}

/**
 * The credential after `Bearer ` in the one Authorization header, or undefined
 * when the request carries no Bearer credentials (RFC 6750 §3.1: plain
 * challenge). Never reads the query string or body.
 */
export function extractBearerToken(req: RequestHeaders): string | undefined {
  const value = req.headers.authorization;
  if (value === undefined) return undefined;
  // Node keeps only the first of repeated Authorization headers; rawHeaders has them all.
  if (countAuthorizationHeaders(req.rawHeaders) > 1) {
    throw new GatewayError('invalid_request', 'More than one Authorization header', {
      errorDescription: 'More than one Authorization header',
      reason: 'multiple_authorization',
    });
  }
  const header = Array.isArray(value) ? value[0] ?? '' : value;
  // RFC 6750 §2.1 / RFC 9110 §11.1: the scheme is case-insensitive, then one or more spaces.
  if (header.length < 7 || header.slice(0, 6).toLowerCase() !== 'bearer' || header.charCodeAt(6) !== 32) {
    return undefined; // another scheme (Basic, …) is not a Bearer credential
  }
  const token = header.slice(7).trim();
  if (token.length === 0) throw authFailure('malformed');
  if (token.length > MAX_TOKEN_BYTES) throw authFailure('too_large');
  return token;
}

function countAuthorizationHeaders(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 13 && name.toLowerCase() === 'authorization') count++;
  }
  return count;
}
