// Building and signing the JWTs a TestIssuer hands out: default claims and headers, undefined-removes merging.
// Imports nothing else from src/ (STYLE §1): only node built-ins and modules beside it.
import { randomUUID } from 'node:crypto';
import type { MintOptions } from './issuer-options.js';
import { encodeSegment, signJws, type TestKey } from './test-keys.js';

/**
 * Signs an access token with `key`: the default claims (`iss`, `aud`, `sub`, `client_id`, `scope`, `iat`, `exp`,
 * `jti`) and header (`{ alg, kid, typ: 'JWT' }`) with `options.claims` and `options.header` merged over them.
 *
 * @example
 * ```ts
 * await mintToken(key, { issuer: 'http://127.0.0.1:4000', audience: 'api://orders' }, { expiresInSeconds: -60 });
 * ```
 */
export async function mintToken(
  key: TestKey,
  context: { issuer: string; audience: string },
  options: MintOptions,
): Promise<string> {
  const expiresInSeconds = options.expiresInSeconds ?? 300;
  if (!Number.isFinite(expiresInSeconds)) {
    throw new RangeError(`expiresInSeconds must be a finite number, got ${expiresInSeconds}`);
  }
  const now = Math.floor(Date.now() / 1000);
  const claims = mergeRemovingUndefined(
    {
      iss: context.issuer,
      aud: context.audience,
      sub: 'test-subject',
      client_id: 'test-client',
      scope: '',
      iat: now,
      exp: now + expiresInSeconds,
      jti: randomUUID(),
    },
    options.claims,
  );
  const header = mergeRemovingUndefined({ alg: key.alg, kid: options.kid ?? key.kid, typ: 'JWT' }, options.header);
  return signJws(key, encodeSegment(header), encodeSegment(claims));
}

/**
 * Signs exactly this header and payload with `key`. An object header gets the key's `alg` and `kid` unless it has
 * its own (a member set to `undefined` is left out); a string header or payload is used verbatim.
 *
 * @example
 * ```ts
 * await signRaw(key, { kid: undefined }, '{"iss":"x","sub":"a","sub":"b"}');
 * ```
 */
export async function signRaw(
  key: TestKey,
  header: Record<string, unknown> | string,
  payload: Record<string, unknown> | string,
): Promise<string> {
  const fullHeader =
    typeof header === 'string' ? header : mergeRemovingUndefined({ alg: key.alg, kid: key.kid }, header);
  return signJws(key, encodeSegment(fullHeader), encodeSegment(payload));
}

function mergeRemovingUndefined(
  base: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base, ...overrides };
  for (const [name, value] of Object.entries(merged)) {
    if (value === undefined) delete merged[name];
  }
  return merged;
}
