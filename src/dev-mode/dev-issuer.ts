import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

/** Scopes the dev issuer grants; the demo route needs demo:read. */
export const DEV_SCOPES = ['demo:read', 'demo:write'] as const;
export const DEV_CLIENT_ID = 'dev-client';
const TOKEN_LIFETIME_SECONDS = 3600;
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export type TokenOutcome =
  | { ok: true; body: { access_token: string; token_type: 'Bearer'; expires_in: number; scope: string } }
  | { ok: false; status: 400 | 401; body: { error: string; error_description: string } };

/**
 * The issuer dev mode embeds: one RS256 key made at start, one
 * client-credentials client whose secret is printed in the banner. For trying
 * the gateway out; prepareDevMode refuses to run it with NODE_ENV=production.
 */
export class DevIssuer {
  readonly clientSecret = randomBytes(18).toString('base64url');

  private constructor(
    readonly issuer: string,
    readonly audience: string,
    private readonly privateKey: PrivateKey,
    private readonly publicJwk: JWK,
  ) {}

  static async create(issuer: string, audience: string): Promise<DevIssuer> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
    return new DevIssuer(issuer, audience, privateKey, jwk);
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  discovery(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/jwks`,
      token_endpoint: `${this.issuer}/token`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      scopes_supported: [...DEV_SCOPES],
      id_token_signing_alg_values_supported: ['RS256'],
    };
  }

  /** RFC 6749 §4.4 with client_secret_basic or client_secret_post. */
  async token(form: URLSearchParams, authorization: string | undefined): Promise<TokenOutcome> {
    const client = clientCredentials(form, authorization);
    if (!client || client.id !== DEV_CLIENT_ID || !sameSecret(client.secret, this.clientSecret)) {
      return { ok: false, status: 401, body: { error: 'invalid_client', error_description: 'unknown client or wrong secret' } };
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return { ok: false, status: 400, body: { error: 'unsupported_grant_type', error_description: 'only client_credentials' } };
    }
    const requested = (form.get('scope') ?? 'demo:read').split(' ').filter(Boolean);
    if (requested.some((scope) => !(DEV_SCOPES as readonly string[]).includes(scope))) {
      return { ok: false, status: 400, body: { error: 'invalid_scope', error_description: `known scopes: ${DEV_SCOPES.join(' ')}` } };
    }
    const scope = requested.join(' ');
    const accessToken = await new SignJWT({ scope, client_id: DEV_CLIENT_ID })
      .setProtectedHeader({ alg: 'RS256', kid: this.publicJwk.kid, typ: 'at+jwt' })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(DEV_CLIENT_ID)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(`${TOKEN_LIFETIME_SECONDS}s`)
      .sign(this.privateKey);
    return { ok: true, body: { access_token: accessToken, token_type: 'Bearer', expires_in: TOKEN_LIFETIME_SECONDS, scope } };
  }
}

function clientCredentials(form: URLSearchParams, authorization: string | undefined): { id: string; secret: string } | undefined {
  if (authorization?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
    try {
      return { id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')), secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')) };
    } catch {
      return undefined;
    }
  }
  const id = form.get('client_id');
  const secret = form.get('client_secret');
  return id !== null && secret !== null ? { id, secret } : undefined;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
