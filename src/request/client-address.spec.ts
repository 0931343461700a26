import { TrustedProxies } from './client-address.js';

describe('TrustedProxies', () => {
  const proxies = new TrustedProxies(['10.0.0.0/8', '192.168.1.1', 'fd00::/8', '2001:db8::1']);

  describe('isTrusted', () => {
    const cases = [
      { address: '10.1.2.3', trusted: true },
      { address: '::ffff:10.1.2.3', trusted: true },
      { address: '192.168.1.1', trusted: true },
      { address: '192.168.1.2', trusted: false },
      { address: 'fd12::1', trusted: true },
      { address: '2001:db8::1', trusted: true },
      { address: '2001:db8::2', trusted: false },
      { address: '11.0.0.1', trusted: false },
      { address: 'not-an-ip', trusted: false },
      { address: '10.1.2.3:80', trusted: false },
      { address: '', trusted: false },
    ];
    it.each(cases)('$address → $trusted', ({ address, trusted }) => {
      expect(proxies.isTrusted(address)).toBe(trusted);
    });

    it('an IPv4-mapped CIDR covers plain IPv4', () => {
      expect(new TrustedProxies(['::ffff:10.0.0.0/104']).isTrusted('10.9.9.9')).toBe(true);
    });
  });

  describe('clientAddress', () => {
    const cases = [
      { name: 'XFF spoof from untrusted address ignored', remote: '203.0.113.9', xff: '1.2.3.4', expected: '203.0.113.9' },
      { name: 'untrusted, no XFF', remote: '203.0.113.9', xff: undefined, expected: '203.0.113.9' },
      { name: 'untrusted IPv4-mapped connection is normalised', remote: '::ffff:203.0.113.9', xff: '1.2.3.4', expected: '203.0.113.9' },
      { name: 'XFF chain through trusted proxy', remote: '10.0.0.5', xff: '198.51.100.7', expected: '198.51.100.7' },
      { name: 'right-most untrusted wins over a spoofed left part', remote: '10.0.0.5', xff: '1.1.1.1, 198.51.100.7, 10.0.0.9', expected: '198.51.100.7' },
      { name: 'two trusted hops', remote: '::ffff:10.0.0.5', xff: '198.51.100.7,192.168.1.1', expected: '198.51.100.7' },
      { name: 'all trusted → left-most', remote: '10.0.0.5', xff: '10.0.0.1, 10.0.0.2', expected: '10.0.0.1' },
      { name: 'trusted, no XFF → connection', remote: '10.0.0.5', xff: undefined, expected: '10.0.0.5' },
      { name: 'trusted, empty XFF → connection', remote: '10.0.0.5', xff: '', expected: '10.0.0.5' },
      { name: 'malformed right-most entry → connection', remote: '10.0.0.5', xff: '198.51.100.7, garbage', expected: '10.0.0.5' },
      { name: 'malformed entry after trusted ones → last good', remote: '10.0.0.5', xff: '198.51.100.7, junk, 10.0.0.8', expected: '10.0.0.8' },
      { name: 'entry with port is malformed', remote: '10.0.0.5', xff: '198.51.100.7:4711', expected: '10.0.0.5' },
      { name: 'empty item is malformed', remote: '10.0.0.5', xff: '198.51.100.7,,10.0.0.8', expected: '10.0.0.8' },
      { name: 'mapped entry normalised', remote: '10.0.0.5', xff: '::ffff:198.51.100.7', expected: '198.51.100.7' },
      { name: 'IPv6 client through IPv6 proxy', remote: 'fd00::2', xff: '2001:db8::99', expected: '2001:db8::99' },
      { name: 'several XFF headers read as one list', remote: '10.0.0.5', xff: ['1.1.1.1', '198.51.100.7, 10.0.0.9'], expected: '198.51.100.7' },
    ];
    it.each(cases)('$name', ({ remote, xff, expected }) => {
      expect(proxies.clientAddress(remote, xff)).toBe(expected);
    });
  });

  describe('forwardedFor', () => {
    const cases = [
      { name: 'untrusted caller XFF dropped', remote: '203.0.113.9', xff: '1.2.3.4', expected: '203.0.113.9' },
      { name: 'untrusted, none sent', remote: '::ffff:203.0.113.9', xff: undefined, expected: '203.0.113.9' },
      { name: 'trusted proxy chain kept and extended', remote: '10.0.0.5', xff: '198.51.100.7, 10.0.0.9', expected: '198.51.100.7, 10.0.0.9, 10.0.0.5' },
      { name: 'trusted, none sent', remote: '10.0.0.5', xff: undefined, expected: '10.0.0.5' },
      { name: 'trusted, blank sent', remote: '10.0.0.5', xff: '  ', expected: '10.0.0.5' },
      { name: 'trusted, several headers joined', remote: '::ffff:10.0.0.5', xff: ['1.1.1.1', '198.51.100.7'], expected: '1.1.1.1, 198.51.100.7, 10.0.0.5' },
    ];
    it.each(cases)('$name', ({ remote, xff, expected }) => {
      expect(proxies.forwardedFor(remote, xff)).toBe(expected);
    });
  });

  describe('with no trustProxy', () => {
    const none = new TrustedProxies([]);
    const cases = [
      { remote: '10.0.0.5', xff: '1.2.3.4', expected: '10.0.0.5' },
      { remote: '::ffff:10.0.0.5', xff: undefined, expected: '10.0.0.5' },
      { remote: '2001:db8::1', xff: '1.2.3.4', expected: '2001:db8::1' },
    ];
    it.each(cases)('$remote with XFF $xff → $expected', ({ remote, xff, expected }) => {
      expect(none.clientAddress(remote, xff)).toBe(expected);
      expect(none.forwardedFor(remote, xff)).toBe(expected);
      expect(none.isTrusted(remote)).toBe(false);
    });
  });

  const invalid = [
    { cidr: 'example.com', message: 'trustProxy: "example.com" is not an IP address or CIDR' },
    { cidr: '10.0.0.0/33', message: 'trustProxy: "10.0.0.0/33" has an invalid prefix length' },
    { cidr: '10.0.0.0/', message: 'trustProxy: "10.0.0.0/" has an invalid prefix length' },
    { cidr: '10.0.0.0/-1', message: 'trustProxy: "10.0.0.0/-1" has an invalid prefix length' },
    { cidr: 'fd00::/129', message: 'trustProxy: "fd00::/129" has an invalid prefix length' },
  ];
  it.each(invalid)('refuses $cidr', ({ cidr, message }) => {
    expect(() => new TrustedProxies([cidr])).toThrow(message);
  });
});
