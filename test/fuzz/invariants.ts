// The invariants, checked for every case: its answers at once, then (once its upstream side has
// settled) what reached the upstream. Every violation is collected in the checker's log; the
// spec reports them all at the end.
import { METHODS } from 'node:http';
import type { TestGateway } from '../support/gateway.js';
import type { Hit, UpstreamRecords } from './fuzz-context.js';
import { CASE_TIMEOUT_MS, type FuzzCase, type Sent } from './fuzz-case.js';
import { lenientSegments, startsWithSegments } from './lenient-path.js';
import { HOP_BY_HOP, ROUTE_LIST, SANE_REQUEST_ID, SCOPE_TOKEN, VOUCHING } from './routes.js';
import { show } from './show.js';
import { ViolationLog } from './violation-log.js';
import type { WireOutcome, WireResponse } from './wire-client.js';

/** How long after its answers a case's upstream records are checked: late ones have arrived by then. */
const SETTLE_MS = 300;

/** What the checks write to and read from. */
interface Findings {
  readonly log: ViolationLog;
  readonly advisories: ViolationLog;
  /** Markers whose case was reconciled; an upstream record for one after that came late. */
  readonly settled: Set<string>;
  readonly records: UpstreamRecords;
}

/** One run's checks: create one per run, `check()` every case, `finish()` after the last. */
export class CaseChecker implements Findings {
  /** Broken invariants: any one fails the run. */
  readonly log = new ViolationLog();
  /** Shown, never failing: paths that leave their route only for a double-decoding or NFKC upstream. */
  readonly advisories = new ViolationLog();
  readonly settled = new Set<string>();
  /** Finished cases in completion order, reconciled once SETTLE_MS old. */
  readonly #finished: { result: CaseResult; at: number }[] = [];

  constructor(readonly records: UpstreamRecords) {}

  /** Checks a case's answers now; its upstream side once it has settled. */
  check(c: FuzzCase, outcome: WireOutcome): void {
    this.#finished.push({ result: checkAnswers(this, c, outcome), at: Date.now() });
    this.#settle(Date.now());
  }

  /** After the last case: waits out stragglers, reconciles the rest, reports stray upstream records and gateway errors. */
  async finish(gw: Pick<TestGateway, 'logs'>): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    this.#settle(Number.POSITIVE_INFINITY);
    reportLateHits(this);
    const errorLogs = gw.logs.filter((line) => Number(line.level) >= 50);
    for (const line of errorLogs.slice(0, 5)) {
      this.log.add({ kind: 'gateway-error-log', mutation: '-', caseId: -1, input: show(String(line.msg ?? ''), 100), status: '-', upstreamHits: '-', detail: show(JSON.stringify(line.err ?? line).slice(0, 200), 200) });
    }
  }

  #settle(now: number): void {
    while (this.#finished.length > 0 && this.#finished[0]!.at + SETTLE_MS <= now) reconcile(this, this.#finished.shift()!.result);
  }
}

interface CaseResult {
  readonly fuzzCase: FuzzCase;
  readonly outcome: WireOutcome;
  /** Answers per marker. */
  readonly answers: Map<string, WireResponse[]>;
}

function violation(f: Findings, c: FuzzCase, s: Sent | undefined, kind: string, status: string, detail?: string, upstreamHits: number | string = '-') {
  f.log.add({ kind, mutation: s?.mutation ?? c.mutation, caseId: c.id, input: inputOf(c, s), status, upstreamHits, detail });
}

function inputOf(c: FuzzCase, s: Sent | undefined): string {
  const one = (r: Sent) => `${show(r.method, 20)} ${show(r.target, 90)} · ${r.summary}`;
  if (!s) return c.requests.map(one).join(' | ');
  const others = c.requests.filter((r) => r !== s);
  const rest = others.map((r) => `${r.inner ? 'smuggled ' : ''}${show(r.method, 12)} ${show(r.target, 40)}`).join(', ');
  return others.length === 0 ? one(s) : `${one(s)}\n        same connection (request ${c.requests.indexOf(s) + 1} of ${c.requests.length}): ${rest}`;
}

const headerOf = (response: WireResponse, name: string): string | undefined => {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

function checkAnswers(f: Findings, c: FuzzCase, outcome: WireOutcome): CaseResult {
  const answers = new Map<string, WireResponse[]>();
  const outer = c.requests.filter((r) => !r.inner);
  outcome.responses.forEach((response, index) => {
    const rid = headerOf(response, 'x-request-id');
    const byId = c.requests.find((r) => r.marker === rid);
    const positional = outer[index];
    const s = byId ?? positional;
    if (byId && positional && byId !== positional && !byId.inner) {
      violation(f, c, positional, 'answer-order', String(response.status), `answer ${index} carries the id of ${byId.marker}`);
    }
    if (!s) {
      violation(f, c, undefined, 'extra-answer', String(response.status), `answer ${index} for no request (x-request-id ${rid})`);
      return;
    }
    answers.set(s.marker, [...(answers.get(s.marker) ?? []), response]);
    checkAnswer(f, c, s, response);
  });
  const answered = outer.filter((r) => answers.has(r.marker)).length;
  if (outcome.end === 'timeout' && answered < outer.length) {
    violation(f, c, outer[answered], 'hang', 'none', `no answer within ${CASE_TIMEOUT_MS} ms (${answered}/${outer.length} answered)`);
  } else if (answered === 0 && c.family !== 'framing' && outer[0]?.expect.kind !== 'refused') {
    violation(f, c, outer[0], 'no-answer', 'none', `connection ${outcome.end} without an answer (${outcome.leftoverBytes} stray bytes)`);
  }
  return { fuzzCase: c, outcome, answers };
}

function checkAnswer(f: Findings, c: FuzzCase, s: Sent, response: WireResponse): void {
  const status = response.status;
  const text = response.body.toString('latin1');
  const isHead = s.method === 'HEAD';
  if (status >= 500) violation(f, c, s, 'gateway-5xx', String(status), problemDetail(text));
  if (status >= 200 && status < 300) {
    let echoed: { fzm?: string } | undefined;
    try {
      echoed = JSON.parse(text) as { fzm?: string };
    } catch {
      echoed = undefined;
    }
    if (!isHead && echoed?.fzm !== s.marker) violation(f, c, s, 'answer-mismatch', String(status), `2xx body is not the upstream's answer to this request (${show(text, 80)})`);
  } else if (!(isHead && response.body.length === 0)) {
    checkProblem(f, c, s, response, text);
  }
  if (status === 405) {
    const allow = headerOf(response, 'allow');
    if (allow === undefined || /\bTRACE\b/i.test(allow)) violation(f, c, s, 'allow-header', '405', `Allow: ${allow ?? '(absent)'}`);
  }
  if (status === 401 && !(headerOf(response, 'www-authenticate') ?? '').startsWith('Bearer realm="gateway"')) {
    violation(f, c, s, 'challenge', '401', `WWW-Authenticate: ${headerOf(response, 'www-authenticate') ?? '(absent)'}`);
  }
  const rid = headerOf(response, 'x-request-id');
  if (rid === undefined || !SANE_REQUEST_ID.test(rid)) violation(f, c, s, 'request-id', String(status), `X-Request-Id ${show(rid ?? '(absent)', 60)}`);
  const everything = `${JSON.stringify(response.headers)}${text}`;
  if (s.secrets.some((secret) => everything.includes(secret))) violation(f, c, s, 'token-echoed', String(status), 'the answer contains the token signature');
  const expected = s.expect;
  if (expected.kind === 'statuses' && !expected.statuses.includes(status)) {
    violation(f, c, s, s.control ? 'control-failed' : 'contract-status', String(status), `expected ${expected.statuses.join('/')} (${expected.why})${problemDetail(text, ': ')}`);
  }
  if (expected.kind === 'refused' && (status < 400 || status >= 500)) violation(f, c, s, 'contract-status', String(status), `expected refusal (${expected.why})`);
}

function problemDetail(text: string, prefix = ''): string {
  try {
    const body = JSON.parse(text) as { type?: string; detail?: string };
    return body.type ? `${prefix}${String(body.type).split('/').pop()}: ${show(String(body.detail ?? ''), 80)}` : '';
  } catch {
    return '';
  }
}

function checkProblem(f: Findings, c: FuzzCase, s: Sent, response: WireResponse, text: string): void {
  const type = headerOf(response, 'content-type');
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  const ok =
    type === 'application/problem+json' &&
    body !== undefined &&
    typeof body.type === 'string' &&
    body.type.startsWith('https://gateway.invalid/problems/') &&
    body.status === response.status &&
    typeof body.title === 'string' &&
    typeof body.detail === 'string' &&
    body.requestId === headerOf(response, 'x-request-id');
  if (!ok) violation(f, c, s, 'not-problem-json', String(response.status), `content-type ${type ?? '(none)'}, body ${show(text, 80)}`);
}

/**
 * Once a case has settled: each of its markers reached the upstream exactly as often as it got a
 * 2xx. Its upstream records are dropped then, so a long run keeps nothing per case; a record
 * arriving for a marker after that is reported by reportLateHits().
 */
function reconcile(f: Findings, { fuzzCase: c, outcome, answers }: CaseResult): void {
  for (const s of c.requests) {
    const reached = f.records.hits.get(s.marker) ?? [];
    f.records.hits.delete(s.marker);
    f.settled.add(s.marker);
    if (outcome.end === 'timeout') continue; // reported as a hang; its upstream side may still be in flight
    const got = answers.get(s.marker) ?? [];
    const ok = got.filter((r) => r.status >= 200 && r.status < 300).length;
    const status = got.map((r) => r.status).join(',') || 'no answer';
    if (reached.length !== ok) {
      const kind = ok === 0 ? 'refused-but-forwarded' : 'accepted-not-once';
      const where = reached.map((h) => `${h.method} ${show(h.url, 60)}`).join('; ');
      violation(f, c, s, kind, status, where ? `upstream got: ${where}` : undefined, reached.length);
    }
    for (const hit of ok > 0 ? reached : []) checkForwarded(f, c, s, hit, got.find((r) => r.status < 300)!);
  }
}

function reportLateHits(f: Findings): void {
  for (const [marker, late] of f.records.hits) {
    const kind = f.settled.has(marker) ? 'forwarded-late' : 'unknown-marker';
    f.log.add({ kind, mutation: '?', caseId: Number(marker.split('-')[1]), input: late.map((h) => `${h.method} ${show(h.url, 80)}`).join('; '), status: '?', upstreamHits: late.length });
  }
  for (const hit of f.records.unattributed) {
    f.log.add({ kind: 'unattributed-upstream-request', mutation: '?', caseId: -1, input: `${hit.method} ${show(hit.url, 100)}`, status: '?', upstreamHits: 1 });
  }
}

/** What the upstream got for an accepted request: the right route, the verified identity, nothing it should not. */
function checkForwarded(f: Findings, c: FuzzCase, s: Sent, hit: Hit, response: WireResponse): void {
  const v = (kind: string, detail: string) => violation(f, c, s, kind, String(response.status), detail, 1);
  const path = hit.url.split('?')[0]!;
  const route = ROUTE_LIST.find((r) => path.split('/')[1] === r.forwarded[0]);
  if (!route) return v('forwarded-outside-routes', `upstream path ${show(path, 80)}`);
  if (!route.public) {
    if (!s.credential) v('unauthorized-route', `reached ${route.name} without a valid credential`);
    else if (!route.scopes.every((scope) => s.credential!.grants.includes(scope))) v('unauthorized-route', `reached ${route.name} (needs ${route.scopes.join(' ')}) with grants "${s.credential.grants.join(' ')}"`);
  }
  if (!startsWithSegments(lenientSegments(path, { rounds: 1, nfkc: false }), route.forwarded)) {
    v('path-escape', `upstream path ${show(path, 80)} leaves /${route.forwarded.join('/')} once decoded`);
  } else if (!startsWithSegments(lenientSegments(path, { rounds: 2, nfkc: true }), route.forwarded)) {
    f.advisories.add({ kind: 'path-escape-lenient', mutation: s.mutation, caseId: c.id, input: inputOf(c, s), status: String(response.status), upstreamHits: 1, detail: `double-decoded/NFKC ${show(path, 80)} leaves /${route.forwarded.join('/')}` });
  }
  const auth = Object.keys(hit.headers).filter((name) => name.startsWith('x-auth-'));
  if (route.public) {
    if (auth.length > 0) v('auth-headers-on-public', `upstream got ${auth.join(', ')}`);
  } else if (s.credential?.identity) {
    const { sub, clientId } = s.credential.identity;
    if (hit.headers['x-auth-subject'] !== sub) v('identity', `X-Auth-Subject ${show(String(hit.headers['x-auth-subject']), 40)}, token sub ${show(String(sub), 40)}`);
    if (hit.headers['x-auth-client-id'] !== clientId) v('identity', `X-Auth-Client-Id ${show(String(hit.headers['x-auth-client-id']), 40)}, token ${show(String(clientId), 40)}`);
  }
  const scopes = hit.headers['x-auth-scopes'];
  if (!route.public && typeof scopes === 'string' && s.credential) {
    const forwarded = scopes.split(' ').filter(Boolean);
    const bad = forwarded.filter((scope) => !SCOPE_TOKEN.test(scope) || !s.credential!.grants.includes(scope));
    if (bad.length > 0) v('scopes-forwarded', `X-Auth-Scopes ${show(scopes, 60)} holds ${show(bad.join(' '), 40)}`);
  }
  for (let i = 0; i < hit.rawHeaders.length; i += 2) {
    const name = hit.rawHeaders[i]!.toLowerCase();
    if (VOUCHING.includes(name.replaceAll('_', '-'))) v('vouching-header-forwarded', `upstream got ${name}`);
    if (HOP_BY_HOP.includes(name)) v('hop-by-hop-forwarded', `upstream got ${name}`);
  }
  if (typeof hit.headers['x-request-id'] === 'string' && hit.headers['x-request-id'] !== headerOf(response, 'x-request-id')) {
    v('request-id', `upstream X-Request-Id ${show(hit.headers['x-request-id'], 40)} ≠ answer's ${show(String(headerOf(response, 'x-request-id')), 40)}`);
  }
  if (s.method !== hit.method && (METHODS as readonly string[]).includes(s.method)) v('method-altered', `sent ${s.method}, upstream got ${hit.method}`);
  if (s.bodies && !s.bodies.some((b) => b.equals(hit.body))) v('body-altered', `upstream got ${hit.body.length} bytes, sent one of ${s.bodies.map((b) => b.length).join('/')} bytes`);
  if (s.echoHeader) {
    const [name, value] = s.echoHeader;
    if (hit.headers[name] !== value) v('header-altered', `${name}: sent ${show(value, 30)}, upstream got ${show(String(hit.headers[name]), 30)}`);
  }
}
