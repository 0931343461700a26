import { inspect } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { TokenCipher } from './token-cipher.js';

const KEY_1 = Buffer.alloc(32, 1);
const KEY_2 = Buffer.alloc(32, 2);
const AAD = 'test:svc-token:orders';
const TOKEN = JSON.stringify({ accessToken: 'eyJhbGciOiJSUzI1NiJ9.payload.sig', expiresAt: 2, refreshAt: 1 });
const B64URL = /^[A-Za-z0-9_-]+$/;

/** Replaces one base64url part of a sealed value, by index (0 "v1", 1 kid, 2 iv, 3 ciphertext, 4 tag). */
function withPart(sealed: string, index: number, change: (part: string) => string): string {
  const parts = sealed.split('.');
  parts[index] = change(parts[index]!);
  return parts.join('.');
}
/** Flips one bit of a decoded part and re-encodes it canonically. */
function flipBit(part: string, byte = 0): string {
  const bytes = Buffer.from(part, 'base64url');
  bytes[byte]! ^= 0x01;
  return bytes.toString('base64url');
}

describe('TokenCipher', () => {
  const cipher = new TokenCipher([{ kid: 'k1', key: KEY_1 }]);

  it('round trip: v1.<kid>.<iv 12 bytes>.<ciphertext>.<tag 16 bytes>, plaintext not visible', () => {
    const sealed = cipher.seal(TOKEN, AAD);
    const [version, kid, iv, ciphertext, tag, ...rest] = sealed.split('.');
    expect([version, kid, rest]).toEqual(['v1', 'k1', []]);
    expect(iv).toMatch(B64URL);
    expect(ciphertext).toMatch(B64URL);
    expect(Buffer.from(iv!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(ciphertext!, 'base64url')).toHaveLength(Buffer.byteLength(TOKEN));
    expect(Buffer.from(tag!, 'base64url')).toHaveLength(16);
    expect(sealed).not.toContain('eyJhbGciOiJSUzI1NiJ9');
    expect(cipher.open(sealed, AAD)).toBe(TOKEN);
  });

  it('round trip of empty and non-ASCII text', () => {
    expect(cipher.open(cipher.seal('', AAD), AAD)).toBe('');
    expect(cipher.open(cipher.seal('jeton été ✓', AAD), AAD)).toBe('jeton été ✓');
  });

  it('a fresh IV every seal: the same plaintext seals differently each time', () => {
    const sealed = Array.from({ length: 50 }, () => cipher.seal(TOKEN, AAD));
    expect(new Set(sealed).size).toBe(50);
    expect(new Set(sealed.map((s) => s.split('.')[2])).size).toBe(50);
  });

  it('rotation: a value sealed under the old first key opens once a new key is put first; new values use the new key', () => {
    const sealedWithOld = cipher.seal(TOKEN, AAD);
    const rotated = new TokenCipher([{ kid: 'k2', key: KEY_2 }, { kid: 'k1', key: KEY_1 }]);
    expect(rotated.open(sealedWithOld, AAD)).toBe(TOKEN);
    const sealedWithNew = rotated.seal(TOKEN, AAD);
    expect(sealedWithNew.startsWith('v1.k2.')).toBe(true);
    expect(rotated.sealingKid).toBe('k2');
    // a replica that does not have k2 yet: a miss, not an error
    expect(cipher.open(sealedWithNew, AAD)).toBeUndefined();
  });

  it('a kid containing dots seals and opens', () => {
    const dotted = new TokenCipher([{ kid: '2025.06.k-1', key: KEY_1 }]);
    const sealed = dotted.seal(TOKEN, AAD);
    expect(sealed.startsWith('v1.2025.06.k-1.')).toBe(true);
    expect(dotted.open(sealed, AAD)).toBe(TOKEN);
  });

  describe('open → undefined, never throws', () => {
    const sealed = cipher.seal(TOKEN, AAD);
    const cases: [string, () => string | undefined][] = [
      ['wrong aad (value copied to another slot)', () => cipher.open(sealed, 'test:svc-token:billing')],
      ['aad differing only by a suffix', () => cipher.open(sealed, `${AAD}x`)],
      ['tampered tag (one bit)', () => cipher.open(withPart(sealed, 4, flipBit), AAD)],
      ['tampered tag (last byte)', () => cipher.open(withPart(sealed, 4, (t) => flipBit(t, 15)), AAD)],
      ['truncated tag (12 bytes)', () => cipher.open(withPart(sealed, 4, (t) => Buffer.from(t, 'base64url').subarray(0, 12).toString('base64url')), AAD)],
      ['tag with non-canonical spare bits', () => cipher.open(withPart(sealed, 4, (t) => t.slice(0, -1) + nonCanonical(t.at(-1)!)), AAD)],
      ['tampered ciphertext', () => cipher.open(withPart(sealed, 3, flipBit), AAD)],
      ['tampered IV', () => cipher.open(withPart(sealed, 2, flipBit), AAD)],
      ['IV of another length', () => cipher.open(withPart(sealed, 2, () => Buffer.alloc(16).toString('base64url')), AAD)],
      ['unknown kid', () => cipher.open(withPart(sealed, 1, () => 'k9'), AAD)],
      ['kid relabelled to another key the cipher holds', () => twoKeys.open(withPart(sealed, 1, () => 'k2'), AAD)],
      ['other version', () => cipher.open(withPart(sealed, 0, () => 'v2'), AAD)],
      ['missing part', () => cipher.open(sealed.split('.').slice(0, 4).join('.'), AAD)],
      ['base64 (not url) characters', () => cipher.open(withPart(sealed, 3, (c) => `${c}+/`), AAD)],
      ['padding', () => cipher.open(withPart(sealed, 4, (t) => `${t}==`), AAD)],
      ['empty string', () => cipher.open('', AAD)],
      ['plain JSON (a value stored unencrypted)', () => cipher.open(TOKEN, AAD)],
      ['not a string', () => cipher.open(undefined as unknown as string, AAD)],
    ];
    const twoKeys = new TokenCipher([{ kid: 'k1', key: KEY_1 }, { kid: 'k2', key: KEY_2 }]);

    it('positive control: the untouched value opens, with either cipher', () => {
      expect(cipher.open(sealed, AAD)).toBe(TOKEN);
      expect(twoKeys.open(sealed, AAD)).toBe(TOKEN);
    });

    it.each(cases)('%s', (_name, open) => {
      expect(open()).toBeUndefined();
    });
  });

  describe('constructor checks its keys once, naming no key material', () => {
    it.each([
      ['no key', [], 'TokenCipher: at least one key is needed'],
      ['a 16-byte key', [{ kid: 'k1', key: Buffer.alloc(16, 7) }], 'TokenCipher: key 0 (kid "k1") must be 32 bytes'],
      ['a 33-byte key', [{ kid: 'k1', key: KEY_1 }, { kid: 'k2', key: Buffer.alloc(33, 7) }], 'TokenCipher: key 1 (kid "k2") must be 32 bytes'],
      ['a kid used twice', [{ kid: 'k1', key: KEY_1 }, { kid: 'k1', key: KEY_2 }], 'TokenCipher: kid "k1" is used twice'],
      ['an empty kid', [{ kid: '', key: KEY_1 }], 'TokenCipher: key 0: the kid must be 1 to 64 characters of A-Z a-z 0-9 . _ -'],
      ['a kid with a space', [{ kid: 'k 1', key: KEY_1 }], 'TokenCipher: key 0: the kid must be 1 to 64 characters of A-Z a-z 0-9 . _ -'],
    ])('%s', (_name, keys, message) => {
      expect(() => new TokenCipher(keys)).toThrow(new Error(message));
    });

    it('keeps its own copy of the key: changing the caller\'s buffer later changes nothing', () => {
      const key = Buffer.from(KEY_1);
      const own = new TokenCipher([{ kid: 'k1', key }]);
      const sealed = own.seal(TOKEN, AAD);
      key.fill(0);
      expect(own.open(sealed, AAD)).toBe(TOKEN);
    });

    it('printing the cipher shows no key bytes', () => {
      const secret = Buffer.alloc(32, 0xab);
      const printed = `${inspect(new TokenCipher([{ kid: 'k1', key: secret }]), { depth: 5 })} ${JSON.stringify(new TokenCipher([{ kid: 'k1', key: secret }]))}`;
      expect(printed).not.toMatch(/ab ab|abab|q6ur|171, 171/i);
    });
  });
});

/** Another base64url character with the same top 2 bits (a 16-byte tag's last character carries 2 data bits + 4 spare). */
function nonCanonical(last: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return alphabet[alphabet.indexOf(last) | 0b0001]!;
}
