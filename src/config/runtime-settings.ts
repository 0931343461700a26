// Process settings from environment variables (CONTRACT "Environment"). Issues
// name the variable; none repeats a value, since the Redis variables may carry
// a password and TOKEN_CACHE_KEY is key material.
import { host, type Parsed, port } from './env-values.js';
import type { ConfigIssue } from './format-issues.js';
import type { RuntimeSettings } from './gateway-config.js';
import { readRedisSettings } from './redis-settings.js';
import type { Env } from './substitute-env.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

const KID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;
const TOKEN_CACHE_KEY_BYTES = 32; // AES-256

function logLevel(value: string): Parsed<LogLevel> {
  const level = LOG_LEVELS.find((l) => l === value.toLowerCase());
  return level !== undefined ? { value: level } : { problem: `must be one of: ${LOG_LEVELS.join(', ')}` };
}

type TokenCacheKey = { readonly kid: string; readonly key: Buffer };

function tokenCacheKey(entry: string, earlier: readonly TokenCacheKey[]): TokenCacheKey | { problem: string } {
  const colon = entry.indexOf(':');
  if (colon <= 0) return { problem: 'must be kid:base64key' };
  const kid = entry.slice(0, colon);
  const text = entry.slice(colon + 1);
  if (!KID.test(kid)) return { problem: 'the kid must be 1 to 64 characters of A-Z a-z 0-9 . _ -' };
  const encoding = /[-_]/.test(text) ? 'base64url' : 'base64';
  const key = BASE64.test(text) ? Buffer.from(text, encoding) : undefined;
  if (key?.length !== TOKEN_CACHE_KEY_BYTES) {
    return { problem: `the key of kid "${kid}" must be 32 bytes, base64-encoded (e.g. openssl rand -base64 32)` };
  }
  if (earlier.some((k) => k.kid === kid)) return { problem: `kid "${kid}" is used twice` };
  return { kid, key };
}

/** `kid:base64key[,kid:base64key…]`; the first encrypts, every one decrypts. */
function tokenCacheKeys(value: string, issues: ConfigIssue[]): TokenCacheKey[] {
  const keys: TokenCacheKey[] = [];
  value.split(',').forEach((entry, i) => {
    const result = tokenCacheKey(entry.trim(), keys);
    if ('problem' in result) issues.push({ path: ['TOKEN_CACHE_KEY', i], message: result.problem });
    else keys.push(result);
  });
  return keys;
}

/**
 * @example
 * readRuntimeSettings({ PORT: '8080' }).settings; // { port: 8080, host: '0.0.0.0', logLevel: 'info' }
 */
export function readRuntimeSettings(env: Env): { settings: RuntimeSettings; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  function read<T>(name: string, parse: (value: string) => Parsed<T>, fallback: T): T;
  function read<T>(name: string, parse: (value: string) => Parsed<T>): T | undefined;
  function read<T>(name: string, parse: (value: string) => Parsed<T>, fallback?: T): T | undefined {
    const value = env[name];
    if (value === undefined) return fallback;
    const result = parse(value);
    if ('problem' in result) {
      issues.push({ path: [name], message: result.problem });
      return fallback;
    }
    return result.value;
  }
  const settings: RuntimeSettings = {
    port: read('PORT', port, 3000),
    host: read('HOST', host, '0.0.0.0'),
    logLevel: read('LOG_LEVEL', logLevel, 'info'),
    redis: readRedisSettings(env, issues),
    nodeEnv: env.NODE_ENV,
    tokenCacheKeys: env.TOKEN_CACHE_KEY === undefined ? undefined : tokenCacheKeys(env.TOKEN_CACHE_KEY, issues),
  };
  // Absent settings are left out rather than set to undefined.
  const defined = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as RuntimeSettings;
  return { settings: defined, issues };
}
