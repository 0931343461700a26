import { bearerChallenge } from './bearer-challenge.js';

describe('bearerChallenge (RFC 6750 §3)', () => {
  it.each([
    ['no credentials: realm only, no error code (§3.1)', { kind: 'no_credentials' } as const, 'Bearer realm="gateway"'],
    [
      'invalid_token with its description',
      { kind: 'invalid_token', description: 'The access token expired' } as const,
      'Bearer realm="gateway", error="invalid_token", error_description="The access token expired"',
    ],
    [
      'insufficient_scope names every required scope',
      { kind: 'insufficient_scope', scopes: ['orders:read', 'orders:write'] } as const,
      'Bearer realm="gateway", error="insufficient_scope", scope="orders:read orders:write"',
    ],
    [
      'invalid_request',
      { kind: 'invalid_request', description: 'More than one Authorization header' } as const,
      'Bearer realm="gateway", error="invalid_request", error_description="More than one Authorization header"',
    ],
    [
      'quotes and backslashes are escaped',
      { kind: 'invalid_token', description: 'a "b" \\ c' } as const,
      'Bearer realm="gateway", error="invalid_token", error_description="a \\"b\\" \\\\ c"',
    ],
  ])('%s', (_name, challenge, expected) => {
    expect(bearerChallenge(challenge)).toBe(expected);
  });
});
