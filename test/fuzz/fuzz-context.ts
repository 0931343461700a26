// What the fuzzer runs against, started once per run: a TestIssuer with one key per algorithm,
// an upstream that records every request by case marker and answers 200 with that marker, and
// the gateway in front of it with the routes of routes.ts. The spec creates it and passes it
// to the generators (keys, tokens, the gateway's host) and the checker (the upstream records).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { TestIssuer, type TestKeyAlgorithm } from '../../src/testing/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { type RecordedRequest, startUpstream } from '../support/upstream.js';
import type { Credential } from './fuzz-case.js';
import { GOOD_SCOPES, gatewayRoutes } from './routes.js';

export const ALGORITHMS: TestKeyAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];
/** The gateway's clock tolerance; the token oracle's time rules use the same value. */
export const TOLERANCE_SECONDS = 30;

/** What the standard token (TestIssuer's default claims, scope orders:read) must be forwarded as. */
export const STANDARD_CREDENTIAL: Credential = { grants: GOOD_SCOPES, identity: { sub: 'test-subject', clientId: 'test-client' } };

/** One request as the upstream received it. */
export type Hit = RecordedRequest;

export interface FuzzContext {
  readonly issuer: TestIssuer;
  readonly gw: TestGateway;
  /** What the Host line of every request says unless a mutation changes it. */
  readonly gatewayHost: string;
  readonly upstreamUrl: string;
  /** A key the issuer never published, for signatures the gateway must not trust. */
  readonly attackerKey: { privateKey: KeyObject; publicJwk: Record<string, unknown> };
  readonly records: UpstreamRecords;
  /** A valid token granting GOOD_SCOPES, minted again once a minute old so it never expires mid-run. */
  standardToken(): Promise<string>;
}

/** Upstream requests by case marker, so each can be checked against the answer its case got. */
export class UpstreamRecords {
  /** Upstream requests by marker; the checker drops a case's once it has reconciled them. */
  readonly hits = new Map<string, Hit[]>();
  /** Upstream requests that carry no marker. */
  readonly unattributed: Hit[] = [];

  /** Files `hit` under its marker, which it returns (undefined: none found). */
  add(hit: Hit): string | undefined {
    const marker = markerOf(hit);
    if (marker === undefined) this.unattributed.push(hit);
    else this.hits.set(marker, [...(this.hits.get(marker) ?? []), hit]);
    return marker;
  }
}

function markerOf(hit: Pick<Hit, 'url' | 'headers'>): string | undefined {
  const id = hit.headers['x-request-id'];
  if (typeof id === 'string' && /^fz-\d+-\d+$/.test(id)) return id;
  return /[?&]fzm=(fz-\d+-\d+)/.exec(hit.url)?.[1];
}

/** Starts issuer, upstream and gateway; each one's close goes to `onClose` as soon as it has started. */
export async function startFuzzContext(onClose: (close: () => Promise<void>) => void): Promise<FuzzContext> {
  const issuer = await TestIssuer.start({ algorithms: ALGORITHMS });
  onClose(() => issuer.close());
  const upstream = await startUpstream();
  onClose(() => upstream.close());
  const records = new UpstreamRecords();
  upstream.handle((request, response) => {
    upstream.requests.length = 0; // recorded here instead, so a long run keeps no bodies
    const marker = records.add(request);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ fzm: marker ?? null, method: request.method, url: request.url }));
  });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const attackerKey = { privateKey, publicJwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown> };

  const gw = await startTestGateway({ issuers: [issuer], routes: gatewayRoutes(upstream.url), auth: { clockToleranceSeconds: TOLERANCE_SECONDS } });
  onClose(() => gw.close());

  let goodToken = { token: '', mintedAt: 0 };
  const standardToken = async (): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    if (now - goodToken.mintedAt > 60) goodToken = { token: await issuer.token({ claims: { scope: GOOD_SCOPES.join(' ') } }), mintedAt: now };
    return goodToken.token;
  };
  return { issuer, gw, gatewayHost: new URL(gw.url).host, upstreamUrl: upstream.url, attackerKey, records, standardToken };
}
