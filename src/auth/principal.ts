/** The verified caller. Built only from a token that passed every check. */
export interface Principal {
  readonly issuer: string;
  readonly subject?: string;
  /** `client_id`, else `azp`. */
  readonly clientId?: string;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  readonly claims: Readonly<Record<string, unknown>>;
  /** The verified token, for `passthrough` upstreams. Never logged. */
  readonly token: string;
}
