// What a matched route does to a request, computed as Envoy's router does: redirect Location (path rewritten
// first, then scheme/host/port/path/query rules), direct responses, or the upstream cluster (weighted pick with
// the request's random value), path and host rewrites, header mutations, timeout, retry, mirrors, hash policy,
// and the per-route config of the connection manager's HTTP filters (fault, CORS).
import {
  anyType, arr, bool, durationMs, fractionalPercent, has, num, obj, str, u32,
} from './envoy-values.ts';
import type { Obj } from './envoy-values.ts';
import { applyMutations, flattenMutations, headerMutations } from './header-ops.ts';
import type { HeaderMutations } from './header-ops.ts';
import { compileRegex, globalReplace } from './regex.ts';
import { pathOnly } from './request.ts';
import type { HttpRequest } from './request.ts';
import { stripPort } from './route-table.ts';
import type { CompiledRoute, CompiledVirtualHost } from './route-table.ts';
import type { Action, ClusterAction, FaultSummary, HeaderOp, MirrorSummary, RetrySummary, UpstreamCluster } from './types.ts';

/** An HTTP filter of the connection manager: its name (the key of typed_per_filter_config) and config type. */
export interface HttpFilter {
  name: string;
  type: string;
  config: Obj;
}

interface RouteContext {
  req: HttpRequest;
  random: number;
  routeConfig: Obj;
  vhost: CompiledVirtualHost;
  route: CompiledRoute;
  matchedPath: string;
  httpFilters: readonly HttpFilter[];
  upstream(cluster: string): UpstreamCluster;
}

const FAULT_TYPE = 'envoy.extensions.filters.http.fault.v3.HTTPFault';
const CORS_TYPE = 'envoy.extensions.filters.http.cors.v3.Cors';
const FILTER_CONFIG_TYPE = 'envoy.config.route.v3.FilterConfig';

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308,
};
const REDIRECT_CODES_BY_NUMBER = [301, 302, 303, 307, 308];

export function routeAction(ctx: RouteContext): Action {
  const r = ctx.route.config;
  if (r.redirect) return redirect(ctx, obj(r.redirect));
  if (r.directResponse) {
    const d = obj(r.directResponse);
    const body = dataSource(d.body);
    return { kind: 'direct', status: u32(d.status) ?? 200, ...(body !== undefined ? { body } : {}) };
  }
  if (r.route) return forward(ctx, obj(r.route));
  // non_forwarding_action and unknown actions: nothing to route to.
  return { kind: 'no-route' };
}

function dataSource(v: unknown): string | undefined {
  const d = obj(v);
  if (typeof d.inlineString === 'string') return d.inlineString;
  if (typeof d.inlineBytes === 'string') return Buffer.from(d.inlineBytes, 'base64').toString('utf8');
  if (d.inlineBytes instanceof Uint8Array) return Buffer.from(d.inlineBytes).toString('utf8');
  return undefined;
}

/** The path after a prefix_rewrite / regex_rewrite, as Envoy computes it (query string kept). */
function rewritePath(path: string, matchedPath: string, prefixRewrite: string, regex?: { pattern: string; substitution: string }): string {
  if (prefixRewrite !== '') return prefixRewrite + path.slice(matchedPath.length);
  if (regex) {
    const just = pathOnly(path);
    return globalReplace(compileRegex(regex.pattern), just, regex.substitution) + path.slice(just.length);
  }
  return path;
}

function regexRewriteOf(v: unknown): { pattern: string; substitution: string } | undefined {
  if (!v) return undefined;
  const rr = obj(v);
  return { pattern: str(obj(rr.pattern).regex), substitution: str(rr.substitution) };
}

function redirect(ctx: RouteContext, rd: Obj): Action {
  const { req } = ctx;
  // The router rewrites :path with the redirect's prefix_rewrite / regex_rewrite (one of them: a proto oneof)
  // before building Location.
  const path = rewritePath(req.path, ctx.matchedPath, str(rd.prefixRewrite), regexRewriteOf(rd.regexRewrite));

  const scheme = str(rd.schemeRedirect) || (bool(rd.httpsRedirect, false) ? 'https' : req.scheme);
  const portRedirect = u32(rd.portRedirect) ?? 0;
  const port = portRedirect ? `:${portRedirect}` : '';
  let host = str(rd.hostRedirect);
  if (!host) {
    host = req.authority;
    const bare = stripPort(host);
    const hostPort = host.slice(bare.length);
    if (hostPort) {
      let remove = port !== '';
      if (scheme !== req.forwardedProto) {
        remove ||= (req.forwardedProto === 'https' && hostPort === ':443') || (req.forwardedProto === 'http' && hostPort === ':80');
      }
      if (remove) host = bare;
    }
  }
  const pathRedirect = str(rd.pathRedirect);
  const pathRedirectHasQuery = pathRedirect.includes('?');
  let finalPath = path;
  if (pathRedirect) {
    const q = path.indexOf('?');
    finalPath = pathRedirectHasQuery || q < 0 ? pathRedirect : pathRedirect + path.slice(q);
  }
  if (!finalPath.startsWith('/')) finalPath = '/' + finalPath;
  if (!pathRedirectHasQuery && bool(rd.stripQuery, false)) {
    const q = finalPath.indexOf('?');
    if (q >= 0) finalPath = finalPath.slice(0, q);
  }
  const code = typeof rd.responseCode === 'number' ? REDIRECT_CODES_BY_NUMBER[rd.responseCode] ?? 301
    : REDIRECT_CODES[str(rd.responseCode)] ?? 301;
  return { kind: 'redirect', location: `${scheme}://${host}${port}${finalPath}`, status: code };
}

/** The weighted entry (route weighted_clusters or tcp_proxy weighted_clusters) that `random` in [0, 1) falls on. */
export function pickWeighted(clusters: Obj[], random: number): Obj | undefined {
  const total = clusters.reduce((s, c) => s + (u32(c.weight) ?? 0), 0);
  if (total === 0) return undefined;
  const selected = Math.min(total - 1, Math.floor(random * total));
  let begin = 0;
  for (const c of clusters) {
    const end = begin + (u32(c.weight) ?? 0);
    if (selected >= begin && selected < end) return c;
    begin = end;
  }
  return undefined;
}

function firstHeader(req: HttpRequest, name: string): string {
  return req.headers.get(name.toLowerCase())?.[0] ?? '';
}

/** What forward() computes from the configuration alone, for one route (and one weighted entry). */
interface RouteStatics {
  requestLevels: HeaderMutations[];
  /** Whether any request level removes or adds a header (else the request's headers pass unchanged). */
  mutatesRequest: boolean;
  requestHeaderOps: HeaderOp[];
  responseHeaderOps: HeaderOp[];
  /** host_rewrite_literal of the weighted entry and of the route action (the action's wins). */
  entryHostLiteral: string;
  hostRewriteLiteral: string;
  regex: { pattern: string; substitution: string } | undefined;
  prefixRewrite: string;
  autoHostRewrite: boolean;
  timeoutMs: number;
  retry: RetrySummary | undefined;
  mirrors: MirrorSummary[];
  hashPolicy: Obj[];
  /** filterEffects per HTTP filter chain of the connection manager. */
  effects: WeakMap<readonly HttpFilter[], Partial<ClusterAction>>;
}

interface RouteCache {
  weighted: { entries: Obj[]; summary: NonNullable<ClusterAction['weightedClusters']> } | undefined;
  /** Keyed by the weighted entry, or by the route action itself. */
  statics: Map<Obj, RouteStatics>;
}

// Compiled routes are rebuilt with each config, so entries go with the config they were computed from.
const routeCache = new WeakMap<CompiledRoute, RouteCache>();

function cacheOf(route: CompiledRoute, ra: Obj): RouteCache {
  let c = routeCache.get(route);
  if (!c) {
    let weighted: RouteCache['weighted'];
    if (ra.weightedClusters) {
      const entries = arr(obj(ra.weightedClusters).clusters);
      weighted = { entries, summary: entries.map((e) => ({ name: str(e.name) || `header:${str(e.clusterHeader)}`, weight: u32(e.weight) ?? 0 })) };
    }
    c = { weighted, statics: new Map() };
    routeCache.set(route, c);
  }
  return c;
}

function staticsOf(ctx: RouteContext, cache: RouteCache, ra: Obj, entry: Obj | undefined): RouteStatics {
  const key = entry ?? ra;
  let s = cache.statics.get(key);
  if (s) return s;
  const { route, vhost, routeConfig } = ctx;
  // Header mutations, in the order they take effect.
  const levels = (dir: 'request' | 'response'): HeaderMutations[] => {
    const general = [headerMutations(route.config, dir), headerMutations(vhost.config, dir), headerMutations(routeConfig, dir)];
    if (bool(routeConfig.mostSpecificHeaderMutationsWins, false)) general.reverse();
    return entry ? [headerMutations(entry, dir), ...general] : general;
  };
  const requestLevels = levels('request');
  s = {
    requestLevels,
    mutatesRequest: requestLevels.some((l) => l.remove.length > 0 || l.add.length > 0),
    requestHeaderOps: flattenMutations(requestLevels),
    responseHeaderOps: flattenMutations(levels('response')),
    entryHostLiteral: entry ? str(entry.hostRewriteLiteral) : '',
    hostRewriteLiteral: str(ra.hostRewriteLiteral),
    regex: regexRewriteOf(ra.regexRewrite),
    prefixRewrite: str(ra.prefixRewrite),
    autoHostRewrite: bool(ra.autoHostRewrite, false),
    timeoutMs: ra.timeout === undefined || ra.timeout === null ? 15_000 : durationMs(ra.timeout) ?? 15_000,
    retry: retrySummary(ra.retryPolicy ?? vhost.config.retryPolicy),
    mirrors: mirrorSummary(
      arr(ra.requestMirrorPolicies).length ? ra.requestMirrorPolicies
        : arr(vhost.config.requestMirrorPolicies).length ? vhost.config.requestMirrorPolicies : routeConfig.requestMirrorPolicies,
    ),
    hashPolicy: arr(ra.hashPolicy),
    effects: new WeakMap(),
  };
  cache.statics.set(key, s);
  return s;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// What depends only on the route is computed once per compiled route (routeCache); per request: the weighted
// pick, the request's headers with the mutations applied, host and path rewrites.
function forward(ctx: RouteContext, ra: Obj): ClusterAction {
  const { req } = ctx;
  const cache = cacheOf(ctx.route, ra);
  let cluster = str(ra.cluster);
  let entry: Obj | undefined;
  if (cache.weighted) {
    entry = pickWeighted(cache.weighted.entries, ctx.random);
    cluster = entry ? (str(entry.name) || firstHeader(req, str(entry.clusterHeader))) : '';
  } else if (!cluster && ra.clusterHeader) {
    cluster = firstHeader(req, str(ra.clusterHeader));
  }
  const st = staticsOf(ctx, cache, ra, entry);

  let headers = req.headers;
  if (st.mutatesRequest) {
    headers = new Map<string, string[]>();
    for (const [k, v] of req.headers) headers.set(k, [...v]);
    for (const level of st.requestLevels) applyMutations(headers, level);
  }

  let host = req.authority;
  let rewrittenHost: string | undefined;
  if (st.entryHostLiteral) host = rewrittenHost = st.entryHostLiteral;
  if (st.hostRewriteLiteral) host = rewrittenHost = st.hostRewriteLiteral;
  else if (ra.hostRewriteHeader) {
    const v = firstHeader(req, str(ra.hostRewriteHeader));
    if (v) host = rewrittenHost = v;
  } else if (ra.hostRewritePathRegex) {
    const rr = regexRewriteOf(ra.hostRewritePathRegex)!;
    host = rewrittenHost = globalReplace(compileRegex(rr.pattern), pathOnly(req.path), rr.substitution);
  }
  const rewrites = st.prefixRewrite !== '' || st.regex !== undefined;
  const path = rewrites ? rewritePath(req.path, ctx.matchedPath, st.prefixRewrite, st.regex) : req.path;

  const upstreamHeaders: Record<string, string> = { ':authority': host, ':path': path };
  const names = [...headers.keys()].sort(byName);
  for (const k of names) upstreamHeaders[k] = headers.get(k)!.join(',');

  // Members assigned in the order the result always had (no temporary objects per request).
  const out = { kind: 'cluster', via: 'http', cluster } as ClusterAction;
  if (cache.weighted) out.weightedClusters = cache.weighted.summary;
  out.upstream = ctx.upstream(cluster);
  if (rewrites) out.rewrittenPath = path;
  if (rewrittenHost !== undefined) out.rewrittenHost = rewrittenHost;
  if (st.autoHostRewrite) out.autoHostRewrite = true;
  if (st.requestHeaderOps.length > 0) out.requestHeaderOps = st.requestHeaderOps;
  if (st.responseHeaderOps.length > 0) out.responseHeaderOps = st.responseHeaderOps;
  out.upstreamHeaders = upstreamHeaders;
  out.timeoutMs = st.timeoutMs;
  if (st.retry) out.retry = st.retry;
  if (st.mirrors.length > 0) out.mirrors = st.mirrors;
  if (st.hashPolicy.length > 0) out.hashPolicy = st.hashPolicy;
  let effects = st.effects.get(ctx.httpFilters);
  if (!effects) {
    effects = filterEffects(ctx, entry, ra);
    st.effects.set(ctx.httpFilters, effects);
  }
  Object.assign(out, effects);
  return out;
}

function retrySummary(v: unknown): RetrySummary | undefined {
  if (!v) return undefined;
  const p = obj(v);
  const out: RetrySummary = {
    numRetries: u32(p.numRetries) ?? 1,
    retryOn: str(p.retryOn).split(',').map((s) => s.trim()).filter(Boolean),
  };
  const perTry = durationMs(p.perTryTimeout);
  if (perTry !== undefined && perTry > 0) out.perTryTimeoutMs = perTry;
  const codes = Array.isArray(p.retriableStatusCodes) ? p.retriableStatusCodes.map((c) => num(c) ?? 0) : [];
  if (codes.length > 0) out.retriableStatusCodes = codes;
  const predicates = arr(p.retryHostPredicate).map((h) => str(h.name));
  if (predicates.length > 0) out.hostPredicates = predicates;
  const attempts = num(p.hostSelectionRetryMaxAttempts);
  if (attempts) out.hostSelectionRetryMaxAttempts = attempts;
  return out;
}

function mirrorSummary(v: unknown): MirrorSummary[] {
  return arr(v).map((m) => ({
    cluster: str(m.cluster) || `header:${str(m.clusterHeader)}`,
    percent: m.runtimeFraction ? fractionalPercent(obj(m.runtimeFraction).defaultValue) : 100,
  }));
}

/** typed_per_filter_config of one level, unwrapping FilterConfig; `null` marks a filter disabled there. */
function perFilter(level: Obj | undefined, name: string): Obj | null | undefined {
  const c = obj(level?.typedPerFilterConfig)[name];
  if (c === undefined) return undefined;
  const o = obj(c);
  if (anyType(o) === FILTER_CONFIG_TYPE) return bool(o.disabled, false) ? null : obj(o.config);
  return o;
}

function filterEffects(ctx: RouteContext, entry: Obj | undefined, ra: Obj): Partial<ClusterAction> {
  const levels = [entry, ctx.route.config, ctx.vhost.config, ctx.routeConfig];
  const mostSpecific = (name: string) => {
    for (const l of levels) {
      const c = perFilter(l, name);
      if (c !== undefined) return c;
    }
    return undefined;
  };
  const out: Partial<ClusterAction> = {};
  const names = new Set(ctx.httpFilters.map((f) => f.name));
  const ignored = new Set<string>();
  for (const l of levels) for (const k of Object.keys(obj(l?.typedPerFilterConfig))) if (!names.has(k)) ignored.add(k);
  if (ignored.size > 0) out.ignoredFilterConfigs = [...ignored].sort();

  for (const f of ctx.httpFilters) {
    if (f.type === FAULT_TYPE) {
      const c = mostSpecific(f.name);
      if (c === null) continue;
      const fault = faultSummary(c ?? f.config);
      if (fault) out.fault = fault;
    } else if (f.type === CORS_TYPE) {
      const c = mostSpecific(f.name);
      if (c === null) continue;
      const policy = c ?? (ra.cors ? obj(ra.cors) : ctx.vhost.config.cors ? obj(ctx.vhost.config.cors) : undefined);
      if (policy) {
        const { '@type': _t, ...fields } = policy;
        out.cors = fields;
      }
    } else {
      // Other filters read their own per-route config (jwt_authn PerRouteConfig, ExtAuthzPerRoute).
      const c = mostSpecific(f.name);
      if (c !== undefined) (out.perFilterConfig ??= {})[f.name] = c;
    }
  }
  return out;
}

function faultSummary(c: Obj): FaultSummary | undefined {
  const out: FaultSummary = {};
  if (c.delay) {
    const d = obj(c.delay);
    // An unset percentage is FractionalPercent's default, 0 %: the fault never fires.
    const percent = fractionalPercent(d.percentage);
    out.delay = d.headerDelay ? { fromHeader: true, percent } : { fixedDelayMs: durationMs(d.fixedDelay) ?? 0, percent };
  }
  if (c.abort) {
    const a = obj(c.abort);
    const percent = fractionalPercent(a.percentage);
    if (a.headerAbort) out.abort = { fromHeader: true, percent };
    else if (has(a, 'grpcStatus')) out.abort = { grpcStatus: u32(a.grpcStatus) ?? 0, percent };
    else out.abort = { httpStatus: u32(a.httpStatus) ?? 0, percent };
  }
  return out.delay || out.abort ? out : undefined;
}

