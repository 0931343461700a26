import type { KeyObject } from 'node:crypto';
import { JwksClient } from 'jwks-rsa';
import type { Logger } from 'pino';
import type { IssuerConfig, JwsAlgorithm } from '../../config/gateway-config.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { GatewayMetrics } from '../../observability/metrics.js';
import { authFailure } from '../auth-failure.js';
import { discoverJwksUri, type JsonFetcher } from './discover-jwks-uri.js';
import { keyFitsAlgorithm, toVerificationKey, type VerificationKey } from './verification-key.js';

export interface KeySetOptions {
  /** Least time between two refetches caused by an unknown kid. */
  readonly refetchCooldownMs: number;
  /** Keys are refreshed this often even when every kid is known (revocations). */
  readonly refreshIntervalMs: number;
  /** Retry delay cap while the keys cannot be loaded. CONTRACT: at most 5 s apart. */
  readonly retryMaxDelayMs: number;
  /** A JWKS with more keys than this is refused (bounds memory per issuer). */
  readonly maxKeys: number;
  /** Seconds a caller is told to wait when the keys cannot be fetched. */
  readonly retryAfterSeconds: number;
  readonly now: () => number;
}

export const DEFAULT_KEY_SET_OPTIONS: Omit<KeySetOptions, 'refetchCooldownMs'> = {
  refreshIntervalMs: 10 * 60_000,
  retryMaxDelayMs: 5_000,
  maxKeys: 100,
  retryAfterSeconds: 5,
  now: Date.now,
};

type Trigger = 'startup' | 'refresh' | 'unknown_kid';

/** A key for one verification, with the key-set generation it came from. */
export interface ResolvedKey {
  readonly key: KeyObject;
  readonly kid?: string;
  readonly generation: number;
}

/**
 * One issuer's signing keys. jwks-rsa fetches and converts them (with our
 * bounded fetcher); this class owns the caching rules jwks-rsa leaves unsafe
 * by default: unknown-kid refetches at most once per cooldown, one fetch in
 * flight at a time, keys kept while the endpoint is down, and retries with
 * capped backoff until the first load succeeds.
 */
export class IssuerKeySet {
  private byKid = new Map<string, VerificationKey>();
  private withoutKid: VerificationKey[] = [];
  private loaded = false;
  private jwksUri: string | undefined;
  private client: JwksClient | undefined;
  private inFlight: Promise<boolean> | undefined;
  private lastUnknownKidFetchAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private retryDelayMs = 250;
  private stopped = false;
  private keyGeneration = 0;
  private lastFetchFailed = false;
  private fingerprint = '';

  constructor(
    readonly issuer: IssuerConfig,
    private readonly options: KeySetOptions,
    private readonly fetchJson: JsonFetcher,
    private readonly log: Logger,
    private readonly metrics: GatewayMetrics,
  ) {
    this.jwksUri = issuer.jwksUri;
    metrics.issuerKeysLoaded.set({ issuer: issuer.issuer }, 0);
  }

  get ready(): boolean {
    return this.loaded;
  }

  /** Changes whenever the key set is replaced; cached verifications are tied to it. */
  get generation(): number {
    return this.keyGeneration;
  }

  /** Starts the first load (retried with backoff) and the periodic refresh. */
  start(): void {
    void this.load('startup');
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /**
   * The key for a token's header. Throws 401 `unknown_kid` / `alg_not_allowed`,
   * or 503 `keys_unavailable` when the kid is unknown and the JWKS cannot be fetched.
   */
  async keyFor(kid: string | undefined, alg: JwsAlgorithm, mayRefetch?: () => Promise<boolean>): Promise<ResolvedKey> {
    let key = this.lookup(kid);
    if (key === undefined) {
      const fetched = await this.refetchForUnknownKid(mayRefetch);
      if (fetched === 'unavailable') {
        throw new GatewayError('keys_unavailable', 'The issuer keys cannot be fetched right now', {
          retryAfterSeconds: this.options.retryAfterSeconds,
          reason: 'jwks_unavailable',
        });
      }
      key = this.lookup(kid);
      if (key === undefined) throw authFailure('unknown_kid');
    }
    if (!keyFitsAlgorithm(key, alg)) throw authFailure('alg_not_allowed');
    // The generation is read with the key, so a verification is never cached under a newer key set.
    return { key: key.key, kid: key.kid, generation: this.keyGeneration };
  }

  private lookup(kid: string | undefined): VerificationKey | undefined {
    if (kid !== undefined) return this.byKid.get(kid);
    // jwks-rsa's rule: a token without kid is only usable when the set has exactly one key.
    const all = this.byKid.size + this.withoutKid.length;
    if (all !== 1) return undefined;
    return this.withoutKid[0] ?? this.byKid.values().next().value;
  }

  private async refetchForUnknownKid(mayRefetch?: () => Promise<boolean>): Promise<'fetched' | 'cooldown' | 'unavailable'> {
    if (this.inFlight) return (await this.inFlight) ? 'fetched' : 'unavailable';
    // Before the first load only the retry timer fetches: unknown kids must not
    // turn a JWKS outage into a fetch per request.
    if (!this.loaded) return 'unavailable';
    const now = this.options.now();
    // A flood of made-up kids must not become a flood of JWKS requests. While the
    // last fetch failed, the honest answer for an unknown kid is "unavailable"
    // (503): the key may well exist at an IdP we cannot reach.
    if (now - this.lastUnknownKidFetchAt < this.options.refetchCooldownMs) {
      return this.lastFetchFailed ? 'unavailable' : 'cooldown';
    }
    // A caller that has spent its failure budget gets no fetch on its behalf.
    if (mayRefetch && !(await mayRefetch())) return 'cooldown';
    this.lastUnknownKidFetchAt = now;
    return (await this.load('unknown_kid')) ? 'fetched' : 'unavailable';
  }

  /** Single-flight fetch; true when the key set was replaced. */
  private load(trigger: Trigger): Promise<boolean> {
    this.inFlight ??= this.fetchKeys(trigger).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetchKeys(trigger: Trigger): Promise<boolean> {
    const issuer = this.issuer.issuer;
    try {
      this.jwksUri ??= await discoverJwksUri(issuer, this.fetchJson);
      this.client ??= this.createClient(this.jwksUri);
      const signingKeys = await this.client.getSigningKeys();
      this.replaceKeys(signingKeys.map(toVerificationKey));
      this.metrics.jwksFetches.inc({ issuer, trigger, outcome: 'ok' });
      if (!this.loaded) this.log.info({ issuer, keys: signingKeys.length }, 'issuer keys loaded');
      this.loaded = true;
      this.metrics.issuerKeysLoaded.set({ issuer }, 1);
      this.retryDelayMs = 250;
      this.lastFetchFailed = false;
      this.schedule(this.options.refreshIntervalMs);
      return true;
    } catch (error) {
      this.metrics.jwksFetches.inc({ issuer, trigger, outcome: 'error' });
      this.lastFetchFailed = true;
      // Keys already loaded keep working (stale-if-error); retry sooner than the refresh.
      // The very first attempt may race the issuer's own start (dev mode serves it on our port): info, not warn.
      const firstAttempt = trigger === 'startup' && this.retryDelayMs === 250;
      this.log[firstAttempt ? 'info' : 'warn'](
        { issuer, trigger, keptKeys: this.byKid.size + this.withoutKid.length, error: (error as Error).message },
        'issuer keys could not be fetched',
      );
      if (trigger !== 'unknown_kid' || !this.loaded) {
        this.schedule(this.retryDelayMs);
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.options.retryMaxDelayMs);
      }
      return false;
    }
  }

  private createClient(jwksUri: string): JwksClient {
    return new JwksClient({
      jwksUri,
      // Our own single-flight, cooldown and stale-if-error replace jwks-rsa's
      // per-kid memoizer (unbounded refetch on unknown kids when rateLimit is off).
      cache: false,
      rateLimit: false,
      fetcher: async (uri: string) => {
        const document = (await this.fetchJson(uri)) as { keys?: unknown } | null;
        const keys = document?.keys;
        if (!Array.isArray(keys)) throw new Error('the JWKS has no "keys" array');
        if (keys.length > this.options.maxKeys) throw new Error(`the JWKS has more than ${this.options.maxKeys} keys`);
        return { keys };
      },
    });
  }

  private replaceKeys(keys: VerificationKey[]): void {
    // Same keys as before (the usual refresh): keep the generation, and so the verified-token cache.
    const fingerprint = keys.map((key) => `${key.kid ?? ''}:${key.alg ?? ''}:${key.key.export({ format: 'der', type: 'spki' }).toString('base64')}`).sort().join('|');
    if (fingerprint === this.fingerprint) return;
    this.fingerprint = fingerprint;
    const byKid = new Map<string, VerificationKey>();
    const withoutKid: VerificationKey[] = [];
    for (const key of keys) {
      if (key.kid === undefined) withoutKid.push(key);
      else if (!byKid.has(key.kid)) byKid.set(key.kid, key);
    }
    this.byKid = byKid;
    this.withoutKid = withoutKid;
    this.keyGeneration++;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.load(this.loaded ? 'refresh' : 'startup'), delayMs);
    this.timer.unref();
  }
}
