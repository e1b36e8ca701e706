// translate() for a gateway workload (`mode: 'gateway'`): no capture listeners and no inbound side; a listener per
// merged Gateway server port (gateway-listeners.ts), the route configurations its HTTP chains name
// (gateway-vhosts.ts), and the outbound clusters and endpoints of every service visible from the gateway's
// namespace, built exactly as a sidecar's (so auto mTLS to sidecar endpoints works the same way). Context in, the
// four resource lists out, each sorted; Gateways and the VirtualServices bound to them are recorded as used.
import { objectKey } from './names.ts';
import { outboundClusterPlans } from './cluster-plan.ts';
import { buildOutboundClusters } from './clusters.ts';
import { buildEndpoints } from './endpoints.ts';
import { gatewayListener } from './gateway-listeners.ts';
import { gatewayPorts, type GatewayServer } from './gateway-servers.ts';
import { gatewayRefsOf, gatewayRouteConfig } from './gateway-vhosts.ts';
import type { TranslateContext } from './index.ts';
import type { ClientView } from './locality.ts';
import { byName } from './outbound.ts';
import type { EnvoyObject } from './types.ts';
import { boundVirtualServices } from './virtual-services.ts';

export interface GatewayPart {
  listeners: EnvoyObject[];
  routes: EnvoyObject[];
  clusters: EnvoyObject[];
  endpoints: EnvoyObject[];
}

export function buildGateway(ctx: TranslateContext, client: ClientView): GatewayPart {
  const ports = gatewayPorts(ctx.snapshot, ctx.workload, ctx.use);
  const mine = new Set(ports.flatMap((p) => p.servers.map((s) => s.ref)));
  const refs = new Map<string, Set<string>>();
  const vses = boundVirtualServices(ctx, (vs) => {
    const r = gatewayRefsOf(vs);
    refs.set(objectKey('VirtualService', vs.metadata?.namespace ?? '', vs.metadata?.name ?? ''), r);
    return [...r].some((g) => mine.has(g));
  });

  const listeners: EnvoyObject[] = [];
  const rds = new Map<string, GatewayServer[]>();
  for (const p of ports) {
    const built = gatewayListener(ctx, p, vses, refs);
    if (!built) continue;
    listeners.push(built.listener);
    for (const s of built.http) if (s.rds) rds.set(s.rds, [...(rds.get(s.rds) ?? []), s]);
  }
  const routes = [...rds].map(([name, servers]) => gatewayRouteConfig(ctx, name, servers, vses, refs));

  const plans = outboundClusterPlans(ctx);
  const clusters = buildOutboundClusters(ctx, client, plans).sort(byName('name'));
  return {
    listeners: listeners.sort(byName('name')),
    routes: routes.sort(byName('name')),
    clusters,
    endpoints: buildEndpoints(ctx, clusters, client, plans).sort(byName('clusterName')),
  };
}
