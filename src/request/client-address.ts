import { BlockList, isIP, isIPv4 } from 'node:net';

const MAPPED_PREFIX = '::ffff:';
const PREFIX_LENGTH = /^\d{1,3}$/;

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) → `10.0.0.1`; anything else as is. */
function unmapped(address: string): string {
  if (address.length > MAPPED_PREFIX.length && address.slice(0, 7).toLowerCase() === MAPPED_PREFIX) {
    const v4 = address.slice(7);
    if (isIPv4(v4)) return v4;
  }
  return address;
}

/**
 * The `trustProxy` list and the client-address rules built on it (CONTRACT "Throttling rules").
 * CIDRs are checked once, here; a bad one throws. IPv4-mapped IPv6 addresses match IPv4 entries.
 *
 * @example
 * const proxies = new TrustedProxies(['10.0.0.0/8']);
 * proxies.clientAddress('10.0.0.5', '198.51.100.7, 10.0.0.9'); // '198.51.100.7'
 * proxies.clientAddress('203.0.113.1', '1.2.3.4');             // '203.0.113.1' (spoof ignored)
 * proxies.forwardedFor('10.0.0.5', '198.51.100.7');            // '198.51.100.7, 10.0.0.5'
 */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly #empty: boolean;

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) this.#add(cidr);
    this.#empty = cidrs.length === 0;
  }

  isTrusted(address: string): boolean {
    if (this.#empty) return false;
    const family = isIP(address);
    return family !== 0 && this.#list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The connection's address unless it is trusted; then the right-most `X-Forwarded-For` entry
   * that is not trusted (all trusted → the left-most). A malformed entry (a port, a name, an
   * empty item) ends the walk: the last good entry seen (right to left), else the connection's
   * address, is the answer, so garbage never becomes a rate-limit key.
   */
  clientAddress(remoteAddress: string, xForwardedFor: string | string[] | undefined): string {
    const remote = unmapped(remoteAddress);
    if (this.#empty || xForwardedFor === undefined || !this.isTrusted(remote)) return remote;
    const chain = typeof xForwardedFor === 'string' ? xForwardedFor : xForwardedFor.join(',');

    let lastGood = remote;
    let end = chain.length;
    for (;;) {
      const comma = end === 0 ? -1 : chain.lastIndexOf(',', end - 1);
      const entry = unmapped(chain.slice(comma + 1, end).trim());
      const family = isIP(entry);
      if (family === 0) return lastGood;
      if (!this.#list.check(entry, family === 6 ? 'ipv6' : 'ipv4')) return entry;
      lastGood = entry;
      if (comma === -1) return lastGood;
      end = comma;
    }
  }

  /**
   * The `X-Forwarded-For` the upstream gets: the caller's chain plus the connection's address
   * when the connection is trusted; otherwise only the connection's address (an untrusted
   * caller's own `X-Forwarded-For` is dropped, so an upstream reading it cannot be fooled).
   */
  forwardedFor(remoteAddress: string, xForwardedFor: string | string[] | undefined): string {
    const remote = unmapped(remoteAddress);
    if (this.#empty || xForwardedFor === undefined || !this.isTrusted(remote)) return remote;
    const chain = (typeof xForwardedFor === 'string' ? xForwardedFor : xForwardedFor.join(', ')).trim();
    return chain === '' ? remote : `${chain}, ${remote}`;
  }

  #add(cidr: string): void {
    const slash = cidr.indexOf('/');
    const address = slash === -1 ? cidr : cidr.slice(0, slash);
    const family = isIP(address);
    if (family === 0) throw new Error(`trustProxy: "${cidr}" is not an IP address or CIDR`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (slash === -1) {
      this.#list.addAddress(address, type);
      return;
    }
    const bits = cidr.slice(slash + 1);
    const prefix = Number(bits);
    if (!PREFIX_LENGTH.test(bits) || prefix > (family === 6 ? 128 : 32)) {
      throw new Error(`trustProxy: "${cidr}" has an invalid prefix length`);
    }
    this.#list.addSubnet(address, prefix, type);
  }
}
