import type { Principal } from '../auth/principal.js';
import type { UpstreamAuth } from '../config/gateway-config.js';
import { GatewayError } from '../errors/gateway-error.js';
import { ServiceTokenError, type ServiceTokenSource } from './client-credentials/service-token.js';

/** What the upstream gets as Authorization, and the service token it came from (for the 401 rule). */
export interface UpstreamCredential {
  readonly authorization?: string;
  /** Set for client-credentials: the token to drop if the upstream refuses it. */
  readonly serviceToken?: { readonly client: string; readonly accessToken: string };
}

const NONE: UpstreamCredential = {};

/**
 * The Authorization the upstream gets: the caller's token for passthrough,
 * the gateway's own service token for client-credentials, none for none.
 */
export async function upstreamCredential(
  upstreamAuth: UpstreamAuth,
  principal: Principal | undefined,
  tokens: ServiceTokenSource,
): Promise<UpstreamCredential> {
  switch (upstreamAuth.type) {
    case 'none':
      return NONE;
    case 'passthrough':
      return principal ? { authorization: `Bearer ${principal.token}` } : NONE;
    case 'client-credentials': {
      const { client } = upstreamAuth;
      try {
        const accessToken = await tokens.getToken(client);
        return { authorization: `Bearer ${accessToken}`, serviceToken: { client, accessToken } };
      } catch (error) {
        throw serviceTokenUnavailable(client, error);
      }
    }
  }
}

/** CONTRACT: 503 with Retry-After; the detail names the client, never a secret or the IdP's answer. */
export function serviceTokenUnavailable(client: string, error: unknown): GatewayError {
  const retryAfterSeconds = error instanceof ServiceTokenError ? error.retryAfterSeconds : 5;
  const reason = error instanceof ServiceTokenError ? (error.oauthError ?? (error.retryable ? 'unreachable' : 'refused')) : 'error';
  return new GatewayError(
    'service_token_unavailable',
    `The service token of client "${client}" cannot be obtained`,
    { retryAfterSeconds, reason },
    { cause: error },
  );
}
