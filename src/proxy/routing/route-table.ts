// A RouteConfiguration compiled once into a lookup structure: virtual hosts by domain in Envoy's order (exact,
// then suffix wildcards longest first, then prefix wildcards longest first, then `*`), and per virtual host
// the routes as precompiled matchers, evaluated in order (first match wins). A route's `dynamic_metadata`
// matchers read the request's dynamic metadata (what the HTTP filters wrote: jwt_authn, istio_authn, …) when the
// caller gives it; without it every matcher sees unset values.
import { compileMetadataMatcher } from '../authz/metadata.ts';
import type { MetadataPredicate, MetadataSource } from '../authz/metadata.ts';
import { arr, bool, fractionalPercent, has, obj, str, strs } from './envoy-values.ts';
import type { Obj } from './envoy-values.ts';
import { compileHeaderMatchers, compileQueryMatcher } from './header-matcher.ts';
import type { RequestPredicate } from './header-matcher.ts';
import { compileRegex, fullMatch } from './regex.ts';
import { headerValue, parseQuery, pathOnly } from './request.ts';
import type { HttpRequest } from './request.ts';
import { asciiLower } from './string-matcher.ts';

export interface CompiledRoute {
  readonly config: Obj;
  readonly name: string;
  /** The part of the path a prefix rewrite replaces, or undefined when the route does not match. */
  match(req: HttpRequest, random: number, view: PathView, metadata?: MetadataSource): string | undefined;
}

export interface CompiledVirtualHost {
  readonly config: Obj;
  readonly name: string;
  readonly requireTls: 'NONE' | 'EXTERNAL_ONLY' | 'ALL';
  readonly routes: readonly CompiledRoute[];
}

export type RouteLookup =
  | { kind: 'route'; vhost: CompiledVirtualHost; route: CompiledRoute; matchedPath: string }
  | { kind: 'ssl-redirect'; vhost: CompiledVirtualHost }
  | { kind: 'no-route'; vhost?: CompiledVirtualHost };

export interface CompiledRouteTable {
  readonly config: Obj;
  readonly name: string;
  /** Some route matches on dynamic metadata: filters that write metadata can change which route a request takes. */
  readonly usesMetadata: boolean;
  findVirtualHost(req: HttpRequest): CompiledVirtualHost | undefined;
  route(req: HttpRequest, random: number, metadata?: MetadataSource): RouteLookup;
}

/** The request path in the forms route matchers read, computed once per request and lazily. */
export interface PathView {
  /** Without query string and fragment. */
  readonly just: string;
  /** `just`, cut at the first `;` when the route configuration ignores path parameters. */
  readonly sanitized: string;
  lower(): string;
  query(): Map<string, string>;
}

export function pathView(path: string, ignorePathParams: boolean): PathView {
  const just = pathOnly(path);
  const semi = ignorePathParams ? just.indexOf(';') : -1;
  const sanitized = semi < 0 ? just : just.slice(0, semi);
  let lower: string | undefined;
  let params: Map<string, string> | undefined;
  return { just, sanitized, lower: () => (lower ??= asciiLower(sanitized)), query: () => (params ??= parseQuery(path)) };
}

type PathMatch = (v: PathView, req: HttpRequest) => string | undefined;

function compilePathMatch(m: Obj): PathMatch {
  const caseSensitive = bool(m.caseSensitive, true);
  const text = (v: PathView) => (caseSensitive ? v.sanitized : v.lower());
  const fold = caseSensitive ? (s: string) => s : asciiLower;
  if (has(m, 'prefix')) {
    const prefix = str(m.prefix);
    const folded = fold(prefix);
    return (v) => (text(v).startsWith(folded) ? prefix : undefined);
  }
  if (has(m, 'path')) {
    const exact = str(m.path);
    const folded = fold(exact);
    return (v) => (text(v) === folded ? exact : undefined);
  }
  if (has(m, 'safeRegex')) {
    const re = compileRegex(str(obj(m.safeRegex).regex));
    return (v) => (fullMatch(re, v.sanitized) ? v.just : undefined);
  }
  if (has(m, 'pathSeparatedPrefix')) {
    const prefix = str(m.pathSeparatedPrefix);
    const folded = fold(prefix);
    return (v) => {
      const p = text(v);
      return p.startsWith(folded) && (p.length === folded.length || p[folded.length] === '/') ? prefix : undefined;
    };
  }
  if (has(m, 'connectMatcher')) {
    return (v, req) => (req.method === 'CONNECT' ? v.just : undefined);
  }
  // path_match_policy (URI templates) and a missing path specifier: never match.
  return () => undefined;
}

function compileRoute(route: Obj, index: number): CompiledRoute {
  const m = obj(route.match);
  const path = compilePathMatch(m);
  const headers: RequestPredicate | undefined = compileHeaderMatchers(arr(m.headers));
  const queries = arr(m.queryParameters).map(compileQueryMatcher);
  const grpc = has(m, 'grpc');
  const runtime = m.runtimeFraction !== undefined ? fractionalPercent(obj(m.runtimeFraction).defaultValue) : undefined;
  const metadata: MetadataPredicate[] = arr(m.dynamicMetadata).map(compileMetadataMatcher);
  return {
    config: route,
    name: str(route.name) || `#${index}`,
    match(req, random, view, meta) {
      if (runtime !== undefined && !(random * 100 < runtime)) return undefined;
      if (grpc && !(headerValue(req, 'content-type') ?? '').startsWith('application/grpc')) return undefined;
      if (headers && !headers(req)) return undefined;
      if (metadata.length > 0 && !metadata.every((p) => p(meta))) return undefined;
      if (queries.length > 0) {
        const params = view.query();
        if (!queries.every((q) => q(params))) return undefined;
      }
      return path(view, req);
    },
  };
}

function compileVirtualHost(vh: Obj): CompiledVirtualHost {
  const tls = str(vh.requireTls);
  return {
    config: vh,
    name: str(vh.name),
    requireTls: tls === 'ALL' || tls === 'EXTERNAL_ONLY' ? tls : 'NONE',
    routes: arr(vh.routes).map((r, i) => compileRoute(r, i)),
  };
}

/** Wildcards by the length of their fixed part, longest first. */
type Wildcards = Array<[number, Map<string, CompiledVirtualHost>]>;

function addWildcard(w: Wildcards, fixed: string, vh: CompiledVirtualHost): void {
  let entry = w.find(([len]) => len === fixed.length);
  if (!entry) {
    entry = [fixed.length, new Map()];
    w.push(entry);
    w.sort((a, b) => b[0] - a[0]);
  }
  if (!entry[1].has(fixed)) entry[1].set(fixed, vh);
}

function findWildcard(host: string, w: Wildcards, suffix: boolean): CompiledVirtualHost | undefined {
  for (const [len, map] of w) {
    // `>=`: a wildcard matches at least one character (`*.foo.com` does not match `.foo.com`).
    if (len >= host.length) continue;
    const vh = map.get(suffix ? host.slice(host.length - len) : host.slice(0, len));
    if (vh) return vh;
  }
  return undefined;
}

/** Where the port starts in a host header value (`[::1]:80`, `a:80`), or -1. */
function portStart(host: string): number {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']:');
    return i < 0 ? -1 : i + 1;
  }
  const i = host.lastIndexOf(':');
  return i >= 0 && /^\d+$/.test(host.slice(i + 1)) ? i : -1;
}

export function stripPort(host: string): string {
  const i = portStart(host);
  return i < 0 ? host : host.slice(0, i);
}

export function compileRouteTable(rc: Obj): CompiledRouteTable {
  const ignorePathParams = bool(rc.ignorePathParametersInPathMatching, false);
  const ignorePort = bool(rc.ignorePortInHostMatching, false);
  const exact = new Map<string, CompiledVirtualHost>();
  const suffixes: Wildcards = [];
  const prefixes: Wildcards = [];
  let fallback: CompiledVirtualHost | undefined;
  let usesMetadata = false;
  for (const vhConfig of arr(rc.virtualHosts)) {
    const vh = compileVirtualHost(vhConfig);
    if (!usesMetadata) usesMetadata = vh.routes.some((r) => arr(obj(r.config.match).dynamicMetadata).length > 0);
    for (const raw of strs(vhConfig.domains)) {
      const d = raw.toLowerCase();
      // Envoy rejects duplicate domains; the first one wins here.
      if (d === '*') fallback ??= vh;
      else if (d.startsWith('*')) addWildcard(suffixes, d.slice(1), vh);
      else if (d.endsWith('*')) addWildcard(prefixes, d.slice(0, -1), vh);
      else if (!exact.has(d)) exact.set(d, vh);
    }
  }
  const findVirtualHost = (req: HttpRequest): CompiledVirtualHost | undefined => {
    if (exact.size === 0 && suffixes.length === 0 && prefixes.length === 0) return fallback;
    let host = req.authority;
    if (ignorePort) host = stripPort(host);
    host = host.toLowerCase();
    return exact.get(host) ?? findWildcard(host, suffixes, true) ?? findWildcard(host, prefixes, false) ?? fallback;
  };
  return {
    config: rc,
    name: str(rc.name),
    usesMetadata,
    findVirtualHost,
    route(req, random, metadata) {
      const vhost = findVirtualHost(req);
      if (!vhost) return { kind: 'no-route' };
      const scheme = req.forwardedProto;
      if (scheme === '') return { kind: 'no-route', vhost };
      const internal = req.headers.get('x-envoy-internal')?.[0] === 'true';
      if (scheme !== 'https' && (vhost.requireTls === 'ALL' || (vhost.requireTls === 'EXTERNAL_ONLY' && !internal))) {
        return { kind: 'ssl-redirect', vhost };
      }
      const view = pathView(req.path, ignorePathParams);
      for (const route of vhost.routes) {
        const matchedPath = route.match(req, random, view, metadata);
        if (matchedPath !== undefined) return { kind: 'route', vhost, route, matchedPath };
      }
      return { kind: 'no-route', vhost };
    },
  };
}
