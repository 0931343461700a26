import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { createAssertionSigner } from './client-assertion.js';
import { loadPrivateKey, PrivateKeyError } from './private-key.js';

const dir = mkdtempSync(join(tmpdir(), 'private-key-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function keyFile(content: string | Buffer): string {
  const path = join(dir, `key-${++fileCount}`);
  writeFileSync(path, content);
  return path;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
const ed25519 = generateKeyPairSync('ed25519');

const pkcs8 = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }) as string;
const jwkOf = (key: KeyObject) => key.export({ format: 'jwk' });

describe('loadPrivateKey', () => {
  it.each([
    { name: 'RSA PKCS#8 PEM', content: pkcs8(rsa.privateKey), alg: 'RS256', publicKey: rsa.publicKey },
    {
      name: 'RSA PKCS#1 PEM',
      content: rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string,
      alg: 'RS256',
      publicKey: rsa.publicKey,
    },
    { name: 'P-256 PKCS#8 PEM', content: pkcs8(p256.privateKey), alg: 'ES256', publicKey: p256.publicKey },
    {
      name: 'P-256 SEC1 PEM',
      content: p256.privateKey.export({ format: 'pem', type: 'sec1' }) as string,
      alg: 'ES256',
      publicKey: p256.publicKey,
    },
    { name: 'P-384 PEM', content: pkcs8(p384.privateKey), alg: 'ES384', publicKey: p384.publicKey },
    { name: 'P-521 PEM', content: pkcs8(p521.privateKey), alg: 'ES512', publicKey: p521.publicKey },
    { name: 'Ed25519 PEM', content: pkcs8(ed25519.privateKey), alg: 'EdDSA', publicKey: ed25519.publicKey },
    { name: 'RSA JWK', content: JSON.stringify(jwkOf(rsa.privateKey)), alg: 'RS256', publicKey: rsa.publicKey },
    { name: 'P-256 JWK', content: JSON.stringify(jwkOf(p256.privateKey)), alg: 'ES256', publicKey: p256.publicKey },
    { name: 'Ed25519 JWK', content: JSON.stringify(jwkOf(ed25519.privateKey)), alg: 'EdDSA', publicKey: ed25519.publicKey },
  ])('$name → $alg, and signs an assertion its public key verifies', async ({ content, alg, publicKey }) => {
    const loaded = loadPrivateKey(keyFile(content));
    expect(loaded.alg).toBe(alg);
    expect(loaded.kid).toBeUndefined();
    const assertion = await createAssertionSigner(loaded)({ clientId: 'gw', tokenUrl: 'https://idp.test/token', now: Date.now() });
    const { protectedHeader } = await jwtVerify(assertion, publicKey, { issuer: 'gw', audience: 'https://idp.test/token' });
    expect(protectedHeader.alg).toBe(alg);
  });

  it('takes kid (and a fitting alg) from a JWK, also from a JWK Set of one key', () => {
    const jwk = { ...jwkOf(rsa.privateKey), kid: 'key-2024', alg: 'PS256' };
    expect(loadPrivateKey(keyFile(JSON.stringify(jwk)))).toMatchObject({ alg: 'PS256', kid: 'key-2024' });
    expect(loadPrivateKey(keyFile(JSON.stringify({ keys: [jwk] })))).toMatchObject({ alg: 'PS256', kid: 'key-2024' });
  });

  const d = jwkOf(rsa.privateKey).d!;
  const rsaPemBody = pkcs8(rsa.privateKey).split('\n')[1]!;
  const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const encrypted = rsa.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;

  it.each([
    { name: 'a missing file', path: () => join(dir, 'nope.pem'), problem: 'cannot be read (ENOENT)' },
    { name: 'a public JWK', path: () => keyFile(JSON.stringify(jwkOf(rsa.publicKey))), problem: 'holds a public JWK (no "d"); a private key is needed' },
    { name: 'a public PEM', path: () => keyFile(rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string), problem: 'does not hold a PEM private key' },
    { name: 'an encrypted PEM', path: () => keyFile(encrypted), problem: 'is encrypted; give an unencrypted private key' },
    {
      name: 'an encrypted PKCS#1 PEM',
      path: () => keyFile(rsa.privateKey.export({ format: 'pem', type: 'pkcs1', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string),
      problem: 'is encrypted; give an unencrypted private key',
    },
    { name: 'a 1024-bit RSA key', path: () => keyFile(pkcs8(weakRsa.privateKey)), problem: 'is a 1024-bit RSA key; at least 2048 bits are needed' },
    { name: 'a secp256k1 key', path: () => keyFile(pkcs8(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey)), problem: 'is an EC key on curve secp256k1' },
    { name: 'an X25519 key', path: () => keyFile(pkcs8(generateKeyPairSync('x25519').privateKey)), problem: 'is a x25519 key' },
    { name: 'a symmetric JWK', path: () => keyFile('{"kty":"oct","k":"c2VjcmV0"}'), problem: 'holds a symmetric key' },
    { name: 'a JWK whose alg does not fit', path: () => keyFile(JSON.stringify({ ...jwkOf(rsa.privateKey), alg: 'ES256' })), problem: 'declares alg ES256, which does not fit this key' },
    { name: 'a JWK Set of two keys', path: () => keyFile(JSON.stringify({ keys: [jwkOf(rsa.privateKey), jwkOf(p256.privateKey)] })), problem: 'holds a JWK Set of 2 keys' },
    { name: 'broken JSON', path: () => keyFile(`{"kty":"RSA","d":"${d}"`), problem: 'is not valid JSON' },
    { name: 'a corrupted JWK', path: () => keyFile(JSON.stringify({ ...jwkOf(p256.privateKey), crv: 'P-999' })), problem: 'holds a JWK that is not a usable private key' },
    { name: 'neither PEM nor JSON', path: () => keyFile(rsaPemBody), problem: 'is neither a PEM private key nor a JWK (JSON)' },
    { name: 'a huge file', path: () => keyFile(Buffer.alloc(70_000, 0x41)), problem: 'is larger than 65536 bytes' },
  ])('$name → PrivateKeyError naming the path, without key material', ({ path, problem }) => {
    const file = path();
    let caught: unknown;
    try {
      loadPrivateKey(file);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PrivateKeyError);
    const message = (caught as Error).message;
    expect(message).toContain(`private key file ${file}: ${problem}`);
    expect(message).not.toContain(d.slice(0, 12));
    expect(message).not.toContain(rsaPemBody.slice(0, 12));
  });
});
