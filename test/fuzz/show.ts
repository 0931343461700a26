// Fuzz input goes into reports and case names; it may hold control characters, megabytes or
// lone surrogates, so it is always shown through this.

/** A string shown safely in one line: control and non-ASCII characters escaped, long ones shortened. */
export function show(text: string, max = 140): string {
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped.length > max ? `${escaped.slice(0, max - 20)}…(${text.length} chars)…${escaped.slice(-12)}` : escaped;
}
