import { Writable } from 'node:stream';
import { readRuntimeSettings } from '../config/runtime-settings.js';
import { GatewayError } from '../errors/gateway-error.js';
import { createLogger, REDACT_PATHS } from './logger.js';
import { safeError } from './safe-error.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
const SECRET = 's3cr3t-value';

/** A logger writing into an array, at `level`. */
function captured(level = 'info'): { lines: Record<string, unknown>[]; text: () => string; log: ReturnType<typeof createLogger> } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const log = createLogger(level, sink);
  return {
    log,
    text: () => chunks.join(''),
    get lines() {
      return chunks.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}

describe('createLogger: redaction', () => {
  it.each([
    { name: 'authorization at the top', fields: { authorization: `Bearer ${TOKEN}` } },
    { name: 'req.headers.authorization', fields: { req: { headers: { authorization: `Bearer ${TOKEN}` } } } },
    { name: 'a whole headers object', fields: { headers: { 'x-anything': TOKEN } } },
    { name: 'upstream.response.headers (two levels down)', fields: { upstream: { response: { headers: { 'set-cookie': TOKEN } } } } },
    { name: 'cookie', fields: { cookie: `session=${TOKEN}` } },
    { name: 'set-cookie one level down', fields: { response: { 'set-cookie': [`session=${TOKEN}`] } } },
    { name: 'proxy-authorization two levels down', fields: { a: { b: { 'proxy-authorization': `Basic ${TOKEN}` } } } },
    { name: 'config dump: clients.orders.clientSecret', fields: { config: { clients: { orders: { clientSecret: TOKEN } } } } },
    { name: 'form: client_secret', fields: { form: { client_secret: TOKEN } } },
    { name: 'token response: access_token, refresh_token', fields: { body: { access_token: TOKEN, refresh_token: TOKEN } } },
    { name: 'client_assertion', fields: { form: { client_assertion: TOKEN } } },
    { name: 'assertion', fields: { assertion: TOKEN } },
    { name: 'password', fields: { redis: { password: TOKEN } } },
    { name: 'token', fields: { principal: { token: TOKEN } } },
    { name: 'accessToken', fields: { serviceToken: { accessToken: TOKEN } } },
  ])('$name is censored', ({ fields }) => {
    const out = captured();
    out.log.info(fields, 'probe');
    expect(out.text()).not.toContain(TOKEN);
    expect(out.text()).toContain('[redacted]');
    expect(out.lines[0]!.msg).toBe('probe');
  });

  it('positive control: fields with other names are written as they are', () => {
    const out = captured();
    out.log.info({ route: 'orders', client: 'partner-42', nested: { status: 200 } }, 'probe');
    expect(out.lines[0]).toMatchObject({ route: 'orders', client: 'partner-42', nested: { status: 200 }, service: 'gateway' });
  });

  it('lists each credential header and secret field at depths 0 to 3', () => {
    expect(REDACT_PATHS).toEqual(
      expect.arrayContaining(['authorization', '*.authorization', '*.*.authorization', '*.*.*.authorization', '["set-cookie"]', '*.*.*["set-cookie"]']),
    );
  });
});

describe('createLogger: errors', () => {
  function leakyError(): Error {
    // What JSON.parse says about a decoded token payload, wrapped as the verifier wraps it.
    let parseError: unknown;
    try {
      JSON.parse(`{"sub":"alice","secret":"${SECRET}"`);
    } catch (error) {
      parseError = error;
    }
    const wrapped = new Error(`token ${TOKEN} failed`, { cause: parseError });
    return new GatewayError('invalid_token', 'The access token is malformed', { reason: 'malformed' }, { cause: wrapped });
  }

  it.each(['err', 'error'])('{ %s } keeps type, code and stack frames, never a library message or a cause message', (key) => {
    const out = captured();
    out.log.error({ [key]: leakyError() }, 'failed');
    const text = out.text();
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('alice');
    const logged = out.lines[0]![key] as Record<string, unknown>;
    expect(logged).toMatchObject({
      type: 'GatewayError',
      message: 'invalid_token: The access token is malformed',
      cause: { type: 'Error', cause: { type: 'SyntaxError' } },
    });
    expect(logged.stack).toMatch(/^ {4}at /);
  });

  it('keeps a code (ECONNREFUSED…) and passes a string (errorLabel output) through', () => {
    const refused = Object.assign(new Error(`connect ECONNREFUSED http://user:${SECRET}@idp`), { code: 'ECONNREFUSED' });
    expect(safeError(refused)).toMatchObject({ type: 'Error', code: 'ECONNREFUSED' });
    expect(JSON.stringify(safeError(refused))).not.toContain(SECRET);
    expect(safeError('UND_ERR_SOCKET')).toBe('UND_ERR_SOCKET');
    expect(safeError({ token: TOKEN })).toBe('non-error object');
  });

  it('stops following causes after three levels (a cycle cannot loop)', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const serialized = JSON.stringify(safeError(a));
    expect(serialized.match(/"type"/g)).toHaveLength(4);
  });
});

describe('LOG_LEVEL → readRuntimeSettings → createLogger', () => {
  it.each([
    { env: {}, level: 'info', written: ['info', 'warn'] },
    { env: { LOG_LEVEL: 'warn' }, level: 'warn', written: ['warn'] },
    { env: { LOG_LEVEL: 'DEBUG' }, level: 'debug', written: ['debug', 'info', 'warn'] },
    { env: { LOG_LEVEL: 'silent' }, level: 'silent', written: [] },
  ])('LOG_LEVEL=$env.LOG_LEVEL → $level', ({ env, level, written }) => {
    const { settings, issues } = readRuntimeSettings(env);
    expect(issues).toEqual([]);
    expect(settings.logLevel).toBe(level);
    const out = captured(settings.logLevel);
    out.log.debug('debug');
    out.log.info('info');
    out.log.warn('warn');
    expect(out.lines.map((line) => line.msg)).toEqual(written);
  });

  it('LOG_LEVEL=loud is a settings issue naming the variable', () => {
    const { issues } = readRuntimeSettings({ LOG_LEVEL: 'loud' });
    expect(issues).toEqual([{ path: ['LOG_LEVEL'], message: 'must be one of: fatal, error, warn, info, debug, trace, silent' }]);
  });
});
