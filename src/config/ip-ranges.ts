// trustProxy entries: an IPv4/IPv6 address or a CIDR block.
import { isIP } from 'node:net';

/**
 * @example
 * isIpOrCidr('10.0.0.0/8');  // true
 * isIpOrCidr('fd00::/129');  // false
 */
export function isIpOrCidr(value: string): boolean {
  const slash = value.indexOf('/');
  const address = slash === -1 ? value : value.slice(0, slash);
  if (address.includes('%')) return false; // zone ids (fe80::1%eth0) name an interface, not a peer
  const version = isIP(address);
  if (version === 0) return false;
  if (slash === -1) return true;
  const bits = value.slice(slash + 1);
  if (!/^(?:0|[1-9]\d{0,2})$/.test(bits)) return false;
  return Number(bits) <= (version === 4 ? 32 : 128);
}
