// Key pairs and JWS signing for TestIssuer. Imports nothing from src/: only jose and node built-ins.
import { randomBytes, webcrypto } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, type JWK } from 'jose';

/**
 * Every asymmetric JWS algorithm TestIssuer can create keys for, in the order of RFC 7518 §3.1
 * (and RFC 8037 for EdDSA).
 *
 * @example
 * ```ts
 * it.each(TEST_KEY_ALGORITHMS)('%s token passes the gateway', async (alg) => {
 *   const issuer = await TestIssuer.start({ algorithms: [alg] });
 *   // …
 * });
 * ```
 */
export const TEST_KEY_ALGORITHMS = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA',
] as const;

/**
 * A JWS algorithm TestIssuer can sign with. `none` and `HS*` are deliberately absent: build those
 * tokens by hand from {@link TestIssuer.publicKeyPem} (the "HS256 with the public key" attack).
 *
 * @example
 * ```ts
 * const alg: TestKeyAlgorithm = 'PS256';
 * const token = await issuer.token({ alg });
 * ```
 */
export type TestKeyAlgorithm = (typeof TEST_KEY_ALGORITHMS)[number];

/**
 * One key pair held by a TestIssuer. The public halves are exported once, when the key is made,
 * so `publicJwk()` and `publicKeyPem()` can stay synchronous.
 *
 * @example
 * ```ts
 * const key = await generateTestKey('ES256', 16);
 * key.publicJwk; // { kty: 'EC', crv: 'P-256', x, y } (no kid/alg/use: the issuer adds those)
 * ```
 */
export interface TestKey {
  readonly kid: string;
  readonly alg: TestKeyAlgorithm;
  readonly privateKey: webcrypto.CryptoKey;
  /** Key material only (kty, n/e or crv/x/y); never `d` or other private members. */
  readonly publicJwk: Readonly<JWK>;
  /** SPKI, PEM-encoded. */
  readonly publicKeyPem: string;
}

/**
 * True when `value` names an algorithm in {@link TEST_KEY_ALGORITHMS}.
 *
 * @example
 * ```ts
 * isTestKeyAlgorithm('ES256'); // true
 * isTestKeyAlgorithm('HS256'); // false
 * ```
 */
export function isTestKeyAlgorithm(value: unknown): value is TestKeyAlgorithm {
  return (TEST_KEY_ALGORITHMS as readonly unknown[]).includes(value);
}

/**
 * A random base64url key id of exactly `length` characters (16 by default in TestIssuer;
 * some IdPs use 40–80 character kids, and a verifier's cache keys must cope).
 *
 * @example
 * ```ts
 * randomKid(80).length; // 80
 * ```
 */
export function randomKid(length: number): string {
  if (!Number.isInteger(length) || length < 1 || length > 1024) {
    throw new RangeError(`kid length must be an integer from 1 to 1024, got ${length}`);
  }
  return randomBytes(Math.ceil((length * 3) / 4)).toString('base64url').slice(0, length);
}

/**
 * Generates an extractable key pair for `alg` (RSA keys are 2048-bit, EdDSA is Ed25519) with a random kid.
 *
 * @example
 * ```ts
 * const key = await generateTestKey('RS256', 16);
 * const jws = await signJws(key, encodeSegment({ alg: 'RS256', kid: key.kid }), encodeSegment('{}'));
 * ```
 */
export async function generateTestKey(alg: TestKeyAlgorithm, kidLength: number): Promise<TestKey> {
  const kid = randomKid(kidLength);
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const publicJwk = Object.freeze(await exportJWK(publicKey));
  return { kid, alg, privateKey, publicJwk, publicKeyPem: await exportSPKI(publicKey) };
}

/**
 * base64url of a JSON value, or of a string taken verbatim (so a test can send JSON that repeats a member name).
 *
 * @example
 * ```ts
 * encodeSegment({ alg: 'ES256' });            // 'eyJhbGciOiJFUzI1NiJ9'
 * encodeSegment('{"sub":"a","sub":"b"}');     // the bytes exactly as written
 * ```
 */
export function encodeSegment(value: Record<string, unknown> | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');
}

// WebCrypto parameters per JWS alg (RFC 7518 §3.3–3.5, RFC 8037). RSA-PKCS1 and Ed25519 take the hash from the key.
type SignParams = webcrypto.AlgorithmIdentifier | webcrypto.RsaPssParams | webcrypto.EcdsaParams;
const SIGN_PARAMS: Record<TestKeyAlgorithm, SignParams> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  RS384: { name: 'RSASSA-PKCS1-v1_5' },
  RS512: { name: 'RSASSA-PKCS1-v1_5' },
  PS256: { name: 'RSA-PSS', saltLength: 32 },
  PS384: { name: 'RSA-PSS', saltLength: 48 },
  PS512: { name: 'RSA-PSS', saltLength: 64 },
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  ES384: { name: 'ECDSA', hash: 'SHA-384' },
  ES512: { name: 'ECDSA', hash: 'SHA-512' },
  EdDSA: { name: 'Ed25519' },
};

/**
 * Compact JWS `header.payload.signature` over two already-encoded segments, signed with `key`'s own algorithm
 * whatever the header claims (that mismatch is itself a test case).
 *
 * Signed with WebCrypto rather than jose's `CompactSign`: jose validates `crit`/`b64` and refuses the malformed
 * headers these tests must be able to send.
 *
 * @example
 * ```ts
 * const jws = await signJws(key, encodeSegment({ alg: 'ES256', crit: ['exp'] }), encodeSegment({ sub: 'x' }));
 * ```
 */
export async function signJws(key: TestKey, headerSegment: string, payloadSegment: string): Promise<string> {
  const signingInput = `${headerSegment}.${payloadSegment}`;
  // WebCrypto ECDSA already yields the raw r‖s form JWS wants (RFC 7518 §3.4), not DER.
  const data = Buffer.from(signingInput, 'ascii');
  const signature = await webcrypto.subtle.sign(SIGN_PARAMS[key.alg], key.privateKey, data);
  return `${signingInput}.${Buffer.from(signature).toString('base64url')}`;
}
