// The config file's schema: strict objects all the way down (a typo such as
// `scope:` is an error, not a silently ignored field), every bound with its
// default, and the cross-field checks of cross-checks.ts. Its output is the
// GatewayConfig shape; the type at the bottom keeps the two in step.
import { z } from 'zod';
import { withCheck } from './check-context.js';
import {
  bool, checkedString, int, list, nonEmptyString, oneOf, routePath, SCOPE_TOKEN, SCOPE_TOKEN_MESSAGE,
  secureUrl, strict, unlessAbsent,
} from './config-fields.js';
import { checkClient, checkConfig, checkIssuer, checkRoute, type ConfigCheckOptions } from './cross-checks.js';
import { ASYMMETRIC_ALGORITHMS, HTTP_METHODS, type GatewayConfig, type HttpMethod, type JwsAlgorithm } from './gateway-config.js';
import { isIpOrCidr } from './ip-ranges.js';
import { reservedPrefixOf } from './path-prefix.js';
import { upstreamUrl } from './url-rules.js';

const ThrottleWindow = strict({
  limit: int(1),
  ttlSeconds: int(1, 86_400),
});

/** One window or a non-empty list of them; always a list after parsing. */
const throttleWindows = () =>
  z
    .union([list(ThrottleWindow, { emptyMessage: 'must list at least one window' }), ThrottleWindow], {
      error: unlessAbsent('must be a window { limit, ttlSeconds } or a list of them'),
    })
    .transform((windows) => (Array.isArray(windows) ? windows : [windows]));

const REFUSED_ALGORITHM = /^(?:none|HS\d*)$/i;

const algorithm = checkedString<JwsAlgorithm>((value) => {
  if (REFUSED_ALGORITHM.test(value)) {
    return { problem: `${value} is never accepted: HMAC and 'none' are refused for asymmetric issuers` };
  }
  const known = (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(value);
  return known ? { value: value as JwsAlgorithm } : { problem: `must be one of: ${ASYMMETRIC_ALGORITHMS.join(', ')}` };
});

const audienceEntry = nonEmptyString();

const Issuer = withCheck(
  strict({
    issuer: nonEmptyString('must be a non-empty string without whitespace').regex(/^\S+$/, {
      error: 'must be a non-empty string without whitespace',
    }),
    audience: z
      .union([audienceEntry, list(audienceEntry, { emptyMessage: 'must list at least one audience' })], {
        error: unlessAbsent('must be a string or a list of strings'),
      })
      .transform((audience) => (typeof audience === 'string' ? [audience] : audience)),
    jwksUri: secureUrl().optional(),
    algorithms: list(algorithm, {
      emptyMessage: 'must list at least one algorithm (omit it to allow every asymmetric one)',
      unique: (alg) => alg,
    }).default(() => [...ASYMMETRIC_ALGORITHMS]),
  }),
  checkIssuer,
);

const Auth = strict({
  clockToleranceSeconds: int(0, 300).default(30),
  requireTyp: bool().default(false),
  jwksRefetchCooldownSeconds: int(1, 3600).default(5),
  issuers: list(Issuer, { emptyMessage: 'must list at least one issuer' }),
});

const method = checkedString<HttpMethod>((value) => {
  const upper = value.toUpperCase();
  return (HTTP_METHODS as readonly string[]).includes(upper)
    ? { value: upper as HttpMethod }
    : { problem: `must be one of: ${HTTP_METHODS.join(', ')}` };
});

const pathPrefix = routePath().transform((path, ctx) => {
  const reserved = reservedPrefixOf(path);
  if (reserved !== undefined) {
    ctx.addIssue({ code: 'custom', message: `"${reserved}" and everything under it is reserved for the gateway's own endpoints`, input: undefined });
    return z.NEVER;
  }
  return path;
});

const scope = z.string({ error: unlessAbsent(SCOPE_TOKEN_MESSAGE) }).regex(SCOPE_TOKEN, { error: SCOPE_TOKEN_MESSAGE });

const UPSTREAM_AUTH_TYPES = 'must be one of: none, passthrough, client-credentials';

const UpstreamAuth = z.discriminatedUnion(
  'type',
  [
    strict({ type: z.literal('none') }),
    strict({ type: z.literal('passthrough') }),
    strict({ type: z.literal('client-credentials'), client: nonEmptyString() }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? UPSTREAM_AUTH_TYPES : undefined) },
);

const ROUTE_ID_MESSAGE = 'must be lower-case letters, digits and "-", starting with a letter or digit';

const Route = withCheck(
  strict({
    id: z
      .string({ error: unlessAbsent(ROUTE_ID_MESSAGE) })
      .regex(/^[a-z0-9][a-z0-9-]*$/, { error: ROUTE_ID_MESSAGE })
      .max(64, { error: 'must be at most 64 characters' }),
    pathPrefix,
    methods: list(method, {
      emptyMessage: 'must list at least one method (omit it to allow every method)',
      unique: (m) => m,
    }).optional(),
    upstream: checkedString<string>((value) => {
      const result = upstreamUrl(value);
      return 'problem' in result ? result : { value: result.url };
    }),
    stripPrefix: routePath().optional(),
    public: bool().default(false),
    scopes: list(scope, { unique: (s) => s }).default(() => []),
    timeoutMs: int(1, 300_000).default(10_000),
    maxBodyBytes: int(0, 1_073_741_824).default(10_485_760),
    throttle: throttleWindows().optional(),
    upstreamAuth: UpstreamAuth.default(() => ({ type: 'none' as const })),
  }),
  checkRoute,
);

const clientScope = checkedString<string>((value) =>
  value.split(' ').every((token) => SCOPE_TOKEN.test(token))
    ? { value }
    : { problem: 'must be scope-tokens separated by single spaces (RFC 6749 §3.3)' },
);

const Client = withCheck(
  strict({
    tokenUrl: secureUrl(),
    clientId: nonEmptyString(),
    clientSecret: nonEmptyString().optional(),
    authMethod: oneOf(['client_secret_basic', 'client_secret_post', 'private_key_jwt']).default('client_secret_basic'),
    privateKeyFile: nonEmptyString().optional(),
    keyId: nonEmptyString().optional(),
    scope: clientScope.optional(),
    audience: nonEmptyString().optional(),
  }),
  checkClient,
);

const Throttle = strict({
  default: throttleWindows().default(() => [{ limit: 600, ttlSeconds: 60 }]),
  clients: z.record(z.string(), throttleWindows()).default(() => ({})),
  storage: oneOf(['memory', 'redis']).default('memory'),
  onStorageError: oneOf(['local', 'allow', 'deny']).default('local'),
  unauthenticated: ThrottleWindow.default(() => ({ limit: 30, ttlSeconds: 60 })),
});

const Shutdown = strict({
  delaySeconds: int(0, 300).default(0),
  drainSeconds: int(0, 3600).default(25),
});

const trustedProxy = z
  .string({ error: unlessAbsent('must be an IP address or CIDR block (e.g. 10.0.0.0/8, fd00::/8)') })
  .refine(isIpOrCidr, { error: 'must be an IP address or CIDR block (e.g. 10.0.0.0/8, fd00::/8)' });

/** Without an `auth` section (and no AUTH_*): no issuer, so only public routes are allowed (cross-checks.ts). */
const noAuth = () => ({ clockToleranceSeconds: 30, requireTyp: false, jwksRefetchCooldownSeconds: 5, issuers: [] });

/**
 * The schema of the whole file. `options` carries what the file cannot know
 * (whether a Redis is configured in the environment).
 *
 * @example
 * createConfigSchema({ redisConfigured: false }).safeParse(raw, { error: configErrorMap });
 */
export function createConfigSchema(options: ConfigCheckOptions) {
  return withCheck(
    strict({
      auth: Auth.default(noAuth),
      routes: list(Route, { emptyMessage: 'must list at least one route' }),
      clients: z.record(z.string(), Client).default(() => ({})),
      throttle: Throttle.prefault(() => ({})),
      trustProxy: list(trustedProxy).default(() => []),
      shutdown: Shutdown.prefault(() => ({})),
    }),
    (config, check) => checkConfig(config, check, options),
  );
}

// Compile-time check: what the schema produces is a GatewayConfig.
type Assignable<T extends U, U> = T;
export type SchemaOutputIsGatewayConfig = Assignable<z.output<ReturnType<typeof createConfigSchema>>, GatewayConfig>;
