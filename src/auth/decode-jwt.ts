import { authFailure } from './auth-failure.js';
import { parseJsonObjectStrict } from './strict-json.js';

export interface DecodedJwt {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Splits and decodes a compact JWS without trusting anything in it. JWE
 * (5 parts), bad base64url, non-object or duplicate-member JSON: malformed.
 */
export function decodeJwt(token: string): DecodedJwt {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (first <= 0 || second < 0 || token.indexOf('.', second + 1) >= 0) throw authFailure('malformed');
  const headerPart = token.slice(0, first);
  const payloadPart = token.slice(first + 1, second);
  const signaturePart = token.slice(second + 1);
  if (!BASE64URL.test(headerPart) || !BASE64URL.test(payloadPart) || !BASE64URL.test(signaturePart)) {
    throw authFailure('malformed');
  }
  const header = parseJsonObjectStrict(Buffer.from(headerPart, 'base64url').toString('utf8'));
  const payload = parseJsonObjectStrict(Buffer.from(payloadPart, 'base64url').toString('utf8'));
  if (header === undefined || payload === undefined) throw authFailure('malformed');
  return { header, payload };
}
