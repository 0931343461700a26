import { randomUUID } from 'node:crypto';

// CONTRACT "What a caller sees": a sane id is 1 to 128 characters of A-Z a-z 0-9 - _ . :
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request id for this request: the caller's `X-Request-Id` when it is one sane value,
 * otherwise a new UUID (so a caller cannot inject log lines or header text through it).
 *
 * @example
 * requestIdFrom('abc-123'); // 'abc-123'
 * requestIdFrom('a b');     // a new UUID, e.g. '1b4e28ba-2fa1-4d2b-883f-0016d3cca427'
 */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && SANE_REQUEST_ID.test(header) ? header : randomUUID();
}
