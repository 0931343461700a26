// Mutation fuzzing of the real gateway (CONTRACT "What a caller sees", "What an upstream sees",
// "How a token is read"): valid tokens and requests from a seeded PRNG, mutated in their claims
// (re-signed with the issuer's real key, so only the claim rules can refuse them), headers, raw
// bytes, paths, methods and HTTP framing, sent byte for byte over fresh connections. The
// generators, the token oracle and the invariants live in test/fuzz/.
//
// Invariants checked for every case, all violations collected and reported once at the end:
// - no 5xx from the gateway (the upstream only ever answers 200), no hang (per-case deadline);
// - a request the gateway refuses never reaches the upstream; an accepted one (2xx) reaches it
//   exactly once: cases are told apart by a unique X-Request-Id and a `fzm` query marker;
// - every gateway answer that is not 2xx is problem+json; no answer echoes the token;
// - a 2xx reached a route whose requirements the request met, under that route's forwarded
//   prefix even when a forgiving upstream decodes the path, with the verified identity only;
// - where CONTRACT fixes the answer (non-finite or non-number exp/nbf/iat → 401, two
//   Authorization headers → 400, TRACE → 405, …) it is that answer; controls get 200.
//
// Knobs (environment):
//   FUZZ_SEED          PRNG seed; printed on failure. Same seed, same cases. Default: fixed under CI
//                      (a landing is judged on the same cases every time), random elsewhere.
//   FUZZ_SECONDS       how long to generate cases, default 8 (the test's timeout follows it).
//   FUZZ_ITERATIONS    at most this many cases, default 100000.
//   FUZZ_CONCURRENCY   connections in flight, default 12.
//   FUZZ_DUMP          case ids whose bytes to print to stderr (FUZZ_DUMP=12,40), to replay one by hand.
//   FUZZ_VERBOSE       print the run's statistics and advisories even when it passes.
//   FUZZ_REPORT_LIMIT  how many violation groups the failure lists, default 30.
// Longer locally:
//   FUZZ_SECONDS=300 FUZZ_SEED=… NODE_OPTIONS=--experimental-vm-modules npx jest test/fuzz.e2e-spec.ts
import { randomBytes } from 'node:crypto';
import { CaseSequence } from './fuzz/cases.js';
import { type FuzzContext, startFuzzContext } from './fuzz/fuzz-context.js';
import { type FuzzCase, sendCase } from './fuzz/fuzz-case.js';
import { CaseChecker } from './fuzz/invariants.js';
import { Rng } from './fuzz/rng.js';
import { RunStats } from './fuzz/run-stats.js';
import { show } from './fuzz/show.js';

const FUZZ_SECONDS = Number(process.env.FUZZ_SECONDS ?? 8);
const FUZZ_ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
const FUZZ_SEED = process.env.FUZZ_SEED ?? (process.env.CI ? '5eed0c1a' : randomBytes(4).toString('hex'));
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 12);
const DUMP = new Set((process.env.FUZZ_DUMP ?? '').split(',').filter(Boolean).map(Number));

let ctx: FuzzContext;
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});
beforeAll(async () => {
  ctx = await startFuzzContext((close) => cleanups.push(close));
});

describe('mutation fuzz (seeded; FUZZ_SEED, FUZZ_SECONDS)', () => {
  it(
    'no 5xx, no hang, refused never forwarded, accepted forwarded once, CONTRACT answers where it fixes them',
    async () => {
      const rng = new Rng(FUZZ_SEED);
      const started = Date.now();
      const cases = new CaseSequence(ctx, rng, { iterations: FUZZ_ITERATIONS, deadline: started + FUZZ_SECONDS * 1000 });
      const checker = new CaseChecker(ctx.records);
      const stats = new RunStats();
      const runCase = async (c: FuzzCase) => {
        stats.sent(c);
        if (DUMP.has(c.id)) process.stderr.write(`fuzz case #${c.id} ${c.mutation}: ${show(c.wire.toString('latin1'), 100_000)}\n`);
        const outcome = await sendCase(ctx.gw.url, c);
        stats.ended(outcome.end);
        checker.check(c, outcome);
      };
      const worker = async () => {
        for (;;) {
          try {
            const c = await cases.next();
            if (c === undefined) return;
            await runCase(c);
          } catch (error) {
            // A bug of the fuzzer itself is reported like a finding, and the run goes on.
            checker.log.add({ kind: 'fuzz-harness-error', mutation: '-', caseId: cases.count - 1, input: '-', status: '-', upstreamHits: '-', detail: show(String((error as Error).stack ?? error), 300) });
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      await runCase(await cases.finalControl()); // the gateway still serves after everything
      await checker.finish(ctx.gw);

      const summary = stats.line(FUZZ_SEED, cases.count, started);
      const advice = checker.advisories.count > 0 ? `\nAdvisory only (a double-decoding or NFKC upstream):\n${checker.advisories.summary(5)}` : '';
      if (process.env.FUZZ_VERBOSE) process.stderr.write(`fuzz: ${summary}${advice}\n`);

      expect(stats.controls).toBeGreaterThan(0);
      if (checker.log.count > 0) {
        throw new Error(
          `${checker.log.count} invariant violations, ${summary}\n` +
            `Reproduce: FUZZ_SEED=${FUZZ_SEED} FUZZ_SECONDS=${FUZZ_SECONDS} NODE_OPTIONS=--experimental-vm-modules npx jest test/fuzz.e2e-spec.ts\n\n` +
            `${checker.log.summary(Number(process.env.FUZZ_REPORT_LIMIT ?? 30))}${advice}`,
        );
      }
    },
    (FUZZ_SECONDS + 40) * 1000,
  );
});
