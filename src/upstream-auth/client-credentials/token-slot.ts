import { createHash } from 'node:crypto';
import type { ClientConfig } from '../../config/gateway-config.js';

/**
 * The shared-store slot of a client: its name plus a hash of what the token is
 * for (token endpoint, client id, scope, audience), so that a changed config
 * never reads a token obtained under the old one. The fields are joined with
 * NUL, which none of them can contain, so two configs cannot collide by
 * shifting characters between fields. No secret goes into the hash.
 *
 * @example
 * tokenSlot('orders', config.clients.orders); // 'orders:3f2a9c…' (16 hex digits)
 */
export function tokenSlot(name: string, client: ClientConfig): string {
  const identity = [client.tokenUrl, client.clientId, client.scope ?? '', client.audience ?? ''].join('\0');
  return `${name}:${createHash('sha256').update(identity, 'utf8').digest('hex').slice(0, 16)}`;
}
