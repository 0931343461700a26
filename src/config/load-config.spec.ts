import { describe, expect, it } from '@jest/globals';
import { ASYMMETRIC_ALGORITHMS } from './gateway-config.js';
import { type ConfigSource, ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from './load-config.js';

// CONTRACT.md's example, with passthrough instead of client-credentials (not in this version).
const CONTRACT_YAML = `
auth:
  clockToleranceSeconds: 30          # exp/nbf/iat leeway, 0..300
  requireTyp: false                  # true: header typ must be at+jwt (RFC 9068)
  issuers:                           # one or more trusted issuers
    - issuer: https://idp.example.com/     # exact match of iss
      audience: [api://gateway]            # token aud must contain one of these
      jwksUri: https://idp.example.com/jwks   # optional; else OIDC / RFC 8414 discovery
      algorithms: [RS256, PS256, ES256, EdDSA] # optional allowlist; never none or HS*
routes:
  - id: orders                        # unique; used in logs, metrics, rate-limit keys
    pathPrefix: /api/orders           # matches /api/orders and /api/orders/...
    methods: [GET, POST]              # optional; default all
    upstream: http://orders.internal:8080  # a path here (…:8080/v1) is kept as the base of every forwarded path
    stripPrefix: /api                 # optional; removed before forwarding
    public: false                     # true: no token needed (still throttled by IP)
    scopes: [orders:read]             # every one required (scope string or scp array)
    timeoutMs: 10000                  # upstream response-header timeout
    throttle: { limit: 100, ttlSeconds: 60 }    # per caller identity on this route; or a list of windows, all enforced:
                                      # [{ limit: 10, ttlSeconds: 1 }, { limit: 5000, ttlSeconds: 3600 }]
    upstreamAuth: { type: passthrough }
clients:                              # OAuth 2.0 client-credentials clients (RFC 6749 §4.4)
  orders:
    tokenUrl: https://idp.example.com/oauth/token
    clientId: gateway
    clientSecret: \${ORDERS_CLIENT_SECRET}
    authMethod: client_secret_basic   # client_secret_post | private_key_jwt
    # private_key_jwt instead of clientSecret: privateKeyFile (PEM or JWK file), optional keyId
    scope: orders.internal
    audience: https://orders.internal # sent as audience and resource (RFC 8707)
throttle:
  default: { limit: 600, ttlSeconds: 60 }  # for routes without their own (one window or a list)
  clients:                            # optional per-caller quotas, replacing the route's windows for that caller
    partner-42: { limit: 6000, ttlSeconds: 60 }   # key: the caller's client_id (else azp, else sub)
  storage: memory                     # memory (per replica) | redis (needs REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS: a startup error without one)
  onStorageError: local               # Redis down: local | allow | deny (deny answers 503 + Retry-After)
  unauthenticated: { limit: 30, ttlSeconds: 60 }  # per client IP: requests that fail authentication (every 401)
trustProxy: []                        # CIDRs whose X-Forwarded-For is believed
shutdown:
  delaySeconds: 0                     # after SIGTERM: /readyz 503 but still accepting, so load balancers notice first
  drainSeconds: 25                    # then the listener closes and in-flight requests get this long; exit 0
`;

const CONTRACT_JSON = JSON.stringify({
  auth: {
    clockToleranceSeconds: 30, requireTyp: false,
    issuers: [{ issuer: 'https://idp.example.com/', audience: ['api://gateway'], jwksUri: 'https://idp.example.com/jwks', algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] }],
  },
  routes: [{
    id: 'orders', pathPrefix: '/api/orders', methods: ['GET', 'POST'], upstream: 'http://orders.internal:8080', stripPrefix: '/api',
    public: false, scopes: ['orders:read'], timeoutMs: 10000, throttle: { limit: 100, ttlSeconds: 60 }, upstreamAuth: { type: 'passthrough' },
  }],
  clients: {
    orders: {
      tokenUrl: 'https://idp.example.com/oauth/token', clientId: 'gateway', clientSecret: '${ORDERS_CLIENT_SECRET}',
      authMethod: 'client_secret_basic', scope: 'orders.internal', audience: 'https://orders.internal',
    },
  },
  throttle: {
    default: { limit: 600, ttlSeconds: 60 }, clients: { 'partner-42': { limit: 6000, ttlSeconds: 60 } },
    storage: 'memory', onStorageError: 'local', unauthenticated: { limit: 30, ttlSeconds: 60 },
  },
  trustProxy: [],
  shutdown: { delaySeconds: 0, drainSeconds: 25 },
}, null, 2);

const SECRET = 's3cr"et: {x}\n# not a comment';

const CONTRACT_CONFIG = {
  auth: {
    clockToleranceSeconds: 30, requireTyp: false, jwksRefetchCooldownSeconds: 5,
    issuers: [{ issuer: 'https://idp.example.com/', audience: ['api://gateway'], jwksUri: 'https://idp.example.com/jwks', algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] }],
  },
  routes: [{
    id: 'orders', pathPrefix: '/api/orders', methods: ['GET', 'POST'], upstream: 'http://orders.internal:8080', stripPrefix: '/api',
    public: false, scopes: ['orders:read'], timeoutMs: 10000, maxBodyBytes: 10_485_760, throttle: [{ limit: 100, ttlSeconds: 60 }],
    upstreamAuth: { type: 'passthrough' },
  }],
  clients: {
    orders: {
      tokenUrl: 'https://idp.example.com/oauth/token', clientId: 'gateway', clientSecret: SECRET,
      authMethod: 'client_secret_basic', scope: 'orders.internal', audience: 'https://orders.internal',
    },
  },
  throttle: {
    default: [{ limit: 600, ttlSeconds: 60 }], clients: { 'partner-42': [{ limit: 6000, ttlSeconds: 60 }] },
    storage: 'memory', onStorageError: 'local', unauthenticated: { limit: 30, ttlSeconds: 60 },
  },
  trustProxy: [],
  shutdown: { delaySeconds: 0, drainSeconds: 25 },
};

const DEFAULT_SETTINGS = { port: 3000, host: '0.0.0.0', logLevel: 'info' };

/** A source over in-memory files; `reads` records what was read. */
function source(files: Record<string, string>, env: Record<string, string> = {}): ConfigSource & { reads: string[] } {
  const reads: string[] = [];
  return {
    env,
    reads,
    fileExists: (path) => Object.hasOwn(files, path),
    readFile: (path) => {
      reads.push(path);
      if (!Object.hasOwn(files, path)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return files[path];
    },
  };
}

/** The ConfigError's lines; fails the test if loading succeeds or throws anything else. */
function issuesOf(src: ConfigSource): readonly string[] {
  let thrown: unknown;
  try {
    loadConfig(src);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  return (thrown as ConfigError).issues;
}

const PUBLIC_ONLY = 'routes:\n  - { id: demo, pathPrefix: /demo, upstream: "http://127.0.0.1:4000", public: true }\n';

describe('loadConfig: the CONTRACT example', () => {
  it('loads from YAML, substituting ${ORDERS_CLIENT_SECRET} after parsing', () => {
    const loaded = loadConfig(source({ [DEFAULT_CONFIG_PATH]: CONTRACT_YAML }, { ORDERS_CLIENT_SECRET: SECRET }));
    expect(loaded).toEqual({ mode: 'file', path: './gateway.yaml', config: CONTRACT_CONFIG, settings: DEFAULT_SETTINGS });
  });

  it('loads the same from JSON', () => {
    const loaded = loadConfig(source({ '/etc/gateway/config.json': CONTRACT_JSON }, { GATEWAY_CONFIG: '/etc/gateway/config.json', ORDERS_CLIENT_SECRET: SECRET }));
    expect(loaded).toEqual({ mode: 'file', path: '/etc/gateway/config.json', config: CONTRACT_CONFIG, settings: DEFAULT_SETTINGS });
  });

  it('names an unset variable where it is used, and nothing else about that field', () => {
    expect(issuesOf(source({ [DEFAULT_CONFIG_PATH]: CONTRACT_YAML }))).toEqual([
      'clients.orders.clientSecret: environment variable ORDERS_CLIENT_SECRET is not set',
    ]);
  });

  it('returns everything deep-frozen, settings and token keys included', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const loaded = loadConfig(source({ [DEFAULT_CONFIG_PATH]: CONTRACT_YAML }, { ORDERS_CLIENT_SECRET: 'x', TOKEN_CACHE_KEY: `k1:${key}` }));
    if (loaded.mode !== 'file') throw new Error('expected file mode');
    const keys = loaded.settings.tokenCacheKeys ?? [];
    for (const part of [loaded, loaded.config, loaded.config.routes[0].methods, loaded.config.clients.orders, loaded.settings, keys, keys[0]]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(keys[0].key.equals(Buffer.alloc(32, 7))).toBe(true);
  });
});

describe('loadConfig: choosing the file or dev mode', () => {
  it('GATEWAY_CONFIG unset and ./gateway.yaml absent: dev mode with the settings', () => {
    // Dev mode listens on loopback unless HOST is set (its issuer signs tokens for anyone).
    expect(loadConfig(source({}, { PORT: '8080' }))).toEqual({ mode: 'dev', settings: { ...DEFAULT_SETTINGS, port: 8080, host: '127.0.0.1' } });
    expect(loadConfig(source({}, { HOST: '0.0.0.0' })).settings.host).toBe('0.0.0.0');
  });

  it('GATEWAY_CONFIG unset and ./gateway.yaml present: that file', () => {
    const src = source({ [DEFAULT_CONFIG_PATH]: PUBLIC_ONLY });
    expect(loadConfig(src)).toMatchObject({ mode: 'file', path: './gateway.yaml' });
    expect(src.reads).toEqual(['./gateway.yaml']);
  });

  it('GATEWAY_CONFIG set: that file, even when ./gateway.yaml exists', () => {
    const src = source({ [DEFAULT_CONFIG_PATH]: 'not: [valid', 'conf/gw.yml': PUBLIC_ONLY }, { GATEWAY_CONFIG: 'conf/gw.yml' });
    expect(loadConfig(src)).toMatchObject({ mode: 'file', path: 'conf/gw.yml' });
    expect(src.reads).toEqual(['conf/gw.yml']);
  });

  it.each<{ name: string; files: Record<string, string>; env: Record<string, string>; issues: string[] }>([
    {
      name: 'GATEWAY_CONFIG naming a missing file is an error, never dev mode',
      files: {}, env: { GATEWAY_CONFIG: '/etc/gateway/gatway.yaml' },
      issues: ['GATEWAY_CONFIG: config file /etc/gateway/gatway.yaml does not exist'],
    },
    {
      name: 'GATEWAY_CONFIG empty',
      files: { [DEFAULT_CONFIG_PATH]: PUBLIC_ONLY }, env: { GATEWAY_CONFIG: '' },
      issues: ['GATEWAY_CONFIG: is empty: name a config file, or unset it to use ./gateway.yaml'],
    },
    {
      name: 'dev mode refused in production',
      files: {}, env: { NODE_ENV: 'production' },
      issues: ['no config file and NODE_ENV=production: dev mode is refused in production; set GATEWAY_CONFIG'],
    },
    {
      name: 'dev mode refused when AUTH_* is set (routes come only from a file)',
      files: {}, env: { AUTH_ISSUER: 'https://idp.example.com/', AUTH_AUDIENCE: 'api://gateway' },
      issues: ['AUTH_ISSUER, AUTH_AUDIENCE: set, but there is no config file (./gateway.yaml); routes come only from a config file: set GATEWAY_CONFIG'],
    },
    {
      name: 'dev mode refused when ./gateway.yml exists instead',
      files: { './gateway.yml': PUBLIC_ONLY }, env: {},
      issues: ['./gateway.yml exists, but the default config file is ./gateway.yaml: rename it or set GATEWAY_CONFIG=./gateway.yml'],
    },
    {
      name: 'dev mode with a bad setting',
      files: {}, env: { PORT: '99999', NODE_ENV: 'production' },
      issues: [
        'no config file and NODE_ENV=production: dev mode is refused in production; set GATEWAY_CONFIG',
        'PORT: must be an integer 0..65535',
      ],
    },
  ])('$name', ({ files, env, issues }) => {
    expect(issuesOf(source(files, env))).toEqual(issues);
  });

  it('a file that cannot be read names the file and the reason', () => {
    const src: ConfigSource = {
      env: {},
      fileExists: () => true,
      readFile: () => {
        throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      },
    };
    expect(issuesOf(src)).toEqual(['./gateway.yaml: cannot be read (EACCES)']);
  });
});

describe('loadConfig: file problems', () => {
  it('a repeated key is a parse error with its line', () => {
    const text = `${PUBLIC_ONLY}trustProxy: []\ntrustProxy: [10.0.0.0/8]\n`;
    expect(issuesOf(source({ [DEFAULT_CONFIG_PATH]: text }))).toEqual(['./gateway.yaml: line 4, column 1: Map keys must be unique']);
  });

  it('reports the file, the variables and the settings together', () => {
    const text = [
      'routes:',
      '  - { id: orders, pathPrefix: /orders, upstream: "http://${ORDERS_HOST}:8080", timeoutMs: 0 }',
      '  - { id: users, pathPrefix: /users, upstream: "http://${USERS_HOST}" }',
    ].join('\n');
    expect(issuesOf(source({ [DEFAULT_CONFIG_PATH]: text }, { PORT: 'x', LOG_LEVEL: 'loud' }))).toEqual([
      'routes[0].upstream: environment variable ORDERS_HOST is not set',
      'routes[1].upstream: environment variable USERS_HOST is not set',
      'routes[0].timeoutMs: must be an integer 1..300000',
      'auth: required: routes "orders", "users" need tokens (add an auth section, or set AUTH_ISSUER and AUTH_AUDIENCE)',
      'PORT: must be an integer 0..65535',
      'LOG_LEVEL: must be one of: fatal, error, warn, info, debug, trace, silent',
    ]);
  });

  it('$${ stays a literal ${ and is not looked up', () => {
    const text = `${PUBLIC_ONLY}clients:\n  a: { tokenUrl: "https://\${IDP_HOST}/token", clientId: "id-$\${NOT_A_VAR}", clientSecret: x }\n`;
    const loaded = loadConfig(source({ [DEFAULT_CONFIG_PATH]: text }, { IDP_HOST: 'idp.example.com' }));
    expect(loaded).toMatchObject({ config: { clients: { a: { tokenUrl: 'https://idp.example.com/token', clientId: 'id-${NOT_A_VAR}' } } } });
  });

  it('AUTH_* gives a file without an auth section its issuer', () => {
    const text = 'routes:\n  - { id: orders, pathPrefix: /orders, upstream: "http://orders.internal" }\n';
    const loaded = loadConfig(source({ [DEFAULT_CONFIG_PATH]: text }, { AUTH_ISSUER: 'https://idp.example.com/', AUTH_AUDIENCE: 'api://gateway' }));
    expect(loaded).toMatchObject({
      config: { auth: { issuers: [{ issuer: 'https://idp.example.com/', audience: ['api://gateway'], algorithms: [...ASYMMETRIC_ALGORITHMS] }] } },
    });
  });

  it('AUTH_* beside an auth section is refused', () => {
    const env = { AUTH_ISSUER: 'https://other.example.com/', AUTH_AUDIENCE: 'x', ORDERS_CLIENT_SECRET: 'x' };
    expect(issuesOf(source({ [DEFAULT_CONFIG_PATH]: CONTRACT_YAML }, env))).toEqual([
      'auth: is set both in the config file and by AUTH_ISSUER, AUTH_AUDIENCE; use one or the other',
    ]);
  });

  it('ConfigError.message lists each issue on its own indented line', () => {
    expect(() => loadConfig(source({}, { GATEWAY_CONFIG: 'missing.yaml', PORT: 'x' }))).toThrow(
      'invalid gateway configuration:\n  GATEWAY_CONFIG: config file missing.yaml does not exist\n  PORT: must be an integer 0..65535',
    );
  });
});
