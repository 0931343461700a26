// Tokens around CONTRACT's 8 KiB bound: valid tokens padded to an exact length on either side
// of it, and plain oversized garbage.
import type { TestKeyAlgorithm } from '../../src/testing/index.js';
import { ALGORITHMS, type FuzzContext, STANDARD_CREDENTIAL } from './fuzz-context.js';
import type { Rng } from './rng.js';
import { GOOD_SCOPES } from './routes.js';
import { REJECTED, type TokenOracle } from './token-oracle.js';
import { baseClaims, keyOf, type MutatedToken } from './token-signing.js';

/**
 * A valid token of exactly `length` characters: a `pad` claim sizes the payload, and a `pad`
 * header member (ignored by verifiers) moves the header when base64url cannot reach the length
 * from the payload alone (no encoding is 1 mod 4 characters long).
 */
async function tokenOfExactLength({ issuer }: FuzzContext, length: number, alg: TestKeyAlgorithm, now: number): Promise<string> {
  const key = keyOf(issuer, alg);
  const b64Length = (bytes: number) => Math.ceil((bytes * 4) / 3);
  const signatureLength = (await issuer.sign({ alg, kid: key.kid }, '{}', alg)).split('.')[2]!.length;
  for (let headerPad = 0; headerPad < 4; headerPad++) {
    const header = JSON.stringify({ alg, kid: key.kid, typ: 'JWT', pad: 'h'.repeat(headerPad) });
    const payloadChars = length - b64Length(header.length) - signatureLength - 2;
    const bytes = [Math.floor((payloadChars * 3) / 4), Math.floor((payloadChars * 3) / 4) - 1].find((n) => b64Length(n) === payloadChars);
    if (bytes === undefined) continue;
    const claims = baseClaims(issuer, now).set('sub', '"test-subject"').set('client_id', '"test-client"').set('pad', '""');
    const padLength = bytes - claims.text().length;
    if (padLength < 0) throw new Error(`a token of ${length} characters is too short for the claims`);
    const token = await issuer.sign(header, claims.set('pad', JSON.stringify('p'.repeat(padLength))).text(), alg);
    if (token.length === length) return token;
  }
  throw new Error(`could not mint a ${alg} token of exactly ${length} characters`);
}

/** Tokens around the 8 KiB bound (CONTRACT: up to 8 KiB verified, over that refused unparsed). */
export async function lengthMutation(ctx: FuzzContext, rng: Rng, now: number): Promise<MutatedToken> {
  if (rng.chance(0.3)) {
    const length = rng.pick([8193, 9000, 12_000, 15_500, 17_000]);
    return { name: `length.garbage=${length}`, token: 'x'.repeat(length), oracle: REJECTED, note: `${length} × "x"` };
  }
  const length = rng.pick([8190, 8191, 8192, 8193, 8194, 8300]);
  const token = await tokenOfExactLength(ctx, length, rng.pick(ALGORITHMS), now);
  const oracle: TokenOracle =
    length <= 8192 ? { verdict: 'accept', why: [], grants: GOOD_SCOPES, scopeCertain: true, identity: STANDARD_CREDENTIAL.identity } : { ...REJECTED, why: ['over 8 KiB'] };
  return { name: `length.token=${length}`, token, oracle, note: `valid token padded to ${length} chars` };
}
