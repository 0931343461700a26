// Building blocks of the config schema, each with its operator-facing wording.
// A schema-level message is used only when the field is present: an absent
// required field is "is required" (configErrorMap), whatever its type.
import { z } from 'zod';
import { withCheck } from './check-context.js';
import { unknownFieldsMessage } from './format-issues.js';
import { normalisePath } from './path-prefix.js';
import { secureUrlProblem } from './url-rules.js';

/** `message` for a present value; absent values fall through to "is required". */
export function unlessAbsent(message: string) {
  return (issue: { readonly input?: unknown }) => (issue.input === undefined ? undefined : message);
}

/** A mapping with exactly these keys; an unknown key names its likely intended one. */
export function strict<S extends z.core.$ZodLooseShape>(shape: S) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? unknownFieldsMessage(issue.keys, known) : undefined),
  });
}

/** An integer in `min..max` (or `≥ min`), one message for every way to miss. */
export function int(min: number, max?: number) {
  const message = max === undefined ? `must be an integer ≥ ${min}` : `must be an integer ${min}..${max}`;
  // Not `.int()`: zod marks a fraction as aborting, which would silence every cross-field check.
  const base = z
    .number({ error: unlessAbsent(message) })
    .refine(Number.isSafeInteger, { error: message })
    .min(min, { error: message });
  return max === undefined ? base : base.max(max, { error: message });
}

export const bool = () => z.boolean({ error: unlessAbsent('must be true or false') });

export function nonEmptyString(message = 'must be a non-empty string') {
  return z.string({ error: unlessAbsent(message) }).min(1, { error: message });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: unlessAbsent(`must be one of: ${values.join(', ')}`) });
}

/** A list; `emptyMessage` makes it non-empty; repeated entries (after `key`) are reported where they repeat. */
export function list<T extends z.ZodType>(
  element: T,
  options: { emptyMessage?: string; unique?: (entry: z.output<T>) => string } = {},
) {
  const base = z.array(element, { error: unlessAbsent('must be a list') });
  const sized = options.emptyMessage === undefined ? base : base.min(1, { error: options.emptyMessage });
  const key = options.unique;
  if (key === undefined) return sized;
  return withCheck(sized, (entries, check) => {
    if (!check.intact([])) return;
    const seen = new Set<string>();
    entries.forEach((entry, i) => {
      if (!check.ok([i])) return;
      const k = key(entry);
      if (seen.has(k)) check.add([i], `"${k}" is listed twice`);
      seen.add(k);
    });
  });
}

/** A string checked and normalised by `rule`, which returns the value or the reason it is refused. */
export function checkedString<T>(rule: (value: string) => { value: T } | { problem: string }, typeMessage = 'must be a string') {
  return z.string({ error: unlessAbsent(typeMessage) }).transform((value, ctx) => {
    const result = rule(value);
    if ('problem' in result) {
      ctx.addIssue({ code: 'custom', message: result.problem, input: undefined });
      return z.NEVER;
    }
    return result.value;
  });
}

/** jwksUri, tokenUrl: https (or loopback http), no credentials, no fragment. */
export const secureUrl = () =>
  checkedString<string>((value) => {
    const problem = secureUrlProblem(value, { allowQuery: true });
    return problem === undefined ? { value } : { problem };
  });

/** A route path: see path-prefix.ts. */
export const routePath = () =>
  checkedString<string>((value) => {
    const result = normalisePath(value);
    return 'problem' in result ? result : { value: result.path };
  });

/** RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
export const SCOPE_TOKEN_MESSAGE = 'must be a scope-token (RFC 6749 §3.3: visible ASCII except " and \\, no spaces)';
