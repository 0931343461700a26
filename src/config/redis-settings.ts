// The Redis variables (CONTRACT "Environment") → RedisSettings: REDIS_URL (one
// Redis), REDIS_CLUSTER_NODES (a Cluster's seed nodes), or REDIS_SENTINELS with
// REDIS_SENTINEL_MASTER (and REDIS_PASSWORD). At most one of the three ways.
// Every entry of a list is checked on its own, so each problem is named once,
// with its index. No message repeats a value: URLs and REDIS_PASSWORD may carry
// a password.
import { isIP } from 'node:net';
import { isHostOrIp, type Parsed } from './env-values.js';
import type { ConfigIssue } from './format-issues.js';
import type { RedisAddress, RedisSettings } from './gateway-config.js';
import type { Env } from './substitute-env.js';

/** The three ways to name a Redis, in the order a conflict is reported. */
export const REDIS_VARIABLES = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const;

/** Which variable configured `settings`: for messages that must name it. */
export const REDIS_VARIABLE_OF = {
  single: 'REDIS_URL',
  cluster: 'REDIS_CLUSTER_NODES',
  sentinel: 'REDIS_SENTINELS',
} as const satisfies Record<RedisSettings['kind'], (typeof REDIS_VARIABLES)[number]>;

const REDIS_SCHEMES = new Set(['redis:', 'rediss:']);
const SENTINEL_ADDRESS = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/;
const MASTER_NAME = /^[\x21-\x7e]{1,128}$/;

/** Whether any of the three is set (valid or not): what `throttle.storage: redis` needs. */
export function redisConfigured(env: Env): boolean {
  return REDIS_VARIABLES.some((name) => env[name] !== undefined);
}

/**
 * The Redis the environment names, or undefined (none, or any problem, each pushed to `issues`).
 *
 * @example
 * readRedisSettings({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_MASTER: 'main' }, issues);
 * // { kind: 'sentinel', sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }], masterName: 'main' }
 */
export function readRedisSettings(env: Env, issues: ConfigIssue[]): RedisSettings | undefined {
  const issuesBefore = issues.length;
  const set = REDIS_VARIABLES.filter((name) => env[name] !== undefined);
  for (const name of set.slice(1)) {
    issues.push({ path: [name], message: `is set together with ${set[0]}: set only one of ${REDIS_VARIABLES.join(', ')}` });
  }
  // Each one set is still checked, so a conflict does not hide its other problems.
  const candidates = [
    env.REDIS_URL === undefined ? undefined : single(env.REDIS_URL, issues),
    env.REDIS_CLUSTER_NODES === undefined ? undefined : cluster(env.REDIS_CLUSTER_NODES, issues),
    sentinel(env, issues),
  ];
  if (issues.length > issuesBefore) return undefined;
  return candidates.find((candidate) => candidate !== undefined);
}

function single(url: string, issues: ConfigIssue[]): RedisSettings | undefined {
  const parsed = parseUrl(url);
  if (parsed !== undefined && REDIS_SCHEMES.has(parsed.protocol) && parsed.hostname !== '') return { kind: 'single', url };
  issues.push({ path: ['REDIS_URL'], message: 'must be a redis:// or rediss:// URL' });
  return undefined;
}

interface ClusterNode {
  readonly address: RedisAddress;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
}

/** `redis://[user:password@]host:port[,…]`: one scheme and one set of credentials for the whole cluster. */
function cluster(value: string, issues: ConfigIssue[]): RedisSettings | undefined {
  const nodes = addressList('REDIS_CLUSTER_NODES', value, clusterNode, (node) => node.address, issues);
  const [first] = nodes;
  if (first === undefined) return undefined;
  const withCredentials = nodes.find(({ entry }) => entry.username !== undefined || entry.password !== undefined);
  let consistent = true;
  for (const { i, entry } of nodes.slice(1)) {
    if (entry.tls !== first.entry.tls) {
      issues.push({
        path: ['REDIS_CLUSTER_NODES', i],
        message: `must use the scheme of REDIS_CLUSTER_NODES[${first.i}] (all redis:// or all rediss://)`,
      });
      consistent = false;
    }
    const credentialsGiven = entry.username !== undefined || entry.password !== undefined;
    if (withCredentials && credentialsGiven && (entry.username !== withCredentials.entry.username || entry.password !== withCredentials.entry.password)) {
      issues.push({
        path: ['REDIS_CLUSTER_NODES', i],
        message: `must carry the user:password of REDIS_CLUSTER_NODES[${withCredentials.i}] or none (a cluster has one set of credentials)`,
      });
      consistent = false;
    }
  }
  if (!consistent) return undefined;
  const { username, password } = withCredentials?.entry ?? {};
  return {
    kind: 'cluster',
    nodes: nodes.map(({ entry }) => entry.address),
    tls: first.entry.tls,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
}

function clusterNode(entry: string): Parsed<ClusterNode> {
  const url = parseUrl(entry);
  if (url === undefined || !REDIS_SCHEMES.has(url.protocol) || url.hostname === '') {
    return { problem: 'must be redis://host:port or rediss://host:port' };
  }
  if (url.port === '') return { problem: 'must name a port: redis://host:port' };
  if (url.port === '0') return { problem: 'the port must be 1..65535' };
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    return { problem: 'must end at host:port (a cluster has no database number and takes no options)' };
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!isHostOrIp(host)) return { problem: 'the host must be an IP address or a host name' };
  let username: string | undefined;
  let password: string | undefined;
  try {
    username = url.username === '' ? undefined : decodeURIComponent(url.username);
    password = url.password === '' ? undefined : decodeURIComponent(url.password);
  } catch {
    return { problem: 'the user:password must be percent-encoded (e.g. %40 for @)' };
  }
  return {
    value: {
      address: { host, port: Number(url.port) },
      tls: url.protocol === 'rediss:',
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
    },
  };
}

/** REDIS_SENTINELS with REDIS_SENTINEL_MASTER, each needing the other; REDIS_PASSWORD only with them. */
function sentinel(env: Env, issues: ConfigIssue[]): RedisSettings | undefined {
  const { REDIS_SENTINELS: list, REDIS_SENTINEL_MASTER: masterName, REDIS_PASSWORD: password } = env;
  if (list !== undefined && masterName === undefined) {
    issues.push({ path: ['REDIS_SENTINEL_MASTER'], message: 'is required with REDIS_SENTINELS (the name the Sentinels monitor the master by)' });
  }
  if (list === undefined && masterName !== undefined) {
    issues.push({ path: ['REDIS_SENTINELS'], message: 'is required with REDIS_SENTINEL_MASTER' });
  }
  if (masterName !== undefined && !MASTER_NAME.test(masterName)) {
    issues.push({ path: ['REDIS_SENTINEL_MASTER'], message: 'must be 1 to 128 visible ASCII characters, no spaces (as in "sentinel monitor")' });
  }
  if (password !== undefined && list === undefined) {
    issues.push({
      path: ['REDIS_PASSWORD'],
      message: 'is used only with REDIS_SENTINELS (for REDIS_URL or REDIS_CLUSTER_NODES, the password goes in the URL: redis://:password@host:port)',
    });
  } else if (password === '') {
    issues.push({ path: ['REDIS_PASSWORD'], message: 'must not be empty (leave it unset for a master without a password)' });
  }
  if (list === undefined) return undefined;
  const sentinels = addressList('REDIS_SENTINELS', list, sentinelAddress, (address) => address, issues);
  if (sentinels.length === 0 || masterName === undefined) return undefined;
  return {
    kind: 'sentinel',
    sentinels: sentinels.map(({ entry }) => entry),
    masterName,
    ...(password === undefined ? {} : { password }),
  };
}

function sentinelAddress(entry: string): Parsed<RedisAddress> {
  const match = SENTINEL_ADDRESS.exec(entry);
  if (match === null) return { problem: 'must be host:port (an IPv6 address in brackets: [fd00::1]:26379)' };
  const [, ipv6, name, portText] = match;
  const host = ipv6 ?? name!;
  if (ipv6 !== undefined ? isIP(ipv6) !== 6 : !isHostOrIp(host)) return { problem: 'the host must be an IP address or a host name' };
  const port = Number(portText);
  return port >= 1 && port <= 65_535 ? { value: { host, port } } : { problem: 'the port must be 1..65535' };
}

/**
 * A comma-separated list (spaces around commas ignored): each entry parsed, each problem pushed
 * as `NAME[i]: …`, an address given twice reported at its second place. The valid entries, with
 * their index.
 */
function addressList<T>(
  name: string, value: string, parse: (entry: string) => Parsed<T>, addressOf: (entry: T) => RedisAddress, issues: ConfigIssue[],
): { i: number; entry: T }[] {
  const valid: { i: number; entry: T }[] = [];
  const firstIndex = new Map<string, number>();
  value.split(',').forEach((text, i) => {
    const result = parse(text.trim());
    if ('problem' in result) {
      issues.push({ path: [name, i], message: result.problem });
      return;
    }
    const { host, port } = addressOf(result.value);
    const key = `${host.toLowerCase()}:${port}`;
    const earlier = firstIndex.get(key);
    if (earlier !== undefined) {
      issues.push({ path: [name, i], message: `repeats ${name}[${earlier}]` });
      return;
    }
    firstIndex.set(key, i);
    valid.push({ i, entry: result.value });
  });
  return valid;
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined; // reported by the caller, without the value (it may hold a password)
  }
}
