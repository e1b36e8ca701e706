// The routing engine over a compiled ProxyConfig, shared by `simulate()` and the sidecar: a connection (original
// destination, what sniffing found) → listener → filter chain → a plan: closed, TCP proxy, or HTTP connection
// manager whose `route(request)` runs virtual host and route selection and returns the action. The sidecar plans
// once per connection (again after a config change) and routes once per request; the config is compiled once
// per ProxyConfig object.
import type { ProxyConfig } from '../../translate/types.ts';
import { anyType, arr, bool, isObj, obj, str, u32 } from './envoy-values.ts';
import type { Obj } from './envoy-values.ts';
import { detect, listenerAddress, selectFilterChain } from './filter-chain.ts';
import type { Connection } from './filter-chain.ts';
import { canonicalPath, escapedSlashesAction, mergePathSlashes, unescapeSlashes } from './request.ts';
import type { HttpRequest } from './request.ts';
import { pickWeighted, routeAction } from './route-action.ts';
import type { HttpFilter } from './route-action.ts';
import { compileRouteTable, stripPort } from './route-table.ts';
import type { CompiledRouteTable } from './route-table.ts';
import type { MetadataSource } from '../authz/metadata.ts';
import type { Action, ClusterAction, UpstreamCluster } from './types.ts';
import { resolveUpstream } from './upstream.ts';
import type { UpstreamIndex } from './upstream.ts';

export const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const TCP_PROXY_TYPE = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const DOWNSTREAM_TLS_TYPE = 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

export interface CompiledProxy {
  config: ProxyConfig;
  byAddress: Map<string, Obj>;
  capture: { outbound?: Obj; inbound?: Obj };
  routes: Map<string, Obj>;
  tables: WeakMap<Obj, CompiledRouteTable>;
  upstream: UpstreamIndex;
}

const compiled = new WeakMap<ProxyConfig, CompiledProxy>();

export function compileProxy(pc: ProxyConfig): CompiledProxy {
  let c = compiled.get(pc);
  if (c) return c;
  const byAddress = new Map<string, Obj>();
  const capture: CompiledProxy['capture'] = {};
  for (const l of pc.listeners) {
    const a = listenerAddress(l);
    const name = str(l.name);
    if (name === 'virtualOutbound' || (!capture.outbound && a?.port === 15001)) capture.outbound = l;
    else if (name === 'virtualInbound' || (!capture.inbound && a?.port === 15006)) capture.inbound = l;
    if (a && !byAddress.has(`${a.ip}:${a.port}`)) byAddress.set(`${a.ip}:${a.port}`, l);
  }
  c = {
    config: pc,
    byAddress,
    capture,
    routes: new Map(pc.routes.map((r) => [str(r.name), r])),
    tables: new WeakMap(),
    upstream: {
      clusters: new Map(pc.clusters.map((x) => [str(x.name), x])),
      assignments: new Map(pc.endpoints.map((x) => [str(x.clusterName), x])),
    },
  };
  compiled.set(pc, c);
  return c;
}

function table(c: CompiledProxy, rc: Obj): CompiledRouteTable {
  let t = c.tables.get(rc);
  if (!t) {
    t = compileRouteTable(rc);
    c.tables.set(rc, t);
  }
  return t;
}

/** A connection as the proxy sees it once the listener filters (sniffing) have run. */
export interface ConnectionInfo {
  /** Which capture listener accepted it; `gateway`/explicit listeners are found by port. */
  direction: 'outbound' | 'inbound';
  /** The original destination (SO_ORIGINAL_DST), or the address the connection was accepted on. */
  destinationIp?: string;
  port: number;
  sourceIp?: string;
  tls?: { sni?: string; alpn?: string[] };
  http?: 'http1' | 'http1.0' | 'http2';
}

/** The listener that ends up owning the connection. */
export function pickListener(c: CompiledProxy, conn: Pick<ConnectionInfo, 'direction' | 'destinationIp' | 'port'>): Obj | undefined {
  const capture = conn.direction === 'outbound' ? c.capture.outbound : c.capture.inbound;
  if (capture && !bool(capture.useOriginalDst, false)) return capture;
  const bound = (conn.destinationIp ? c.byAddress.get(`${conn.destinationIp}:${conn.port}`) : undefined)
    ?? c.byAddress.get(`0.0.0.0:${conn.port}`) ?? c.byAddress.get(`:::${conn.port}`);
  if (bound && bound !== capture) return bound;
  return capture;
}

export interface RouteResult {
  routeConfig?: string;
  virtualHost?: string;
  route?: string;
  action: Action;
  /** The connection manager answered before any HTTP filter ran (a path it rejects or redirects when
   * normalizing): no filter sees the request, and there is no route. */
  beforeFilters?: true;
}

interface PlanBase {
  listener?: string;
  filterChain?: string;
}

export type ConnectionPlan =
  | PlanBase & { kind: 'closed'; reason: string }
  | PlanBase & {
    kind: 'tcp';
    listener: string;
    /** The filter chain's DownstreamTlsContext when the proxy terminates TLS before proxying bytes. */
    downstreamTls?: Obj;
    tcpProxy: Obj;
    /** The network filters before tcp_proxy, in order (envoy.filters.network.rbac, …). */
    networkFilters: readonly HttpFilter[];
    /** The cluster for this connection (weighted clusters pick with `random` in [0, 1)). */
    pick(random: number, upstream?: (name: string) => UpstreamCluster): ClusterAction;
  }
  | PlanBase & {
    kind: 'http';
    listener: string;
    downstreamTls?: Obj;
    hcm: Obj;
    httpFilters: readonly HttpFilter[];
    /** The network filters before the connection manager (envoy.filters.network.rbac, …), in order. */
    networkFilters: readonly HttpFilter[];
    /** Virtual host and route selection for one request (the request is normalised in place first); `metadata`:
     * the request's dynamic metadata for routes that match on it. */
    route(request: HttpRequest, random: number, upstream?: (name: string) => UpstreamCluster, metadata?: MetadataSource): RouteResult;
    /** Some route matches on dynamic metadata (the route may change once filters wrote some). */
    routesByMetadata: boolean;
    /** Route selection again for a request `route` already normalised, with the metadata the filters wrote so far
     * (Envoy recomputing the route after a filter cleared the route cache). */
    reroute(request: HttpRequest, random: number, metadata: MetadataSource, upstream?: (name: string) => UpstreamCluster): RouteResult;
  };

export function planConnection(c: CompiledProxy, conn: ConnectionInfo): ConnectionPlan {
  const listener = pickListener(c, conn);
  if (!listener) return { kind: 'closed', reason: `no ${conn.direction} listener for port ${conn.port}` };
  const base: PlanBase & { listener: string } = { listener: str(listener.name) };
  const fc: Connection = {
    port: conn.port,
    ...(conn.destinationIp ? { destinationIp: conn.destinationIp } : {}),
    ...(conn.sourceIp ? { sourceIp: conn.sourceIp } : {}),
    ...(conn.tls ? { tls: conn.tls } : {}),
    ...(conn.http ? { http: conn.http } : {}),
  };
  const chain = selectFilterChain(listener, fc, detect(listener, fc));
  if (!chain) return { ...base, kind: 'closed', reason: 'no filter chain matches' };
  if (str(chain.name)) base.filterChain = str(chain.name);
  const destination = conn.destinationIp ? `${conn.destinationIp}:${conn.port}` : undefined;
  const resolve = (name: string) => resolveUpstream(c.upstream, name, destination);
  const tlsConfig = obj(obj(chain.transportSocket).typedConfig);
  const downstreamTls = anyType(tlsConfig) === DOWNSTREAM_TLS_TYPE ? { downstreamTls: tlsConfig } : {};

  const filters = arr(chain.filters);
  const terminalAt = filters.findIndex((f) => [HCM_TYPE, TCP_PROXY_TYPE].includes(anyType(f.typedConfig)));
  if (terminalAt < 0) return { ...base, kind: 'closed', reason: 'the filter chain has no tcp_proxy or http_connection_manager' };
  const config = obj(filters[terminalAt]!.typedConfig);
  if (anyType(config) === TCP_PROXY_TYPE) {
    return {
      ...base, ...downstreamTls, kind: 'tcp', tcpProxy: config, networkFilters: networkFiltersOf(chain, filters, terminalAt),
      pick: (random, upstream = resolve) => tcpProxy(config, random, upstream),
    };
  }
  if (!conn.http) return { ...base, kind: 'closed', reason: 'not HTTP: the connection manager cannot parse the stream' };
  if (conn.tls && !downstreamTls.downstreamTls) return { ...base, kind: 'closed', reason: 'TLS reached an HTTP filter chain that does not terminate it' };

  const hcm = config;
  let rc: Obj | undefined;
  let routeConfig: string | undefined;
  if (isObj(hcm.rds)) {
    routeConfig = str(hcm.rds.routeConfigName);
    rc = c.routes.get(routeConfig);
    if (!rc) return { ...base, kind: 'closed', reason: `route configuration "${routeConfig}" does not exist (the listener would never warm)` };
  } else if (isObj(hcm.routeConfig)) {
    rc = hcm.routeConfig;
    if (str(rc.name)) routeConfig = str(rc.name);
  } else {
    return { ...base, kind: 'closed', reason: 'the connection manager has neither rds nor route_config' };
  }
  const routeTable = table(c, rc);
  const httpFilters = httpFiltersOf(hcm);
  const normalize = bool(hcm.normalizePath, false);
  const merge = bool(hcm.mergeSlashes, false);
  const escapedSlashes = escapedSlashesAction(hcm.pathWithEscapedSlashesAction);
  const stripAny = bool(hcm.stripAnyHostPort, false);
  const stripMatching = bool(hcm.stripMatchingHostPort, false);
  const port = String(conn.port);
  const select = (request: HttpRequest, random: number, upstream: (name: string) => UpstreamCluster, metadata: MetadataSource | undefined): RouteResult => {
    const out: RouteResult = { ...(routeConfig !== undefined ? { routeConfig } : {}), action: { kind: 'no-route' } };
    const found = routeTable.route(request, random, metadata);
    if (found.vhost) out.virtualHost = found.vhost.name;
    if (found.kind === 'no-route') return out;
    if (found.kind === 'ssl-redirect') {
      return { ...out, action: { kind: 'redirect', location: `https://${request.authority}${request.path}`, status: 301 } };
    }
    out.route = found.route.name;
    out.action = routeAction({
      req: request, random, routeConfig: routeTable.config, vhost: found.vhost, route: found.route, matchedPath: found.matchedPath, httpFilters, upstream,
    });
    return out;
  };
  return {
    ...base,
    ...downstreamTls,
    kind: 'http',
    hcm,
    httpFilters,
    networkFilters: networkFiltersOf(chain, filters, terminalAt),
    routesByMetadata: routeTable.usesMetadata,
    reroute: (request, random, metadata, upstream = resolve) => select(request, random, upstream, metadata),
    route(request, random, upstream = resolve, metadata = undefined) {
      // The connection manager's path handling, in Envoy's order: escaped slashes, normalize_path, merge_slashes.
      let path = request.path;
      // A fragment never belongs in a request target: Envoy rejects it rather than route a path its filters
      // would read differently.
      if (path.includes('#')) return rejected(routeConfig, 400, 'Bad Request');
      let redirect = false;
      if (escapedSlashes !== 'KEEP_UNCHANGED') {
        const unescaped = unescapeSlashes(path);
        if (unescaped !== undefined) {
          const grpc = request.headers.get('content-type')?.[0]?.startsWith('application/grpc') === true;
          if (escapedSlashes === 'REJECT_REQUEST' || (escapedSlashes === 'UNESCAPE_AND_REDIRECT' && grpc)) return rejected(routeConfig, 400, 'Bad Request');
          redirect = escapedSlashes === 'UNESCAPE_AND_REDIRECT';
          path = unescaped;
        }
      }
      if (normalize) {
        const canonical = canonicalPath(path);
        if (canonical === undefined) return rejected(routeConfig, 400, 'Bad Request');
        path = canonical;
      }
      if (merge) path = mergePathSlashes(path);
      request.path = path;
      if (redirect) {
        return { ...(routeConfig !== undefined ? { routeConfig } : {}), action: { kind: 'redirect', location: path, status: 307 }, beforeFilters: true };
      }
      if (stripAny || stripMatching) {
        const host = stripPort(request.authority);
        if (stripAny || request.authority.slice(host.length + 1) === port) request.authority = host;
      }
      return select(request, random, upstream, metadata);
    },
  };
}

function rejected(routeConfig: string | undefined, status: number, body: string): RouteResult {
  return { ...(routeConfig !== undefined ? { routeConfig } : {}), action: { kind: 'direct', status, body }, beforeFilters: true };
}

const networkLists = new WeakMap<Obj, HttpFilter[]>();

function networkFiltersOf(chain: Obj, filters: Obj[], terminalAt: number): HttpFilter[] {
  let l = networkLists.get(chain);
  if (!l) {
    l = filters.slice(0, terminalAt).map((f) => ({ name: str(f.name), type: anyType(f.typedConfig), config: obj(f.typedConfig) }));
    networkLists.set(chain, l);
  }
  return l;
}

// One list per connection manager object, so what the router caches per filter chain outlives a connection.
const filterLists = new WeakMap<Obj, HttpFilter[]>();

export function httpFiltersOf(hcm: Obj): HttpFilter[] {
  let l = filterLists.get(hcm);
  if (!l) {
    l = arr(hcm.httpFilters).map((f) => ({ name: str(f.name), type: anyType(f.typedConfig), config: obj(f.typedConfig) }));
    filterLists.set(hcm, l);
  }
  return l;
}

function tcpProxy(tp: Obj, random: number, upstream: (name: string) => UpstreamCluster): ClusterAction {
  const weighted = arr(obj(tp.weightedClusters).clusters);
  const cluster = weighted.length > 0 ? str(pickWeighted(weighted, random)?.name) : str(tp.cluster);
  return {
    kind: 'cluster',
    via: 'tcp',
    cluster,
    ...(weighted.length > 0 ? { weightedClusters: weighted.map((w) => ({ name: str(w.name), weight: u32(w.weight) ?? 0 })) } : {}),
    upstream: upstream(cluster),
  };
}
