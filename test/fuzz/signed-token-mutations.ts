// Tokens whose claims or protected header were edited, then signed with the issuer's real key:
// the signature is good, so only the claim and header rules can refuse them, and the oracle
// says which must.
import { ALGORITHMS, type FuzzContext } from './fuzz-context.js';
import { CLAIM_EDITS, type Edited, type SignedEdit } from './claim-mutations.js';
import { JsonText } from './json-text.js';
import type { Rng } from './rng.js';
import { claimsOracle, headerOracle, worst } from './token-oracle.js';
import { baseClaims, keyOf, type MutatedToken, signClaims } from './token-signing.js';

/** One member of the protected header set, changed or removed. */
function protectedHeader({ rng, ctx, header, alg }: SignedEdit): Edited {
  const variant = rng.pick([
    'alg=none', 'alg=HS256', 'alg=rs256', 'alg=5', 'alg=null', 'alg=[]', 'alg-absent', 'alg=other-key', 'kid-absent', 'kid=unknown', 'kid=5',
    'kid=null', 'kid=""', 'kid=[]', 'kid=../../etc/passwd', 'kid=long', 'kid=other-key', 'crit=["exp"]', 'crit=[]', 'crit="x"', 'crit=null',
    'crit=["b64"]', 'typ=at+jwt', 'typ=JOSE', 'typ=5', 'typ=null', 'typ-absent', 'jku', 'x5u', 'jwk', 'x5c', 'b64=false', 'zip=DEF', 'enc',
    'cty=JWT', 'extra',
  ]);
  const other = keyOf(ctx.issuer, rng.pick(ALGORITHMS.filter((a) => a !== alg)));
  // Built whole for every variant: the `kid=unknown` entry draws from the PRNG even when another variant is used.
  const edits: Record<string, [string, string | undefined]> = {
    'alg=none': ['alg', '"none"'], 'alg=HS256': ['alg', '"HS256"'], 'alg=rs256': ['alg', JSON.stringify(alg.toLowerCase())], 'alg=5': ['alg', '5'],
    'alg=null': ['alg', 'null'], 'alg=[]': ['alg', '[]'], 'alg-absent': ['alg', undefined], 'alg=other-key': ['alg', JSON.stringify(other.alg)],
    'kid-absent': ['kid', undefined], 'kid=unknown': ['kid', JSON.stringify(`unknown-${rng.int(1e6)}`)], 'kid=5': ['kid', '5'],
    'kid=null': ['kid', 'null'], 'kid=""': ['kid', '""'], 'kid=[]': ['kid', '[]'], 'kid=../../etc/passwd': ['kid', '"../../etc/passwd"'],
    'kid=long': ['kid', JSON.stringify('k'.repeat(2000))], 'kid=other-key': ['kid', JSON.stringify(other.kid)],
    'crit=["exp"]': ['crit', '["exp"]'], 'crit=[]': ['crit', '[]'], 'crit="x"': ['crit', '"x"'], 'crit=null': ['crit', 'null'],
    'crit=["b64"]': ['crit', '["b64"]'], 'typ=at+jwt': ['typ', '"at+jwt"'], 'typ=JOSE': ['typ', '"JOSE"'], 'typ=5': ['typ', '5'],
    'typ=null': ['typ', 'null'], 'typ-absent': ['typ', undefined], jku: ['jku', '"http://127.0.0.1:1/jwks"'],
    x5u: ['x5u', '"http://127.0.0.1:1/cert.pem"'], jwk: ['jwk', JSON.stringify(ctx.attackerKey.publicJwk)], x5c: ['x5c', '["MIIBIjAN"]'],
    'b64=false': ['b64', 'false'], 'zip=DEF': ['zip', '"DEF"'], enc: ['enc', '"A256GCM"'], 'cty=JWT': ['cty', '"JWT"'], extra: ['x-ext', '"é"'],
  };
  const [member, literal] = edits[variant]!;
  if (literal === undefined) header.remove(member);
  else header.set(member, literal);
  const name = `header.${variant}`;
  return { name, note: name };
}

function headerDuplicate({ rng, header }: SignedEdit): Edited {
  const variant = rng.pick(['alg', 'kid', 'typ', 'escaped-alg']);
  if (variant === 'escaped-alg') header.append('"\\u0061lg"', '"none"');
  else if (variant === 'kid') header.append('"kid"', JSON.stringify(`unknown-${rng.int(1000)}`));
  else if (variant === 'alg') header.append('"alg"', '"none"');
  else header.append('"typ"', '"at+jwt"');
  const name = `header.duplicate.${variant}`;
  return { name, note: name, duplicate: true };
}

const SIGNED_EDITS = { ...CLAIM_EDITS, header: protectedHeader, 'header-duplicate': headerDuplicate } satisfies Record<string, (edit: SignedEdit) => Edited>;

/** A token whose claims or header were mutated, signed with the issuer's real key. */
export async function signedMutation(ctx: FuzzContext, rng: Rng, now: number): Promise<MutatedToken> {
  const claims = baseClaims(ctx.issuer, now);
  const alg = rng.pick(ALGORITHMS);
  const key = keyOf(ctx.issuer, alg);
  const header = JsonText.of({ alg, kid: key.kid, typ: 'JWT' });
  const kind = rng.weighted<keyof typeof SIGNED_EDITS>([
    [6, 'time'], [2, 'time-multi'], [1, 'iss'], [2, 'aud'], [4, 'scope'], [3, 'identity'], [1, 'identity-random'], [3, 'duplicate'],
    [1, 'near-duplicate'], [1, 'extra'], [4, 'header'], [1, 'header-duplicate'],
  ]);
  const { name, note, duplicate = false } = SIGNED_EDITS[kind]({ rng, now, ctx, claims, header, alg });
  const { token, headerText, payloadText } = await signClaims(ctx.issuer, rng, claims, { header, alg, spaced: rng.chance(0.1) });
  const fromClaims = claimsOracle(payloadText, now, ctx.issuer);
  const fromHeader = headerOracle(headerText, key.alg, key.kid);
  const verdict = duplicate ? 'reject' : worst([fromClaims.verdict, fromHeader.verdict]);
  const why = duplicate ? ['duplicate member'] : [...fromClaims.why, ...fromHeader.why];
  return { name, token, note, oracle: { ...fromClaims, verdict, why } };
}
