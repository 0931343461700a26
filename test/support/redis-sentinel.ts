// A Sentinel set-up owned by one test file: a password-protected master, optionally one replica,
// and one Sentinel (quorum 1) watching them, all on free ports of 127.0.0.1; the Sentinel's
// config file lives in a temp dir that stop() removes. With a replica, failover() crashes the
// master and waits until the Sentinel has promoted the replica. The Sentinel calls a master down
// after 1 s (production Sentinels wait longer), so a fail-over takes a few seconds here.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { RedisSettings } from '../../src/config/gateway-config.js';
import { waitFor } from './attacks.js';
import { freePorts } from './redis.js';
import { EPHEMERAL_ARGS, localRedisUrl, spawnRedisServer, withRedisClient, type RedisProcess } from './redis-process.js';
import { REDIS_SERVER_BINARY } from './redis-server.js';

export interface TestSentinel {
  /** What the gateway gets: the one Sentinel, the master's name and password. */
  readonly settings: RedisSettings;
  /** The port of the master the Sentinel names now. */
  masterPort(): Promise<number>;
  /** A short-lived connection to one data node (with the password), closed after `use`. */
  withNode<T>(port: number, use: (redis: Redis) => Promise<T>): Promise<T>;
  /** Crashes the current master and waits (≤ `timeoutMs`) until the Sentinel names the replica; its port. */
  failover(timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export interface TestSentinelOptions {
  readonly masterName?: string;
  readonly password?: string;
  /** Start a replica too, which failover() promotes. */
  readonly replica?: boolean;
}

/** waitFor, where a check that throws (a node not up yet) counts as not yet. */
const poll = (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> =>
  waitFor(what, () => check().catch(() => false), timeoutMs);

export async function startRedisSentinel(options: TestSentinelOptions = {}): Promise<TestSentinel> {
  const masterName = options.masterName ?? 'gateway-test';
  const password = options.password ?? 'sentinel-test-pw';
  const dir = await mkdtemp(join(tmpdir(), 'gateway-redis-sentinel-'));
  const processes: RedisProcess[] = [];
  // masterauth: a demoted master can follow the new one. --dir: a replica writes the RDB it syncs to its working dir.
  const dataNode = (port: number) => [
    '--port', String(port), '--requirepass', password, '--masterauth', password, '--dir', dir, '--dbfilename', `${port}.rdb`, ...EPHEMERAL_ARGS,
  ];

  /** A data node (with the password) or the Sentinel (without). */
  const use = <T>(port: number, withPassword: boolean, action: (redis: Redis) => Promise<T>): Promise<T> =>
    withRedisClient(localRedisUrl(port, withPassword ? password : undefined), action);

  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((p) => p.kill()));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const [masterPort, sentinelPort, replicaPortIfAny] = (await freePorts(3)) as [number, number, number];
    processes.push(await spawnRedisServer(dataNode(masterPort), masterPort, { binary: REDIS_SERVER_BINARY, password }));
    let replicaPort: number | undefined;
    if (options.replica) {
      replicaPort = replicaPortIfAny;
      processes.push(await spawnRedisServer(
        [...dataNode(replicaPort), '--replicaof', '127.0.0.1', String(masterPort)],
        replicaPort, { binary: REDIS_SERVER_BINARY, password },
      ));
      // Linked before the Sentinel starts, so its first INFO of the master already lists the replica.
      await poll('the replica to sync', () => use(replicaPort!, true, async (r) => (await r.info('replication')).includes('master_link_status:up')), 10_000);
    }
    const configFile = join(dir, 'sentinel.conf');
    await writeFile(configFile, [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
      `sentinel auth-pass ${masterName} ${password}`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 5000`,
      '',
    ].join('\n'));
    processes.push(await spawnRedisServer([configFile, '--sentinel'], sentinelPort, { binary: REDIS_SERVER_BINARY }));
    if (replicaPort !== undefined) {
      await poll('the Sentinel to know the replica', () => use(sentinelPort, false, async (s) => {
        const replicas = (await s.call('SENTINEL', 'REPLICAS', masterName)) as string[][];
        return replicas.some((fields) => fields.includes(String(replicaPort)));
      }), 15_000);
    }

    const masterPortNow = async (): Promise<number> =>
      use(sentinelPort, false, async (s) => Number(((await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as string[])[1]));

    return {
      settings: { kind: 'sentinel', sentinels: [{ host: '127.0.0.1', port: sentinelPort }], masterName, password },
      masterPort: masterPortNow,
      withNode: (port, action) => use(port, true, action),
      async failover(timeoutMs = 15_000) {
        if (replicaPort === undefined) throw new Error('failover() needs startRedisSentinel({ replica: true })');
        const before = await masterPortNow();
        await processes.find((p) => p.port === before)?.kill();
        await poll('the Sentinel to promote the replica', async () => (await masterPortNow()) === replicaPort, timeoutMs);
        return replicaPort;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
