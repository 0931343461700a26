import { TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { IssuerRegistry } from '../auth/issuer-registry.js';
import { GatewayConfig } from '../config/gateway-config.js';
import { WindowStore, type StorageErrorPolicy } from '../throttling/window-store.js';
import { Readiness } from './readiness.js';
import { ReadinessHealth } from './readiness.health.js';

interface State {
  readonly draining: boolean;
  readonly issuersReady: boolean;
  readonly onStorageError: StorageErrorPolicy;
  /** Whether the store is healthy before the probe, and after it. */
  readonly storeHealthy: readonly [boolean, boolean];
}

const READY: State = { draining: false, issuersReady: true, onStorageError: 'deny', storeHealthy: [true, true] };

async function readinessHealth(state: State): Promise<{ health: ReadinessHealth; probes: string[] }> {
  const probes: string[] = [];
  let healthy = state.storeHealthy[0];
  const store = {
    get healthy() {
      return healthy;
    },
    async peek(key: string) {
      probes.push(key);
      healthy = state.storeHealthy[1];
      return 0;
    },
  };
  const moduleRef = await Test.createTestingModule({
    imports: [TerminusModule.forRoot({ logger: false })],
    providers: [
      ReadinessHealth,
      { provide: Readiness, useValue: { draining: state.draining } },
      { provide: IssuerRegistry, useValue: { ready: state.issuersReady } },
      { provide: GatewayConfig, useValue: { throttle: { onStorageError: state.onStorageError } } },
      { provide: WindowStore, useValue: store },
    ],
  }).compile();
  return { health: moduleRef.get(ReadinessHealth), probes };
}

describe('ReadinessHealth.assertReady', () => {
  it('every check passing → resolves, and a healthy store is not probed', async () => {
    const { health, probes } = await readinessHealth(READY);
    await expect(health.assertReady()).resolves.toBeUndefined();
    expect(probes).toEqual([]);
  });

  // The first failed check, in this order, names the 503's detail and Retry-After.
  it.each([
    { name: 'draining', state: { ...READY, draining: true }, detail: 'The gateway is shutting down', retryAfterSeconds: 5 },
    { name: 'issuer keys not loaded', state: { ...READY, issuersReady: false }, detail: 'Issuer keys are not loaded yet', retryAfterSeconds: 1 },
    {
      name: 'draining and keys not loaded: draining wins',
      state: { ...READY, draining: true, issuersReady: false },
      detail: 'The gateway is shutting down',
      retryAfterSeconds: 5,
    },
    {
      name: 'deny, Redis still down after the probe',
      state: { ...READY, storeHealthy: [false, false] as const },
      detail: 'Rate-limit storage is unreachable',
      retryAfterSeconds: 5,
    },
    {
      name: 'keys not loaded and Redis down under deny: keys win',
      state: { ...READY, issuersReady: false, storeHealthy: [false, false] as const },
      detail: 'Issuer keys are not loaded yet',
      retryAfterSeconds: 1,
    },
  ])('$name → not_ready "$detail", Retry-After $retryAfterSeconds', async ({ state, detail, retryAfterSeconds }) => {
    const { health } = await readinessHealth(state);
    await expect(health.assertReady()).rejects.toMatchObject({ code: 'not_ready', detail, extras: { retryAfterSeconds } });
  });

  it('deny, Redis down but back at the probe → ready, after one probe', async () => {
    const { health, probes } = await readinessHealth({ ...READY, storeHealthy: [false, true] });
    await expect(health.assertReady()).resolves.toBeUndefined();
    expect(probes).toEqual(['readiness-probe']);
  });

  // CONTRACT: a Redis blip must not take every replica out of the load balancer at once.
  it.each(['local', 'allow'] as const)('onStorageError %s, Redis down → ready, not probed', async (onStorageError) => {
    const { health, probes } = await readinessHealth({ ...READY, onStorageError, storeHealthy: [false, false] });
    await expect(health.assertReady()).resolves.toBeUndefined();
    expect(probes).toEqual([]);
  });
});
