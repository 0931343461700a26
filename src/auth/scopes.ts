// CONTRACT: scopes come from `scope`, else `scp`; a space-separated string or an
// array of strings. Only RFC 6749 §3.3 scope-tokens count; a tab or a no-break
// space does not separate scopes (the token containing it is simply invalid).

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function isScopeToken(value: string): boolean {
  return SCOPE_TOKEN.test(value);
}

export function grantedScopes(claims: Record<string, unknown>): readonly string[] {
  const source = claims.scope !== undefined ? claims.scope : claims.scp;
  const candidates = typeof source === 'string' ? source.split(' ') : Array.isArray(source) ? source : [];
  const granted: string[] = [];
  for (const candidate of candidates) {
    if (typeof candidate === 'string' && isScopeToken(candidate) && !granted.includes(candidate)) granted.push(candidate);
  }
  return granted;
}

/** Whole-word match: every required scope must be granted exactly. */
export function missingScopes(required: readonly string[], granted: readonly string[]): readonly string[] {
  return required.filter((scope) => !granted.includes(scope));
}
