// simulate(proxyConfig, request) → where Envoy's semantics send it: listener → filter chain → (TCP proxy |
// HTTP connection manager → RouteConfiguration → virtual host → first matching route → action) → cluster and
// endpoints. The config is compiled once (WeakMap per ProxyConfig); route tables are compiled on first use.
import type { ProxyConfig } from '../../translate/types.ts';
import { anyType, arr, bool, isObj, obj, str, u32 } from './envoy-values.ts';
import type { Obj } from './envoy-values.ts';
import { detect, listenerAddress, selectFilterChain } from './filter-chain.ts';
import type { Connection } from './filter-chain.ts';
import { makeHttpRequest, normalizePath } from './request.ts';
import { pickWeighted, routeAction } from './route-action.ts';
import type { HttpFilter } from './route-action.ts';
import { compileRouteTable, stripPort } from './route-table.ts';
import type { CompiledRouteTable } from './route-table.ts';
import type { Action, ClusterAction, RequestDescription, SimulateOptions, SimulationResult } from './types.ts';
import { resolveUpstream } from './upstream.ts';
import type { UpstreamIndex } from './upstream.ts';

const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP_PROXY_TYPE = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const DOWNSTREAM_TLS_TYPE = 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

interface CompiledProxy {
  byAddress: Map<string, Obj>;
  capture: { outbound?: Obj; inbound?: Obj };
  routes: Map<string, Obj>;
  tables: WeakMap<Obj, CompiledRouteTable>;
  upstream: UpstreamIndex;
}

const compiled = new WeakMap<ProxyConfig, CompiledProxy>();

function compile(pc: ProxyConfig): CompiledProxy {
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

/** The listener that ends up owning the connection. */
function pickListener(c: CompiledProxy, req: RequestDescription): Obj | undefined {
  const capture = req.direction === 'outbound' ? c.capture.outbound : c.capture.inbound;
  if (capture && !bool(capture.useOriginalDst, false)) return capture;
  const bound = (req.destinationIp ? c.byAddress.get(`${req.destinationIp}:${req.port}`) : undefined)
    ?? c.byAddress.get(`0.0.0.0:${req.port}`) ?? c.byAddress.get(`:::${req.port}`);
  if (bound && bound !== capture) return bound;
  return capture;
}

function isHttp(req: RequestDescription): boolean {
  return req.protocol !== undefined ? req.protocol !== 'tcp' : req.host !== undefined || req.path !== undefined;
}

function tcpProxy(c: CompiledProxy, tp: Obj, random: number, destination: string | undefined): ClusterAction {
  const weighted = arr(obj(tp.weightedClusters).clusters);
  const cluster = weighted.length > 0 ? str(pickWeighted(weighted, random)?.name) : str(tp.cluster);
  return {
    kind: 'cluster',
    via: 'tcp',
    cluster,
    ...(weighted.length > 0 ? { weightedClusters: weighted.map((w) => ({ name: str(w.name), weight: u32(w.weight) ?? 0 })) } : {}),
    upstream: resolveUpstream(c.upstream, cluster, destination),
  };
}

export function simulate(pc: ProxyConfig, req: RequestDescription, options: SimulateOptions = {}): SimulationResult {
  const c = compile(pc);
  const random = (options.random ?? Math.random)();
  const listener = pickListener(c, req);
  if (!listener) return { action: { kind: 'closed', reason: `no ${req.direction} listener for port ${req.port}` } };
  const out: SimulationResult = { listener: str(listener.name), action: { kind: 'no-route' } };
  const http = isHttp(req);
  const conn: Connection = {
    port: req.port,
    ...(req.destinationIp ? { destinationIp: req.destinationIp } : {}),
    ...(req.sourceIp ? { sourceIp: req.sourceIp } : {}),
    ...(req.tls ? { tls: req.tls } : {}),
    ...(http ? { http: req.protocol === 'http2' || req.protocol === 'http1.0' ? req.protocol : 'http1' as const } : {}),
  };
  const chain = selectFilterChain(listener, conn, detect(listener, conn));
  if (!chain) return { ...out, action: { kind: 'closed', reason: 'no filter chain matches' } };
  if (str(chain.name)) out.filterChain = str(chain.name);
  const destination = req.destinationIp ? `${req.destinationIp}:${req.port}` : undefined;

  const terminal = arr(chain.filters).find((f) => [HCM_TYPE, TCP_PROXY_TYPE].includes(anyType(f.typedConfig)));
  if (!terminal) return { ...out, action: { kind: 'closed', reason: 'the filter chain has no tcp_proxy or http_connection_manager' } };
  const config = obj(terminal.typedConfig);
  if (anyType(config) === TCP_PROXY_TYPE) return { ...out, action: tcpProxy(c, config, random, destination) };

  if (!http) return { ...out, action: { kind: 'closed', reason: 'not HTTP: the connection manager cannot parse the stream' } };
  const terminatesTls = anyType(obj(chain.transportSocket).typedConfig) === DOWNSTREAM_TLS_TYPE;
  if (req.tls && !terminatesTls) return { ...out, action: { kind: 'closed', reason: 'TLS reached an HTTP filter chain that does not terminate it' } };

  const hcm = config;
  const request = makeHttpRequest({ ...req, scheme: req.scheme ?? (terminatesTls ? 'https' : 'http') });
  const xfp = request.headers.get('x-forwarded-proto')?.[0];
  if (xfp) request.forwardedProto = xfp;
  if (bool(hcm.normalizePath, false) || bool(hcm.mergeSlashes, false)) {
    request.path = bool(hcm.normalizePath, false) ? normalizePath(request.path, bool(hcm.mergeSlashes, false))
      : request.path.replace(/^([^?#]*)/, (p) => p.replace(/\/{2,}/g, '/'));
  }
  const hostPort = request.authority.slice(stripPort(request.authority).length + 1);
  if (bool(hcm.stripAnyHostPort, false) || (bool(hcm.stripMatchingHostPort, false) && hostPort === String(req.port))) {
    request.authority = stripPort(request.authority);
  }

  let rc: Obj | undefined;
  if (isObj(hcm.rds)) {
    const name = str(hcm.rds.routeConfigName);
    out.routeConfig = name;
    rc = c.routes.get(name);
    if (!rc) return { ...out, action: { kind: 'closed', reason: `route configuration "${name}" does not exist (the listener would never warm)` } };
  } else if (isObj(hcm.routeConfig)) {
    rc = hcm.routeConfig;
    if (str(rc.name)) out.routeConfig = str(rc.name);
  } else {
    return { ...out, action: { kind: 'closed', reason: 'the connection manager has neither rds nor route_config' } };
  }

  const t = table(c, rc);
  const found = t.route(request, random);
  if (found.vhost) out.virtualHost = found.vhost.name;
  if (found.kind === 'no-route') return { ...out, action: { kind: 'no-route' } };
  if (found.kind === 'ssl-redirect') {
    return { ...out, action: { kind: 'redirect', location: `https://${request.authority}${request.path}`, status: 301 } };
  }
  out.route = found.route.name;
  const httpFilters: HttpFilter[] = arr(hcm.httpFilters).map((f) => ({ name: str(f.name), type: anyType(f.typedConfig), config: obj(f.typedConfig) }));
  const action: Action = routeAction({
    req: request,
    random,
    routeConfig: rc,
    vhost: found.vhost,
    route: found.route,
    matchedPath: found.matchedPath,
    httpFilters,
    upstream: (name) => resolveUpstream(c.upstream, name, destination),
  });
  return { ...out, action };
}
