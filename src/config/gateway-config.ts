// The validated, frozen shape every module reads. config.schema.ts produces it
// (and a compile-time check keeps the two in step); nothing else reads
// process.env or the config file.

/** JWS algorithms an asymmetric issuer may use. `none` and HS* are never representable. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA',
] as const;
export type JwsAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface IssuerConfig {
  /** Exact match of the token's `iss`. */
  readonly issuer: string;
  /** The token's `aud` must contain at least one of these. */
  readonly audience: readonly string[];
  /** Absent: OIDC discovery, then RFC 8414 metadata, under `issuer`. */
  readonly jwksUri?: string;
  readonly algorithms: readonly JwsAlgorithm[];
}

export interface AuthConfig {
  readonly clockToleranceSeconds: number;
  readonly requireTyp: boolean;
  /** Least time between two JWKS refetches caused by an unknown `kid`, per issuer. */
  readonly jwksRefetchCooldownSeconds: number;
  readonly issuers: readonly IssuerConfig[];
}

export interface ThrottleWindow {
  readonly limit: number;
  readonly ttlSeconds: number;
}

export type UpstreamAuth =
  | { readonly type: 'none' }
  | { readonly type: 'passthrough' }
  | { readonly type: 'client-credentials'; readonly client: string };

export interface RouteConfig {
  readonly id: string;
  /** Normalised: starts with `/`, no trailing `/` (except the root `/`). */
  readonly pathPrefix: string;
  /** Absent: every method. Upper-case. */
  readonly methods?: readonly HttpMethod[];
  /** Origin plus optional base path, no trailing `/`, no query. */
  readonly upstream: string;
  readonly stripPrefix?: string;
  readonly public: boolean;
  readonly scopes: readonly string[];
  readonly timeoutMs: number;
  /** Largest request body forwarded; larger ones get 413. */
  readonly maxBodyBytes: number;
  readonly throttle?: readonly ThrottleWindow[];
  readonly upstreamAuth: UpstreamAuth;
}

export interface ClientConfig {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly authMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  readonly privateKeyFile?: string;
  readonly keyId?: string;
  readonly scope?: string;
  readonly audience?: string;
}

export interface ThrottleConfig {
  readonly default: readonly ThrottleWindow[];
  readonly clients: Readonly<Record<string, readonly ThrottleWindow[]>>;
  readonly storage: 'memory' | 'redis';
  readonly onStorageError: 'local' | 'allow' | 'deny';
  readonly unauthenticated: ThrottleWindow;
}

export interface GatewayConfig {
  readonly auth: AuthConfig;
  readonly routes: readonly RouteConfig[];
  readonly clients: Readonly<Record<string, ClientConfig>>;
  readonly throttle: ThrottleConfig;
  readonly trustProxy: readonly string[];
  readonly shutdown: { readonly delaySeconds: number; readonly drainSeconds: number };
}

/** A Redis Cluster node or a Sentinel: host name or IP address (IPv6 without brackets) and port. */
export interface RedisAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Where the shared state lives (CONTRACT: REDIS_URL, REDIS_CLUSTER_NODES, or
 * REDIS_SENTINELS with REDIS_SENTINEL_MASTER and REDIS_PASSWORD): one Redis, a
 * Redis Cluster (seed nodes; the rest is discovered), or the master a set of
 * Sentinels names. Never logged: URLs and passwords are secrets.
 */
export type RedisSettings =
  | { readonly kind: 'single'; readonly url: string }
  | {
      readonly kind: 'cluster';
      readonly nodes: readonly RedisAddress[];
      /** rediss:// seed nodes: TLS to every node. */
      readonly tls: boolean;
      readonly username?: string;
      readonly password?: string;
    }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisAddress[];
      readonly masterName: string;
      /** The master's (and its replicas') password; the Sentinels themselves are asked without one. */
      readonly password?: string;
    };

/** Process-level settings from the environment (never from the file). */
export interface RuntimeSettings {
  readonly port: number;
  readonly host: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Absent: no Redis (throttling in memory, service tokens per replica). */
  readonly redis?: RedisSettings;
  readonly nodeEnv?: string;
  /**
   * From `TOKEN_CACHE_KEY`: AES-256-GCM keys (32 bytes each) for service tokens kept in Redis.
   * The first encrypts, every one decrypts. Absent: no service token is stored in Redis.
   */
  readonly tokenCacheKeys?: readonly { readonly kid: string; readonly key: Buffer }[];
  /** Connections each route may open to its upstream (default 128); set by code, not the environment. */
  readonly upstreamConnections?: number;
  /** A response the caller reads none of for this long is cut (default 30 000, CONTRACT); set by code, for tests. */
  readonly responseStallMs?: number;
}

/** Injection token for the frozen GatewayConfig. */
export const GatewayConfig = Symbol('GatewayConfig');
export const RuntimeSettings = Symbol('RuntimeSettings');
