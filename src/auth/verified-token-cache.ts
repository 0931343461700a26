import type { Principal } from './principal.js';

/** Where the current key-set generation of an issuer is read (IssuerRegistry). */
export interface KeySetGenerations {
  generation(issuer: string): number;
}

interface Entry {
  readonly principal: Principal;
  readonly keyGeneration: number;
}

/**
 * Verified tokens by their exact text, so a caller that reuses its token is
 * not re-verified per request. Bounded (oldest entry evicted first), and an
 * entry is used only while the token is unexpired and the issuer's key set is
 * the one it was verified with (a refresh that drops a key drops its tokens).
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

  get(token: string, keySets: KeySetGenerations, nowSeconds: number, toleranceSeconds: number): Principal | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.principal.expiresAt <= nowSeconds - toleranceSeconds || entry.keyGeneration !== keySets.generation(entry.principal.issuer)) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.principal;
  }

  set(token: string, principal: Principal, keyGeneration: number): void {
    if (this.maxEntries <= 0) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(token, { principal, keyGeneration });
  }

  get size(): number {
    return this.entries.size;
  }
}
