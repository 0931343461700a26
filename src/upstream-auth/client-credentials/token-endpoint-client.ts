import { request } from 'undici';
import type { ClientConfig } from '../../config/gateway-config.js';
import { CLIENT_ASSERTION_TYPE, type AssertionSigner } from './client-assertion.js';
import { ServiceTokenError } from './service-token.js';
import { errorLabel } from '../../errors/error-label.js';

/** Whole-request deadline of one token request (connect, headers and body). */
export const TOKEN_REQUEST_TIMEOUT_MS = 5_000;
/** A token response larger than this is refused (a token response is a few KiB at most). */
export const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

/** What the token endpoint granted. Never logged. */
export interface TokenResponse {
  readonly accessToken: string;
  /** From `expires_in` when it is a positive number (or a string of digits); else absent. */
  readonly expiresInSeconds?: number;
}

export interface TokenRequestDeps {
  /** Epoch ms; the client assertion's `iat`. */
  now(): number;
  /** Required for `private_key_jwt` (see createAssertionSigner). */
  signAssertion?: AssertionSigner;
  /** Default TOKEN_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Default MAX_TOKEN_RESPONSE_BYTES. */
  maxResponseBytes?: number;
}

// RFC 6749 §5.2 error codes are a small closed set; anything else is not kept (bounded log/metric values).
const OAUTH_ERROR = /^[a-z_]{1,40}$/;
// An access token goes into an Authorization header: visible ASCII only (no CR/LF, no spaces).
const HEADER_SAFE_TOKEN = /^[\x21-\x7e]+$/;

/**
 * One client-credentials token request (RFC 6749 §4.4): POSTs
 * `grant_type=client_credentials` with `scope`, and `audience` plus `resource`
 * (RFC 8707) when an audience is configured, authenticated as the client's
 * `authMethod` says. No redirects are followed; the whole request has a
 * deadline and the response a size bound.
 *
 * Throws ServiceTokenError: `retryable` for network errors, time-outs, 408,
 * 429, 5xx and unusable 200 bodies; not retryable for other 4xx (with the
 * RFC 6749 `error` code as `oauthError`). Messages name the client and the
 * status, never the secret, the assertion, the response body or the token;
 * response headers (such as a 401's `WWW-Authenticate: Basic`) are not read.
 *
 * @example
 * const { accessToken, expiresInSeconds } = await requestServiceToken('orders', config.clients.orders, { now: Date.now });
 */
export async function requestServiceToken(
  name: string,
  client: ClientConfig,
  deps: TokenRequestDeps,
): Promise<TokenResponse> {
  const timeoutMs = deps.timeoutMs ?? TOKEN_REQUEST_TIMEOUT_MS;
  const maxBytes = deps.maxResponseBytes ?? MAX_TOKEN_RESPONSE_BYTES;
  const { headers, form } = await tokenRequest(name, client, deps);
  const signal = AbortSignal.timeout(timeoutMs);
  let response;
  try {
    // undici 7's request() follows no redirects: a token endpoint must not send our credentials elsewhere.
    response = await request(client.tokenUrl, {
      method: 'POST',
      headers,
      body: form.toString(),
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch (error) {
    throw failure(name, true, `token request failed (${networkProblem(error, signal, timeoutMs)})`);
  }
  const { statusCode } = response;
  const body = await readBounded(response.body, maxBytes, signal);
  if (statusCode === 200) {
    if (body.kind !== 'ok') {
      throw failure(name, true, `token endpoint answered 200 but the response ${bodyProblem(body, maxBytes, timeoutMs)}`);
    }
    return parseTokenResponse(name, body.text);
  }
  if (statusCode === 408 || statusCode === 429 || statusCode >= 500) {
    throw failure(name, true, `token endpoint answered HTTP ${statusCode}`);
  }
  if (statusCode >= 400) {
    const oauthError = body.kind === 'ok' ? oauthErrorCode(body.text) : undefined;
    const suffix = oauthError === undefined ? '' : ` ${oauthError}`;
    throw failure(name, false, `token endpoint refused the request: HTTP ${statusCode}${suffix}`, oauthError);
  }
  const note = statusCode >= 300 && statusCode < 400 ? ' (redirects are not followed)' : '';
  throw failure(name, false, `token endpoint answered HTTP ${statusCode}${note}`);
}

/** RFC 6749 §2.3.1: client id and secret are each form-urlencoded (Appendix B) before Basic's base64. */
export function basicCredentials(clientId: string, clientSecret: string): string {
  const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`, 'utf8').toString('base64')}`;
}

async function tokenRequest(name: string, client: ClientConfig, deps: TokenRequestDeps) {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (client.scope !== undefined) form.set('scope', client.scope);
  if (client.audience !== undefined) {
    form.set('audience', client.audience);
    // RFC 8707 §2: a resource is an absolute URI without a fragment; a bare audience
    // ("orders", as Keycloak clients are named) is sent as `audience` only, or a
    // strict server answers invalid_target.
    if (isResourceIndicator(client.audience)) form.set('resource', client.audience);
  }
  const method = client.authMethod;
  if (method === 'private_key_jwt') {
    form.set('client_id', client.clientId);
    form.set('client_assertion_type', CLIENT_ASSERTION_TYPE);
    form.set('client_assertion', await clientAssertion(name, client, deps));
  } else {
    const secret = client.clientSecret;
    if (secret === undefined) throw failure(name, false, `clientSecret is required with authMethod ${method}`);
    if (method === 'client_secret_basic') {
      headers.authorization = basicCredentials(client.clientId, secret);
    } else {
      form.set('client_id', client.clientId);
      form.set('client_secret', secret);
    }
  }
  return { headers, form };
}

async function clientAssertion(name: string, client: ClientConfig, deps: TokenRequestDeps): Promise<string> {
  if (deps.signAssertion === undefined) {
    throw failure(name, false, 'authMethod private_key_jwt but no private key is loaded');
  }
  try {
    return await deps.signAssertion({ clientId: client.clientId, tokenUrl: client.tokenUrl, now: deps.now() });
  } catch {
    // jose's message could describe the key; ours is fixed.
    throw failure(name, false, 'signing the client assertion failed');
  }
}

function isResourceIndicator(value: string): boolean {
  if (value.includes('#')) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

function parseTokenResponse(name: string, text: string): TokenResponse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw failure(name, true, 'token endpoint answered 200 with a body that is not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw failure(name, true, 'token endpoint answered 200 with JSON that is not an object');
  }
  const fields = json as Record<string, unknown>;
  const accessToken = fields.access_token;
  if (typeof accessToken !== 'string' || !HEADER_SAFE_TOKEN.test(accessToken)) {
    throw failure(name, true, 'token endpoint answered 200 without a usable access_token');
  }
  const tokenType = fields.token_type;
  // RFC 6749 §5.1 requires token_type; some endpoints omit it, and Bearer is then the only reading.
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) {
    throw failure(name, false, 'token endpoint issued a token whose token_type is not Bearer');
  }
  const expiresInSeconds = positiveSeconds(fields.expires_in);
  return expiresInSeconds === undefined ? { accessToken } : { accessToken, expiresInSeconds };
}

function positiveSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  if (typeof value === 'string' && /^\d{1,12}$/.test(value)) {
    const seconds = Number(value);
    return seconds > 0 ? seconds : undefined;
  }
  return undefined;
}

function oauthErrorCode(text: string): string | undefined {
  try {
    const error = (JSON.parse(text) as { error?: unknown } | null)?.error;
    return typeof error === 'string' && OAUTH_ERROR.test(error) ? error : undefined;
  } catch {
    return undefined;
  }
}

type BodyResult = { kind: 'ok'; text: string } | { kind: 'too_large' } | { kind: 'timeout' } | { kind: 'failed' };

async function readBounded(body: AsyncIterable<unknown>, maxBytes: number, signal: AbortSignal): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      // Leaving the loop early makes the async iterator destroy the body, with its error handled.
      if (size > maxBytes) return { kind: 'too_large' };
      chunks.push(chunk as Buffer);
    }
  } catch {
    return signal.aborted ? { kind: 'timeout' } : { kind: 'failed' };
  }
  return { kind: 'ok', text: Buffer.concat(chunks).toString('utf8') };
}

function bodyProblem(body: Exclude<BodyResult, { kind: 'ok' }>, maxBytes: number, timeoutMs: number): string {
  if (body.kind === 'too_large') return `is larger than ${maxBytes} bytes`;
  if (body.kind === 'timeout') return `did not complete within ${timeoutMs} ms`;
  return 'could not be read';
}

function networkProblem(error: unknown, signal: AbortSignal, timeoutMs: number): string {
  return signal.aborted ? `timed out after ${timeoutMs} ms` : errorLabel(error);
}

function failure(name: string, retryable: boolean, problem: string, oauthError?: string): ServiceTokenError {
  return new ServiceTokenError(`client ${name}: ${problem}`, name, retryable, oauthError);
}
