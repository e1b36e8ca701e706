// simulate(proxyConfig, request) → where Envoy's semantics send it: listener → filter chain → (TCP proxy |
// HTTP connection manager → RouteConfiguration → virtual host → first matching route → action) → cluster and
// endpoints. A thin wrapper over the engine the sidecar runs (engine.ts), for tests and weftctl.
import type { ProxyConfig } from '../../translate/types.ts';
import { compileProxy, planConnection } from './engine.ts';
import { edgeForwardedProto, makeHttpRequest } from './request.ts';
import type { RequestDescription, SimulateOptions, SimulationResult } from './types.ts';

function isHttp(req: RequestDescription): boolean {
  return req.protocol !== undefined ? req.protocol !== 'tcp' : req.host !== undefined || req.path !== undefined;
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
  if (plan.kind === 'tcp') return { ...out, action: plan.pick(random) };
  const request = makeHttpRequest({ ...req, scheme: req.scheme ?? (plan.downstreamTls ? 'https' : 'http') });
  if (edgeForwardedProto(plan.hcm)) request.headers.set('x-forwarded-proto', [request.scheme]);
  const xfp = request.headers.get('x-forwarded-proto')?.[0];
  if (xfp) request.forwardedProto = xfp;
  return { ...out, ...plan.route(request, random) };
}
