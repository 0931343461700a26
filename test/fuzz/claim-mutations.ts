// Edits to a valid claim set before it is signed with the issuer's real key: times that are not
// finite numbers, wrong issuers and audiences, odd scopes and identities, repeated members.
// Each edit draws from the PRNG in a fixed order; changing that order changes what a seed yields.
import type { TestKeyAlgorithm } from '../../src/testing/index.js';
import type { FuzzContext } from './fuzz-context.js';
import type { JsonText } from './json-text.js';
import type { Rng } from './rng.js';
import { show } from './show.js';

/** What an edit of a signed token may change: the claims and the protected header, in place. */
export interface SignedEdit {
  readonly rng: Rng;
  readonly now: number;
  readonly ctx: FuzzContext;
  readonly claims: JsonText;
  readonly header: JsonText;
  /** The algorithm of the key that will sign. */
  readonly alg: TestKeyAlgorithm;
}

/** The edit's name in the report; `duplicate`: a member repeats, so the token is refused whatever else it says. */
export interface Edited {
  readonly name: string;
  readonly note: string;
  readonly duplicate?: boolean;
}

/** Time literals for exp/nbf/iat: CONTRACT says only finite JSON numbers are NumericDates. */
function timeLiterals(now: number): string[] {
  return [
    '1e309', '-1e309', '1E400', '-1e999', `"${now + 300}"`, '"123"', 'true', 'false', 'null', '[]', '{}', `[${now + 300}]`, `{"v":${now + 300}}`,
    '"NaN"', '"Infinity"', '"-Infinity"', '"1e309"', '""', '1.5', '-0', '0', '-1', '1e20', '99999999999999999999999', '9007199254740993',
    '1e-7', `${now + 300}.999`, `${now}`, `${now - 3600}`, `${now + 3600}`, `${now + 300}e0`, `${(now + 300) / 10}e1`, '1E3', `-${now}`,
  ];
}

const NASTY_STRINGS = (): string[] => [
  'a\u0000b', 'a\nb', 'a\r\nX-Injected: 1', 'a\tb', '\u007f', 'é', 'ü'.repeat(10), 'a\u00a0b', '\u2028', '\ud800', '😀', ' lead', 'trail ',
  '', ' ', 'a b', 'x'.repeat(256), 'x'.repeat(257), 'y'.repeat(1000), '"quoted"', 'back\\slash', 'admin', 'test-subject',
];

const SCOPE_VALUES: string[] = [
  '"orders:read"', '"orders:read other"', '" orders:read "', '"orders:read  x"', '"other"', '""', '5', 'true', 'null', '{}', '[]',
  '["orders:read"]', '["orders:read other"]', '[5, true, null]', '["orders:read", 5]', '[["orders:read"]]', '"orders:read\\tx"',
  '"\\torders:read"', '"orders:read\\t"', '"orders:read\\u00a0x"', '"x\\u00a0orders:read"', '"ORDERS:READ"', '"orders:read\\""',
  '"orders:re\\\\ad"', '"orders:readé"', '"orders:read\\nx"', '"orders:read,orders:admin"', '"orders:admin"', '"orders:read orders:admin"',
];

function time({ rng, now, claims }: SignedEdit): Edited {
  const claim = rng.pick(['exp', 'nbf', 'iat'] as const);
  const literal = rng.chance(0.05) ? 'absent' : rng.pick(timeLiterals(now));
  if (literal === 'absent') claims.remove(claim);
  else claims.set(claim, literal);
  return { name: `claims.${claim}=${literal.replace(String(now), 'now').slice(0, 24)}`, note: `${claim}: ${literal}` };
}

function timeMulti({ rng, now, claims }: SignedEdit): Edited {
  const parts: string[] = [];
  for (const claim of ['exp', 'nbf', 'iat'] as const) {
    if (!rng.chance(0.6)) continue;
    const literal = rng.pick(timeLiterals(now));
    claims.set(claim, literal);
    parts.push(`${claim}=${literal}`);
  }
  return { name: 'claims.time-multi', note: parts.join(', ') || 'unchanged' };
}

function iss({ rng, claims, ctx: { issuer } }: SignedEdit): Edited {
  const literal = rng.pick([JSON.stringify([issuer.issuer]), '5', 'null', JSON.stringify(`${issuer.issuer}/`), JSON.stringify(issuer.issuer.toUpperCase()), JSON.stringify(issuer.issuer), '{}']);
  claims.set('iss', literal);
  return { name: `claims.iss=${literal.startsWith('"http') ? 'variant' : literal}`, note: `iss: ${literal}` };
}

function aud({ rng, claims, ctx: { issuer } }: SignedEdit): Edited {
  const a = JSON.stringify(issuer.audience);
  const literal = rng.pick(['5', '[]', 'null', `[${a}]`, `["x",${a}]`, `[${a},5]`, '{}', JSON.stringify(issuer.audience.toUpperCase()), `[[${a}]]`, `"${issuer.audience} "`, 'absent']);
  if (literal === 'absent') claims.remove('aud');
  else claims.set('aud', literal);
  return { name: `claims.aud=${literal.replaceAll(a, 'AUD')}`, note: `aud: ${literal.replaceAll(a, 'AUD')}` };
}

function scope({ rng, claims }: SignedEdit): Edited {
  const literal = rng.pick(SCOPE_VALUES);
  let name: string;
  if (rng.chance(0.3)) {
    claims.remove('scope').set('scp', literal);
    name = `claims.scp=${literal}`;
  } else if (rng.chance(0.2)) {
    claims.set('scope', literal).set('scp', '"orders:read"');
    name = `claims.scope=${literal}+scp`;
  } else {
    claims.set('scope', literal);
    name = `claims.scope=${literal}`;
  }
  return { name, note: name };
}

function identity({ rng, claims }: SignedEdit): Edited {
  const claim = rng.pick(['sub', 'client_id', 'azp'] as const);
  const value: unknown = rng.chance(0.75) ? rng.pick(NASTY_STRINGS()) : rng.pick([5, null, true, ['a'], {}, 1e309]);
  const literal = value === 1e309 ? '1e309' : JSON.stringify(value);
  if (claim === 'azp' && rng.chance(0.7)) claims.remove('client_id');
  claims.set(claim, literal);
  return {
    name: `claims.${claim}=${show(String(literal), 30)}`,
    note: `${claim}: ${show(String(literal), 60)}${claims.has('client_id') ? '' : ' (no client_id)'}`,
  };
}

function identityRandom({ rng, claims }: SignedEdit): Edited {
  const claim = rng.pick(['sub', 'client_id'] as const);
  const alphabet = rng.pick(['abcXYZ09-_.:@ ', '\u0000\u0001\t\n\r\u007f ab', 'éü\u00a0\u2028😀ab', ' !"#$%&\'()*+,-./~`{|}']);
  const value = rng.string(alphabet, rng.pick([0, 1, 2, 10, 255, 256, 257, 300]));
  claims.set(claim, JSON.stringify(value));
  return { name: `claims.${claim}=random`, note: `${claim}: ${show(value, 60)}` };
}

function duplicate({ rng, now, claims }: SignedEdit): Edited {
  const variant = rng.pick(['sub', 'iss', 'exp', 'scope', 'aud', 'escaped-sub', 'escaped-scope', 'nested', 'nested-array', 'same-value']);
  if (variant === 'escaped-sub') claims.append('"\\u0073ub"', '"admin"');
  else if (variant === 'escaped-scope') claims.append('"sc\\u006fpe"', '"orders:read orders:admin"');
  else if (variant === 'nested') claims.append('"act"', '{"sub":"x","sub":"y"}');
  else if (variant === 'nested-array') claims.append('"ext"', '[{"a":1},{"b":2,"b":3}]');
  else if (variant === 'same-value') claims.append('"sub"', '"fuzz-subject"');
  else if (variant === 'exp') claims.append('"exp"', String(now + 600));
  else if (variant === 'iss') claims.append('"iss"', JSON.stringify('https://attacker.invalid/'));
  else if (variant === 'aud') claims.append('"aud"', '"api://other"');
  else claims.append(JSON.stringify(variant), variant === 'scope' ? '"orders:admin"' : '"admin"');
  const name = `claims.duplicate.${variant}`;
  return { name, note: name, duplicate: true };
}

function nearDuplicate({ rng, claims }: SignedEdit): Edited {
  // Names that differ from a claim's: not duplicates, so the token stays valid.
  const raw = rng.pick(['"Sub"', '"\\u0053ub"', '"sub "', '"scope\\u0000"', '"exp\\u00a0"', '"ｓｕｂ"']);
  claims.append(raw, '"admin"');
  const name = `claims.near-duplicate ${raw}`;
  return { name, note: name };
}

function extra({ rng, claims }: SignedEdit): Edited {
  const literal = rng.pick(['[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]', '{"a":{"b":{"c":{"d":{}}}}}', '1e309', '-0', '"\\ud800"', '"\\u0000"', '123456789012345678901234567890', '"x"', 'null']);
  claims.append(JSON.stringify(`x-${rng.int(1000)}`), literal);
  const name = `claims.extra=${literal.slice(0, 20)}`;
  return { name, note: name };
}

/** Every claim edit by the kind signedMutation() draws. */
export const CLAIM_EDITS = {
  time,
  'time-multi': timeMulti,
  iss,
  aud,
  scope,
  identity,
  'identity-random': identityRandom,
  duplicate,
  'near-duplicate': nearDuplicate,
  extra,
} satisfies Record<string, (edit: SignedEdit) => Edited>;
