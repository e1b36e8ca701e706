// The `simulate:` part of golden cases: a request description in a readable form, run through
// src/proxy/routing's simulate(), flattened into a view the expectations compare against.
//
//   request:                      # url sets scheme, host (with port if given), port and path; or give them apart
//     url: http://reviews:9080/api?x=1
//     service: reviews.bookinfo   # original destination = that service's first address (for ip:port listeners);
//                                 #   `name`, `name.namespace` or a full host name
//     headers: { end-user: jason }
//     direction: outbound         # default; inbound for the workload's own ports
//     method: GET, scheme, protocol (http1|http1.0|http2|tcp), tls: { sni, alpn }, destinationIp, port, host, path
//   random: 0.5                   # the random value in [0, 1) for weighted picks
//   expect:                       # keys of the view below; objects compare as subsets, null means absent
//     cluster: outbound|9080|v1|reviews.bookinfo.svc.cluster.local
//     endpoints: [10.0.0.1:9080]
//
// View keys: listener, filterChain, routeConfig, virtualHost, route, action (cluster|redirect|direct|no-route|
// closed), cluster, weightedClusters, rewrittenPath, rewrittenHost, upstreamHeaders, requestHeaderOps, timeoutMs,
// retry, fault, abortPercent, delayPercent, mirrors, cors, hashPolicy, location, status, body, reason, clusterFound, endpoints (addresses that
// take traffic), excluded (addresses that do not), upstream (the whole UpstreamCluster: type, lbPolicy,
// endpoints with health, locality, priority, transport).
import { simulate } from '../../src/proxy/routing/simulate.ts';
import type { RequestDescription, SimulationResult } from '../../src/proxy/routing/types.ts';
import type { Snapshot } from '../../src/model/types.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';

type Args = Record<string, any>;

export function requestOf(r: Args, snapshot: Snapshot, clientNamespace: string): RequestDescription {
  const out: Args = { direction: 'outbound', method: 'GET' };
  if (typeof r.url === 'string') {
    const u = new URL(r.url);
    out.scheme = u.protocol.replace(/:$/, '');
    out.host = u.host;
    out.port = u.port ? Number(u.port) : out.scheme === 'https' ? 443 : 80;
    out.path = u.pathname + u.search;
  }
  for (const [k, v] of Object.entries(r)) if (k !== 'url' && k !== 'service') out[k] = v;
  if (typeof r.service === 'string') {
    // `name` (client namespace), `name.namespace`, or a full host name.
    const dots = r.service.split('.').length - 1;
    const host = dots === 1 ? `${r.service}.svc.${snapshot.options.clusterDomain}` : snapshot.resolveHost(r.service, clientNamespace);
    const svc = snapshot.servicesByHost(host)[0];
    const ip = svc?.addresses[0];
    if (!ip) throw new Error(`request.service ${r.service}: no address for ${host}`);
    out.destinationIp = ip;
  }
  // A TLS request has no method of its own, unless one is given (HTTP inside a sidecar's mutual TLS).
  if (out.protocol === 'tcp' || (out.tls && r.method === undefined)) {
    delete out.method;
  }
  if (out.port === undefined) throw new Error('request: give a url or a port');
  return out as RequestDescription;
}

export function viewOf(r: SimulationResult): Record<string, unknown> {
  const { action, ...where } = r;
  const view: Record<string, unknown> = { ...where, action: action.kind };
  if (action.kind === 'cluster') {
    const { kind: _k, upstream, ...fields } = action;
    Object.assign(view, fields);
    view.clusterFound = upstream.found;
    view.endpoints = upstream.endpoints.map((e) => e.address);
    view.excluded = upstream.excluded.map((e) => e.address);
    view.upstream = upstream;
    // The share of requests a fault hits, whether the config says 0 % or has no fault at all.
    view.abortPercent = action.fault?.abort?.percent ?? 0;
    view.delayPercent = action.fault?.delay?.percent ?? 0;
  } else {
    const { kind: _k, ...fields } = action;
    Object.assign(view, fields);
  }
  return view;
}

/** Mismatches of `expected` against `actual`: objects as subsets, arrays element by element, null = absent. */
export function mismatches(expected: unknown, actual: unknown, path = ''): string[] {
  if (expected === null) return actual === undefined || actual === null ? [] : [`${path}: expected absent, got ${JSON.stringify(actual)}`];
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected a list, got ${JSON.stringify(actual)}`];
    if (actual.length !== expected.length) return [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
    return expected.flatMap((e, i) => mismatches(e, actual[i], `${path}[${i}]`));
  }
  if (typeof expected === 'object') {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
    return Object.entries(expected as Args).flatMap(([k, v]) => mismatches(v, (actual as Args)[k], path ? `${path}.${k}` : k));
  }
  return expected === actual ? [] : [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}

export function runSimulation(pc: ProxyConfig, request: RequestDescription, random: number): Record<string, unknown> {
  return viewOf(simulate(pc, request, { random: () => random }));
}
