// Outbound filter chains for a TCP-family or TLS service port: VirtualService `tls` rules (matched by SNI) and
// `tcp` rules (by destination subnet, else catch-all), falling back to the service's own cluster. Conditions a
// sidecar knows in advance (source labels, namespace, port, gateways) are settled here. Service, port and the
// applicable VirtualServices in; chain options (match + network filters) out.
import { hostMatches } from '../model/hosts.ts';
import type { MeshService, Protocol, ServicePort } from '../model/types.ts';
import type { TranslateContext } from './index.ts';
import { clusterName } from './names.ts';
import { tcpProxyFilter } from './network-filters.ts';
import type { ClusterSpec, TcpProxyOptions } from './network-filters.ts';
import { resolveDestination } from './route-action.ts';
import { l4AppliesToSidecar } from './route-match.ts';
import { destinationRuleFor, effectivePolicy } from './traffic-policy.ts';
import type { EnvoyObject } from './types.ts';
import type { SidecarVirtualService } from './virtual-services.ts';
import type { L4Destination } from './vs-types.ts';

/** What a filter chain matches on, before it becomes a FilterChainMatch. */
export interface ChainMatch {
  serverNames?: readonly string[];
  cidrs?: readonly string[];
  applicationProtocols?: readonly string[];
  transportProtocol?: string;
}

export type ChainOpt =
  | { kind: 'network'; match: ChainMatch; filters: EnvoyObject[] }
  | { kind: 'http'; match: ChainMatch; rds: string; protocol: Protocol };

export const isTlsProtocol = (p: Protocol) => p === 'HTTPS' || p === 'TLS';

/** VirtualServices that name this service among their hosts (wildcards included), in order. */
export function virtualServicesForHost(vses: readonly SidecarVirtualService[], host: string): SidecarVirtualService[] {
  return vses.filter((vs) => vs.hosts.some((h) => hostMatches(h, host)));
}

export interface L4Target {
  service: MeshService;
  port: ServicePort;
  /** Destination CIDR of the service (a ServiceEntry address that is a range), matched by the chain. */
  cidr?: string;
  /** The listener binds the wildcard address for a service without one: SNI tells TLS services apart. */
  wildcardBind: boolean;
}

export function l4Chains(ctx: TranslateContext, t: L4Target, vses: readonly SidecarVirtualService[]): ChainOpt[] {
  return isTlsProtocol(t.port.protocol) ? tlsChains(ctx, t, vses) : tcpChains(ctx, t, vses);
}

function tlsChains(ctx: TranslateContext, t: L4Target, vses: readonly SidecarVirtualService[]): ChainOpt[] {
  const out: ChainOpt[] = [];
  const seen = new Set<string>();
  for (const vs of vses) {
    for (const rule of vs.tls) {
      for (const m of rule.match ?? []) {
        if (!l4AppliesToSidecar(m, ctx.workload, t.port.port)) continue;
        const cidrs = m.destinationSubnets?.length ? m.destinationSubnets : t.cidr ? [t.cidr] : [];
        // Matches that differ only in what was settled statically would give identical chains: the first wins.
        const key = `${m.sniHosts.join(',')}|${(m.destinationSubnets ?? []).join(',')}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const filters = routeFilters(ctx, vs, rule.route ?? [], t.port.port);
        if (!filters) continue;
        ctx.use(vs.key);
        out.push({ kind: 'network', match: { serverNames: m.sniHosts, cidrs }, filters });
      }
    }
  }
  if (out.length > 0) return out;
  // No tls rule: everything to the service. Without an address of its own the SNI is what identifies it.
  const serverNames = t.cidr || t.wildcardBind ? [t.service.hostname] : undefined;
  return [{ kind: 'network', match: { serverNames, cidrs: t.cidr ? [t.cidr] : [] }, filters: [serviceTcpProxy(ctx, t)] }];
}

function tcpChains(ctx: TranslateContext, t: L4Target, vses: readonly SidecarVirtualService[]): ChainOpt[] {
  const out: ChainOpt[] = [];
  const serviceCidrs = t.cidr ? [t.cidr] : [];
  for (const vs of vses) {
    for (const rule of vs.tcp) {
      const routes = rule.route ?? [];
      if (!rule.match?.length) {
        const filters = routeFilters(ctx, vs, routes, t.port.port);
        if (filters) {
          ctx.use(vs.key);
          out.push({ kind: 'network', match: { cidrs: serviceCidrs }, filters });
          return out;
        }
        continue;
      }
      const subnets: string[] = [];
      for (const m of rule.match) {
        if (!l4AppliesToSidecar(m, ctx.workload, t.port.port)) continue;
        // A match without destination subnets takes everything left: it ends the list.
        if (!m.destinationSubnets?.length) {
          const filters = routeFilters(ctx, vs, routes, t.port.port);
          if (!filters) break;
          ctx.use(vs.key);
          out.push({ kind: 'network', match: { cidrs: serviceCidrs }, filters });
          return out;
        }
        subnets.push(...m.destinationSubnets);
      }
      if (subnets.length > 0) {
        const filters = routeFilters(ctx, vs, routes, t.port.port);
        if (!filters) continue;
        ctx.use(vs.key);
        out.push({ kind: 'network', match: { cidrs: subnets }, filters });
        // The same ranges as the service's own would make the default chain a duplicate.
        if (sameSet(subnets, serviceCidrs)) return out;
      }
    }
  }
  out.push({ kind: 'network', match: { cidrs: serviceCidrs }, filters: [serviceTcpProxy(ctx, t)] });
  return out;
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();

/** The service's own cluster (its only port when it has one, else the listener port). */
function serviceTcpProxy(ctx: TranslateContext, t: L4Target): EnvoyObject {
  const port = t.service.ports.length === 1 ? t.service.ports[0]!.port : t.port.port;
  const cluster = clusterName('outbound', port, '', t.service.hostname);
  return tcpProxyFilter(cluster, { kind: 'cluster', name: cluster }, tcpOptions(ctx, t.service, port, undefined));
}

/**
 * tcp_proxy for a rule's destinations: one cluster, or a weighted split (zero weights left out, stats named
 * after the VirtualService). Connection settings come from the first destination's DestinationRule.
 */
export function routeFilters(ctx: TranslateContext, vs: SidecarVirtualService, routes: readonly L4Destination[], port: number): EnvoyObject[] | undefined {
  const first = routes[0];
  if (!first) return undefined;
  const dests = routes.map((r) => ({ r, d: resolveDestination(ctx, r.destination, vs.namespace, port) }));
  const head = dests[0]!.d;
  const opts = head.service ? tcpOptions(ctx, head.service, head.port, first.destination.subset) : {};
  if (routes.length === 1) return [tcpProxyFilter(head.cluster, { kind: 'cluster', name: head.cluster }, opts)];
  const clusters = dests.filter(({ r }) => (r.weight ?? 0) > 0).map(({ r, d }) => ({ name: d.cluster, weight: r.weight ?? 0 }));
  if (clusters.length === 0) return undefined;
  const target: ClusterSpec = { kind: 'weighted', clusters };
  return [tcpProxyFilter(`${vs.name}.${vs.namespace}`, target, opts)];
}

function tcpOptions(ctx: TranslateContext, service: MeshService, port: number, subset: string | undefined): TcpProxyOptions {
  const rule = destinationRuleFor(ctx, service);
  if (!rule) return {};
  const sub = subset ? rule.spec?.subsets?.find((s) => s.name === subset) : undefined;
  const policy = effectivePolicy(rule, port, sub);
  const tcp = policy?.connectionPool?.tcp;
  const out: TcpProxyOptions = {};
  if (tcp?.idleTimeout) out.idleTimeout = tcp.idleTimeout;
  if (tcp?.maxConnectionDuration) out.maxConnectionDuration = tcp.maxConnectionDuration;
  if (policy?.loadBalancer?.consistentHash?.useSourceIp) out.hashOnSourceIp = true;
  return out;
}
