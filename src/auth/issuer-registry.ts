import type { IssuerConfig } from '../config/gateway-config.js';
import type { IssuerKeySet } from './jwks/issuer-key-set.js';

export interface TrustedIssuer {
  readonly config: IssuerConfig;
  readonly keys: IssuerKeySet;
}

/** issuerFor(iss): exact string match, no network, no normalisation (a trailing slash is a different issuer). */
export class IssuerRegistry {
  private readonly byIssuer: ReadonlyMap<string, TrustedIssuer>;

  constructor(keySets: readonly IssuerKeySet[]) {
    this.byIssuer = new Map(keySets.map((keys) => [keys.issuer.issuer, { config: keys.issuer, keys }]));
  }

  get(iss: string): TrustedIssuer | undefined {
    return this.byIssuer.get(iss);
  }

  generation(iss: string): number {
    return this.byIssuer.get(iss)?.keys.generation ?? -1;
  }

  all(): IterableIterator<TrustedIssuer> {
    return this.byIssuer.values();
  }

  get ready(): boolean {
    for (const { keys } of this.byIssuer.values()) if (!keys.ready) return false;
    return true;
  }

  start(): void {
    for (const { keys } of this.byIssuer.values()) keys.start();
  }

  stop(): void {
    for (const { keys } of this.byIssuer.values()) keys.stop();
  }
}
