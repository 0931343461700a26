import { expect } from '@jest/globals';

export interface ExpectedProblem {
  readonly status: number;
  /** The catalog code: the problem `type` ends with it. */
  readonly code: string;
  /** The whole WWW-Authenticate value, or null for "must be absent". */
  readonly challenge?: string | null;
  readonly retryAfter?: string;
  readonly allow?: string;
}

/** Asserts an RFC 9457 problem answer of the gateway, headers included; returns the body. */
export async function expectProblem(res: Response, expected: ExpectedProblem): Promise<Record<string, unknown>> {
  const text = await res.text();
  expect({ status: res.status, body: text }).toMatchObject({ status: expected.status });
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(body).toEqual({
    type: `https://gateway.invalid/problems/${expected.code}`,
    title: expect.any(String),
    status: expected.status,
    detail: expect.any(String),
    requestId: res.headers.get('x-request-id'),
  });
  if (expected.challenge !== undefined) expect(res.headers.get('www-authenticate')).toBe(expected.challenge);
  if (expected.retryAfter !== undefined) expect(res.headers.get('retry-after')).toBe(expected.retryAfter);
  if (expected.allow !== undefined) expect(res.headers.get('allow')).toBe(expected.allow);
  return body;
}
