// The token family: one mutated token (signed, raw or around the length bound) sent as the
// Bearer credential of a GET, expected to get what the oracle says CONTRACT gives it.
import type { FuzzContext } from './fuzz-context.js';
import { type Credential, type NamedDraft, signatureOf } from './fuzz-case.js';
import { rawMutation } from './raw-token-mutations.js';
import { bearer } from './request-bytes.js';
import type { Rng } from './rng.js';
import { ROUTES } from './routes.js';
import { signedMutation } from './signed-token-mutations.js';
import { tokenExpectation } from './token-oracle.js';
import { lengthMutation } from './token-length-mutations.js';
import type { MutatedToken } from './token-signing.js';

export async function tokenDraft(ctx: FuzzContext, rng: Rng, now: number): Promise<NamedDraft> {
  const mutated = await rng.weighted<(c: FuzzContext, r: Rng, n: number) => Promise<MutatedToken>>([
    [7, signedMutation],
    [3, rawMutation],
    [1, lengthMutation],
  ])(ctx, rng, now);
  const route = rng.chance(0.12) ? ROUTES.public : rng.chance(0.1) ? ROUTES.strip : ROUTES.orders;
  const target = `${route.sample}${rng.int(1000)}`;
  const credential: Credential | undefined =
    mutated.oracle.verdict === 'reject' ? undefined : { grants: mutated.oracle.grants, identity: mutated.oracle.identity };
  const headerValue = rng.chance(0.9) ? bearer(mutated.token) : `${rng.pick(['bearer', 'BEARER', 'Bearer'])} ${mutated.token}`;
  return {
    mutation: `token:${mutated.name}`,
    draft: {
      spec: { method: 'GET', target, headers: [['Authorization', headerValue]] },
      summary: `${route.name} · ${mutated.note}`,
      expect: tokenExpectation(mutated.oracle, route, mutated.token),
      credential,
      secrets: signatureOf(mutated.token),
    },
  };
}
