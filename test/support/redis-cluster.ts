// A Redis Cluster owned by one test file: `masters` cluster-enabled redis-servers on free ports
// of 127.0.0.1, each with its own temp dir for nodes.conf, joined by `redis-cli --cluster create`
// (no replicas). A master can be crashed and started again with its nodes.conf, so it rejoins
// with its slots. stop() kills every node and removes the temp dirs.
//
// The nodes run with cluster-require-full-coverage no, so while one master is down the others
// keep serving their slots, and with a 3 s node time-out, so that state comes quickly.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import type { RedisSettings } from '../../src/config/gateway-config.js';
import { waitFor } from './attacks.js';
import { freePorts } from './redis.js';
import { EPHEMERAL_ARGS, localRedisUrl, spawnRedisServer, withRedisClient, type RedisProcess } from './redis-process.js';
import { REDIS_SERVER_BINARY } from './redis-server.js';

/** REDIS_CLI_BINARY, default /usr/bin/redis-cli: creates the cluster. */
export const REDIS_CLI_BINARY = process.env.REDIS_CLI_BINARY ?? '/usr/bin/redis-cli';

const run = promisify(execFile);

/** Whether redis-server and redis-cli are there to build a cluster with. */
export function redisClusterAvailable(): boolean {
  return existsSync(REDIS_SERVER_BINARY) && existsSync(REDIS_CLI_BINARY);
}

export interface TestRedisCluster {
  /** What the gateway gets: every master as a seed node, no TLS, no password. */
  readonly settings: RedisSettings;
  /** The port of the master that owns `key`'s slot (asked of a running node). */
  masterOf(key: string): Promise<number>;
  /** Keys matching `pattern` on every running master. */
  keys(pattern: string): Promise<string[]>;
  /** A short-lived connection to one node (no cluster redirection), closed after `use`. */
  withNode<T>(port: number, use: (redis: Redis) => Promise<T>): Promise<T>;
  /** SIGKILL one node: a crash. */
  crash(port: number): Promise<void>;
  /** Starts a crashed node again with its nodes.conf and waits until every node sees the cluster whole. */
  revive(port: number): Promise<void>;
  stop(): Promise<void>;
}

interface ClusterNode {
  readonly port: number;
  readonly args: readonly string[];
  process?: RedisProcess;
}

/** Starts and joins the cluster; waits until every node reports it ok with all 16384 slots. */
export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-redis-cluster-'));
  const nodes: ClusterNode[] = [];
  const running = () => nodes.filter((node) => node.process !== undefined);

  const withNode = <T>(port: number, use: (redis: Redis) => Promise<T>): Promise<T> => withRedisClient(localRedisUrl(port), use);

  const start = async (node: ClusterNode): Promise<void> => {
    node.process = await spawnRedisServer(node.args, node.port, { binary: REDIS_SERVER_BINARY });
  };

  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.process?.kill()));
    nodes.forEach((node) => delete node.process);
    await rm(dir, { recursive: true, force: true });
  };

  /** Every running node: cluster_state ok, all slots assigned, and no node flagged as failed. */
  const whole = async (): Promise<boolean> => {
    const views = await Promise.all(
      running().map((node) =>
        withNode(node.port, async (redis) => {
          const info = String(await redis.cluster('INFO'));
          const table = String(await redis.cluster('NODES'));
          return info.includes('cluster_state:ok') && info.includes('cluster_slots_assigned:16384') &&
            info.includes(`cluster_known_nodes:${masters}`) && !/\bfail\??\b/.test(table);
        }).catch(() => false)),
    );
    return views.length === masters && views.every(Boolean);
  };

  const waitWhole = (when: string): Promise<void> => waitFor(`the test cluster to be whole ${when}`, whole, 15_000);

  try {
    const ports = await freePorts(2 * masters); // a client port and a cluster bus port each
    for (let i = 0; i < masters; i += 1) {
      const [port, busPort] = [ports[2 * i]!, ports[2 * i + 1]!];
      const nodeDir = join(dir, String(i));
      await mkdir(nodeDir);
      nodes.push({
        port,
        args: [
          '--port', String(port), '--cluster-enabled', 'yes', '--cluster-port', String(busPort),
          '--cluster-config-file', 'nodes.conf', '--dir', nodeDir,
          '--cluster-node-timeout', '3000', '--cluster-require-full-coverage', 'no', ...EPHEMERAL_ARGS,
        ],
      });
    }
    await Promise.all(nodes.map(start));
    await run(REDIS_CLI_BINARY, [
      '--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '0', '--cluster-yes',
    ], { timeout: 20_000 });
    await waitWhole('after redis-cli --cluster create');
  } catch (error) {
    await stop();
    throw error;
  }

  const cluster: TestRedisCluster = {
    settings: { kind: 'cluster', nodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })), tls: false },
    withNode,
    async masterOf(key) {
      const [node] = running();
      if (!node) throw new Error('no node of the test cluster is running');
      return withNode(node.port, async (redis) => {
        const slot = Number(await redis.cluster('KEYSLOT', key));
        const ranges = await redis.cluster('SLOTS'); // [from, to, [host, port, id] of the master, …replicas]
        const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
        if (!master) throw new Error(`slot ${slot} has no master`);
        return master[1];
      });
    },
    async keys(pattern) {
      const perNode = await Promise.all(running().map((node) => withNode(node.port, (redis) => redis.keys(pattern))));
      return perNode.flat();
    },
    async crash(port) {
      const node = nodes.find((n) => n.port === port);
      await node?.process?.kill();
      if (node) delete node.process;
    },
    async revive(port) {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`port ${port} is no node of the test cluster`);
      if (!node.process) await start(node);
      await waitWhole(`after starting node ${port} again`);
    },
    stop,
  };
  return cluster;
}
