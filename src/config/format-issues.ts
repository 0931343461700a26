// Turns zod issues into the one-line `path: reason` form every config error
// uses (`routes[1].throttle.limit: must be an integer ≥ 1`), and supplies the
// fallback wording for the cases no schema words itself. No message here ever
// contains the offending value: a value may be a substituted secret.
import type { z } from 'zod';
import { suggestField } from './did-you-mean.js';

export interface ConfigIssue {
  /** Where the problem is; empty for a top-level message that names its own subject. */
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * @example
 * formatPath(['routes', 1, 'throttle', 'limit']); // 'routes[1].throttle.limit'
 * formatPath(['clients', 'a.b']);                  // 'clients["a.b"]'
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/** `path: reason`, or just the reason for a top-level issue. */
export function formatIssue(issue: ConfigIssue): string {
  return issue.path.length === 0 ? issue.message : `${formatPath(issue.path)}: ${issue.message}`;
}

/** The formatted lines, each once, in order. */
export function formatIssues(issues: readonly ConfigIssue[]): string[] {
  return [...new Set(issues.map(formatIssue))];
}

/**
 * Message for a strict object's `unrecognized_keys` issue: one reason per key,
 * in key order, joined by newlines; `fromZodIssues` splits it back into one
 * issue per key. Only these two functions know that encoding.
 */
export function unknownFieldsMessage(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((key) => {
      const suggestion = suggestField(key, known);
      return suggestion === undefined ? 'unknown field' : `unknown field (did you mean "${suggestion}"?)`;
    })
    .join('\n');
}

/**
 * Flattens zod issues into ConfigIssues. A failed union ("one window or a list
 * of windows") reports the issues of the one branch whose type the input has;
 * when no branch fits, the union's own message.
 */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const reasons = issue.message.split('\n');
      issue.keys.forEach((key, i) => out.push({ path: [...path, key], message: reasons[i] ?? 'unknown field' }));
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const fitting = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (fitting.length === 1) out.push(...fromZodIssues(fitting[0], path));
      else out.push({ path, message: issue.message });
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'must be a string',
  number: 'must be a number',
  int: 'must be an integer',
  boolean: 'must be true or false',
  object: 'must be a mapping',
  record: 'must be a mapping',
  array: 'must be a list',
};

const BY_CODE: Readonly<Record<string, string>> = {
  too_small: 'is too small',
  too_big: 'is too large',
  invalid_format: 'has an invalid format',
  invalid_value: 'is not an allowed value',
  invalid_union: 'has an invalid form',
  invalid_key: 'has an invalid key',
  unrecognized_keys: 'unknown field',
};

/**
 * Per-parse error map: "is required" for an absent field, plain words for a
 * wrong type, and a neutral reason for anything a schema did not word itself
 * (so zod's default text, written for developers, never reaches an operator).
 */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && issue.input === undefined) return 'is required';
  if (issue.code === 'invalid_type') return EXPECTED[issue.expected] ?? 'has the wrong type';
  return BY_CODE[issue.code ?? ''] ?? 'is invalid';
};
