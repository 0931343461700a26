import { describe, expect, it } from '@jest/globals';
import { formatIssues, type ConfigIssue } from './format-issues.js';
import { readRedisSettings, redisConfigured } from './redis-settings.js';

function read(env: Record<string, string>) {
  const issues: ConfigIssue[] = [];
  const settings = readRedisSettings(env, issues);
  return { settings, issues: formatIssues(issues) };
}

const ONLY_ONE = 'set only one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS';
const NOT_A_NODE = 'must be redis://host:port or rediss://host:port';

describe('readRedisSettings: what each way gives', () => {
  it.each([
    ['nothing set', {}, undefined],
    ['REDIS_URL', { REDIS_URL: 'rediss://:pw@redis.internal:6380/2' }, { kind: 'single', url: 'rediss://:pw@redis.internal:6380/2' }],
    [
      'REDIS_CLUSTER_NODES, spaces around commas, IPv6',
      { REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000 , redis://redis-b.internal:7001/,redis://[fd00::3]:7002' },
      { kind: 'cluster', tls: false, nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-b.internal', port: 7001 }, { host: 'fd00::3', port: 7002 }] },
    ],
    [
      'REDIS_CLUSTER_NODES over TLS, credentials (percent-decoded) given once',
      { REDIS_CLUSTER_NODES: 'rediss://gw:p%40ss@a.internal:7000,rediss://b.internal:7000' },
      { kind: 'cluster', tls: true, username: 'gw', password: 'p@ss', nodes: [{ host: 'a.internal', port: 7000 }, { host: 'b.internal', port: 7000 }] },
    ],
    [
      'REDIS_CLUSTER_NODES, the same password on every node',
      { REDIS_CLUSTER_NODES: 'redis://:pw@a:7000,redis://:pw@b:7000' },
      { kind: 'cluster', tls: false, password: 'pw', nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7000 }] },
    ],
    [
      'REDIS_SENTINELS + REDIS_SENTINEL_MASTER',
      { REDIS_SENTINELS: 's1.internal:26379, 10.0.0.9:26380,[fd00::9]:26379', REDIS_SENTINEL_MASTER: 'gateway-main' },
      {
        kind: 'sentinel', masterName: 'gateway-main',
        sentinels: [{ host: 's1.internal', port: 26379 }, { host: '10.0.0.9', port: 26380 }, { host: 'fd00::9', port: 26379 }],
      },
    ],
    [
      'REDIS_SENTINELS with REDIS_PASSWORD',
      { REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_MASTER: 'main', REDIS_PASSWORD: 'hunter2' },
      { kind: 'sentinel', masterName: 'main', password: 'hunter2', sentinels: [{ host: 's1', port: 26379 }] },
    ],
  ])('%s', (_name, env, settings) => {
    expect(read(env)).toEqual({ settings, issues: [] });
  });
});

describe('readRedisSettings: every message', () => {
  it.each([
    // at most one way
    [{ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'redis://b:7000' }, [`REDIS_CLUSTER_NODES: is set together with REDIS_URL: ${ONLY_ONE}`]],
    [
      { REDIS_URL: 'redis://a:6379', REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm' },
      [`REDIS_SENTINELS: is set together with REDIS_URL: ${ONLY_ONE}`],
    ],
    [
      { REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'redis://b:7000', REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm' },
      [`REDIS_CLUSTER_NODES: is set together with REDIS_URL: ${ONLY_ONE}`, `REDIS_SENTINELS: is set together with REDIS_URL: ${ONLY_ONE}`],
    ],
    [
      { REDIS_CLUSTER_NODES: 'redis://b:7000', REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm' },
      [`REDIS_SENTINELS: is set together with REDIS_CLUSTER_NODES: ${ONLY_ONE}`],
    ],
    // REDIS_URL
    [{ REDIS_URL: 'http://:hunter2@redis:6379' }, ['REDIS_URL: must be a redis:// or rediss:// URL']],
    // REDIS_CLUSTER_NODES, one entry at a time
    [{ REDIS_CLUSTER_NODES: '' }, [`REDIS_CLUSTER_NODES[0]: ${NOT_A_NODE}`]],
    [{ REDIS_CLUSTER_NODES: 'a:7000' }, [`REDIS_CLUSTER_NODES[0]: ${NOT_A_NODE}`]],
    [{ REDIS_CLUSTER_NODES: 'http://a:7000' }, [`REDIS_CLUSTER_NODES[0]: ${NOT_A_NODE}`]],
    [{ REDIS_CLUSTER_NODES: 'redis://a:7000,' }, [`REDIS_CLUSTER_NODES[1]: ${NOT_A_NODE}`]],
    [{ REDIS_CLUSTER_NODES: 'redis://a:70000' }, [`REDIS_CLUSTER_NODES[0]: ${NOT_A_NODE}`]],
    [{ REDIS_CLUSTER_NODES: 'redis://a' }, ['REDIS_CLUSTER_NODES[0]: must name a port: redis://host:port']],
    [{ REDIS_CLUSTER_NODES: 'redis://a:0' }, ['REDIS_CLUSTER_NODES[0]: the port must be 1..65535']],
    [{ REDIS_CLUSTER_NODES: 'redis://a:7000/1' }, ['REDIS_CLUSTER_NODES[0]: must end at host:port (a cluster has no database number and takes no options)']],
    [{ REDIS_CLUSTER_NODES: 'redis://a:7000?tls=1' }, ['REDIS_CLUSTER_NODES[0]: must end at host:port (a cluster has no database number and takes no options)']],
    [{ REDIS_CLUSTER_NODES: 'redis://a_b:7000' }, ['REDIS_CLUSTER_NODES[0]: the host must be an IP address or a host name']],
    [{ REDIS_CLUSTER_NODES: 'redis://:%zz@a:7000' }, ['REDIS_CLUSTER_NODES[0]: the user:password must be percent-encoded (e.g. %40 for @)']],
    // REDIS_CLUSTER_NODES, across entries
    [{ REDIS_CLUSTER_NODES: 'redis://a:7000,redis://A:7000' }, ['REDIS_CLUSTER_NODES[1]: repeats REDIS_CLUSTER_NODES[0]']],
    [
      { REDIS_CLUSTER_NODES: 'redis://a:7000,rediss://b:7000' },
      ['REDIS_CLUSTER_NODES[1]: must use the scheme of REDIS_CLUSTER_NODES[0] (all redis:// or all rediss://)'],
    ],
    [
      { REDIS_CLUSTER_NODES: 'redis://b:7000,redis://:one@a:7000,redis://:two@c:7000' },
      ['REDIS_CLUSTER_NODES[2]: must carry the user:password of REDIS_CLUSTER_NODES[1] or none (a cluster has one set of credentials)'],
    ],
    [
      { REDIS_CLUSTER_NODES: 'redis:/a,redis://a,redis://b:7000,redis://b:7000' },
      [`REDIS_CLUSTER_NODES[0]: ${NOT_A_NODE}`, 'REDIS_CLUSTER_NODES[1]: must name a port: redis://host:port', 'REDIS_CLUSTER_NODES[3]: repeats REDIS_CLUSTER_NODES[2]'],
    ],
    // Sentinel
    [{ REDIS_SENTINELS: 's:26379' }, ['REDIS_SENTINEL_MASTER: is required with REDIS_SENTINELS (the name the Sentinels monitor the master by)']],
    [{ REDIS_SENTINEL_MASTER: 'main' }, ['REDIS_SENTINELS: is required with REDIS_SENTINEL_MASTER']],
    [{ REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: '' }, ['REDIS_SENTINEL_MASTER: must be 1 to 128 visible ASCII characters, no spaces (as in "sentinel monitor")']],
    [{ REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'my master' }, ['REDIS_SENTINEL_MASTER: must be 1 to 128 visible ASCII characters, no spaces (as in "sentinel monitor")']],
    [{ REDIS_SENTINELS: 'redis://s:26379', REDIS_SENTINEL_MASTER: 'm' }, ['REDIS_SENTINELS[0]: must be host:port (an IPv6 address in brackets: [fd00::1]:26379)']],
    [{ REDIS_SENTINELS: 's', REDIS_SENTINEL_MASTER: 'm' }, ['REDIS_SENTINELS[0]: must be host:port (an IPv6 address in brackets: [fd00::1]:26379)']],
    [{ REDIS_SENTINELS: 'fd00::1:26379', REDIS_SENTINEL_MASTER: 'm' }, ['REDIS_SENTINELS[0]: must be host:port (an IPv6 address in brackets: [fd00::1]:26379)']],
    [{ REDIS_SENTINELS: '[s1]:26379', REDIS_SENTINEL_MASTER: 'm' }, ['REDIS_SENTINELS[0]: the host must be an IP address or a host name']],
    [{ REDIS_SENTINELS: 's1.-bad:26379', REDIS_SENTINEL_MASTER: 'm' }, ['REDIS_SENTINELS[0]: the host must be an IP address or a host name']],
    [{ REDIS_SENTINELS: 's:0', REDIS_SENTINEL_MASTER: 'm' }, ['REDIS_SENTINELS[0]: the port must be 1..65535']],
    [{ REDIS_SENTINELS: 's:65536', REDIS_SENTINEL_MASTER: 'm' }, ['REDIS_SENTINELS[0]: the port must be 1..65535']],
    [{ REDIS_SENTINELS: 's:26379,t:26379,s:26379', REDIS_SENTINEL_MASTER: 'm' }, ['REDIS_SENTINELS[2]: repeats REDIS_SENTINELS[0]']],
    [{ REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm', REDIS_PASSWORD: '' }, ['REDIS_PASSWORD: must not be empty (leave it unset for a master without a password)']],
    [
      { REDIS_URL: 'redis://a:6379', REDIS_PASSWORD: 'hunter2' },
      ['REDIS_PASSWORD: is used only with REDIS_SENTINELS (for REDIS_URL or REDIS_CLUSTER_NODES, the password goes in the URL: redis://:password@host:port)'],
    ],
  ])('%j → %j', (env, messages) => {
    expect(read(env)).toEqual({ settings: undefined, issues: messages });
  });

  it('never repeats a value: passwords and URLs stay out of every message', () => {
    const { issues } = read({
      REDIS_URL: 'http://:hunter2@a:6379',
      REDIS_CLUSTER_NODES: 'redis://:hunter2@a,redis://:swordfish@b:7000',
      REDIS_SENTINELS: 'hunter2',
      REDIS_PASSWORD: 'hunter2',
    });
    expect(issues.length).toBeGreaterThanOrEqual(5);
    expect(issues.join('\n')).not.toMatch(/hunter2|swordfish/);
  });
});

describe('redisConfigured', () => {
  it.each([
    [{}, false],
    [{ REDIS_SENTINEL_MASTER: 'main', REDIS_PASSWORD: 'pw' }, false],
    [{ REDIS_URL: '' }, true],
    [{ REDIS_CLUSTER_NODES: 'redis://a:7000' }, true],
    [{ REDIS_SENTINELS: 's:26379' }, true],
  ])('%j → %s', (env, configured) => {
    expect(redisConfigured(env)).toBe(configured);
  });
});
