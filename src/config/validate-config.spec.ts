import { describe, expect, it } from '@jest/globals';
import { ConfigError } from './config-error.js';
import { formatIssues } from './format-issues.js';
import { ASYMMETRIC_ALGORITHMS } from './gateway-config.js';
import { checkGatewayConfig, validateConfig } from './validate-config.js';

type Doc = Record<string, unknown>;
type Env = Record<string, string>;

const ISSUER = { issuer: 'https://idp.example.com/', audience: 'api://gateway' };
const ROUTE = { id: 'orders', pathPrefix: '/api/orders', upstream: 'http://orders.internal:8080' };
const CLIENT = { tokenUrl: 'https://idp.example.com/oauth/token', clientId: 'gateway', clientSecret: 'hunter2' };

/** The smallest valid config, with `patch` merged in at the top level. */
const config = (patch: Doc = {}): Doc => ({ auth: { issuers: [ISSUER] }, routes: [ROUTE], ...patch });
const withAuth = (patch: Doc) => config({ auth: { issuers: [ISSUER], ...patch } });
const withIssuer = (patch: Doc) => config({ auth: { issuers: [{ ...ISSUER, ...patch }] } });
const withRoute = (patch: Doc) => config({ routes: [{ ...ROUTE, ...patch }] });
const withClient = (patch: Doc) => config({ clients: { orders: { ...CLIENT, ...patch } } });
const withThrottle = (patch: Doc) => config({ throttle: patch });
const without = (object: Doc, key: string): Doc => Object.fromEntries(Object.entries(object).filter(([k]) => k !== key));

const issuesOf = (document: unknown, env: Env = {}) => formatIssues(checkGatewayConfig(document, env).issues);

const HTTPS_ONLY = 'must use https (plain http is allowed only for localhost, 127.0.0.0/8 and [::1])';
const HS_REFUSED = "is never accepted: HMAC and 'none' are refused for asymmetric issuers";
const RESERVED = "and everything under it is reserved for the gateway's own endpoints";
const SCOPE_TOKEN = 'must be a scope-token (RFC 6749 §3.3: visible ASCII except " and \\, no spaces)';
const NEEDS_AUTH = 'tokens (add an auth section, or set AUTH_ISSUER and AUTH_AUDIENCE)';
const BAD_CIDR = 'must be an IP address or CIDR block (e.g. 10.0.0.0/8, fd00::/8)';
const WINDOW_OR_LIST = 'must be a window { limit, ttlSeconds } or a list of them';

interface Case {
  name: string;
  document: unknown;
  env?: Env;
  issues: string[];
}

const cases: Case[] = [
  // the file as a whole
  { name: 'not a mapping', document: [ROUTE], issues: ['the config must be a mapping at the top level (auth, routes, clients, throttle, trustProxy, shutdown)'] },
  { name: 'unknown top-level field, close to a known one', document: config({ shutdwon: {} }), issues: ['shutdwon: unknown field (did you mean "shutdown"?)'] },
  { name: 'unknown field, differing only in case', document: config({ TrustProxy: [] }), issues: ['TrustProxy: unknown field (did you mean "trustProxy"?)'] },
  { name: 'unknown field, nothing close', document: config({ colour: 'blue' }), issues: ['colour: unknown field'] },
  { name: 'routes missing', document: without(config(), 'routes'), issues: ['routes: is required'] },
  { name: 'routes empty', document: config({ routes: [] }), issues: ['routes: must list at least one route'] },
  { name: 'routes not a list', document: config({ routes: ROUTE }), issues: ['routes: must be a list'] },

  // auth
  { name: 'auth not a mapping', document: config({ auth: 'https://idp' }), issues: ['auth: must be a mapping'] },
  { name: 'clockToleranceSeconds above 300', document: withAuth({ clockToleranceSeconds: 301 }), issues: ['auth.clockToleranceSeconds: must be an integer 0..300'] },
  { name: 'clockToleranceSeconds negative', document: withAuth({ clockToleranceSeconds: -1 }), issues: ['auth.clockToleranceSeconds: must be an integer 0..300'] },
  { name: 'clockToleranceSeconds a fraction', document: withAuth({ clockToleranceSeconds: 1.5 }), issues: ['auth.clockToleranceSeconds: must be an integer 0..300'] },
  { name: 'clockToleranceSeconds a string', document: withAuth({ clockToleranceSeconds: '30' }), issues: ['auth.clockToleranceSeconds: must be an integer 0..300'] },
  { name: 'requireTyp not a boolean', document: withAuth({ requireTyp: 'yes' }), issues: ['auth.requireTyp: must be true or false'] },
  { name: 'jwksRefetchCooldownSeconds 0', document: withAuth({ jwksRefetchCooldownSeconds: 0 }), issues: ['auth.jwksRefetchCooldownSeconds: must be an integer 1..3600'] },
  { name: 'jwksRefetchCooldownSeconds above 3600', document: withAuth({ jwksRefetchCooldownSeconds: 3601 }), issues: ['auth.jwksRefetchCooldownSeconds: must be an integer 1..3600'] },
  { name: 'issuers missing', document: config({ auth: {} }), issues: ['auth.issuers: is required'] },
  { name: 'issuers empty', document: config({ auth: { issuers: [] } }), issues: ['auth.issuers: must list at least one issuer'] },
  { name: 'issuer empty', document: withIssuer({ issuer: '', jwksUri: 'https://idp.example.com/jwks' }), issues: ['auth.issuers[0].issuer: must be a non-empty string without whitespace'] },
  { name: 'issuer with whitespace', document: withIssuer({ issuer: 'my issuer', jwksUri: 'https://idp.example.com/jwks' }), issues: ['auth.issuers[0].issuer: must be a non-empty string without whitespace'] },
  { name: 'issuer missing', document: config({ auth: { issuers: [{ audience: 'a' }] } }), issues: ['auth.issuers[0].issuer: is required'] },
  { name: 'audience missing', document: config({ auth: { issuers: [{ issuer: ISSUER.issuer }] } }), issues: ['auth.issuers[0].audience: is required'] },
  { name: 'audience empty list', document: withIssuer({ audience: [] }), issues: ['auth.issuers[0].audience: must list at least one audience'] },
  { name: 'audience empty string', document: withIssuer({ audience: '' }), issues: ['auth.issuers[0].audience: must be a non-empty string'] },
  { name: 'audience entry empty', document: withIssuer({ audience: ['a', ''] }), issues: ['auth.issuers[0].audience[1]: must be a non-empty string'] },
  { name: 'audience a number', document: withIssuer({ audience: 5 }), issues: ['auth.issuers[0].audience: must be a string or a list of strings'] },
  { name: 'jwksUri over plain http', document: withIssuer({ jwksUri: 'http://idp.example.com/jwks' }), issues: [`auth.issuers[0].jwksUri: ${HTTPS_ONLY}`] },
  { name: 'jwksUri with credentials', document: withIssuer({ jwksUri: 'https://user:pass@idp.example.com/jwks' }), issues: ['auth.issuers[0].jwksUri: must not contain credentials (user:password@)'] },
  { name: 'jwksUri with a fragment', document: withIssuer({ jwksUri: 'https://idp.example.com/jwks#keys' }), issues: ['auth.issuers[0].jwksUri: must not contain a fragment (#)'] },
  { name: 'jwksUri not a URL', document: withIssuer({ jwksUri: '/jwks' }), issues: ['auth.issuers[0].jwksUri: must be an absolute https URL'] },
  { name: 'jwksUri another scheme', document: withIssuer({ jwksUri: 'ftp://idp.example.com/jwks' }), issues: ['auth.issuers[0].jwksUri: must be an absolute https URL'] },
  { name: 'jwksUri with a backslash', document: withIssuer({ jwksUri: 'https://idp.example.com\\@evil.example/jwks' }), issues: ['auth.issuers[0].jwksUri: must be an absolute https URL'] },
  { name: 'issuer without jwksUri is not a URL', document: withIssuer({ issuer: 'my-idp' }), issues: ['auth.issuers[0].issuer: without jwksUri the issuer is where discovery starts, so it must be an absolute https URL'] },
  { name: 'issuer without jwksUri over plain http', document: withIssuer({ issuer: 'http://idp.example.com' }), issues: [`auth.issuers[0].issuer: without jwksUri the issuer is where discovery starts, so it ${HTTPS_ONLY}`] },
  { name: 'issuer without jwksUri with a query', document: withIssuer({ issuer: 'https://idp.example.com/?tenant=1' }), issues: ['auth.issuers[0].issuer: without jwksUri the issuer is where discovery starts, so it must not contain a query (?)'] },
  { name: 'algorithms empty', document: withIssuer({ algorithms: [] }), issues: ['auth.issuers[0].algorithms: must list at least one algorithm (omit it to allow every asymmetric one)'] },
  { name: 'algorithm HS256', document: withIssuer({ algorithms: ['RS256', 'HS256'] }), issues: [`auth.issuers[0].algorithms[1]: HS256 ${HS_REFUSED}`] },
  { name: 'algorithm hs512 in lower case', document: withIssuer({ algorithms: ['hs512'] }), issues: [`auth.issuers[0].algorithms[0]: hs512 ${HS_REFUSED}`] },
  { name: 'algorithm none', document: withIssuer({ algorithms: ['none'] }), issues: [`auth.issuers[0].algorithms[0]: none ${HS_REFUSED}`] },
  { name: 'algorithm unknown', document: withIssuer({ algorithms: ['RS1'] }), issues: [`auth.issuers[0].algorithms[0]: must be one of: ${ASYMMETRIC_ALGORITHMS.join(', ')}`] },
  { name: 'algorithm repeated', document: withIssuer({ algorithms: ['ES256', 'RS256', 'ES256'] }), issues: ['auth.issuers[0].algorithms[2]: "ES256" is listed twice'] },
  { name: 'issuer repeated', document: config({ auth: { issuers: [ISSUER, { issuer: ISSUER.issuer, audience: 'other' }] } }), issues: ['auth.issuers[1].issuer: "https://idp.example.com/" is already listed in auth.issuers[0]'] },
  { name: 'issuer unknown field', document: withIssuer({ jwks_uri: 'https://idp.example.com/jwks' }), issues: ['auth.issuers[0].jwks_uri: unknown field (did you mean "jwksUri"?)'] },

  // auth: none configured
  { name: 'no auth and a protected route', document: without(config(), 'auth'), issues: [`auth: required: route "orders" needs ${NEEDS_AUTH}`] },
  {
    name: 'no auth and two protected routes',
    document: { routes: [ROUTE, { ...ROUTE, id: 'users', pathPrefix: '/api/users' }, { ...ROUTE, id: 'docs', pathPrefix: '/docs', public: true }] },
    issues: [`auth: required: routes "orders", "users" need ${NEEDS_AUTH}`],
  },

  // AUTH_* variables
  { name: 'AUTH_* and an auth section', document: config(), env: { AUTH_ISSUER: 'https://idp.example.com/', AUTH_AUDIENCE: 'a' }, issues: ['auth: is set both in the config file and by AUTH_ISSUER, AUTH_AUDIENCE; use one or the other'] },
  { name: 'AUTH_ISSUER without AUTH_AUDIENCE', document: without(config(), 'auth'), env: { AUTH_ISSUER: 'https://idp.example.com/' }, issues: ['AUTH_AUDIENCE: is required when AUTH_ISSUER is set'] },
  { name: 'AUTH_AUDIENCE without AUTH_ISSUER', document: without(config(), 'auth'), env: { AUTH_AUDIENCE: 'api://gateway' }, issues: ['AUTH_ISSUER: is required when AUTH_AUDIENCE is set'] },
  {
    name: 'AUTH_JWKS_URI alone',
    document: without(config(), 'auth'),
    env: { AUTH_JWKS_URI: 'https://idp.example.com/jwks' },
    issues: ['AUTH_ISSUER: is required when AUTH_JWKS_URI is set', 'AUTH_AUDIENCE: is required when AUTH_JWKS_URI is set'],
  },
  { name: 'AUTH_ISSUER not a URL and no AUTH_JWKS_URI', document: without(config(), 'auth'), env: { AUTH_ISSUER: 'my-idp', AUTH_AUDIENCE: 'a' }, issues: ['AUTH_ISSUER: without jwksUri the issuer is where discovery starts, so it must be an absolute https URL'] },
  { name: 'AUTH_JWKS_URI over plain http', document: without(config(), 'auth'), env: { AUTH_ISSUER: 'my-idp', AUTH_AUDIENCE: 'a', AUTH_JWKS_URI: 'http://idp.example.com/jwks' }, issues: [`AUTH_JWKS_URI: ${HTTPS_ONLY}`] },
  { name: 'AUTH_AUDIENCE with an empty entry', document: without(config(), 'auth'), env: { AUTH_ISSUER: 'https://idp.example.com/', AUTH_AUDIENCE: 'a,,b' }, issues: ['AUTH_AUDIENCE[1]: must be a non-empty string'] },

  // routes
  { name: 'route not a mapping', document: config({ routes: ['orders'] }), issues: ['routes[0]: must be a mapping'] },
  { name: 'route id missing', document: config({ routes: [without(ROUTE, 'id')] }), issues: ['routes[0].id: is required'] },
  { name: 'route id upper case', document: withRoute({ id: 'Orders' }), issues: ['routes[0].id: must be lower-case letters, digits and "-", starting with a letter or digit'] },
  { name: 'route id starting with -', document: withRoute({ id: '-orders' }), issues: ['routes[0].id: must be lower-case letters, digits and "-", starting with a letter or digit'] },
  { name: 'route id over 64 characters', document: withRoute({ id: 'a'.repeat(65) }), issues: ['routes[0].id: must be at most 64 characters'] },
  { name: 'route id repeated', document: config({ routes: [ROUTE, { ...ROUTE, pathPrefix: '/other' }] }), issues: ['routes[1].id: "orders" is already the id of routes[0]'] },
  { name: 'pathPrefix missing', document: config({ routes: [without(ROUTE, 'pathPrefix')] }), issues: ['routes[0].pathPrefix: is required'] },
  { name: 'pathPrefix without leading /', document: withRoute({ pathPrefix: 'api/orders' }), issues: ['routes[0].pathPrefix: must start with "/"'] },
  { name: 'pathPrefix with ?', document: withRoute({ pathPrefix: '/api?x' }), issues: ['routes[0].pathPrefix: must not contain "?"'] },
  { name: 'pathPrefix with #', document: withRoute({ pathPrefix: '/api#x' }), issues: ['routes[0].pathPrefix: must not contain "#"'] },
  { name: 'pathPrefix with %', document: withRoute({ pathPrefix: '/api/%2e%2e' }), issues: ['routes[0].pathPrefix: must not contain "%" (write the path decoded)'] },
  { name: 'pathPrefix with \\', document: withRoute({ pathPrefix: '/api\\orders' }), issues: ['routes[0].pathPrefix: must not contain "\\"'] },
  { name: 'pathPrefix with ;', document: withRoute({ pathPrefix: '/api/..;/admin' }), issues: ['routes[0].pathPrefix: must not contain ";"'] },
  { name: 'pathPrefix with a space', document: withRoute({ pathPrefix: '/api orders' }), issues: ['routes[0].pathPrefix: must not contain whitespace or control characters'] },
  { name: 'pathPrefix with a control character', document: withRoute({ pathPrefix: '/api\u0000' }), issues: ['routes[0].pathPrefix: must not contain whitespace or control characters'] },
  { name: 'pathPrefix not ASCII', document: withRoute({ pathPrefix: '/café' }), issues: ['routes[0].pathPrefix: must contain only ASCII characters'] },
  { name: 'pathPrefix with a . segment', document: withRoute({ pathPrefix: '/api/./orders' }), issues: ['routes[0].pathPrefix: must not contain "." or ".." segments'] },
  { name: 'pathPrefix with a .. segment', document: withRoute({ pathPrefix: '/api/..' }), issues: ['routes[0].pathPrefix: must not contain "." or ".." segments'] },
  // Issue #8: passed validation, then crashed the route table (exit 1 instead of 2).
  { name: 'pathPrefix with a segment ending in a dot', document: withRoute({ pathPrefix: '/api/v1.' }), issues: ['routes[0].pathPrefix: must not have a segment ending in "." (no request could match it)'] },
  { name: 'pathPrefix with an inner segment ending in a dot', document: withRoute({ pathPrefix: '/api../orders' }), issues: ['routes[0].pathPrefix: must not have a segment ending in "." (no request could match it)'] },
  { name: 'stripPrefix with a segment ending in a dot', document: withRoute({ stripPrefix: '/api.' }), issues: ['routes[0].stripPrefix: must not have a segment ending in "." (no request could match it)'] },
  { name: 'pathPrefix with an empty segment', document: withRoute({ pathPrefix: '/api//orders' }), issues: ['routes[0].pathPrefix: must not contain an empty segment ("//")'] },
  { name: 'pathPrefix //', document: withRoute({ pathPrefix: '//' }), issues: ['routes[0].pathPrefix: must not contain an empty segment ("//")'] },
  { name: 'pathPrefix /healthz', document: withRoute({ pathPrefix: '/healthz' }), issues: [`routes[0].pathPrefix: "/healthz" ${RESERVED}`] },
  { name: 'pathPrefix under /readyz', document: withRoute({ pathPrefix: '/readyz/deep' }), issues: [`routes[0].pathPrefix: "/readyz" ${RESERVED}`] },
  { name: 'pathPrefix /METRICS/', document: withRoute({ pathPrefix: '/METRICS/' }), issues: [`routes[0].pathPrefix: "/metrics" ${RESERVED}`] },
  { name: 'pathPrefix under /.dev-issuer', document: withRoute({ pathPrefix: '/.dev-issuer/jwks' }), issues: [`routes[0].pathPrefix: "/.dev-issuer" ${RESERVED}`] },
  {
    name: 'pathPrefix repeated, ignoring case and trailing /',
    document: config({ routes: [ROUTE, { ...ROUTE, id: 'orders-v2', pathPrefix: '/API/Orders/' }] }),
    issues: ['routes[1].pathPrefix: "/API/Orders" is already the prefix of routes[0] (prefixes are compared ignoring case)'],
  },
  { name: 'methods empty', document: withRoute({ methods: [] }), issues: ['routes[0].methods: must list at least one method (omit it to allow every method)'] },
  { name: 'method unknown', document: withRoute({ methods: ['GET', 'CONNECT'] }), issues: ['routes[0].methods[1]: must be one of: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'] },
  { name: 'method repeated in another case', document: withRoute({ methods: ['get', 'GET'] }), issues: ['routes[0].methods[1]: "GET" is listed twice'] },
  { name: 'methods a string', document: withRoute({ methods: 'GET' }), issues: ['routes[0].methods: must be a list'] },
  { name: 'upstream missing', document: config({ routes: [without(ROUTE, 'upstream')] }), issues: ['routes[0].upstream: is required'] },
  { name: 'upstream without scheme', document: withRoute({ upstream: 'orders.internal:8080' }), issues: ['routes[0].upstream: must be an absolute http or https URL'] },
  { name: 'upstream another scheme', document: withRoute({ upstream: 'ws://orders.internal' }), issues: ['routes[0].upstream: must be an absolute http or https URL'] },
  { name: 'upstream with credentials', document: withRoute({ upstream: 'http://svc:hunter2@orders.internal' }), issues: ['routes[0].upstream: must not contain credentials (user:password@)'] },
  { name: 'upstream with a query', document: withRoute({ upstream: 'http://orders.internal/v1?debug=1' }), issues: ['routes[0].upstream: must not contain a query (?)'] },
  { name: 'upstream with an empty query', document: withRoute({ upstream: 'http://orders.internal/?' }), issues: ['routes[0].upstream: must not contain a query (?)'] },
  { name: 'upstream with a fragment', document: withRoute({ upstream: 'http://orders.internal/#x' }), issues: ['routes[0].upstream: must not contain a fragment (#)'] },
  { name: 'stripPrefix not a whole segment', document: withRoute({ stripPrefix: '/ap' }), issues: ['routes[0].stripPrefix: must be a whole-segment prefix of pathPrefix "/api/orders" (compared ignoring case)'] },
  { name: 'stripPrefix elsewhere', document: withRoute({ stripPrefix: '/orders' }), issues: ['routes[0].stripPrefix: must be a whole-segment prefix of pathPrefix "/api/orders" (compared ignoring case)'] },
  { name: 'stripPrefix /', document: withRoute({ stripPrefix: '/' }), issues: ['routes[0].stripPrefix: must not be "/" (it would strip nothing; omit stripPrefix)'] },
  { name: 'stripPrefix malformed', document: withRoute({ stripPrefix: '/api/../x' }), issues: ['routes[0].stripPrefix: must not contain "." or ".." segments'] },
  { name: 'public not a boolean', document: withRoute({ public: 'true' }), issues: ['routes[0].public: must be true or false'] },
  { name: 'scope with a space', document: withRoute({ scopes: ['orders:read orders:write'] }), issues: [`routes[0].scopes[0]: ${SCOPE_TOKEN}`] },
  { name: 'scope with a quote', document: withRoute({ scopes: ['a"b'] }), issues: [`routes[0].scopes[0]: ${SCOPE_TOKEN}`] },
  { name: 'scope with a backslash', document: withRoute({ scopes: ['a\\b'] }), issues: [`routes[0].scopes[0]: ${SCOPE_TOKEN}`] },
  { name: 'scope with a no-break space', document: withRoute({ scopes: ['a\u00a0b'] }), issues: [`routes[0].scopes[0]: ${SCOPE_TOKEN}`] },
  { name: 'scope empty', document: withRoute({ scopes: [''] }), issues: [`routes[0].scopes[0]: ${SCOPE_TOKEN}`] },
  { name: 'scope repeated', document: withRoute({ scopes: ['a', 'b', 'a'] }), issues: ['routes[0].scopes[2]: "a" is listed twice'] },
  { name: 'public route with scopes', document: withRoute({ public: true, scopes: ['orders:read'] }), issues: ['routes[0].scopes: must be empty when public is true (a public route reads no token)'] },
  { name: 'public route with passthrough', document: withRoute({ public: true, upstreamAuth: { type: 'passthrough' } }), issues: ["routes[0].upstreamAuth: passthrough forwards the caller's token, but a public route never reads Authorization"] },
  { name: 'timeoutMs 0', document: withRoute({ timeoutMs: 0 }), issues: ['routes[0].timeoutMs: must be an integer 1..300000'] },
  { name: 'timeoutMs above 300000', document: withRoute({ timeoutMs: 300_001 }), issues: ['routes[0].timeoutMs: must be an integer 1..300000'] },
  { name: 'timeoutMs a fraction', document: withRoute({ timeoutMs: 1.5 }), issues: ['routes[0].timeoutMs: must be an integer 1..300000'] },
  { name: 'maxBodyBytes negative', document: withRoute({ maxBodyBytes: -1 }), issues: ['routes[0].maxBodyBytes: must be an integer 0..1073741824'] },
  { name: 'maxBodyBytes above 1 GiB', document: withRoute({ maxBodyBytes: 1_073_741_825 }), issues: ['routes[0].maxBodyBytes: must be an integer 0..1073741824'] },
  { name: 'throttle limit 0', document: withRoute({ throttle: { limit: 0, ttlSeconds: 60 } }), issues: ['routes[0].throttle.limit: must be an integer ≥ 1'] },
  { name: 'throttle ttlSeconds above a day', document: withRoute({ throttle: { limit: 1, ttlSeconds: 86_401 } }), issues: ['routes[0].throttle.ttlSeconds: must be an integer 1..86400'] },
  { name: 'throttle window in a list', document: withRoute({ throttle: [{ limit: 10, ttlSeconds: 1 }, { limit: 'many', ttlSeconds: 60 }] }), issues: ['routes[0].throttle[1].limit: must be an integer ≥ 1'] },
  { name: 'throttle empty list', document: withRoute({ throttle: [] }), issues: ['routes[0].throttle: must list at least one window'] },
  { name: 'throttle a number', document: withRoute({ throttle: 100 }), issues: [`routes[0].throttle: ${WINDOW_OR_LIST}`] },
  {
    name: 'throttle window with a misspelt field',
    document: withRoute({ throttle: { limit: 1, ttlsecond: 60 } }),
    issues: ['routes[0].throttle.ttlSeconds: is required', 'routes[0].throttle.ttlsecond: unknown field (did you mean "ttlSeconds"?)'],
  },
  { name: 'upstreamAuth type unknown', document: withRoute({ upstreamAuth: { type: 'bearer' } }), issues: ['routes[0].upstreamAuth.type: must be one of: none, passthrough, client-credentials'] },
  { name: 'upstreamAuth a string', document: withRoute({ upstreamAuth: 'passthrough' }), issues: ['routes[0].upstreamAuth: must be a mapping'] },
  { name: 'upstreamAuth passthrough with a client', document: withRoute({ upstreamAuth: { type: 'passthrough', client: 'orders' } }), issues: ['routes[0].upstreamAuth.client: unknown field'] },
  { name: 'upstreamAuth client-credentials without client', document: withRoute({ upstreamAuth: { type: 'client-credentials' } }), issues: ['routes[0].upstreamAuth.client: is required'] },
  {
    name: 'upstreamAuth client-credentials naming an unknown client',
    document: withRoute({ upstreamAuth: { type: 'client-credentials', client: 'billing' } }),
    issues: ['routes[0].upstreamAuth.client: no client "billing" is defined in clients'],
  },
  { name: 'route unknown field', document: withRoute({ scope: ['orders:read'] }), issues: ['routes[0].scope: unknown field (did you mean "scopes"?)'] },

  // clients
  { name: 'clients not a mapping', document: config({ clients: [CLIENT] }), issues: ['clients: must be a mapping'] },
  { name: 'client not a mapping', document: config({ clients: { orders: 'gateway' } }), issues: ['clients.orders: must be a mapping'] },
  { name: 'tokenUrl missing', document: config({ clients: { orders: without(CLIENT, 'tokenUrl') } }), issues: ['clients.orders.tokenUrl: is required'] },
  { name: 'tokenUrl over plain http', document: withClient({ tokenUrl: 'http://idp.example.com/token' }), issues: [`clients.orders.tokenUrl: ${HTTPS_ONLY}`] },
  { name: 'tokenUrl with credentials', document: withClient({ tokenUrl: 'https://gateway:hunter2@idp.example.com/token' }), issues: ['clients.orders.tokenUrl: must not contain credentials (user:password@)'] },
  { name: 'clientId empty', document: withClient({ clientId: '' }), issues: ['clients.orders.clientId: must be a non-empty string'] },
  { name: 'clientSecret empty', document: withClient({ clientSecret: '' }), issues: ['clients.orders.clientSecret: must be a non-empty string'] },
  { name: 'authMethod unknown', document: withClient({ authMethod: 'basic' }), issues: ['clients.orders.authMethod: must be one of: client_secret_basic, client_secret_post, private_key_jwt'] },
  { name: 'client_secret_basic without secret', document: config({ clients: { orders: without(CLIENT, 'clientSecret') } }), issues: ['clients.orders.clientSecret: is required with authMethod client_secret_basic'] },
  { name: 'client_secret_post without secret', document: config({ clients: { orders: { ...without(CLIENT, 'clientSecret'), authMethod: 'client_secret_post' } } }), issues: ['clients.orders.clientSecret: is required with authMethod client_secret_post'] },
  { name: 'private_key_jwt without key file', document: withClient({ authMethod: 'private_key_jwt', clientSecret: undefined }), issues: ['clients.orders.privateKeyFile: is required with authMethod private_key_jwt'] },
  { name: 'private_key_jwt with a secret', document: withClient({ authMethod: 'private_key_jwt', privateKeyFile: '/run/secrets/key.pem' }), issues: ['clients.orders.clientSecret: must not be set with authMethod private_key_jwt (the private key is the credential)'] },
  { name: 'privateKeyFile with a secret method', document: withClient({ privateKeyFile: '/run/secrets/key.pem' }), issues: ['clients.orders.privateKeyFile: is used only with authMethod private_key_jwt'] },
  { name: 'keyId with a secret method', document: withClient({ keyId: 'k1' }), issues: ['clients.orders.keyId: is used only with authMethod private_key_jwt'] },
  { name: 'client scope with two spaces', document: withClient({ scope: 'a  b' }), issues: ['clients.orders.scope: must be scope-tokens separated by single spaces (RFC 6749 §3.3)'] },
  { name: 'client unknown field', document: withClient({ client_secret: 'x' }), issues: ['clients.orders.client_secret: unknown field (did you mean "clientSecret"?)'] },

  // throttle
  { name: 'throttle.default limit 0', document: withThrottle({ default: { limit: 0, ttlSeconds: 60 } }), issues: ['throttle.default.limit: must be an integer ≥ 1'] },
  { name: 'throttle.clients entry', document: withThrottle({ clients: { 'partner-42': [{ limit: 5, ttlSeconds: 0 }] } }), issues: ['throttle.clients.partner-42[0].ttlSeconds: must be an integer 1..86400'] },
  { name: 'throttle.clients entry a string', document: withThrottle({ clients: { 'partner-42': 'unlimited' } }), issues: [`throttle.clients.partner-42: ${WINDOW_OR_LIST}`] },
  { name: 'throttle.storage unknown', document: withThrottle({ storage: 'disk' }), issues: ['throttle.storage: must be one of: memory, redis'] },
  { name: 'throttle.storage redis without any Redis', document: withThrottle({ storage: 'redis' }), issues: ['throttle.storage: redis needs REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS, and none is set'] },
  { name: 'throttle.storage redis with only REDIS_SENTINEL_MASTER', document: withThrottle({ storage: 'redis' }), env: { REDIS_SENTINEL_MASTER: 'main' }, issues: ['throttle.storage: redis needs REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS, and none is set'] },
  { name: 'throttle.onStorageError unknown', document: withThrottle({ onStorageError: 'fail' }), issues: ['throttle.onStorageError: must be one of: local, allow, deny'] },
  { name: 'throttle.unauthenticated a list', document: withThrottle({ unauthenticated: [{ limit: 1, ttlSeconds: 1 }] }), issues: ['throttle.unauthenticated: must be a mapping'] },
  { name: 'throttle.unauthenticated limit 0', document: withThrottle({ unauthenticated: { limit: 0, ttlSeconds: 60 } }), issues: ['throttle.unauthenticated.limit: must be an integer ≥ 1'] },
  { name: 'throttle unknown field', document: withThrottle({ defaults: { limit: 1, ttlSeconds: 1 } }), issues: ['throttle.defaults: unknown field (did you mean "default"?)'] },

  // trustProxy, shutdown
  { name: 'trustProxy a string', document: config({ trustProxy: '10.0.0.0/8' }), issues: ['trustProxy: must be a list'] },
  { name: 'trustProxy IPv4 prefix too long', document: config({ trustProxy: ['10.0.0.0/33'] }), issues: [`trustProxy[0]: ${BAD_CIDR}`] },
  { name: 'trustProxy IPv6 prefix too long', document: config({ trustProxy: ['fd00::/129'] }), issues: [`trustProxy[0]: ${BAD_CIDR}`] },
  { name: 'trustProxy prefix with a leading zero', document: config({ trustProxy: ['10.0.0.0/08'] }), issues: [`trustProxy[0]: ${BAD_CIDR}`] },
  { name: 'trustProxy host name', document: config({ trustProxy: ['lb.internal'] }), issues: [`trustProxy[0]: ${BAD_CIDR}`] },
  { name: 'trustProxy zone id', document: config({ trustProxy: ['fe80::1%eth0'] }), issues: [`trustProxy[0]: ${BAD_CIDR}`] },
  { name: 'shutdown.delaySeconds above 300', document: config({ shutdown: { delaySeconds: 301 } }), issues: ['shutdown.delaySeconds: must be an integer 0..300'] },
  { name: 'shutdown.drainSeconds above 3600', document: config({ shutdown: { drainSeconds: 3601 } }), issues: ['shutdown.drainSeconds: must be an integer 0..3600'] },
  { name: 'shutdown.drainSeconds negative', document: config({ shutdown: { drainSeconds: -1 } }), issues: ['shutdown.drainSeconds: must be an integer 0..3600'] },
];

describe('validateConfig: every message', () => {
  it.each(cases)('$name', ({ document, env, issues }) => {
    expect(issuesOf(document, env)).toEqual(issues);
  });

  it('throws a ConfigError carrying the same lines', () => {
    expect(() => validateConfig(withRoute({ timeoutMs: 0 }))).toThrow(
      new ConfigError(['routes[0].timeoutMs: must be an integer 1..300000']),
    );
    expect(() => validateConfig(withRoute({ timeoutMs: 0 }))).toThrow(
      'invalid gateway configuration:\n  routes[0].timeoutMs: must be an integer 1..300000',
    );
  });
});

describe('validateConfig: every issue at once', () => {
  it('three mistakes give three lines', () => {
    const document = config({
      routes: [{ ...ROUTE, timeoutMs: 0, scope: ['x'] }],
      shutdown: { drainSeconds: 5000 },
    });
    expect(issuesOf(document)).toEqual([
      'routes[0].timeoutMs: must be an integer 1..300000',
      'routes[0].scope: unknown field (did you mean "scopes"?)',
      'shutdown.drainSeconds: must be an integer 0..3600',
    ]);
  });

  it('a bad field does not hide the cross-field checks (regression: a fraction aborted zod refinements)', () => {
    const document = config({ routes: [{ ...ROUTE, timeoutMs: 1.5 }, { ...ROUTE, maxBodyBytes: 'big' }], throttle: { storage: 'redis' } });
    expect(issuesOf(document)).toEqual([
      'routes[0].timeoutMs: must be an integer 1..300000',
      'routes[1].maxBodyBytes: must be an integer 0..1073741824',
      'routes[1].id: "orders" is already the id of routes[0]',
      'routes[1].pathPrefix: "/api/orders" is already the prefix of routes[0] (prefixes are compared ignoring case)',
      'throttle.storage: redis needs REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS, and none is set',
    ]);
  });

  it('a cross-field check is skipped when a field it reads is wrong (no follow-on noise)', () => {
    const document = config({ routes: [{ ...ROUTE, pathPrefix: '/api//orders', stripPrefix: '/other' }] });
    expect(issuesOf(document)).toEqual(['routes[0].pathPrefix: must not contain an empty segment ("//")']);
  });

  it('no message repeats a secret or a URL password', () => {
    const document = config({
      routes: [{ ...ROUTE, upstream: 'http://svc:hunter2@orders.internal' }],
      clients: { orders: { ...CLIENT, authMethod: 'private_key_jwt', clientSecret: 'hunter2' } },
    });
    const issues = issuesOf(document);
    expect(issues).toHaveLength(3);
    expect(issues.join('\n')).not.toContain('hunter2');
  });
});

describe('validateConfig: accepted configs', () => {
  it('applies every default', () => {
    expect(validateConfig(config())).toEqual({
      auth: {
        clockToleranceSeconds: 30,
        requireTyp: false,
        jwksRefetchCooldownSeconds: 5,
        issuers: [{ issuer: 'https://idp.example.com/', audience: ['api://gateway'], algorithms: [...ASYMMETRIC_ALGORITHMS] }],
      },
      routes: [{
        id: 'orders', pathPrefix: '/api/orders', upstream: 'http://orders.internal:8080', public: false, scopes: [],
        timeoutMs: 10_000, maxBodyBytes: 10_485_760, upstreamAuth: { type: 'none' },
      }],
      clients: {},
      throttle: {
        default: [{ limit: 600, ttlSeconds: 60 }], clients: {}, storage: 'memory', onStorageError: 'local',
        unauthenticated: { limit: 30, ttlSeconds: 60 },
      },
      trustProxy: [],
      shutdown: { delaySeconds: 0, drainSeconds: 25 },
    });
  });

  it('normalises: trailing /, method case, upstream form, one window → list', () => {
    const { routes, throttle } = validateConfig(config({
      routes: [
        { ...ROUTE, pathPrefix: '/api/orders/', stripPrefix: '/API/', methods: ['get', 'Post'], upstream: 'HTTP://Orders.Internal:80/v1/', throttle: { limit: 5, ttlSeconds: 1 } },
        { id: 'root', pathPrefix: '/', upstream: 'https://www.internal:443', public: true },
      ],
      throttle: { default: [{ limit: 10, ttlSeconds: 1 }, { limit: 5000, ttlSeconds: 3600 }], clients: { 'partner-42': { limit: 6000, ttlSeconds: 60 } } },
    }));
    expect(routes[0]).toMatchObject({
      pathPrefix: '/api/orders', stripPrefix: '/API', methods: ['GET', 'POST'], upstream: 'http://orders.internal/v1', throttle: [{ limit: 5, ttlSeconds: 1 }],
    });
    expect(routes[1]).toMatchObject({ pathPrefix: '/', upstream: 'https://www.internal' });
    expect(throttle.default).toEqual([{ limit: 10, ttlSeconds: 1 }, { limit: 5000, ttlSeconds: 3600 }]);
    expect(throttle.clients).toEqual({ 'partner-42': [{ limit: 6000, ttlSeconds: 60 }] });
  });

  it.each<{ name: string; document: Doc; env?: Env }>([
    { name: 'jwksUri on localhost over http', document: withIssuer({ jwksUri: 'http://localhost:8080/jwks' }) },
    { name: 'jwksUri on 127.0.0.0/8 over http', document: withIssuer({ jwksUri: 'http://127.1.2.3/jwks' }) },
    { name: 'jwksUri on [::1] over http, with a query', document: withIssuer({ jwksUri: 'http://[::1]:8080/jwks?v=1' }) },
    { name: 'a non-URL issuer with jwksUri', document: withIssuer({ issuer: 'urn:idp:test', jwksUri: 'https://idp.example.com/jwks' }) },
    { name: 'a prefix beside a reserved one', document: withRoute({ pathPrefix: '/healthzz' }) },
    { name: 'a prefix with dots inside segments', document: withRoute({ pathPrefix: '/api/v1.2/.well-known' }) },
    { name: 'a route id of 64 characters', document: withRoute({ id: 'a'.repeat(64) }) },
    { name: 'maxBodyBytes 0', document: withRoute({ maxBodyBytes: 0 }) },
    { name: 'a public route with upstreamAuth none', document: withRoute({ public: true }) },
    { name: 'trustProxy addresses and blocks', document: config({ trustProxy: ['10.0.0.0/8', '192.168.1.10', '::1', 'fd00::/8', '0.0.0.0/0'] }) },
    { name: 'private_key_jwt with a key file', document: withClient({ authMethod: 'private_key_jwt', clientSecret: undefined, privateKeyFile: '/run/key.pem', keyId: 'k1' }) },
    { name: 'redis storage with REDIS_URL set', document: withThrottle({ storage: 'redis', onStorageError: 'deny' }), env: { REDIS_URL: 'redis://localhost:6379' } },
    { name: 'redis storage with REDIS_CLUSTER_NODES set', document: withThrottle({ storage: 'redis' }), env: { REDIS_CLUSTER_NODES: 'redis://10.0.0.1:6379' } },
    { name: 'redis storage with REDIS_SENTINELS set', document: withThrottle({ storage: 'redis' }), env: { REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_MASTER: 'main' } },
  ])('accepts $name', ({ document, env }) => {
    expect(issuesOf(document, env)).toEqual([]);
  });

  it('without auth, an all-public config gets auth with no issuer', () => {
    const { auth } = validateConfig({ routes: [{ ...ROUTE, public: true }] });
    expect(auth).toEqual({ clockToleranceSeconds: 30, requireTyp: false, jwksRefetchCooldownSeconds: 5, issuers: [] });
  });

  it('AUTH_* builds the one issuer, with default algorithms and split audiences', () => {
    const { auth } = validateConfig(without(config(), 'auth'), {
      AUTH_ISSUER: 'https://idp.example.com/', AUTH_AUDIENCE: 'api://gateway, api://other', AUTH_JWKS_URI: 'https://idp.example.com/jwks',
    });
    expect(auth).toEqual({
      clockToleranceSeconds: 30, requireTyp: false, jwksRefetchCooldownSeconds: 5,
      issuers: [{ issuer: 'https://idp.example.com/', audience: ['api://gateway', 'api://other'], jwksUri: 'https://idp.example.com/jwks', algorithms: [...ASYMMETRIC_ALGORITHMS] }],
    });
  });

  it('accepts a client-credentials route naming a defined client', () => {
    const loaded = validateConfig({ ...withRoute({ upstreamAuth: { type: 'client-credentials', client: 'orders' } }), clients: { orders: CLIENT } });
    expect(loaded.routes[0].upstreamAuth).toEqual({ type: 'client-credentials', client: 'orders' });
    expect(loaded.clients.orders).toMatchObject({ ...CLIENT, authMethod: 'client_secret_basic' });
  });

  it('returns a deep-frozen config', () => {
    const loaded = validateConfig(config({ clients: { orders: CLIENT } }));
    for (const part of [loaded, loaded.auth, loaded.auth.issuers[0].audience, loaded.routes, loaded.routes[0], loaded.routes[0].upstreamAuth, loaded.clients.orders, loaded.throttle.default[0], loaded.shutdown]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (loaded.routes as unknown[]).push(ROUTE);
    }).toThrow(TypeError);
  });

  it('builds fresh defaults each time (frozen defaults are never shared)', () => {
    const a = validateConfig(config());
    const b = validateConfig(config());
    expect(a.throttle).not.toBe(b.throttle);
    expect(a.routes[0].scopes).not.toBe(b.routes[0].scopes);
  });
});
