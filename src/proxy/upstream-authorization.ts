import type { Principal } from '../auth/principal.js';
import type { UpstreamAuth } from '../config/gateway-config.js';
import { GatewayError } from '../errors/gateway-error.js';

/** The Authorization the upstream gets: the caller's token for passthrough, none for none. */
export function upstreamAuthorization(upstreamAuth: UpstreamAuth, principal: Principal | undefined): string | undefined {
  switch (upstreamAuth.type) {
    case 'none':
      return undefined;
    case 'passthrough':
      return principal ? `Bearer ${principal.token}` : undefined;
    case 'client-credentials':
      // Config validation refuses this type until the client-credentials module lands.
      throw new GatewayError('service_token_unavailable', 'Service tokens are not available in this version', {
        retryAfterSeconds: 60,
      });
  }
}
