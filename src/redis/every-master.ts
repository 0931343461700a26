// CONTRACT: with a cluster, `/readyz` under `deny` needs every master. The
// cluster's own state cannot say so: ioredis drops a dead node's connection
// and sends its keys elsewhere until a MOVED points back, so "connected" stays
// true while a third of the counters are unreachable. Hence a PING to each
// master that owns slots, on a timer, and readiness reads the last round.
import type { Cluster, Redis } from 'ioredis';

const SLOT_COUNT = 16_384;
const DEFAULT_INTERVAL_MS = 1_000;

/**
 * True when every one of the 16384 slots has a master, and each of those
 * masters answers PING (within the nodes' command time-out).
 */
export async function everyMasterAnswers(cluster: Cluster): Promise<boolean> {
  const masters = new Set<string>();
  for (let slot = 0; slot < SLOT_COUNT; slot += 1) {
    const master = cluster.slots[slot]?.[0];
    if (master === undefined) return false; // a slot nobody serves: some keys cannot be counted
    masters.add(master);
  }
  const connections = new Map<string, Redis>(cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
  const answers = await Promise.all(
    [...masters].map(async (key) => {
      const node = connections.get(key);
      if (node === undefined) return false; // its connection was dropped: ioredis lost it
      return node.ping().then((reply) => reply === 'PONG', () => false);
    }),
  );
  return answers.every(Boolean);
}

/**
 * Rounds of everyMasterAnswers(): one at each 'ready' of the cluster and one
 * every `intervalMs` (never two at once). `allAnswered` is false until the
 * first round has passed. The timer does not keep the process alive; stop()
 * ends it.
 *
 * @example
 * const masters = new MasterWatch(cluster);
 * masters.allAnswered; // false while any master is unreachable
 * masters.stop();
 */
export class MasterWatch {
  #allAnswered = false;
  #running = false;
  #stopped = false;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly cluster: Cluster,
    intervalMs: number = DEFAULT_INTERVAL_MS,
  ) {
    this.#timer = setInterval(() => void this.#round(), intervalMs);
    this.#timer.unref();
    cluster.on('ready', () => void this.#round());
  }

  get allAnswered(): boolean {
    return this.#allAnswered && !this.#stopped;
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  async #round(): Promise<void> {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    try {
      this.#allAnswered = this.cluster.status === 'ready' && (await everyMasterAnswers(this.cluster).catch(() => false));
    } finally {
      this.#running = false;
    }
  }
}
