import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { pino } from 'pino';
import { GatewayError } from '../../errors/gateway-error.js';
import { GatewayMetrics } from '../../observability/metrics.js';
import { IssuerKeySet, type KeySetOptions } from './issuer-key-set.js';

async function rsaJwk(kid: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(publicKey)), kid, use: 'sig' };
}

/** A JWKS endpoint under test control: its keys, whether it fails, how often it was asked. */
function fakeJwks(keys: JWK[]) {
  const state = { keys, failing: false, calls: 0 };
  const fetchJson = async () => {
    state.calls++;
    if (state.failing) throw new Error('JWKS down');
    return { keys: state.keys };
  };
  return { state, fetchJson };
}

describe('IssuerKeySet', () => {
  let now = 1_000_000;
  const options: KeySetOptions = {
    refetchCooldownMs: 5_000,
    refreshIntervalMs: 600_000,
    retryMaxDelayMs: 5_000,
    maxKeys: 100,
    retryAfterSeconds: 5,
    now: () => now,
  };
  let keySet: IssuerKeySet | undefined;
  afterEach(() => keySet?.stop());

  async function loaded(keys: JWK[], warmUpAlg: 'RS256' | 'RS512' = 'RS256') {
    const jwks = fakeJwks(keys);
    keySet = new IssuerKeySet(
      { issuer: 'https://idp.test', audience: ['api'], jwksUri: 'https://idp.test/jwks', algorithms: ['RS256', 'RS512'] },
      options,
      jwks.fetchJson,
      pino({ level: 'silent' }),
      new GatewayMetrics({ defaultMetrics: false }),
    );
    keySet.start();
    await keySet.keyFor('k1', warmUpAlg);
    return { keySet, jwks };
  }

  it('loads the keys once and serves known kids without fetching again', async () => {
    const { keySet, jwks } = await loaded([await rsaJwk('k1')]);
    expect(keySet.ready).toBe(true);
    await keySet.keyFor('k1', 'RS256');
    expect(jwks.state.calls).toBe(1);
  });

  it('unknown kids: one refetch per cooldown, shared by concurrent callers', async () => {
    const { keySet, jwks } = await loaded([await rsaJwk('k1')]);
    const results = await Promise.allSettled(['x1', 'x2', 'x3'].map((kid) => keySet.keyFor(kid, 'RS256')));
    expect(results.map((r) => r.status === 'rejected' && (r.reason as GatewayError).extras.reason)).toEqual([
      'unknown_kid',
      'unknown_kid',
      'unknown_kid',
    ]);
    expect(jwks.state.calls).toBe(2);
    now += 4_999;
    await expect(keySet.keyFor('x4', 'RS256')).rejects.toMatchObject({ code: 'invalid_token' });
    expect(jwks.state.calls).toBe(2);
    now += 1;
    await expect(keySet.keyFor('x5', 'RS256')).rejects.toMatchObject({ code: 'invalid_token' });
    expect(jwks.state.calls).toBe(3);
  });

  it('a rotated-in key is found by the refetch its first token causes', async () => {
    const { keySet, jwks } = await loaded([await rsaJwk('k1')]);
    jwks.state.keys = [...jwks.state.keys, await rsaJwk('k2')];
    const generation = keySet.generation;
    await expect(keySet.keyFor('k2', 'RS256')).resolves.toMatchObject({ kid: 'k2' });
    expect(keySet.generation).toBe(generation + 1);
  });

  it('JWKS down: known keys keep working, an unknown kid is 503 keys_unavailable (also within the cooldown)', async () => {
    const { keySet, jwks } = await loaded([await rsaJwk('k1')]);
    jwks.state.failing = true;
    await expect(keySet.keyFor('x1', 'RS256')).rejects.toMatchObject({ code: 'keys_unavailable', extras: { retryAfterSeconds: 5 } });
    await expect(keySet.keyFor('x2', 'RS256')).rejects.toMatchObject({ code: 'keys_unavailable' });
    await expect(keySet.keyFor('k1', 'RS256')).resolves.toMatchObject({ kid: 'k1' });
  });

  it('a key of the wrong type for the alg is alg_not_allowed', async () => {
    const { keySet } = await loaded([await rsaJwk('k1')]);
    await expect(keySet.keyFor('k1', 'ES256')).rejects.toMatchObject({ extras: { reason: 'alg_not_allowed' } });
  });

  it('a JWK alg different from the token alg is alg_not_allowed', async () => {
    const { keySet } = await loaded([{ ...(await rsaJwk('k1')), alg: 'RS512' }], 'RS512');
    await expect(keySet.keyFor('k1', 'RS256')).rejects.toMatchObject({ extras: { reason: 'alg_not_allowed' } });
  });

  it('refuses a JWKS with more keys than maxKeys (and stays not ready)', async () => {
    const many = await Promise.all(Array.from({ length: 3 }, (_, i) => rsaJwk(`k${i}`)));
    const jwks = fakeJwks(many);
    keySet = new IssuerKeySet(
      { issuer: 'https://idp.test', audience: ['api'], jwksUri: 'https://idp.test/jwks', algorithms: ['RS256'] },
      { ...options, maxKeys: 2 },
      jwks.fetchJson,
      pino({ level: 'silent' }),
      new GatewayMetrics({ defaultMetrics: false }),
    );
    keySet.start();
    await expect(keySet.keyFor('k1', 'RS256')).rejects.toMatchObject({ code: 'keys_unavailable' });
    expect(keySet.ready).toBe(false);
  });
});
