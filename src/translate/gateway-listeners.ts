// A gateway's listeners: one per merged server port, `0.0.0.0_<port>` bound on 0.0.0.0:<port> (no capture).
//   plaintext HTTP servers → one chain, HttpConnectionManager over RDS `http.<port>`;
//   a TCP server          → tcp_proxy to the first VirtualService `tcp` route bound to it;
//   TLS servers           → a chain per server picked by SNI (`server_names` = the server's hosts, none for `*`):
//     HTTPS (terminated) → DownstreamTlsContext + HttpConnectionManager over RDS `https.<port>.<name>.<gw>.<ns>`;
//     TLS (terminated)   → DownstreamTlsContext + tcp_proxy by `tcp` routes;
//     PASSTHROUGH        → a chain per `tls` route match (its sniHosts met with the server's hosts) → tcp_proxy.
// Chains Envoy could not tell apart (the same server names on one port) keep the first, in Gateway order; that
// is the conflict IST0145 reports (gateway-conflicts.ts). A port left without chains gets no listener.
import { hostMatches } from '../model/hosts.ts';
import type { Protocol } from '../model/types.ts';
import type { GatewayPort, GatewayServer } from './gateway-servers.ts';
import { gatewayDownstreamTls } from './gateway-tls.ts';
import { boundHosts, gatewayMatchApplies, type GatewayRefs } from './gateway-vhosts.ts';
import type { TranslateContext } from './index.ts';
import { listenerName } from './names.ts';
import { WILDCARD_ADDRESS, httpConnectionManagerFilter, socketAddress, tlsInspectorFilter } from './network-filters.ts';
import { routeFilters } from './tcp-chains.ts';
import type { EnvoyObject } from './types.ts';
import { workloadSecurity } from './authz/index.ts';
import type { SidecarVirtualService } from './virtual-services.ts';

interface Chain {
  serverNames: string[];
  chain: EnvoyObject;
}

/** A listener and the HTTP servers whose connection managers it holds (their route configurations are needed). */
export interface BuiltListener {
  listener: EnvoyObject;
  http: GatewayServer[];
}

const HCM_PROTOCOLS: ReadonlySet<string> = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

function hcm(ctx: TranslateContext, s: GatewayServer): EnvoyObject {
  const p = s.spec.port.protocol.toUpperCase();
  return httpConnectionManagerFilter({
    statPrefix: `outbound_${listenerName(WILDCARD_ADDRESS, s.port)}`,
    routes: { kind: 'rds', name: s.rds ?? '' },
    protocol: (HCM_PROTOCOLS.has(p) ? p : 'HTTP') as Protocol,
    direction: 'gateway',
    securityFilters: workloadSecurity(ctx).http,
    pathNormalization: ctx.snapshot.options.pathNormalization,
  });
}

/** A gateway's TCP chains run the workload's network authorization filters before tcp_proxy. */
const secured = (ctx: TranslateContext, filters: EnvoyObject[]): EnvoyObject[] => [...workloadSecurity(ctx).tcp, ...filters];

/** SNI names for a chain: `*` (or nothing) means any name, so the chain gets no server_names. */
function sniOf(hosts: readonly string[]): string[] {
  if (hosts.length === 0 || hosts.includes('*')) return [];
  return [...new Set(hosts.map((h) => h.toLowerCase()))].sort();
}

/** tcp_proxy of the first `tcp` route of a VirtualService bound to the server that applies to it. */
function tcpRouteFilters(ctx: TranslateContext, s: GatewayServer, vses: readonly SidecarVirtualService[], refs: GatewayRefs): EnvoyObject[] | undefined {
  for (const vs of vses) {
    if (boundHosts(s, vs, refs).length === 0) continue;
    for (const rule of vs.tcp) {
      if (rule.match?.length && !rule.match.some((m) => gatewayMatchApplies(ctx, s, vs.namespace, m))) continue;
      const filters = routeFilters(ctx, vs, rule.route ?? [], s.port);
      if (!filters) continue;
      ctx.use(vs.key);
      return secured(ctx, filters);
    }
  }
  return undefined;
}

/** The SNI names of a `tls` match entry the server's hosts allow (the more specific of each matching pair). */
function sniOnServer(s: GatewayServer, vsNamespace: string, sniHosts: readonly string[]): string[] {
  const allowed = s.hosts.filter((h) => h.namespace === '*' || h.namespace === vsNamespace).map((h) => h.host);
  const out = new Set<string>();
  for (const sni of sniHosts) {
    for (const h of allowed) {
      if (hostMatches(h, sni)) out.add(sni);
      else if (hostMatches(sni, h)) out.add(h);
    }
  }
  return [...out];
}

function passthroughChains(ctx: TranslateContext, s: GatewayServer, vses: readonly SidecarVirtualService[], refs: GatewayRefs): Chain[] {
  const out: Chain[] = [];
  for (const vs of vses) {
    if (boundHosts(s, vs, refs).length === 0) continue;
    for (const rule of vs.tls) {
      for (const m of rule.match ?? []) {
        if (!gatewayMatchApplies(ctx, s, vs.namespace, m)) continue;
        const names = sniOnServer(s, vs.namespace, m.sniHosts);
        if (names.length === 0) continue;
        const filters = routeFilters(ctx, vs, rule.route ?? [], s.port);
        if (!filters) continue;
        ctx.use(vs.key);
        out.push({ serverNames: sniOf(names), chain: { filters: secured(ctx, filters) } });
      }
    }
  }
  return out;
}

function serverChains(ctx: TranslateContext, s: GatewayServer, vses: readonly SidecarVirtualService[], refs: GatewayRefs): Chain[] {
  const names = sniOf(s.hosts.map((h) => h.host));
  switch (s.kind) {
    case 'https':
      return [{ serverNames: names, chain: { transportSocket: gatewayDownstreamTls(s.spec, true), filters: [hcm(ctx, s)] } }];
    case 'tls': {
      const filters = tcpRouteFilters(ctx, s, vses, refs);
      return filters ? [{ serverNames: names, chain: { transportSocket: gatewayDownstreamTls(s.spec, false), filters } }] : [];
    }
    case 'passthrough':
      return passthroughChains(ctx, s, vses, refs);
    default:
      return [];
  }
}

function tlsListenerChains(ctx: TranslateContext, p: GatewayPort, vses: readonly SidecarVirtualService[], refs: GatewayRefs,
  http: GatewayServer[]): EnvoyObject[] {
  const seen = new Set<string>();
  const out: EnvoyObject[] = [];
  for (const s of p.servers) {
    for (const c of serverChains(ctx, s, vses, refs)) {
      const key = c.serverNames.join(',');
      if (seen.has(key)) continue;
      seen.add(key);
      if (s.kind === 'https') http.push(s);
      const name = `${s.ref}/${s.spec.port.name}${c.serverNames.length ? `/${key}` : ''}`;
      const match = c.serverNames.length ? { filterChainMatch: { serverNames: c.serverNames } } : {};
      out.push({ name, ...match, ...c.chain });
    }
  }
  // Envoy picks the most specific match anyway; chains without server_names last keep the listing readable.
  return out.sort((a, b) => Number(!a.filterChainMatch) - Number(!b.filterChainMatch));
}

export function gatewayListener(ctx: TranslateContext, p: GatewayPort, vses: readonly SidecarVirtualService[], refs: GatewayRefs): BuiltListener | undefined {
  const first = p.servers[0];
  if (!first) return undefined;
  let chains: EnvoyObject[];
  const http: GatewayServer[] = [];
  if (p.tls) chains = tlsListenerChains(ctx, p, vses, refs, http);
  else if (first.kind === 'http') {
    // Every plaintext HTTP server of the port shares the one route configuration.
    chains = [{ name: `http.${p.port}`, filters: [hcm(ctx, first)] }];
    http.push(...p.servers);
  } else {
    const filters = tcpRouteFilters(ctx, first, vses, refs);
    chains = filters ? [{ name: `${first.ref}/${first.spec.port.name}`, filters }] : [];
  }
  if (chains.length === 0) return undefined;
  const l: EnvoyObject = {
    name: listenerName(WILDCARD_ADDRESS, p.port),
    address: socketAddress(WILDCARD_ADDRESS, p.port),
    trafficDirection: 'OUTBOUND',
  };
  if (p.tls) l.listenerFilters = [tlsInspectorFilter()];
  l.filterChains = chains;
  return { listener: l, http };
}
