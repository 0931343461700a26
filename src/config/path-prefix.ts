// Route prefixes (and stripPrefix) as the router compares them: plain,
// already-decoded-looking paths. Anything that could mean two things after
// percent-decoding or dot-segment removal is refused, so the route table can
// compare prefixes as strings (case-insensitively) and be right.

/** Served by the gateway itself, never proxied (CONTRACT "Operating endpoints"; dev mode's issuer). */
export const RESERVED_PREFIXES = ['/healthz', '/readyz', '/metrics', '/.dev-issuer'] as const;

const FORBIDDEN: readonly [RegExp, string][] = [
  [/[\s\u0000-\u001f\u007f]/, 'must not contain whitespace or control characters'],
  [/[^\u0000-\u007f]/, 'must contain only ASCII characters'],
  [/\?/, 'must not contain "?"'],
  [/#/, 'must not contain "#"'],
  [/%/, 'must not contain "%" (write the path decoded)'],
  [/\\/, 'must not contain "\\"'],
  [/;/, 'must not contain ";"'],
];

/**
 * Checks a path and drops its trailing `/` (the root `/` stays).
 *
 * @example
 * normalisePath('/api/orders/'); // { path: '/api/orders' }
 * normalisePath('/api//orders'); // { problem: 'must not contain an empty segment ("//")' }
 */
export function normalisePath(value: string): { path: string } | { problem: string } {
  if (!value.startsWith('/')) return { problem: 'must start with "/"' };
  for (const [pattern, problem] of FORBIDDEN) {
    if (pattern.test(value)) return { problem };
  }
  if (value.includes('//')) return { problem: 'must not contain an empty segment ("//")' };
  const path = value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value;
  const segments = path === '/' ? [] : path.slice(1).split('/');
  if (segments.some((s) => s === '.' || s === '..')) return { problem: 'must not contain "." or ".." segments' };
  // The request-path rules refuse such segments (IIS strips the dot, Spring's suffix match skips
  // `.x`), so no request could ever match this prefix.
  if (segments.some((s) => s.endsWith('.'))) return { problem: 'must not have a segment ending in "." (no request could match it)' };
  return { path };
}

/** `prefix` is `path` or a whole-segment start of it, ignoring case. */
export function isSegmentPrefix(prefix: string, path: string): boolean {
  const p = prefix.toLowerCase();
  const full = path.toLowerCase();
  return p === '/' || full === p || full.startsWith(`${p}/`);
}

/** The reserved prefix `path` is, or is under (ignoring case), if any. */
export function reservedPrefixOf(path: string): string | undefined {
  return RESERVED_PREFIXES.find((reserved) => isSegmentPrefix(reserved, path));
}
