import { describe, expect, it } from '@jest/globals';
import { formatIssues } from './format-issues.js';
import { readRuntimeSettings } from './runtime-settings.js';

const KEY_A = Buffer.alloc(32, 1).toString('base64'); // 44 characters, one "=" of padding
const KEY_B = Buffer.alloc(32, 2).toString('base64url'); // 43 characters
const issuesOf = (env: Record<string, string>) => formatIssues(readRuntimeSettings(env).issues);

describe('readRuntimeSettings', () => {
  it('defaults: port 3000 on 0.0.0.0, log level info, nothing else', () => {
    expect(readRuntimeSettings({})).toEqual({ settings: { port: 3000, host: '0.0.0.0', logLevel: 'info' }, issues: [] });
  });

  it('reads every variable', () => {
    const { settings, issues } = readRuntimeSettings({
      PORT: '8080', HOST: '127.0.0.1', LOG_LEVEL: 'DEBUG', REDIS_URL: 'rediss://:pw@redis.internal:6380/0',
      NODE_ENV: 'production', TOKEN_CACHE_KEY: `k2:${KEY_A}, k1:${KEY_B}`,
    });
    expect(issues).toEqual([]);
    expect(settings).toEqual({
      port: 8080, host: '127.0.0.1', logLevel: 'debug', redis: { kind: 'single', url: 'rediss://:pw@redis.internal:6380/0' }, nodeEnv: 'production',
      tokenCacheKeys: [{ kid: 'k2', key: Buffer.alloc(32, 1) }, { kid: 'k1', key: Buffer.alloc(32, 2) }],
    });
  });

  it.each([
    ['PORT', '0'], ['PORT', '65535'], ['HOST', '::'], ['HOST', 'gateway.internal'], ['HOST', 'localhost'],
    ['LOG_LEVEL', 'silent'], ['REDIS_URL', 'redis://localhost:6379'],
  ])('accepts %s=%s', (name, value) => {
    expect(issuesOf({ [name]: value })).toEqual([]);
  });

  it.each([
    ['PORT', '65536', 'PORT: must be an integer 0..65535'],
    ['PORT', '-1', 'PORT: must be an integer 0..65535'],
    ['PORT', '80.5', 'PORT: must be an integer 0..65535'],
    ['PORT', 'http', 'PORT: must be an integer 0..65535'],
    ['PORT', '', 'PORT: must be an integer 0..65535'],
    ['HOST', '', 'HOST: must be an IP address or a host name'],
    ['HOST', 'my host', 'HOST: must be an IP address or a host name'],
    ['HOST', 'http://gw', 'HOST: must be an IP address or a host name'],
    ['LOG_LEVEL', 'verbose', 'LOG_LEVEL: must be one of: fatal, error, warn, info, debug, trace, silent'],
    ['REDIS_URL', 'http://:hunter2@redis:6379', 'REDIS_URL: must be a redis:// or rediss:// URL'],
    ['REDIS_URL', 'hunter2', 'REDIS_URL: must be a redis:// or rediss:// URL'],
    ['TOKEN_CACHE_KEY', '', 'TOKEN_CACHE_KEY[0]: must be kid:base64key'],
    ['TOKEN_CACHE_KEY', KEY_A, 'TOKEN_CACHE_KEY[0]: must be kid:base64key'],
    ['TOKEN_CACHE_KEY', `:${KEY_A}`, 'TOKEN_CACHE_KEY[0]: must be kid:base64key'],
    ['TOKEN_CACHE_KEY', `bad kid:${KEY_A}`, 'TOKEN_CACHE_KEY[0]: the kid must be 1 to 64 characters of A-Z a-z 0-9 . _ -'],
    ['TOKEN_CACHE_KEY', 'k1:c2hvcnQ=', 'TOKEN_CACHE_KEY[0]: the key of kid "k1" must be 32 bytes, base64-encoded (e.g. openssl rand -base64 32)'],
    ['TOKEN_CACHE_KEY', `k1:${KEY_A}!`, 'TOKEN_CACHE_KEY[0]: the key of kid "k1" must be 32 bytes, base64-encoded (e.g. openssl rand -base64 32)'],
    ['TOKEN_CACHE_KEY', `k1:${KEY_A},k1:${KEY_B}`, 'TOKEN_CACHE_KEY[1]: kid "k1" is used twice'],
    ['TOKEN_CACHE_KEY', `k1:${KEY_A},`, 'TOKEN_CACHE_KEY[1]: must be kid:base64key'],
  ])('%s=%j → %s', (name, value, message) => {
    expect(issuesOf({ [name]: value })).toEqual([message]);
  });

  it('reports every bad variable at once, and never a secret or key value', () => {
    const env = { PORT: 'x', LOG_LEVEL: 'loud', REDIS_URL: 'http://:hunter2@redis', TOKEN_CACHE_KEY: `k1:${KEY_A.slice(0, 20)}` };
    const issues = issuesOf(env);
    expect(issues).toHaveLength(4);
    expect(issues.join('\n')).not.toContain('hunter2');
    expect(issues.join('\n')).not.toContain(KEY_A.slice(0, 20));
  });
});
