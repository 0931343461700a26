// Cross-field checks that run even when other fields already failed, so one
// run reports every problem. zod skips a refinement after an aborting issue
// anywhere below it; `withCheck` always runs it, and hands it `ok(path)` to
// ask whether the fields it reads parsed cleanly. A check reads only what
// `ok` vouched for (the rest of the value may be raw input).
import type { z } from 'zod';

export interface CheckContext {
  /** The value at `path` (relative to the checked schema) and everything under it parsed without an issue. */
  ok(path: readonly PropertyKey[]): boolean;
  /** The value at `path` has the right type (a list, a mapping); entries under it may still be bad. */
  intact(path: readonly PropertyKey[]): boolean;
  add(path: readonly PropertyKey[], message: string): void;
}

function startsWith(path: readonly PropertyKey[], prefix: readonly PropertyKey[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => path[i] === segment);
}

function blocking(issues: readonly { code?: string; path?: readonly PropertyKey[] }[]) {
  // An unknown key says nothing about the known fields beside it.
  return issues.filter((issue) => issue.code !== 'unrecognized_keys').map((issue) => issue.path ?? []);
}

/**
 * `schema` with a refinement that runs whatever else failed.
 *
 * @example
 * withCheck(Route, (route, check) => {
 *   if (check.ok(['public']) && check.ok(['scopes']) && route.public && route.scopes.length > 0)
 *     check.add(['scopes'], 'must be empty on a public route');
 * });
 */
export function withCheck<S extends z.ZodType>(schema: S, fn: (value: z.output<S>, check: CheckContext) => void): S {
  return schema.superRefine(
    (value, ctx) => {
      const context: CheckContext = {
        ok: (path) => blocking(ctx.issues).every((p) => !startsWith(p, path) && !startsWith(path, p)),
        intact: (path) => blocking(ctx.issues).every((p) => !startsWith(path, p)),
        add: (path, message) => ctx.addIssue({ code: 'custom', path: [...path], message, input: undefined }),
      };
      fn(value as z.output<S>, context);
    },
    { when: () => true },
  ) as S;
}
