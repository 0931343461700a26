import { createPrivateKey, type JsonWebKeyInput, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JwsAlgorithm } from '../../config/gateway-config.js';

/** A `private_key_jwt` signing key, loaded once at startup. */
export interface ClientPrivateKey {
  readonly key: KeyObject;
  /** The JWS algorithm the key signs with (RS256, PS256, ES256/384/512 by curve, EdDSA). */
  readonly alg: JwsAlgorithm;
  /** From the JWK's `kid`, when the file is a JWK that has one. */
  readonly kid?: string;
}

/** The key file cannot be used. The message names the path and the problem, never key material. */
export class PrivateKeyError extends Error {
  override readonly name = 'PrivateKeyError';
}

/** A key file larger than this is not a key (bounds what startup reads). */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

const MIN_RSA_BITS = 2048;
const RSA_ALGORITHMS: readonly JwsAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_ALGORITHM_BY_CURVE: Readonly<Record<string, JwsAlgorithm>> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};

/**
 * Reads a private key for `private_key_jwt` (RFC 7523): a PEM file (PKCS#8,
 * PKCS#1 RSA or SEC1 EC, unencrypted) or a JWK JSON file (a private JWK with
 * `d`, or a JWK Set holding exactly one). Synchronous: it runs once, at startup.
 *
 * @example
 * const { key, alg, kid } = loadPrivateKey('/run/secrets/gateway-orders.pem');
 */
export function loadPrivateKey(path: string, readFile: (path: string) => Buffer = readFileSync): ClientPrivateKey {
  const fail = (problem: string): never => {
    throw new PrivateKeyError(`private key file ${path}: ${problem}`);
  };
  let bytes: Buffer;
  try {
    bytes = readFile(path);
  } catch (error) {
    return fail(`cannot be read (${errorCode(error)})`);
  }
  if (bytes.length > MAX_KEY_FILE_BYTES) fail(`is larger than ${MAX_KEY_FILE_BYTES} bytes, so it is not a key file`);
  const text = bytes.toString('utf8').trim();
  if (text.startsWith('{')) return fromJwkText(text, fail);
  if (text.includes('-----BEGIN')) return withAlgorithm(fromPem(text, fail), undefined, undefined, fail);
  return fail('is neither a PEM private key nor a JWK (JSON)');
}

function fromPem(text: string, fail: (problem: string) => never): KeyObject {
  // PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional PEM with "Proc-Type: 4,ENCRYPTED".
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(text)) {
    fail('is encrypted; give an unencrypted private key');
  }
  try {
    return createPrivateKey({ key: text, format: 'pem' });
  } catch (error) {
    // Our fixed text and Node's error code: nothing read from the file is echoed.
    return fail(`does not hold a PEM private key (PKCS#8, PKCS#1 or SEC1) (${errorCode(error)})`);
  }
}

function fromJwkText(text: string, fail: (problem: string) => never): ClientPrivateKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail('is not valid JSON');
  }
  let jwk = parsed as Record<string, unknown>;
  if (Array.isArray(jwk.keys)) {
    if (jwk.keys.length !== 1) fail(`holds a JWK Set of ${jwk.keys.length} keys; give exactly one private key`);
    jwk = jwk.keys[0] as Record<string, unknown>;
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return fail('is JSON but not a JWK object');
  if (typeof jwk.kty !== 'string') return fail('is not a JWK (no "kty")');
  if (jwk.kty === 'oct') return fail('holds a symmetric key (kty "oct"); private_key_jwt needs an asymmetric private key');
  if (typeof jwk.d !== 'string') return fail('holds a public JWK (no "d"); a private key is needed');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: jwk as JsonWebKeyInput['key'], format: 'jwk' });
  } catch (error) {
    return fail(`holds a JWK that is not a usable private key (${errorCode(error)})`);
  }
  const kid = typeof jwk.kid === 'string' && jwk.kid !== '' ? jwk.kid : undefined;
  const alg = typeof jwk.alg === 'string' ? jwk.alg : undefined;
  return withAlgorithm(key, alg, kid, fail);
}

/** The algorithm a key signs with; a JWK's own `alg` is kept when it fits the key. */
function withAlgorithm(
  key: KeyObject,
  declared: string | undefined,
  kid: string | undefined,
  fail: (problem: string) => never,
): ClientPrivateKey {
  const details = key.asymmetricKeyDetails ?? {};
  let candidates: readonly JwsAlgorithm[];
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) fail(`is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are needed`);
    candidates = key.asymmetricKeyType === 'rsa' ? RSA_ALGORITHMS : [pssAlgorithm(details.hashAlgorithm)];
  } else if (key.asymmetricKeyType === 'ec') {
    const alg = EC_ALGORITHM_BY_CURVE[details.namedCurve ?? ''];
    if (alg === undefined) fail(`is an EC key on curve ${details.namedCurve ?? 'unknown'}; use P-256, P-384 or P-521`);
    candidates = [alg as JwsAlgorithm];
  } else if (key.asymmetricKeyType === 'ed25519') {
    candidates = ['EdDSA'];
  } else {
    return fail(`is a ${key.asymmetricKeyType ?? 'unknown'} key; use RSA, EC (P-256, P-384, P-521) or Ed25519`);
  }
  if (declared !== undefined && !(candidates as readonly string[]).includes(declared)) {
    fail(`declares alg ${declared.slice(0, 20)}, which does not fit this key (use ${candidates.join(', ')})`);
  }
  const alg = (declared as JwsAlgorithm | undefined) ?? candidates[0]!;
  return kid === undefined ? { key, alg } : { key, alg, kid };
}

function pssAlgorithm(hash: string | undefined): JwsAlgorithm {
  if (hash === 'sha384') return 'PS384';
  if (hash === 'sha512') return 'PS512';
  return 'PS256';
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}
