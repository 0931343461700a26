// The report: every violation kept, grouped by kind and mutation, the first example of each shown.

export interface Violation {
  /** The broken invariant, e.g. `gateway-5xx`, `refused-but-forwarded`. */
  readonly kind: string;
  readonly mutation: string;
  readonly caseId: number;
  /** The input in a few words: method, target, header shape; never a whole token. */
  readonly input: string;
  readonly status: string;
  readonly upstreamHits: number | string;
  readonly detail?: string;
}

export class ViolationLog {
  /** By kind and mutation: the first example and how often it happened (bounded memory on long runs). */
  readonly #groups = new Map<string, { first: Violation; count: number }>();
  count = 0;

  add(violation: Violation): void {
    this.count++;
    const key = `${violation.kind}|${violation.mutation}`;
    const group = this.#groups.get(key);
    if (group) group.count++;
    else this.#groups.set(key, { first: violation, count: 1 });
  }

  /** One line per (kind, mutation), with how often it happened; at most `limit` groups, every kind first. */
  summary(limit = 30): string {
    const groups = [...this.#groups.values()];
    const kinds = new Set<string>();
    const firstOfKind = groups.filter(({ first }) => !kinds.has(first.kind) && kinds.add(first.kind));
    const ordered = [...firstOfKind, ...groups.filter((group) => !firstOfKind.includes(group))];
    const lines = ordered.slice(0, limit).map(({ first, count }, index) => {
      const detail = first.detail ? ` (${first.detail})` : '';
      return (
        `${String(index + 1).padStart(2)}. [${first.kind}] ${first.mutation} ×${count}: ` +
        `status ${first.status}, upstream hits ${first.upstreamHits}${detail}\n      case #${first.caseId}: ${first.input}`
      );
    });
    const hidden = this.#groups.size - lines.length;
    return `${lines.join('\n')}${hidden > 0 ? `\n… and ${hidden} more groups` : ''}`;
  }
}
