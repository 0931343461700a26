// The key set behind a TestIssuer: create, rotate and remove keys, pick the signing key, write the JWKS document.
// Imports nothing else from src/ (STYLE §1): only jose and test-keys.ts beside it.
import type { JWK } from 'jose';
import type { JwksOptions } from './issuer-options.js';
import {
  TEST_KEY_ALGORITHMS,
  generateTestKey,
  isTestKeyAlgorithm,
  type TestKey,
  type TestKeyAlgorithm,
} from './test-keys.js';

const DEFAULT_KID_LENGTH = 16;

/**
 * Throws a TypeError naming the supported algorithms unless `alg` is one of {@link TEST_KEY_ALGORITHMS}.
 *
 * @example
 * ```ts
 * assertAlgorithm('ES256'); // ok
 * assertAlgorithm('HS256'); // TypeError: unsupported algorithm HS256; TestIssuer supports RS256, …
 * ```
 */
export function assertAlgorithm(alg: unknown): asserts alg is TestKeyAlgorithm {
  if (!isTestKeyAlgorithm(alg)) {
    throw new TypeError(`unsupported algorithm ${String(alg)}; TestIssuer supports ${TEST_KEY_ALGORITHMS.join(', ')}`);
  }
}

/**
 * The keys of one TestIssuer, oldest first (the order of the JWKS). The first algorithm it was created with is the
 * default for signing and rotation.
 *
 * @example
 * ```ts
 * const keys = await IssuerKeys.create(['RS256', 'ES256'], {});
 * const { kid } = await keys.rotate('ES256', { kidLength: 40, retirePrevious: true });
 * keys.jwksDocument({ omitUse: true }); // { keys: [{ kty: 'RSA', kid, alg: 'RS256', n, e }, …] }
 * ```
 */
export class IssuerKeys {
  readonly #keys: TestKey[];
  readonly #defaultAlg: TestKeyAlgorithm | undefined;

  private constructor(keys: TestKey[], defaultAlg: TestKeyAlgorithm | undefined) {
    this.#keys = keys;
    this.#defaultAlg = defaultAlg;
  }

  /** One new key per entry of `algorithms`, with kids of `jwksOptions.kidLength` (default 16). */
  static async create(algorithms: readonly TestKeyAlgorithm[], jwksOptions: JwksOptions): Promise<IssuerKeys> {
    const kidLength = jwksOptions.kidLength ?? DEFAULT_KID_LENGTH;
    const keys = await Promise.all(algorithms.map((alg) => generateTestKey(alg, kidLength)));
    return new IssuerKeys(keys, algorithms[0]);
  }

  /** Adds a key for `alg` (default: the first algorithm); `retirePrevious` removes every older key of that alg. */
  async rotate(
    alg: TestKeyAlgorithm | undefined,
    opts: { kidLength?: number; retirePrevious?: boolean },
  ): Promise<{ kid: string }> {
    const keyAlg = alg ?? this.requireDefaultAlg();
    assertAlgorithm(keyAlg);
    const key = await generateTestKey(keyAlg, opts.kidLength ?? DEFAULT_KID_LENGTH);
    if (opts.retirePrevious) {
      for (let i = this.#keys.length - 1; i >= 0; i--) {
        if (this.#keys[i]!.alg === keyAlg) this.#keys.splice(i, 1);
      }
    }
    this.#keys.push(key);
    return { kid: key.kid };
  }

  /** Removes a key; an unknown kid throws (a typo should fail the test, not pass it). */
  remove(kid: string): void {
    const index = this.#keys.findIndex((key) => key.kid === kid);
    if (index < 0) throw new Error(`TestIssuer has no key with kid ${JSON.stringify(kid)}`);
    this.#keys.splice(index, 1);
  }

  /** `{ kid, alg }` of every key, oldest first. */
  list(): { kid: string; alg: TestKeyAlgorithm }[] {
    return this.#keys.map(({ kid, alg }) => ({ kid, alg }));
  }

  /** The distinct algorithms of the current keys, in key order (for discovery metadata). */
  algorithms(): TestKeyAlgorithm[] {
    return [...new Set(this.#keys.map((key) => key.alg))];
  }

  /** A fresh copy of a key's public JWK with `kid`, `alg` and `use: 'sig'`. */
  publicJwk(kid: string): JWK {
    const key = this.#byKid(kid);
    return { ...key.publicJwk, kid: key.kid, alg: key.alg, use: 'sig' };
  }

  /** The SPKI PEM of a key. */
  publicKeyPem(kid: string): string {
    return this.#byKid(kid).publicKeyPem;
  }

  /** The JWKS document (RFC 7517 §5) as `jwksOptions` shapes it now. */
  jwksDocument({ omitAlg, omitUse }: JwksOptions): { keys: JWK[] } {
    const keys = this.#keys.map((key) => ({
      kty: key.publicJwk.kty,
      kid: key.kid,
      ...(omitUse ? {} : { use: 'sig' }),
      ...(omitAlg ? {} : { alg: key.alg }),
      ...key.publicJwk,
    }));
    return { keys };
  }

  /** The first algorithm the issuer was started with; throws if it was started with none. */
  requireDefaultAlg(): TestKeyAlgorithm {
    if (!this.#defaultAlg) throw new Error('TestIssuer was started with algorithms: []; pass an alg');
    return this.#defaultAlg;
  }

  /** The newest key of `alg`; throws if there is none. */
  newest(alg: TestKeyAlgorithm): TestKey {
    assertAlgorithm(alg);
    const key = this.#keys.findLast((candidate) => candidate.alg === alg);
    if (!key) throw new Error(`TestIssuer has no ${alg} key; list it in algorithms or call rotate('${alg}')`);
    return key;
  }

  /**
   * The key {@link TestIssuer.sign} uses: the newest key of `alg` if given; else the key named by the header's `kid`;
   * else the newest key of the header's `alg`; else the newest key of the default algorithm.
   */
  signingKey(header: Record<string, unknown> | string, alg: TestKeyAlgorithm | undefined): TestKey {
    if (alg !== undefined) return this.newest(alg);
    if (typeof header !== 'string') {
      const named = this.#keys.find((key) => key.kid === header.kid);
      if (named) return named;
      if (isTestKeyAlgorithm(header.alg)) return this.newest(header.alg);
    }
    return this.newest(this.requireDefaultAlg());
  }

  #byKid(kid: string): TestKey {
    const key = this.#keys.find((candidate) => candidate.kid === kid);
    if (!key) throw new Error(`TestIssuer has no key with kid ${JSON.stringify(kid)}`);
    return key;
  }
}
