// What every token mutation starts from: the issuer's key for an algorithm, a valid claim set,
// and signing exactly the header and payload text a mutation produced with the issuer's real
// key, so only the rules the mutation broke can refuse it.
import { randomBytes } from 'node:crypto';
import type { TestIssuer, TestKeyAlgorithm } from '../../src/testing/index.js';
import { ALGORITHMS } from './fuzz-context.js';
import { JsonText } from './json-text.js';
import type { Rng } from './rng.js';
import type { TokenOracle } from './token-oracle.js';

export interface MutatedToken {
  readonly name: string;
  readonly token: string;
  readonly oracle: TokenOracle;
  /** Shown in the report instead of the token. */
  readonly note: string;
}

/** The issuer's key for `alg` (one per algorithm). */
export function keyOf(issuer: TestIssuer, alg: TestKeyAlgorithm): { kid: string; alg: TestKeyAlgorithm } {
  const key = issuer.keys().find((k) => k.alg === alg);
  if (!key) throw new Error(`no ${alg} key`);
  return key;
}

/** Claims the gateway accepts on the orders route (scope orders:read), with a fresh jti. */
export function baseClaims(issuer: TestIssuer, now: number): JsonText {
  return JsonText.of({
    iss: issuer.issuer,
    aud: issuer.audience,
    sub: 'fuzz-subject',
    client_id: 'fuzz-client',
    scope: 'orders:read',
    iat: now,
    exp: now + 300,
    jti: randomBytes(6).toString('hex'),
  });
}

export const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/** Signs `claims` exactly as written; `spaced` puts whitespace between members (still valid JSON). */
export async function signClaims(issuer: TestIssuer, rng: Rng, claims: JsonText, options: { header?: JsonText; alg?: TestKeyAlgorithm; spaced?: boolean } = {}) {
  const alg = options.alg ?? rng.pick(ALGORITHMS);
  const key = keyOf(issuer, alg);
  const header = options.header ?? JsonText.of({ alg, kid: key.kid, typ: 'JWT' });
  const headerText = header.text();
  const payloadText = claims.text(options.spaced);
  const token = await issuer.sign(headerText, payloadText, alg);
  return { token, headerText, payloadText, key };
}
