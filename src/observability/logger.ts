import { pino, type Logger } from 'pino';
import { safeError } from './safe-error.js';

/** Injection token for the process logger. */
export const LOGGER = Symbol('Logger');

/** Header names that carry credentials: censored wherever they appear. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie'] as const;

/** Field names of secrets (config, token responses, assertions), in both spellings in use. */
const SECRET_FIELDS = [
  'clientSecret',
  'client_secret',
  'secret',
  'password',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'assertion',
  'clientAssertion',
  'client_assertion',
  'privateKey',
  'tokenCacheKeys',
] as const;

/**
 * pino's redact paths match at a fixed depth (`*.token` is one level down, not any level), so
 * each name is listed at the top level and up to this many levels below it.
 */
const REDACT_DEPTH = 3;

function atEveryDepth(key: string): string[] {
  const plain = /^[A-Za-z_$][\w$]*$/.test(key);
  return Array.from({ length: REDACT_DEPTH + 1 }, (_, depth) => {
    const prefix = Array.from({ length: depth }, () => '*').join('.');
    if (!plain) return `${prefix}["${key}"]`;
    return depth === 0 ? key : `${prefix}.${key}`;
  });
}

/** Every redacted path: whole `headers` objects, credential headers and secret fields, each at depths 0..REDACT_DEPTH. */
export const REDACT_PATHS: readonly string[] = ['headers', ...CREDENTIAL_HEADERS, ...SECRET_FIELDS].flatMap(atEveryDepth);

/**
 * The process logger: JSON lines on stdout at `level` (LOG_LEVEL). The gateway never logs
 * headers, tokens or secrets; redaction is the safety net for a field added by mistake, not
 * the plan, and errors are logged through safeError (type, code and stack frames, never a
 * library's message, which may quote a token). For reading by eye:
 * `node dist/main.js | npx pino-pretty` (pino-pretty is not a dependency).
 *
 * @example
 * const log = createLogger('info');
 * log.warn({ err }, 'something failed'); // err → { type, code, stack }: no message, no token
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'gateway' },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      serializers: { err: safeError, error: safeError },
    },
    destination,
  );
}

export type { Logger };
