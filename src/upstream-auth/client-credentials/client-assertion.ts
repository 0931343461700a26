import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ClientPrivateKey } from './private-key.js';

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** An assertion is good for this long after its `iat`: one token request, with clock skew to spare. */
export const ASSERTION_LIFETIME_SECONDS = 60;

export interface AssertionInput {
  readonly clientId: string;
  /** The token endpoint: the assertion's `aud`. */
  readonly tokenUrl: string;
  /** Epoch ms. */
  readonly now: number;
}

/** Makes one signed client assertion; every call has a fresh `jti`. */
export type AssertionSigner = (input: AssertionInput) => Promise<string>;

/**
 * A signer for `private_key_jwt` (RFC 7523 §3): `iss` = `sub` = client id,
 * `aud` = the token endpoint, a random `jti` per assertion (a reused one is
 * refused), `iat` now and `exp` 60 s later; header `kid` from the config's
 * `keyId`, else the JWK's own `kid`.
 *
 * @example
 * const sign = createAssertionSigner(loadPrivateKey(client.privateKeyFile), client.keyId);
 * const assertion = await sign({ clientId: 'gateway', tokenUrl: 'https://idp.example.com/token', now: Date.now() });
 */
export function createAssertionSigner(privateKey: ClientPrivateKey, keyId?: string): AssertionSigner {
  const kid = keyId ?? privateKey.kid;
  const header = kid === undefined ? { alg: privateKey.alg } : { alg: privateKey.alg, kid };
  return async ({ clientId, tokenUrl, now }) => {
    const iat = Math.floor(now / 1000);
    return new SignJWT({})
      .setProtectedHeader(header)
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(iat + ASSERTION_LIFETIME_SECONDS)
      .sign(privateKey.key);
  };
}
