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


/**
 * The closed reason of a 401 invalid_token, for the `reason` metric label and the access
 * line; undefined for any other error. `extras.reason` is an open string on GatewayError, so
 * only a key of AUTH_FAILURES passes: the label set is README's table and nothing else.
 *
 * @example
 * authFailureReason(authFailure('expired')); // 'expired'
 * authFailureReason(new GatewayError('missing_token', '…')); // undefined
 */
export function authFailureReason(error: unknown): AuthFailureReason | undefined {
  if (!(error instanceof GatewayError) || error.code !== 'invalid_token') return undefined;
  const reason = error.extras.reason;
  return reason !== undefined && Object.hasOwn(AUTH_FAILURES, reason) ? (reason as AuthFailureReason) : undefined;
}
