// `${NAME}` in the config file's string values, replaced by that environment
// variable. It runs on the parsed document, not the text, so a secret holding
// quotes, `#` or a newline stays one string and cannot change the structure.
// Replaced text is not scanned again; keys are never substituted.
import type { ConfigIssue } from './format-issues.js';

// `$${` is an escaped, literal `${`; a `${` that is not `${NAME}` is an error.
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{/g;

export type Env = Readonly<Record<string, string | undefined>>;

function substituteString(text: string, env: Env, path: readonly PropertyKey[], issues: ConfigIssue[]): string {
  const reported = new Set<string>();
  const report = (message: string) => {
    if (!reported.has(message)) issues.push({ path, message });
    reported.add(message);
  };
  return text.replace(REFERENCE, (match: string, name: string | undefined) => {
    if (match === '$${') return '${';
    if (name === undefined) {
      report('"${" must start a reference like ${NAME} (write "$${" for a literal "${")');
      return match;
    }
    const value = env[name];
    if (value === undefined) {
      report(`environment variable ${name} is not set`);
      return match;
    }
    return value;
  });
}

function walk(value: unknown, env: Env, path: readonly PropertyKey[], issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') return substituteString(value, env, path, issues);
  if (Array.isArray(value)) return value.map((item, i) => walk(item, env, [...path, i], issues));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // Assigning it would replace the result's prototype instead of adding a field.
      if (key === '__proto__') issues.push({ path: [...path, key], message: 'this key is not allowed' });
      else out[key] = walk(item, env, [...path, key], issues);
    }
    return out;
  }
  return value;
}

/**
 * A copy of the parsed document with every `${NAME}` replaced, and one issue
 * per unset variable (per string), at the path where it is used.
 *
 * @example
 * substituteEnv({ upstream: 'http://${HOST}:8080' }, { HOST: 'orders' });
 * // { value: { upstream: 'http://orders:8080' }, issues: [] }
 */
export function substituteEnv(document: unknown, env: Env): { value: unknown; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const value = walk(document, env, [], issues);
  return { value, issues };
}
