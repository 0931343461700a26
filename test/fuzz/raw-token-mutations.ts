// Tokens the issuer's key did not sign as they stand: forged signatures (alg none, HMAC keyed
// with the public key, an attacker's key announced by jwk or jku) and valid tokens with their
// bytes mangled (padding, alphabet, whitespace, truncation, bit flips). All must be refused,
// except a flip the base64url decoder cannot see.
import { createHmac, randomBytes, sign as cryptoSign } from 'node:crypto';
import type { TestKeyAlgorithm } from '../../src/testing/index.js';
import { ALGORITHMS, type FuzzContext } from './fuzz-context.js';
import type { Rng } from './rng.js';
import { claimsOracle, REJECTED, type TokenOracle } from './token-oracle.js';
import { b64, baseClaims, keyOf, type MutatedToken, signClaims } from './token-signing.js';

/** The order the PRNG picks from: changing it changes what a seed yields. */
const RAW_VARIANTS = [
  'alg-none', 'hs256-public-pem', 'attacker-key', 'attacker-jwk', 'attacker-jku', 'pad=', 'std-alphabet', 'whitespace-inside', 'dots',
  'truncate', 'sig-bitflip', 'segment-bitflip', 'non-ascii', 'jwe-5-part', 'parts', 'swap', 'foreign-sig', 'empty-sig', 'case-flip', 'prefix-junk',
] as const;
type RawVariant = (typeof RAW_VARIANTS)[number];

/** The variants that replace or break the signature; the others mangle the token's bytes. */
const FORGERIES = ['alg-none', 'hs256-public-pem', 'attacker-key', 'attacker-jwk', 'attacker-jku', 'sig-bitflip', 'jwe-5-part', 'foreign-sig', 'empty-sig'] as const;
type Forgery = (typeof FORGERIES)[number];
const isForgery = (variant: RawVariant): variant is Forgery => (FORGERIES as readonly string[]).includes(variant);

/** A valid token, its parts, and how to name what was made of it. */
interface RawInput<V extends RawVariant> {
  readonly ctx: FuzzContext;
  readonly rng: Rng;
  readonly now: number;
  readonly alg: TestKeyAlgorithm;
  readonly key: { kid: string; alg: TestKeyAlgorithm };
  readonly variant: V;
  readonly valid: string;
  readonly parts: readonly [h: string, p: string, s: string];
  /** The claims the valid token carries, as signed. */
  readonly payload: string;
  readonly mutate: (name: string, token: string, oracle?: TokenOracle) => MutatedToken;
}

/** Tokens not signed by the issuer's key, or signed ones with their bytes mutated. */
export async function rawMutation(ctx: FuzzContext, rng: Rng, now: number): Promise<MutatedToken> {
  const alg = rng.pick(ALGORITHMS);
  const key = keyOf(ctx.issuer, alg);
  const claims = baseClaims(ctx.issuer, now);
  const valid = (await signClaims(ctx.issuer, rng, claims, { alg })).token;
  const parts = valid.split('.') as [string, string, string];
  const payload = claims.text();
  const mutate = (name: string, token: string, oracle: TokenOracle = REJECTED): MutatedToken => ({ name, token, oracle, note: `${name} (${alg}, ${token.length} chars)` });
  const variant = rng.pick(RAW_VARIANTS);
  const input = { ctx, rng, now, alg, key, valid, parts, payload, mutate };
  return isForgery(variant) ? forged({ ...input, variant }) : mangled({ ...input, variant });
}

async function forged({ ctx, rng, now, alg, key, variant, parts: [h, p, s], payload, mutate }: RawInput<Forgery>): Promise<MutatedToken> {
  const { issuer, attackerKey } = ctx;
  switch (variant) {
    case 'alg-none':
      return mutate(variant, `${b64(JSON.stringify({ alg: rng.pick(['none', 'None', 'NONE']), typ: 'JWT' }))}.${b64(payload)}.${rng.chance(0.5) ? '' : s}`);
    case 'hs256-public-pem': {
      const input = `${b64(JSON.stringify({ alg: 'HS256', kid: key.kid }))}.${b64(payload)}`;
      return mutate(variant, `${input}.${createHmac('sha256', issuer.publicKeyPem(key.kid)).update(input).digest('base64url')}`);
    }
    case 'attacker-key':
    case 'attacker-jwk':
    case 'attacker-jku': {
      const header: Record<string, unknown> = { alg: 'ES256', kid: variant === 'attacker-key' ? keyOf(issuer, 'ES256').kid : 'attacker' };
      if (variant === 'attacker-jwk') header.jwk = attackerKey.publicJwk;
      if (variant === 'attacker-jku') header.jku = `${ctx.upstreamUrl}/r-orders/jwks`;
      const input = `${b64(JSON.stringify(header))}.${b64(payload)}`;
      const signature = cryptoSign('sha256', Buffer.from(input), { key: attackerKey.privateKey, dsaEncoding: 'ieee-p1363' });
      return mutate(variant, `${input}.${signature.toString('base64url')}`);
    }
    case 'sig-bitflip': {
      const i = rng.int(s.length);
      const flipped = String.fromCharCode(s.charCodeAt(i) ^ (1 << rng.int(6)));
      const signature = `${s.slice(0, i)}${flipped}${s.slice(i + 1)}`;
      // A flip in the unused low bits of the last character decodes to the same signature bytes.
      const same = /^[A-Za-z0-9_-]*$/.test(signature) && Buffer.from(signature, 'base64url').equals(Buffer.from(s, 'base64url'));
      const oracle: TokenOracle = same ? { ...claimsOracle(payload, now, issuer), verdict: 'either', why: ['non-canonical base64url signature'] } : REJECTED;
      return mutate(same ? 'sig-bitflip(non-canonical)' : variant, `${h}.${p}.${signature}`, oracle);
    }
    case 'jwe-5-part':
      return mutate(variant, [b64(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: key.kid })), randomBytes(32).toString('base64url'), 'AxY8DCtDaGlsbGljb3RoZQ', randomBytes(48).toString('base64url'), 'Mz-VPPyU4RlcuYv1IwIvzw'].join('.'));
    case 'foreign-sig': {
      const other = (await signClaims(issuer, rng, baseClaims(issuer, now), { alg })).token.split('.')[2]!;
      return mutate(variant, `${h}.${p}.${other}`);
    }
    case 'empty-sig':
      return mutate(variant, `${h}.${p}.`);
  }
}

function mangled({ rng, variant, valid, parts: [h, p, s], mutate }: RawInput<Exclude<RawVariant, Forgery>>): MutatedToken {
  const at = (text: string) => rng.int(text.length + 1);
  switch (variant) {
    case 'pad=': {
      const segment = rng.int(3);
      const parts = [h, p, s];
      parts[segment] += '='.repeat(rng.range(1, 2));
      return mutate(`${variant}[${segment}]`, parts.join('.'));
    }
    case 'std-alphabet': {
      const std = Buffer.from(rng.pick([h, p, s]), 'base64url').toString('base64');
      const segment = rng.int(3);
      const parts = [h, p, s];
      parts[segment] = /[+/]/.test(std) ? std.replace(/=+$/, '') : `${parts[segment]!.slice(0, 4)}+/${parts[segment]!.slice(6)}`;
      return mutate(variant, parts.join('.'));
    }
    case 'whitespace-inside': {
      const i = rng.range(1, valid.length - 1);
      return mutate(`${variant}`, `${valid.slice(0, i)}${rng.pick([' ', '\t', '\u00a0', '  '])}${valid.slice(i)}`);
    }
    case 'dots': {
      const i = at(valid);
      return mutate(variant, `${valid.slice(0, i)}${rng.pick(['.', '..', '...'])}${valid.slice(i)}`);
    }
    case 'truncate':
      return mutate(variant, valid.slice(0, rng.int(valid.length)));
    case 'segment-bitflip': {
      const segment = rng.pick([h, p]);
      const i = rng.int(segment.length);
      const mutated = `${segment.slice(0, i)}${String.fromCharCode(segment.charCodeAt(i) ^ (1 << rng.int(7)))}${segment.slice(i + 1)}`;
      return mutate(variant, segment === h ? `${mutated}.${p}.${s}` : `${h}.${mutated}.${s}`);
    }
    case 'non-ascii': {
      const i = at(valid);
      return mutate(variant, `${valid.slice(0, i)}${String.fromCharCode(rng.range(0x80, 0xff))}${valid.slice(i)}`);
    }
    case 'parts': {
      const count = rng.pick([1, 2, 4, 6]);
      const parts = [h, p, s, s, p, h].slice(0, count);
      return mutate(`${variant}=${count}`, parts.join('.'));
    }
    case 'swap':
      return mutate(variant, `${p}.${h}.${s}`);
    case 'case-flip':
      return mutate(variant, rng.chance(0.5) ? valid.toUpperCase() : valid.toLowerCase());
    case 'prefix-junk':
      return mutate(variant, `${rng.pick(['Bearer ', 'eyJ', '"', '{'])}${valid}`);
  }
}
