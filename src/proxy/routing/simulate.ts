// simulate(proxyConfig, request) → where Envoy's semantics send it: listener → filter chain → (TCP proxy |
// HTTP connection manager → RouteConfiguration → virtual host → first matching route → action) → cluster and
// endpoints, and what the chain's authorization filters decide (network RBAC and ext_authz before tcp_proxy or the
// connection manager; the HTTP RBAC and ext_authz filters in order, with the peer principal and dynamic metadata the
// description gives — that metadata also feeds routes matching on it, as for a request the authentication filters
// already saw: a route chosen again after jwt_authn cleared the route cache). A thin
// wrapper over the engine the sidecar runs (engine.ts) and its authorization code (authz/), for tests and weftctl.
import type { ProxyConfig } from '../../translate/types.ts';
import { connectionAttributes, httpAttributes } from '../authz/attributes.ts';
import type { ConnectionFacts } from '../authz/attributes.ts';
import { httpAuthzSummary, tcpAuthzSummary } from '../authz/chain-summary.ts';
import { compileProxy, planConnection } from './engine.ts';
import { edgeForwardedProto, makeHttpRequest } from './request.ts';
import type { RequestDescription, SimulateOptions, SimulationResult } from './types.ts';

function isHttp(req: RequestDescription): boolean {
  return req.protocol !== undefined ? req.protocol !== 'tcp' : req.host !== undefined || req.path !== undefined;
}

function facts(req: RequestDescription): ConnectionFacts {
  const f: ConnectionFacts = { port: req.port };
  if (req.sourceIp !== undefined) f.sourceIp = req.sourceIp;
  if (req.destinationIp !== undefined) f.destinationIp = req.destinationIp;
  if (req.peerPrincipal !== undefined) f.peerPrincipal = req.peerPrincipal;
  if (req.tls?.sni !== undefined) f.sni = req.tls.sni;
  return f;
}

function metadataOf(req: RequestDescription): Map<string, Record<string, unknown>> {
  return new Map(Object.entries(req.metadata ?? {}).map(([k, v]) => [k, { ...v }]));
}

export function simulate(pc: ProxyConfig, req: RequestDescription, options: SimulateOptions = {}): SimulationResult {
  const c = compileProxy(pc);
  const random = (options.random ?? Math.random)();
  const http = isHttp(req);
  const plan = planConnection(c, {
    direction: req.direction,
    port: req.port,
    ...(req.destinationIp ? { destinationIp: req.destinationIp } : {}),
    ...(req.sourceIp ? { sourceIp: req.sourceIp } : {}),
    ...(req.tls ? { tls: req.tls } : {}),
    ...(http ? { http: req.protocol === 'http2' || req.protocol === 'http1.0' ? req.protocol : 'http1' as const } : {}),
  });
  const out: SimulationResult = { action: { kind: 'no-route' } };
  if (plan.listener) out.listener = plan.listener;
  if (plan.filterChain) out.filterChain = plan.filterChain;
  if (plan.kind === 'closed') return { ...out, action: { kind: 'closed', reason: plan.reason } };
  if (plan.kind === 'tcp') {
    const result: SimulationResult = { ...out, action: plan.pick(random) };
    const authz = tcpAuthzSummary(plan.networkFilters, connectionAttributes(facts(req)), metadataOf(req));
    if (authz) result.authz = authz;
    return result;
  }
  const request = makeHttpRequest({ ...req, scheme: req.scheme ?? (plan.downstreamTls ? 'https' : 'http') });
  if (edgeForwardedProto(plan.hcm)) request.headers.set('x-forwarded-proto', [request.scheme]);
  const xfp = request.headers.get('x-forwarded-proto')?.[0];
  if (xfp) request.forwardedProto = xfp;
  const { beforeFilters, ...routed } = plan.route(request, random, undefined, req.metadata ? metadataOf(req) : undefined);
  const result: SimulationResult = { ...out, ...routed };
  const network = tcpAuthzSummary(plan.networkFilters, connectionAttributes(facts(req)));
  if (network?.decision === 'denied') {
    result.authz = network;
  } else {
    const metadata = metadataOf(req);
    const authz = beforeFilters ? undefined : httpAuthzSummary(plan.httpFilters, httpAttributes(facts(req), plan.hcm, request, metadata), metadata);
    if (authz ?? network) result.authz = (authz ?? network)!;
    // A network ext_authz filter asks about the connection whatever the HTTP filters decide.
    if (authz && network?.extAuthz) result.authz = { ...authz, extAuthz: network.extAuthz };
  }
  return result;
}
