/**
 * The package's `./testing` entry: a real issuer for e2e tests of services behind the gateway.
 *
 * @example
 * ```ts
 * import { TestIssuer, type MintOptions } from 'service-gateway/testing';
 *
 * const issuer = await TestIssuer.start({ algorithms: ['RS256'] });
 * const token = await issuer.token({ claims: { scope: 'orders:read' } });
 * await issuer.close();
 * ```
 *
 * @packageDocumentation
 */
export {
  TestIssuer,
  type JwksOptions,
  type JwksOutage,
  type MintOptions,
  type TestIssuerOptions,
} from './test-issuer.js';
export { TEST_KEY_ALGORITHMS, type TestKeyAlgorithm } from './test-keys.js';
