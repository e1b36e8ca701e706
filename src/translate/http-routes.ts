// One VirtualService's http rules → the Envoy routes (envoy.config.route.v3.Route) a sidecar uses on one
// listener port, and the default route of a service without one. Each match entry of a rule is its own route,
// in order; entries that do not apply to this sidecar (port, source labels, source namespace, gateways) are
// dropped; a catch-all ends the list. Rule values in, Route objects out; the VirtualService is recorded as used.
import type { MeshService } from '../model/types.ts';
import type { TranslateContext } from './index.ts';
import { clusterName, parseClusterName } from './names.ts';
import { duration, u32 } from './envoy/values.ts';
import { CORS_FILTER, FAULT_FILTER, corsConfig, faultConfig } from './http-filters.ts';
import {
  applyHeaderOps, hashPolicy, headerOps, mirrorPolicies, resolveDestination, retryPolicy,
} from './route-action.ts';
import { appliesToSidecar, isCatchAll, pathForOperation, routeMatch } from './route-match.ts';
import type { EnvoyObject } from './types.ts';
import type { HttpRule, SidecarVirtualService } from './virtual-services.ts';
import type { HTTPMatchRequest, HTTPRoute } from './vs-types.ts';

export const DEFAULT_ROUTE_NAME = 'default';

/** No timeout: Envoy's 0 disables the request timeout (its own default would be 15s). */
const noTimeout = () => duration(0);

/** Whether a match entry applies to the proxy being configured (sidecars and gateways settle this differently). */
export type MatchApplies = (m: HTTPMatchRequest | undefined) => boolean;

export function virtualServiceRoutes(ctx: TranslateContext, vs: SidecarVirtualService, port: number,
  applies: MatchApplies = (m) => appliesToSidecar(m, ctx.workload, port)): EnvoyObject[] {
  const out: EnvoyObject[] = [];
  for (const http of vs.http) {
    const matches: Array<HTTPMatchRequest | undefined> = http.rule.match?.length ? http.rule.match : [undefined];
    let catchAll = !http.rule.match?.length;
    for (const m of matches) {
      if (!applies(m)) continue;
      const r = translateRule(ctx, vs, http, m, port);
      if (!r) continue;
      out.push(r);
      if (isCatchAll(r.match as EnvoyObject)) {
        catchAll = true;
        break;
      }
    }
    if (catchAll) break;
  }
  return out;
}

function routeName(vs: SidecarVirtualService, http: HttpRule, m: HTTPMatchRequest | undefined): string {
  const base = http.rule.name ?? '';
  if (m?.name) return `${base}.${m.name}`;
  if (base) return base;
  // Unnamed rules get a stable name that says where they came from.
  return `${vs.namespace}/${vs.name}/http[${http.index}]`;
}

function translateRule(ctx: TranslateContext, vs: SidecarVirtualService, http: HttpRule, m: HTTPMatchRequest | undefined, port: number): EnvoyObject | undefined {
  const rule = http.rule;
  const out: EnvoyObject = { name: routeName(vs, http, m), match: routeMatch(m) };
  if (m?.statPrefix) out.statPrefix = m.statPrefix;
  const ops = headerOps(rule.headers);
  applyHeaderOps(out, ops);
  if (rule.redirect) {
    const redirect = redirectAction(rule.redirect, port);
    if (!redirect) return undefined;
    out.redirect = redirect;
  } else if (rule.directResponse) {
    out.directResponse = directResponseAction(rule.directResponse);
  } else {
    if (!rule.route || rule.route.length === 0) return undefined;
    const forward = forwardAction(ctx, http, port, out, ops.authority);
    if (!forward) return undefined;
    out.route = forward;
  }
  const action = out.route as EnvoyObject | undefined;
  const single = typeof action?.cluster === 'string' ? parseClusterName(action.cluster) : undefined;
  const operation = single ? `${single.host}:${single.port}` : `${vs.name}:${port}`;
  out.decorator = { operation: operation + pathForOperation(out.match as EnvoyObject) };
  const perFilter: Record<string, EnvoyObject> = {};
  const fault = rule.fault ? faultConfig(rule.fault) : undefined;
  if (fault) perFilter[FAULT_FILTER] = fault;
  if (rule.corsPolicy) perFilter[CORS_FILTER] = corsConfig(rule.corsPolicy);
  if (Object.keys(perFilter).length > 0) out.typedPerFilterConfig = perFilter;
  ctx.use(vs.key);
  for (const d of vs.delegates) ctx.use(d);
  return out;
}

/** The RouteAction of a forwarding rule; undefined when a split leaves no destination with weight. */
function forwardAction(ctx: TranslateContext, http: HttpRule, port: number, route: EnvoyObject, routeAuthority: string | undefined): EnvoyObject | undefined {
  const rule: HTTPRoute = http.rule;
  const action: EnvoyObject = {};
  let authority = routeAuthority;
  if (rule.rewrite) {
    const rx = rule.rewrite.uriRegexRewrite;
    if (rx?.match) action.regexRewrite = { pattern: { regex: rx.match }, substitution: rx.rewrite ?? '' };
    else if (rule.rewrite.uri) action.prefixRewrite = rule.rewrite.uri;
    if (rule.rewrite.authority) authority = rule.rewrite.authority;
  }
  const routes = rule.route ?? [];
  const hashes: EnvoyObject[] = [];
  let consistentHash = false;
  if (routes.length === 1) {
    const only = routes[0]!;
    const dest = resolveDestination(ctx, only.destination, http.hostNamespace, port);
    action.cluster = dest.cluster;
    const destOps = headerOps(only.headers);
    applyHeaderOps(route, destOps);
    // A destination's authority only applies when the rule itself does not rewrite the host.
    if (authority === undefined && destOps.authority !== undefined) authority = destOps.authority;
    const hash = hashPolicy(ctx, dest, only.destination.subset);
    if (hash) {
      hashes.push(hash);
      consistentHash = true;
    }
  } else {
    const clusters: EnvoyObject[] = [];
    for (const r of routes) {
      // Zero-weight destinations of a split get no traffic and are left out.
      if (!r.weight) continue;
      const dest = resolveDestination(ctx, r.destination, http.hostNamespace, port);
      const cw: EnvoyObject = { name: dest.cluster, weight: u32(r.weight) };
      const ops = headerOps(r.headers);
      applyHeaderOps(cw, ops);
      if (ops.authority !== undefined) cw.hostRewriteLiteral = ops.authority;
      clusters.push(cw);
      const hash = hashPolicy(ctx, dest, r.destination.subset);
      if (hash) hashes.push(hash);
    }
    if (clusters.length === 0) return undefined;
    action.weightedClusters = { clusters };
  }
  if (authority !== undefined) action.hostRewriteLiteral = authority;
  const mirrors = mirrorPolicies(ctx, rule, http.hostNamespace, port);
  if (mirrors.length > 0) action.requestMirrorPolicies = mirrors;
  if (hashes.length > 0) action.hashPolicy = hashes;
  action.timeout = rule.timeout ? duration(rule.timeout) : noTimeout();
  // The gRPC timeout header may set a deadline, capped by the route timeout (uncapped when there is none).
  action.maxStreamDuration = { grpcTimeoutHeaderMax: rule.timeout ? duration(rule.timeout) : noTimeout() };
  const retry = retryPolicy(rule.retries, consistentHash);
  if (retry) action.retryPolicy = retry;
  return action;
}

const REDIRECT_CODES: Readonly<Record<number, string | undefined>> = {
  // MOVED_PERMANENTLY is the enum's zero value and is left out.
  301: undefined, 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT',
};

/** RedirectAction; undefined for a status Envoy cannot send (the route is then dropped). */
function redirectAction(r: NonNullable<HTTPRoute['redirect']>, port: number): EnvoyObject | undefined {
  const code = r.redirectCode ?? 301;
  if (!(code in REDIRECT_CODES)) return undefined;
  const out: EnvoyObject = {};
  if (r.authority) out.hostRedirect = r.authority;
  if (r.uri) out.pathRedirect = r.uri;
  else if (r.prefixRewrite) out.prefixRewrite = r.prefixRewrite;
  if (r.scheme) out.schemeRedirect = r.scheme;
  let redirectPort: number | undefined;
  // The listener port is the request's port on a sidecar, so FROM_REQUEST_PORT is known when config is built.
  if (r.derivePort === 'FROM_REQUEST_PORT') redirectPort = port;
  else if (r.port) redirectPort = r.port;
  if (redirectPort !== undefined) {
    const scheme = r.scheme || 'http';
    // Default ports are not written into the Location.
    const isDefault = (redirectPort === 80 && scheme === 'http') || (redirectPort === 443 && scheme === 'https');
    if (!isDefault) out.portRedirect = redirectPort;
  }
  const responseCode = REDIRECT_CODES[code];
  if (responseCode) out.responseCode = responseCode;
  return out;
}

function directResponseAction(d: NonNullable<HTTPRoute['directResponse']>): EnvoyObject {
  const out: EnvoyObject = { status: d.status };
  if (d.body?.string !== undefined) out.body = { inlineString: d.body.string };
  else if (d.body?.bytes !== undefined) out.body = { inlineBytes: d.body.bytes };
  return out;
}

/** A service port without a VirtualService: everything to its cluster, default retries, no timeout. */
export function defaultRoute(ctx: TranslateContext, service: MeshService, port: number): EnvoyObject {
  const cluster = clusterName('outbound', port, '', service.hostname);
  const hash = hashPolicy(ctx, { cluster, host: service.hostname, port, service }, undefined);
  const action: EnvoyObject = { cluster, timeout: noTimeout(), maxStreamDuration: { grpcTimeoutHeaderMax: noTimeout() } };
  if (hash) action.hashPolicy = [hash];
  // Unlike rule routes, the default route keeps preferring other hosts on retry even when hashing.
  action.retryPolicy = retryPolicy(undefined, false);
  return {
    name: DEFAULT_ROUTE_NAME,
    match: { prefix: '/' },
    route: action,
    decorator: { operation: `${service.hostname}:${port}/*` },
  };
}
