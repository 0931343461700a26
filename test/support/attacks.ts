// Building blocks for the token attacks in auth.e2e-spec.ts and jwks.e2e-spec.ts:
// tokens TestIssuer deliberately cannot mint (alg none, HS256), and requests
// fetch() cannot send (repeated or differently-cased header lines).
import { createHmac, randomBytes } from 'node:crypto';
import { asFetchResponse, rawRequest as rawHttpRequest } from './raw-http.js';

/** base64url of a JSON value, or of a string taken verbatim. */
export function b64url(value: Record<string, unknown> | unknown[] | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');
}

/** `header.payload.` with an empty signature, e.g. for `alg: none` (RFC 7519 §6: an Unsecured JWT). */
export function unsecuredToken(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${b64url(header)}.${b64url(payload)}.`;
}

/** The key-confusion attack: HS256 with the issuer's public key PEM as the HMAC secret. */
export function hmacToken(secret: string, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Claims a gateway trusting `issuer` for `audience` accepts (valid for 5 minutes). */
export function validClaims(issuer: string, audience: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: issuer, aud: audience, sub: 'test-subject', client_id: 'test-client', iat: now, exp: now + 300, ...extra };
}

/** A kid no JWKS has. */
export function randomKid(): string {
  return `unknown-${randomBytes(12).toString('base64url')}`;
}

/**
 * A token of exactly `length` characters, from `mint(pad)` which must put `pad` in one claim.
 * base64url cannot produce every length from the payload alone, so the pad also varies by one byte
 * at a time near the target.
 */
export async function tokenOfLength(length: number, mint: (pad: string) => Promise<string>): Promise<string> {
  let padLength = 0;
  for (let attempt = 0; attempt < 20; attempt++) {
    const token = await mint('x'.repeat(padLength));
    const missing = length - token.length;
    if (missing === 0) return token;
    // 4 base64url characters per 3 bytes; near the target, step one byte at a time.
    padLength = Math.max(0, padLength + (Math.abs(missing) > 4 ? Math.trunc((missing * 3) / 4) : Math.sign(missing)));
  }
  throw new Error(`could not mint a token of exactly ${length} characters`);
}

export interface RawRequest {
  readonly method?: string;
  readonly path: string;
  /** Sent exactly as given, in this order (names keep their case, repeats stay repeated). */
  readonly headers: readonly (readonly [string, string])[];
}

/**
 * One HTTP/1.1 request written byte for byte on a fresh connection, answered as a fetch Response.
 * For what fetch() and node:http normalise away: two `Authorization` lines, `Authorization` plus
 * `authorization`.
 */
export async function rawRequest(baseUrl: string, request: RawRequest): Promise<Response> {
  const headers = request.headers.map(([name, value]) => [name, value] as [string, string]);
  return asFetchResponse(await rawHttpRequest(baseUrl, { method: request.method, target: request.path, headers }));
}

/** The gateway-log part of TestGateway that printLogOnFailure needs. */
export interface LogSource {
  logText(): string;
}

/**
 * STYLE §5: a failing e2e prints the gateway's log. Registers a beforeEach/afterEach pair that
 * writes to stderr the log lines each gateway wrote during a test that failed.
 */
export function printLogOnFailure(gateways: () => readonly (LogSource | undefined)[]): void {
  let before: number[] = [];
  beforeEach(() => {
    before = gateways().map((gw) => gw?.logText().length ?? 0);
  });
  afterEach(() => {
    // An it.failing test is expected to fail: its log is noise until the bug is fixed.
    if (!currentTestFailed()) return;
    gateways().forEach((gw, index) => {
      const text = gw?.logText().slice(before[index] ?? 0).trim();
      if (text) process.stderr.write(`\n--- gateway ${index} log during "${expect.getState().currentTestName}" ---\n${text}\n`);
    });
  });
}

// jest-circus keeps the running test's errors in its state, under a symbol it does not export.
function currentTestFailed(): boolean {
  const symbol = Object.getOwnPropertySymbols(globalThis).find((s) => s.description === 'JEST_STATE_SYMBOL');
  type State = { currentlyRunningTest?: { errors: unknown[]; failing?: boolean } };
  const test = symbol ? (globalThis as Record<symbol, State>)[symbol]?.currentlyRunningTest : undefined;
  return test !== undefined && !test.failing && test.errors.length > 0;
}

/**
 * Polls `condition` every 25 ms until it holds; fails naming `what` after `timeoutMs`.
 * For states a test cannot be told about (a background retry happened), never as a fixed sleep.
 */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
