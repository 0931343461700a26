// Rules that span fields. Each reads only fields `check.ok` vouched for, so it
// runs (and reports) even when unrelated fields are wrong: one run of the
// loader lists every problem.
import type { CheckContext } from './check-context.js';
import type { ClientConfig, GatewayConfig, IssuerConfig, RouteConfig } from './gateway-config.js';
import { isSegmentPrefix } from './path-prefix.js';
import { secureUrlProblem } from './url-rules.js';

export interface ConfigCheckOptions {
  /** REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS is set (throttle.storage: redis needs one). */
  readonly redisConfigured: boolean;
}

export function checkIssuer(issuer: IssuerConfig, check: CheckContext): void {
  if (check.ok(['issuer']) && check.ok(['jwksUri']) && issuer.jwksUri === undefined) {
    const problem = secureUrlProblem(issuer.issuer);
    if (problem !== undefined) check.add(['issuer'], `without jwksUri the issuer is where discovery starts, so it ${problem}`);
  }
}

export function checkRoute(route: RouteConfig, check: CheckContext): void {
  if (check.ok(['stripPrefix']) && route.stripPrefix !== undefined) {
    if (route.stripPrefix === '/') {
      check.add(['stripPrefix'], 'must not be "/" (it would strip nothing; omit stripPrefix)');
    } else if (check.ok(['pathPrefix']) && !isSegmentPrefix(route.stripPrefix, route.pathPrefix)) {
      check.add(['stripPrefix'], `must be a whole-segment prefix of pathPrefix "${route.pathPrefix}" (compared ignoring case)`);
    }
  }
  if (check.ok(['public']) && route.public) {
    if (check.ok(['scopes']) && route.scopes.length > 0) {
      check.add(['scopes'], 'must be empty when public is true (a public route reads no token)');
    }
    if (check.ok(['upstreamAuth']) && route.upstreamAuth.type === 'passthrough') {
      check.add(['upstreamAuth'], 'passthrough forwards the caller\'s token, but a public route never reads Authorization');
    }
  }
}

export function checkClient(client: ClientConfig, check: CheckContext): void {
  if (!check.ok(['authMethod'])) return;
  const method = client.authMethod;
  if (method === 'private_key_jwt') {
    if (check.ok(['privateKeyFile']) && client.privateKeyFile === undefined) {
      check.add(['privateKeyFile'], 'is required with authMethod private_key_jwt');
    }
    if (check.ok(['clientSecret']) && client.clientSecret !== undefined) {
      check.add(['clientSecret'], 'must not be set with authMethod private_key_jwt (the private key is the credential)');
    }
    return;
  }
  if (check.ok(['clientSecret']) && client.clientSecret === undefined) {
    check.add(['clientSecret'], `is required with authMethod ${method}`);
  }
  for (const field of ['privateKeyFile', 'keyId'] as const) {
    if (check.ok([field]) && client[field] !== undefined) check.add([field], 'is used only with authMethod private_key_jwt');
  }
}

/** The whole file: uniqueness across routes and issuers, references, and what each feature needs. */
export function checkConfig(config: GatewayConfig, check: CheckContext, options: ConfigCheckOptions): void {
  if (check.intact(['routes'])) {
    checkUnique(config.routes, check, ['routes'], 'id', (id) => id, (j) => `is already the id of routes[${j}]`);
    checkUnique(config.routes, check, ['routes'], 'pathPrefix', (p) => p.toLowerCase(),
      (j) => `is already the prefix of routes[${j}] (prefixes are compared ignoring case)`);
    const serviceTokenRoutes = config.routes.flatMap((route, i) =>
      check.ok(['routes', i, 'upstreamAuth']) && route.upstreamAuth.type === 'client-credentials'
        ? [{ i, client: route.upstreamAuth.client }]
        : []);
    checkClientReferences(serviceTokenRoutes, config, check);
    checkAuthNeeded(config, check);
  }
  if (check.intact(['auth', 'issuers'])) {
    checkUnique(config.auth.issuers, check, ['auth', 'issuers'], 'issuer', (iss) => iss, (j) => `is already listed in auth.issuers[${j}]`);
  }
  if (check.ok(['throttle', 'storage']) && config.throttle.storage === 'redis' && !options.redisConfigured) {
    check.add(['throttle', 'storage'], 'redis needs REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS, and none is set');
  }
}

function checkUnique<T, K extends keyof T & string>(
  entries: readonly T[], check: CheckContext, at: readonly PropertyKey[], field: K,
  key: (value: T[K]) => string, message: (firstIndex: number) => string,
): void {
  const first = new Map<string, number>();
  entries.forEach((entry, i) => {
    if (!check.ok([...at, i, field])) return;
    const k = key(entry[field]);
    const j = first.get(k);
    if (j === undefined) first.set(k, i);
    else check.add([...at, i, field], `"${String(entry[field])}" ${message(j)}`);
  });
}

interface ServiceTokenRoute {
  readonly i: number;
  readonly client: string;
}

/** Every `client-credentials` route names a client defined in `clients`. */
function checkClientReferences(routes: readonly ServiceTokenRoute[], config: GatewayConfig, check: CheckContext): void {
  if (!check.intact(['clients'])) return;
  for (const { i, client } of routes) {
    if (!Object.hasOwn(config.clients, client)) {
      check.add(['routes', i, 'upstreamAuth', 'client'], `no client "${client}" is defined in clients`);
    }
  }
}

/** Without any issuer only public routes can work: a protected one would refuse every request. */
function checkAuthNeeded(config: GatewayConfig, check: CheckContext): void {
  if (!check.intact(['auth', 'issuers']) || config.auth.issuers.length > 0) return;
  const protectedRoutes = config.routes
    .map((route, i) => ({ route, i }))
    .filter(({ i, route }) => check.ok(['routes', i, 'public']) && !route.public)
    .map(({ route, i }) => (check.ok(['routes', i, 'id']) ? `"${route.id}"` : `routes[${i}]`));
  if (protectedRoutes.length === 0) return;
  const who = protectedRoutes.length === 1 ? `route ${protectedRoutes[0]} needs` : `routes ${protectedRoutes.join(', ')} need`;
  check.add(['auth'], `required: ${who} tokens (add an auth section, or set AUTH_ISSUER and AUTH_AUDIENCE)`);
}
