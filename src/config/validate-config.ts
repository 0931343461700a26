// Parsed document (+ environment) → validated, frozen GatewayConfig, or every
// issue found. Used by loadConfig for files and directly by dev mode and
// tests, which build the document in code.
import { applyAuthEnv } from './auth-from-env.js';
import { ConfigError } from './config-error.js';
import { createConfigSchema } from './config.schema.js';
import { deepFreeze } from './deep-freeze.js';
import { configErrorMap, type ConfigIssue, formatIssues, fromZodIssues } from './format-issues.js';
import type { GatewayConfig } from './gateway-config.js';
import { redisConfigured } from './redis-settings.js';
import type { Env } from './substitute-env.js';

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Every issue of `document`; the frozen config when there is none. */
export function checkGatewayConfig(document: unknown, env: Env): { config?: GatewayConfig; issues: ConfigIssue[] } {
  if (!isMapping(document)) {
    return { issues: [{ path: [], message: 'the config must be a mapping at the top level (auth, routes, clients, throttle, trustProxy, shutdown)' }] };
  }
  const auth = applyAuthEnv(document, env);
  const schema = createConfigSchema({ redisConfigured: redisConfigured(env) });
  const result = schema.safeParse(auth.document, { error: configErrorMap });
  const issues = [...auth.issues, ...(result.success ? [] : fromZodIssues(result.error.issues).map(auth.remap))];
  if (issues.length > 0 || !result.success) return { issues };
  return { config: deepFreeze(result.data), issues: [] };
}

/**
 * Schema, cross-field checks and AUTH_* from `env`, then deep-freeze.
 * No `${NAME}` substitution: that belongs to the file's text (loadConfig).
 *
 * @example
 * const config = validateConfig({ routes: [{ id: 'demo', pathPrefix: '/demo', upstream: 'http://127.0.0.1:4000', public: true }] });
 * config.routes[0].timeoutMs; // 10000
 * @throws ConfigError listing every issue
 */
export function validateConfig(raw: unknown, env: Env = {}): GatewayConfig {
  const { config, issues } = checkGatewayConfig(raw, env);
  if (config === undefined) throw new ConfigError(formatIssues(issues));
  return config;
}
