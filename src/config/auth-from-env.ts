// AUTH_ISSUER / AUTH_AUDIENCE / AUTH_JWKS_URI: one trusted issuer without an
// `auth` section (CONTRACT "Environment"). The variables become that section
// and go through the same schema; its issues are reported under the variable
// names (`AUTH_AUDIENCE[1]: must be a non-empty string`).
import type { ConfigIssue } from './format-issues.js';
import type { Env } from './substitute-env.js';

export const AUTH_VARIABLES = ['AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_JWKS_URI'] as const;
type AuthVariable = (typeof AUTH_VARIABLES)[number];

const FIELD_OF: Readonly<Record<string, AuthVariable>> = {
  issuer: 'AUTH_ISSUER',
  audience: 'AUTH_AUDIENCE',
  jwksUri: 'AUTH_JWKS_URI',
};

export function authVariablesSet(env: Env): AuthVariable[] {
  return AUTH_VARIABLES.filter((name) => env[name] !== undefined);
}

export interface AuthFromEnv {
  readonly document: Record<string, unknown>;
  readonly issues: readonly ConfigIssue[];
  /** Moves an issue about the env-built issuer onto the variable it came from. */
  readonly remap: (issue: ConfigIssue) => ConfigIssue;
}

/**
 * The document with an `auth` section built from AUTH_*, when they are set and
 * the file has none; an issue when both are there.
 *
 * @example
 * applyAuthEnv({ routes }, { AUTH_ISSUER: 'https://idp/', AUTH_AUDIENCE: 'a,b' }).document.auth;
 * // { issuers: [{ issuer: 'https://idp/', audience: ['a', 'b'] }] }
 */
export function applyAuthEnv(document: Record<string, unknown>, env: Env): AuthFromEnv {
  const set = authVariablesSet(env);
  const unchanged = { document, issues: [], remap: (issue: ConfigIssue) => issue };
  if (set.length === 0) return unchanged;
  if (Object.hasOwn(document, 'auth')) {
    return { ...unchanged, issues: [{ path: ['auth'], message: `is set both in the config file and by ${set.join(', ')}; use one or the other` }] };
  }
  const issuer: Record<string, unknown> = {};
  if (env.AUTH_ISSUER !== undefined) issuer.issuer = env.AUTH_ISSUER;
  if (env.AUTH_AUDIENCE !== undefined) issuer.audience = env.AUTH_AUDIENCE.split(',').map((a) => a.trim());
  if (env.AUTH_JWKS_URI !== undefined) issuer.jwksUri = env.AUTH_JWKS_URI;
  const remap = (issue: ConfigIssue): ConfigIssue => {
    const [auth, issuers, index, field, ...rest] = issue.path;
    const variable = typeof field === 'string' ? FIELD_OF[field] : undefined;
    if (auth !== 'auth' || issuers !== 'issuers' || index !== 0 || variable === undefined) return issue;
    const message = issue.message === 'is required' && rest.length === 0
      ? `is required when ${set.join(' and ')} ${set.length === 1 ? 'is' : 'are'} set`
      : issue.message;
    return { path: [variable, ...rest], message };
  };
  return { document: { ...document, auth: { issuers: [issuer] } }, issues: [], remap };
}
