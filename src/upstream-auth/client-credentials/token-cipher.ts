// Encryption of service tokens kept in Redis (AES-256-GCM, node:crypto).
// Sealed form: v1.<kid>.<iv>.<ciphertext>.<tag>, each binary part base64url.
// The kid may itself contain dots (TOKEN_CACHE_KEY allows A-Z a-z 0-9 . _ -),
// so a sealed value is read from the right: base64url never contains a dot.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32; // AES-256
const IV_BYTES = 12; // NIST SP 800-38D §8.2: 96-bit IVs, random per message
const TAG_BYTES = 16; // full-length tag; shorter ones are refused on open
const KID = /^[A-Za-z0-9._-]{1,64}$/; // as TOKEN_CACHE_KEY (config/runtime-settings.ts)
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** One AES-256-GCM key and the id written next to every value it seals. */
export interface TokenCipherKey {
  readonly kid: string;
  /** 32 bytes. */
  readonly key: Buffer;
}

/**
 * Seals and opens short strings with AES-256-GCM. The first key seals; any key
 * whose kid a sealed value names opens it, so a key is rotated by putting the
 * new one first and keeping the old one until values sealed with it expired.
 * `aad` (additional authenticated data) binds a value to where it is kept: a
 * value copied to another slot does not open there.
 *
 * @example
 * const cipher = new TokenCipher([{ kid: 'k2', key: newKey }, { kid: 'k1', key: oldKey }]);
 * const sealed = cipher.seal(JSON.stringify(token), 'gw:svc-token:orders'); // 'v1.k2.…'
 * cipher.open(sealed, 'gw:svc-token:orders'); // the JSON again
 * cipher.open(sealed, 'gw:svc-token:billing'); // undefined
 */
export class TokenCipher {
  readonly #sealing: { readonly kid: string; readonly key: KeyObject };
  readonly #opening: ReadonlyMap<string, KeyObject>;

  constructor(keys: readonly TokenCipherKey[]) {
    if (keys.length === 0) throw new Error('TokenCipher: at least one key is needed');
    const opening = new Map<string, KeyObject>();
    keys.forEach(({ kid, key }, i) => {
      // Messages name the position and kid only: never the key or anything derived from it.
      if (typeof kid !== 'string' || !KID.test(kid)) {
        throw new Error(`TokenCipher: key ${i}: the kid must be 1 to 64 characters of A-Z a-z 0-9 . _ -`);
      }
      if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
        throw new Error(`TokenCipher: key ${i} (kid "${kid}") must be ${KEY_BYTES} bytes`);
      }
      if (opening.has(kid)) throw new Error(`TokenCipher: kid "${kid}" is used twice`);
      // A KeyObject holds its own copy and never prints its bytes (util.inspect, JSON).
      opening.set(kid, createSecretKey(Buffer.from(key)));
    });
    const first = keys[0]!;
    this.#sealing = { kid: first.kid, key: opening.get(first.kid)! };
    this.#opening = opening;
  }

  /** Kid of the key that seals. */
  get sealingKid(): string {
    return this.#sealing.kid;
  }

  /** Encrypts `plaintext` under the first key with a fresh random IV, bound to `aad`. */
  seal(plaintext: string, aad: string): string {
    const { kid, key } = this.#sealing;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(kid, aad));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, kid, iv.toString('base64url'), ciphertext.toString('base64url'), tag.toString('base64url')].join('.');
  }

  /**
   * The plaintext, or undefined when `sealed` is not a v1 value, names a kid
   * this cipher does not hold, or fails authentication (tampered, or sealed
   * for another `aad`). Never throws.
   */
  open(sealed: string, aad: string): string | undefined {
    const parts = typeof sealed === 'string' ? parse(sealed) : undefined;
    if (!parts) return undefined;
    const key = this.#opening.get(parts.kid);
    if (!key) return undefined;
    const decipher = createDecipheriv(ALGORITHM, key, parts.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(parts.kid, aad));
    decipher.setAuthTag(parts.tag);
    const plaintext = decipher.update(parts.ciphertext);
    try {
      return Buffer.concat([plaintext, decipher.final()]).toString('utf8');
    } catch {
      // final() throws exactly when authentication fails; that is the "undefined" this method promises.
      return undefined;
    }
  }
}

/** The header (version, kid) is authenticated with the caller's aad: no part of a sealed value can be swapped. */
function associatedData(kid: string, aad: string): Buffer {
  return Buffer.from(`${VERSION}\0${kid}\0${aad}`, 'utf8');
}

interface SealedParts {
  readonly kid: string;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

function parse(sealed: string): SealedParts | undefined {
  const parts = sealed.split('.');
  if (parts.length < 5 || parts[0] !== VERSION) return undefined;
  const kid = parts.slice(1, -3).join('.');
  const [iv, ciphertext, tag] = parts.slice(-3).map(decodeBase64url);
  if (!KID.test(kid) || !iv || !ciphertext || !tag) return undefined;
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return undefined;
  return { kid, iv, ciphertext, tag };
}

/** Strict base64url: Buffer.from() skips bad characters and ignores spare bits, so re-encoding must give the input back. */
function decodeBase64url(text: string | undefined): Buffer | undefined {
  if (text === undefined || !BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}
