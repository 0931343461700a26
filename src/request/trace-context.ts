// W3C Trace Context (https://www.w3.org/TR/trace-context/ §3.2): the gateway only reads the
// trace id for its access log. It never starts a trace, never changes `traceparent` or
// `tracestate` (both reach the upstream as sent), and an invalid header is simply not logged.
// Written by hand: @opentelemetry/core's parser would bring the whole SDK for one regular expression.

/** version "-" trace-id "-" parent-id "-" trace-flags, lowercase hex; later versions may append "-…". */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZERO_TRACE_ID = '0'.repeat(32);
const ALL_ZERO_PARENT_ID = '0'.repeat(16);

/**
 * The trace id of a valid `traceparent`, else undefined.
 *
 * @example
 * traceIdFrom('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'); // '4bf92f3577b34da6a3ce929d0e0e4736'
 * traceIdFrom('00-00000000000000000000000000000000-00f067aa0ba902b7-01'); // undefined (§3.2.2.3: all zeros is invalid)
 */
export function traceIdFrom(header: string | string[] | undefined): string | undefined {
  // Repeated headers: Node joins unknown ones with ", ", which no valid value contains; an array is refused alike.
  if (typeof header !== 'string' || header.length > 512) return undefined;
  const match = TRACEPARENT.exec(header);
  if (match === null) return undefined;
  const [, version, traceId, parentId, , rest] = match;
  // §3.2.2.1: version ff is invalid; version 00 has exactly four fields. A later version may add fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ALL_ZERO_TRACE_ID || parentId === ALL_ZERO_PARENT_ID) return undefined;
  return traceId;
}
