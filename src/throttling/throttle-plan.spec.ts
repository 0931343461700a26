import { ASYMMETRIC_ALGORITHMS } from '../config/gateway-config.js';
import { validateConfig } from '../config/load-config.js';
import type { Principal } from '../auth/principal.js';
import { addressBucket, ThrottlePlan, tracker } from './throttle-plan.js';

const config = validateConfig({
  auth: { issuers: [{ issuer: 'https://idp.test', audience: 'api', algorithms: [...ASYMMETRIC_ALGORITHMS] }] },
  routes: [{ id: 'orders', pathPrefix: '/api/orders', upstream: 'http://orders.internal', throttle: { limit: 2, ttlSeconds: 60 } }],
  throttle: { clients: { 'partner-42': { limit: 10, ttlSeconds: 60 } } },
});
const principal = (claims: Partial<Principal>): Principal => ({ issuer: 'https://idp.test', scopes: [], expiresAt: 0, claims: {}, token: 't', ...claims });

describe('ThrottlePlan', () => {
  const plan = new ThrottlePlan(config);
  const route = config.routes[0]!;

  it('a listed client gets its own windows, others the route’s', () => {
    expect(plan.windowsFor(route, principal({ clientId: 'partner-42' }))).toEqual([{ limit: 10, ttlSeconds: 60 }]);
    expect(plan.windowsFor(route, principal({ clientId: 'other' }))).toEqual([{ limit: 2, ttlSeconds: 60 }]);
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('client_id %s finds no quota (no prototype lookup)', (clientId) => {
    expect(plan.windowsFor(route, principal({ clientId }))).toEqual([{ limit: 2, ttlSeconds: 60 }]);
  });

  it('tracker: issuer + client id; tokens without any id are counted by address', () => {
    expect(tracker(principal({ clientId: 'a', subject: 's' }), '10.0.0.1')).toBe('token:https://idp.test a');
    expect(tracker(principal({ subject: 's' }), '10.0.0.1')).toBe('token:https://idp.test s');
    expect(tracker(principal({}), '10.0.0.1')).toBe('token:https://idp.test ip:10.0.0.1');
    expect(tracker(undefined, '10.0.0.1')).toBe('ip:10.0.0.1');
  });

  it.each([
    ['10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('addressBucket(%s) → %s', (address, bucket) => {
    expect(addressBucket(address)).toBe(bucket);
  });
});
