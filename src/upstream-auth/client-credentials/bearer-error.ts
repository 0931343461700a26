/**
 * RFC 6750 §3: does this WWW-Authenticate say the Bearer token was refused as
 * invalid (as opposed to missing, or another scheme's challenge)? Only then is
 * a fresh service token worth one retry.
 */
export function isInvalidTokenChallenge(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const values = Array.isArray(header) ? header : [header];
  return values.some((value) => /^\s*bearer\b/i.test(value) && /\berror\s*=\s*"?invalid_token"?/i.test(value));
}
