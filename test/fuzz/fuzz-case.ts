// What a case is: one or more requests on one connection, each with what it may be answered,
// and how a case goes out on the wire.
import type { RequestSpec } from './request-bytes.js';
import { exchangeWire, type WireOutcome } from './wire-client.js';

/** Per-case deadline: a case still unanswered by then is reported as a hang. */
export const CASE_TIMEOUT_MS = 5_000;

/** What the caller presented that a 2xx may rely on: its grants and the identity it must forward. */
export interface Credential {
  readonly grants: readonly string[];
  /** When known exactly: the X-Auth-Subject / X-Auth-Client-Id the upstream must get (undefined: none). */
  readonly identity?: { readonly sub: string | undefined; readonly clientId: string | undefined };
}

/** What CONTRACT lets a request be answered, beyond the invariants every answer must keep. */
export type Expectation =
  /** Not fixed: only the general invariants apply. */
  | { readonly kind: 'any' }
  /** CONTRACT fixes the answer: one of these statuses. */
  | { readonly kind: 'statuses'; readonly statuses: readonly number[]; readonly why: string }
  /** Never forwarded: a 4xx or no answer at all. */
  | { readonly kind: 'refused'; readonly why: string };

/** What a request may be answered, and what reaching the upstream must have kept of it. */
interface Answerable {
  /** The mutation in a few words; never a whole token. */
  readonly summary: string;
  readonly expect: Expectation;
  readonly control?: boolean;
  readonly credential?: Credential;
  /** Bodies the upstream may receive for this request (one of them, byte for byte). */
  readonly bodies?: readonly Buffer[];
  /** A header that must reach the upstream unchanged. */
  readonly echoHeader?: readonly [string, string];
}

/** One request of a case as sent: marked, named, and checked against its answer. */
export interface Sent extends Answerable {
  readonly marker: string;
  /** The mutation this request carries (in a pipeline, with its position). */
  readonly mutation: string;
  readonly method: string;
  readonly target: string;
  /** Strings no answer may contain (token signatures). */
  readonly secrets: readonly string[];
  /** Carried inside another request's body (smuggling attempt): not expected to be answered. */
  readonly inner?: boolean;
}

export interface FuzzCase {
  readonly id: number;
  readonly family: string;
  readonly mutation: string;
  readonly requests: readonly Sent[];
  readonly wire: Buffer;
  readonly pieces?: readonly Buffer[];
}

/** One request of a case before it has a marker: what to send and what it may be answered. */
export interface Draft extends Answerable {
  readonly spec: RequestSpec;
  readonly secrets?: readonly string[];
}

/** A draft and the mutation it carries, as the report names it (`family:variant`). */
export interface NamedDraft {
  readonly mutation: string;
  readonly draft: Draft;
}

/** CONTRACT fixes the answer to one of `list`; `why` goes into the report. */
export const statuses = (why: string, ...list: number[]): Expectation => ({ kind: 'statuses', statuses: [...new Set(list)], why });
export const ANY: Expectation = { kind: 'any' };

/** A token's signature as a secret no answer may echo; too short a one would match by chance. */
export const signatureOf = (token: string) => {
  const s = token.split('.')[2] ?? '';
  return s.length >= 16 ? [s] : [];
};

/** Sends a case on a fresh connection; it is complete once every request not smuggled is answered. */
export function sendCase(baseUrl: string, c: FuzzCase): Promise<WireOutcome> {
  const outer = c.requests.filter((r) => !r.inner);
  return exchangeWire(baseUrl, c.wire, {
    timeoutMs: CASE_TIMEOUT_MS,
    expectedAnswers: outer.length,
    headAt: (index) => outer[index]?.method === 'HEAD',
    pieces: c.pieces,
  });
}
