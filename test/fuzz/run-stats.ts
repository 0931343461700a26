// What a run did, for the report and FUZZ_VERBOSE: cases per family, controls sent, and how the
// connections ended. A run with no controls proves nothing, so the spec asserts there were some.
import type { FuzzCase } from './fuzz-case.js';
import type { WireOutcome } from './wire-client.js';

export class RunStats {
  /** Control requests sent, pipelined ones included. */
  controls = 0;
  readonly #perFamily = new Map<string, number>();
  readonly #ends = new Map<string, number>();

  /** Counts a case as it is sent. */
  sent(c: FuzzCase): void {
    this.#perFamily.set(c.family, (this.#perFamily.get(c.family) ?? 0) + 1);
    this.controls += c.requests.filter((s) => s.control).length;
  }

  ended(end: WireOutcome['end']): void {
    this.#ends.set(end, (this.#ends.get(end) ?? 0) + 1);
  }

  /** One line: the seed, how many cases in how long, per family, controls, connection ends. */
  line(seed: string, cases: number, startedMs: number): string {
    const seconds = ((Date.now() - startedMs) / 1000).toFixed(1);
    const families = [...this.#perFamily].map(([family, count]) => `${family} ${count}`).join(', ');
    const endStats = [...this.#ends].map(([end, count]) => `${end} ${count}`).join(', ');
    return `seed ${seed}: ${cases} cases in ${seconds} s (${families}); ${this.controls} controls; connections ${endStats}`;
  }
}
