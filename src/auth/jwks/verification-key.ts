import { createPublicKey, type KeyObject } from 'node:crypto';
import type { JwsAlgorithm } from '../../config/gateway-config.js';

/** A public key from the issuer's JWKS, ready for signature checks. */
export interface VerificationKey {
  readonly kid?: string;
  /** The JWK's own `alg`, when it names one: then only that algorithm may use it. */
  readonly alg?: string;
  readonly key: KeyObject;
}

export function toVerificationKey(signingKey: { kid?: string; alg?: string; getPublicKey(): string }): VerificationKey {
  return { kid: signingKey.kid, alg: signingKey.alg, key: createPublicKey(signingKey.getPublicKey()) };
}

const CURVE_FOR_ALG: Partial<Record<JwsAlgorithm, string>> = {
  ES256: 'prime256v1',
  ES384: 'secp384r1',
  ES512: 'secp521r1',
};

/** The key's type (and curve) must be the one the token's `alg` names, and the JWK's `alg` if it has one. */
export function keyFitsAlgorithm(key: VerificationKey, alg: JwsAlgorithm): boolean {
  if (key.alg !== undefined && key.alg !== alg) return false;
  const type = key.key.asymmetricKeyType;
  switch (alg.slice(0, 2)) {
    case 'RS':
      return type === 'rsa';
    case 'PS':
      return type === 'rsa' || type === 'rsa-pss';
    case 'ES':
      return type === 'ec' && key.key.asymmetricKeyDetails?.namedCurve === CURVE_FOR_ALG[alg];
    default:
      return alg === 'EdDSA' && (type === 'ed25519' || type === 'ed448');
  }
}
