// RFC 6750 §3: the WWW-Authenticate value for Bearer failures.

export const REALM = 'gateway';

export type BearerChallenge =
  | { readonly kind: 'no_credentials' }
  | { readonly kind: 'invalid_token'; readonly description: string }
  | { readonly kind: 'insufficient_scope'; readonly scopes: readonly string[] }
  | { readonly kind: 'invalid_request'; readonly description: string };

/** quoted-string (RFC 9110 §5.6.4): our descriptions are fixed ASCII, but escape anyway. */
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

export function bearerChallenge(challenge: BearerChallenge): string {
  const base = `Bearer realm=${quoted(REALM)}`;
  switch (challenge.kind) {
    // RFC 6750 §3.1: no error code when the request had no credentials.
    case 'no_credentials':
      return base;
    case 'invalid_token':
    case 'invalid_request':
      return `${base}, error="${challenge.kind}", error_description=${quoted(challenge.description)}`;
    case 'insufficient_scope':
      return `${base}, error="insufficient_scope", scope=${quoted(challenge.scopes.join(' '))}`;
  }
}
