// Request-target checks that run before routing (CONTRACT "How a token is read" → Paths).
// The gateway routes on one reading of the path and the upstream acts on another; every
// refusal below closes a gap between the two through which a request could reach a route
// whose scopes were never checked (Nest's and Spring's path-traversal CVEs are the model).

/** A request path split for routing and forwarding, or the reason it was refused. */
export type NormalizedPath =
  | { ok: true; rawSegments: string[]; matchSegments: string[]; query: string }
  | { ok: false; reason: string };

type Refusal = { readonly ok: false; readonly reason: string };

// Fixed sentences, allocated once: a refusal never echoes the path it refused.
const refusal = (reason: string): Refusal => Object.freeze({ ok: false as const, reason });
const NOT_ABSOLUTE = refusal('request target is not an absolute path');
const BACKSLASH = refusal('backslash in path');
const CONTROL_CHAR = refusal('control character in path');
const FRAGMENT = refusal('fragment in request target');
const BAD_ENCODING = refusal('invalid percent-encoding in path');
const ENCODED_SLASH = refusal('encoded slash in path');
const ENCODED_BACKSLASH = refusal('encoded backslash in path');
const DOT_SEGMENT = refusal('dot segment in path');
const EMPTY_SEGMENT = refusal('empty segment in path');
const TRAILING_DOT_OR_SPACE = refusal('path segment ending in a dot or a space');
const ENCODED_QUERY_OR_FRAGMENT = refusal('encoded "?" or "#" in path');
const RAW_NON_ASCII = refusal('non-ASCII byte in path (percent-encode it)');
const DOUBLE_ENCODED = refusal('double-encoded dot segment or separator in path');

const SLASH = 0x2f;
const BACKSLASH_CODE = 0x5c;
const HASH = 0x23;
const PERCENT = 0x25;
const SEMICOLON = 0x3b;
const DEL = 0x7f;

// What the scan of the raw path found; 0 means no decoding or case work is needed.
const HAS_PERCENT = 1;
const HAS_SEMICOLON = 2;
const HAS_UPPER = 4;

/**
 * Splits and checks a request target (`/api/orders/1?x=1`).
 *
 * - `rawSegments`: the path's segments as sent (percent-encoding kept, a trailing `''` for a
 *   trailing `/`); forwarded to the upstream.
 * - `matchSegments`: each segment percent-decoded once, cut at its first `;` (Tomcat and Spring
 *   ignore matrix parameters when routing) and case-folded (so `/API/Admin` cannot dodge the
 *   `/api/admin` route on a case-insensitive upstream); no trailing `''`. Used only for routing.
 * - `query`: from the first `?` inclusive, or `''`.
 *
 * Refused: no leading `/`; a raw backslash, `#`, control character or non-ASCII byte; bad
 * percent-encoding or UTF-8; an encoded `/`, `\`, `?`, `#` or control character; a `.`/`..`
 * segment, also encoded, double-encoded, full-width or with parameters (`..;x`); an empty segment
 * anywhere but last (`//`, which some upstreams collapse). Non-ASCII segments route by their ASCII reading
 * (`%EF%BD%81dmin`, a full-width `ａdmin`, routes as `admin`).
 *
 * @example
 * normalizePath('/API/orders;jsessionid=1/7?x=1');
 * // { ok: true, rawSegments: ['API', 'orders;jsessionid=1', '7'],
 * //   matchSegments: ['api', 'orders', '7'], query: '?x=1' }
 * normalizePath('/api/%2e%2e/admin'); // { ok: false, reason: 'dot segment in path' }
 */
export function normalizePath(rawUrl: string): NormalizedPath {
  if (rawUrl.charCodeAt(0) !== SLASH) return NOT_ABSOLUTE;
  const queryStart = rawUrl.indexOf('?');
  const pathEnd = queryStart === -1 ? rawUrl.length : queryStart;

  let found = 0;
  for (let i = 1; i < pathEnd; i++) {
    const c = rawUrl.charCodeAt(i);
    if (c < 0x20 || c === DEL) return CONTROL_CHAR;
    if (c === BACKSLASH_CODE) return BACKSLASH;
    // RFC 9112 §3.2: origin-form has no fragment; an upstream may cut the path at `#`.
    if (c === HASH) return FRAGMENT;
    // RFC 3986 §2.1: other octets are percent-encoded; a raw one could be read as UTF-8 by the
    // upstream and as something else here.
    if (c > DEL) return RAW_NON_ASCII;
    if (c === PERCENT) found |= HAS_PERCENT;
    else if (c === SEMICOLON) found |= HAS_SEMICOLON;
    else if (c >= 0x41 && c <= 0x5a) found |= HAS_UPPER;
  }

  const query = queryStart === -1 ? '' : rawUrl.slice(queryStart);
  if (pathEnd === 1) return { ok: true, rawSegments: [], matchSegments: [], query };

  const rawSegments = rawUrl.slice(1, pathEnd).split('/');
  const last = rawSegments.length - 1;
  const matchCount = rawSegments[last] === '' ? last : last + 1;
  const matchSegments: string[] = [];
  for (let i = 0; i < matchCount; i++) {
    const raw = rawSegments[i]!;
    if (raw === '') return EMPTY_SEGMENT;
    if (found === 0) {
      if (raw === '.' || raw === '..') return DOT_SEGMENT;
      if (raw.charCodeAt(raw.length - 1) === 0x2e) return TRAILING_DOT_OR_SPACE;
      matchSegments.push(raw);
      continue;
    }
    const matched = matchSegmentOf(raw, (found & HAS_PERCENT) !== 0);
    if (typeof matched !== 'string') return matched;
    matchSegments.push(matched);
  }
  return { ok: true, rawSegments, matchSegments, query };
}

/**
 * One raw segment → its routing form, or the refusal. `decodeAgain`: also refuse a segment that a
 * second decoding would turn into a refusal (`%252e%252e` is `..` to an upstream that decodes twice).
 */
function matchSegmentOf(raw: string, pathHasPercent: boolean, decodeAgain = true): string | Refusal {
  let segment = raw;
  if (pathHasPercent && raw.includes('%')) {
    try {
      segment = decodeURIComponent(raw);
    } catch (error) {
      if (error instanceof URIError) return BAD_ENCODING;
      throw error;
    }
    const refused = refusedDecodedCharacter(segment);
    if (refused !== undefined) return refused;
    if (decodeAgain && segment.includes('%')) {
      // A literal `%` that does not decode (`100%`) is data, not a second encoding.
      const twice = matchSegmentOf(segment, true, false);
      if (typeof twice !== 'string' && twice !== BAD_ENCODING) return DOUBLE_ENCODED;
    }
    if (NON_ASCII.test(segment)) {
      segment = asciiReading(segment);
      const refusedReading = refusedDecodedCharacter(segment);
      if (refusedReading !== undefined) return refusedReading;
    }
  }
  const semicolon = segment.indexOf(';');
  if (semicolon !== -1) segment = segment.slice(0, semicolon);
  // `/a/;x/b` becomes `/a//b` once the parameters are gone: the same collapse risk as `//`.
  if (segment === '') return EMPTY_SEGMENT;
  if (segment === '.' || segment === '..') return DOT_SEGMENT;
  // Windows/IIS strip a trailing dot or space (`admin.` is `admin` there), and Spring's suffix
  // match ignores `.x`: such a segment could reach a route whose scopes were not checked.
  const last = segment.charCodeAt(segment.length - 1);
  if (last === 0x2e || last === 0x20) return TRAILING_DOT_OR_SPACE;
  return foldCase(segment);
}

/** A character that percent-decoding (or its ASCII reading) must not produce in a segment. */
function refusedDecodedCharacter(segment: string): Refusal | undefined {
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c === SLASH) return ENCODED_SLASH;
    if (c === BACKSLASH_CODE) return ENCODED_BACKSLASH;
    if (c < 0x20 || c === DEL) return CONTROL_CHAR;
    // An upstream that decodes and then parses the target again would end the path here.
    if (c === QUESTION || c === HASH) return ENCODED_QUERY_OR_FRAGMENT;
  }
  return undefined;
}

const QUESTION = 0x3f;
const NON_ASCII = /[^\u0000-\u007f]/;
const COMBINING_MARKS = /\p{M}/gu;

/**
 * How the most forgiving upstream reads a non-ASCII segment: compatibility forms as their plain
 * letters (NFKC: full-width `ａdmin`, `．．`, ligatures), letters with diacritics as their base
 * letters (IIS "best fit" maps `ā` to `a`). Routing on this reading means a route's scopes cover
 * every spelling that could reach its prefix, and a full-width `．．` is a dot segment.
 */
function asciiReading(segment: string): string {
  return segment.normalize('NFKD').replace(COMBINING_MARKS, '').normalize('NFKC');
}

// Characters outside ASCII whose simple case mapping is an ASCII letter: Java's
// equalsIgnoreCase and .NET's OrdinalIgnoreCase treat `admın` (dotless i) as `ADMIN`, while
// String.prototype.toLowerCase leaves `ı` and `ſ` as they are and turns `İ` into two characters.
const ASCII_CASE_TWINS = /[\u0130\u0131\u017f\u212a]/g;
const ASCII_TWIN_OF: Readonly<Record<string, string>> = {
  '\u0130': 'i', // İ
  '\u0131': 'i', // ı
  '\u017f': 's', // ſ
  '\u212a': 'k', // Kelvin sign
};
const toAsciiTwin = (c: string): string => ASCII_TWIN_OF[c]!;

function foldCase(segment: string): string {
  for (let i = 0; i < segment.length; i++) {
    if (segment.charCodeAt(i) > DEL) {
      return segment.replace(ASCII_CASE_TWINS, toAsciiTwin).toLowerCase();
    }
  }
  return segment.toLowerCase();
}
