// Suggests the known field an unknown one was probably meant to be, so a typo
// like `scope:` points at `scopes`. Hand-written: ~20 lines do not justify a
// fuzzy-matching dependency.

/** Levenshtein distance (insert, delete, substitute; each costs 1). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * The closest of `known` to `unknown`: equal ignoring case, or at most 2 edits
 * away (compared ignoring case) and not a whole rewrite of the shorter word.
 * Ties go to the earlier entry of `known`.
 *
 * @example
 * suggestField('scope', ['scopes', 'public']); // 'scopes'
 * suggestField('colour', ['id']);              // undefined
 */
export function suggestField(unknown: string, known: readonly string[]): string | undefined {
  const wanted = unknown.toLowerCase();
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(wanted, key.toLowerCase());
    const closeEnough = distance <= 2 && distance < Math.min(wanted.length, key.length);
    if ((distance === 0 || closeEnough) && (best === undefined || distance < best.distance)) {
      best = { key, distance };
    }
  }
  return best?.key;
}
