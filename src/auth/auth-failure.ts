import { GatewayError } from '../errors/gateway-error.js';

/**
 * Why a token was refused: one closed set, used as the `error_description`
 * source, the log field and the `reason` metric label (so the label set stays
 * bounded). Descriptions are our fixed text: never a library's message, token
 * content or unverified claims.
 */
export const AUTH_FAILURES = {
  malformed: 'The access token is malformed',
  too_large: 'The access token is too large',
  alg_not_allowed: 'The token algorithm is not allowed',
  unknown_kid: 'The token signing key is unknown',
  bad_signature: 'The token signature is invalid',
  issuer: 'The token issuer is not trusted',
  audience: 'The token audience is not accepted',
  expired: 'The access token expired',
  not_yet_valid: 'The access token is not yet valid',
  typ: 'The token type is not at+jwt',
  crit: 'The token has unsupported critical header parameters',
  identity: 'The token subject or client id cannot be forwarded',
} as const;

export type AuthFailureReason = keyof typeof AUTH_FAILURES;

export function authFailure(reason: AuthFailureReason, cause?: unknown): GatewayError {
  const description = AUTH_FAILURES[reason];
  return new GatewayError('invalid_token', description, { errorDescription: description, reason }, { cause });
}

