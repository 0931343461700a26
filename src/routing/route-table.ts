import { HTTP_METHODS, type RouteConfig } from '../config/gateway-config.js';
import { normalizePath } from '../request/normalize-path.js';

/** The outcome of routing one request. */
export type RouteMatch =
  | { kind: 'matched'; route: RouteConfig; prefixSegments: number }
  | { kind: 'not_found' }
  | { kind: 'method_not_allowed'; allow: string }
  /** `admin.json` beside a stricter `admin` route: a suffix-matching upstream (older Spring) would serve `admin`. */
  | { kind: 'suffix_of_stricter_route' };

type Matched = Extract<RouteMatch, { kind: 'matched' }>;

/** The routes whose `pathPrefix` ends at one trie node. */
interface Endpoint {
  /** method → the first route (config order) that allows it. */
  readonly byMethod: Map<string, Matched>;
  /** The first route without `methods`, if any: it takes every method not claimed before it. */
  anyMethod: Matched | undefined;
  readonly allowed: string[];
  notAllowed: Extract<RouteMatch, { kind: 'method_not_allowed' }>;
}

interface TrieNode {
  readonly children: Map<string, TrieNode>;
  endpoint: Endpoint | undefined;
  /** Every route whose prefix is this node or below it. */
  readonly subtreeRoutes: RouteConfig[];
}

const NOT_FOUND: RouteMatch = Object.freeze({ kind: 'not_found' });
const SUFFIX_OF_STRICTER_ROUTE: RouteMatch = Object.freeze({ kind: 'suffix_of_stricter_route' });

/**
 * Never forwarded, whatever a route's `methods` say (CONTRACT "What an upstream sees"): an
 * upstream that echoes TRACE (Apache's default) would hand the caller the gateway's service
 * token. Node's parser already refuses TRACK and CONNECT; they are listed so no other server
 * underneath can change that.
 */
const NEVER_FORWARDED = new Set(['TRACE', 'TRACK', 'CONNECT']);

/**
 * Longest-prefix routing by whole segments, case-insensitive (CONTRACT "What a caller sees":
 * a prefix that matches but lacks the method is 405, never a fall-back to a shorter prefix).
 * Prefixes are split and case-folded once, here, exactly as request paths are
 * (`normalizePath`); a match walks a trie with one Map lookup per segment and allocates nothing
 * (results are built once per route).
 *
 * Several routes may share a prefix: each method goes to the first of them, in config order,
 * that allows it; a route without `methods` takes every method not claimed before it.
 *
 * @example
 * const table = new RouteTable(config.routes);
 * const path = normalizePath('/API/orders/7');
 * if (path.ok) table.match('GET', path.matchSegments);
 * // { kind: 'matched', route: <orders>, prefixSegments: 2 }
 */
export class RouteTable {
  readonly routes: readonly RouteConfig[];
  readonly #root: TrieNode = newNode();

  constructor(routes: readonly RouteConfig[]) {
    this.routes = routes;
    for (const route of routes) this.#add(route);
  }

  /** `matchSegments` as `normalizePath` returns them (decoded, case-folded, no trailing ''). */
  match(method: string, matchSegments: readonly string[]): RouteMatch {
    let node = this.#root;
    let best = node.endpoint;
    let stoppedAt: string | undefined;
    for (let i = 0; i < matchSegments.length; i++) {
      const child = node.children.get(matchSegments[i]!);
      if (child === undefined) {
        stoppedAt = matchSegments[i];
        break;
      }
      node = child;
      if (node.endpoint !== undefined) best = node.endpoint;
    }
    if (best === undefined) return NOT_FOUND;
    const claimed = best.byMethod.get(method);
    const matched = claimed ?? (NEVER_FORWARDED.has(method) ? undefined : best.anyMethod);
    if (matched === undefined) return best.notAllowed;
    if (stoppedAt !== undefined && shadowsStricterRoute(node, stoppedAt, matched.route)) return SUFFIX_OF_STRICTER_ROUTE;
    return matched;
  }

  #add(route: RouteConfig): void {
    const prefix = normalizePath(route.pathPrefix);
    if (!prefix.ok) throw new Error(`route ${route.id}: pathPrefix is not usable (${prefix.reason})`);

    let node = this.#root;
    for (const segment of prefix.matchSegments) {
      let child = node.children.get(segment);
      if (child === undefined) {
        child = newNode();
        node.children.set(segment, child);
      }
      node = child;
      node.subtreeRoutes.push(route);
    }
    const endpoint: Endpoint = (node.endpoint ??= {
      byMethod: new Map(),
      anyMethod: undefined,
      allowed: [] as string[],
      notAllowed: { kind: 'method_not_allowed', allow: '' },
    });
    if (endpoint.anyMethod !== undefined) return; // shadowed: an earlier route takes every method

    const matched: Matched = Object.freeze({
      kind: 'matched',
      route,
      prefixSegments: prefix.matchSegments.length,
    });
    if (route.methods === undefined) endpoint.anyMethod = matched;
    // A route without `methods` allows every method but TRACE: its 405 (for TRACE) lists them all.
    for (const method of route.methods ?? HTTP_METHODS) {
      if (route.methods !== undefined && !endpoint.byMethod.has(method)) endpoint.byMethod.set(method, matched);
      if (!endpoint.allowed.includes(method)) endpoint.allowed.push(method);
    }
    endpoint.notAllowed = Object.freeze({ kind: 'method_not_allowed', allow: endpoint.allowed.join(', ') });
  }
}

function newNode(): TrieNode {
  return { children: new Map(), endpoint: undefined, subtreeRoutes: [] };
}

/**
 * Whether `segment`, where routing stopped below `node`, is `name.ext` for a child `name` whose
 * routes ask more than `matched` does (not public where it is, or a scope it lacks). Older Spring
 * (suffix pattern matching) serves `/admin.json` as `/admin`; the gateway would have checked only
 * the shorter route's scopes. Only such segments are refused: `report.pdf` beside an equally
 * open `report` route passes.
 */
function shadowsStricterRoute(node: TrieNode, segment: string, matched: RouteConfig): boolean {
  const dot = segment.indexOf('.');
  if (dot <= 0) return false;
  const named = node.children.get(segment.slice(0, dot));
  if (named === undefined) return false;
  return named.subtreeRoutes.some(
    (route) => (matched.public && !route.public) || route.scopes.some((scope) => !matched.scopes.includes(scope)),
  );
}
