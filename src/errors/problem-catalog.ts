// Every error the gateway itself answers with. Adding a code without an entry
// is a compile error (no switch/default to fall through).

export type ProblemCode =
  | 'bad_request'
  | 'invalid_request'
  | 'bad_path'
  | 'missing_token'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'route_not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'rate_limited'
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'upstream_busy'
  | 'keys_unavailable'
  | 'service_token_unavailable'
  | 'rate_limit_unavailable'
  | 'not_ready'
  | 'internal';

export interface ProblemEntry {
  readonly status: number;
  readonly title: string;
}

export const PROBLEMS = {
  bad_request: { status: 400, title: 'Bad request' },
  invalid_request: { status: 400, title: 'Invalid request' },
  bad_path: { status: 400, title: 'Bad request path' },
  missing_token: { status: 401, title: 'Authentication required' },
  invalid_token: { status: 401, title: 'Invalid access token' },
  insufficient_scope: { status: 403, title: 'Insufficient scope' },
  route_not_found: { status: 404, title: 'No route' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  payload_too_large: { status: 413, title: 'Request body too large' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal error' },
  upstream_unreachable: { status: 502, title: 'Upstream unreachable' },
  upstream_busy: { status: 503, title: 'Upstream busy' },
  keys_unavailable: { status: 503, title: 'Issuer keys unavailable' },
  service_token_unavailable: { status: 503, title: 'Service token unavailable' },
  rate_limit_unavailable: { status: 503, title: 'Rate limits unavailable' },
  not_ready: { status: 503, title: 'Not ready' },
  upstream_timeout: { status: 504, title: 'Upstream timeout' },
} as const satisfies Record<ProblemCode, ProblemEntry>;

/** One absolute base for every problem `type`; README lists the codes. */
export const PROBLEM_TYPE_BASE = 'https://gateway.invalid/problems/';

export function problemType(code: ProblemCode): string {
  return PROBLEM_TYPE_BASE + code;
}
