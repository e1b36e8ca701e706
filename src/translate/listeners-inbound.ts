// `virtualInbound` on 15006: every redirected inbound connection, sorted by its original destination port into
// a chain per served port (HTTP → HttpConnectionManager with an inline route to `inbound|<port>||`, TCP →
// tcp_proxy to it, UNKNOWN → both, told apart by HTTP sniffing), a passthrough for ports no service declares,
// and a blackhole for connections addressed to 15006 itself. Context in, one Listener out.
import { DEFAULT_ROUTE_NAME } from './http-routes.ts';
import type { TranslateContext } from './index.ts';
import { inboundPorts } from './inbound-ports.ts';
import { PROXY_PORTS, listenerClass } from './listener-plan.ts';
import {
  BLACKHOLE_CLUSTER, INBOUND_CAPTURE_PORT, INBOUND_PASSTHROUGH_CLUSTER, VIRTUAL_INBOUND_LISTENER, clusterName, listenerName,
} from './names.ts';
import {
  PLAINTEXT_HTTP_ALPNS, RAW_BUFFER, WILDCARD_ADDRESS, destinationPortsPredicate, httpConnectionManagerFilter,
  httpInspectorFilter, originalDstFilter, socketAddress, tcpProxyFilter, tlsInspectorFilter,
} from './network-filters.ts';
import { bool, duration, u32 } from './envoy/values.ts';
import type { EnvoyObject } from './types.ts';

/**
 * How connections to a port are secured. Only plaintext exists so far; mutual TLS (PERMISSIVE/STRICT from
 * PeerAuthentication) adds its chains here — a `tls` transport match, the istio ALPNs and a transportSocket —
 * and nowhere else.
 */
export type InboundSecurity = { mode: 'DISABLE' };

interface ChainPlan {
  kind: 'http' | 'tcp';
  match: EnvoyObject;
}

function chainPlans(cls: 'http' | 'tcp' | 'auto', security: InboundSecurity): ChainPlan[] {
  void security;
  const plain = { transportProtocol: RAW_BUFFER };
  switch (cls) {
    case 'http': return [{ kind: 'http', match: plain }];
    case 'tcp': return [{ kind: 'tcp', match: plain }];
    case 'auto': return [
      { kind: 'http', match: { applicationProtocols: [...PLAINTEXT_HTTP_ALPNS], ...plain } },
      { kind: 'tcp', match: plain },
    ];
  }
}

/** The security of the workload's ports; PeerAuthentication will decide it. */
function securityFor(ctx: TranslateContext, port: number): InboundSecurity {
  void ctx;
  void port;
  return { mode: 'DISABLE' };
}

/** The inline route configuration of an inbound HTTP chain: every request to the local cluster, no timeout. */
function inboundRouteConfig(cluster: string, vhostPort: number, operation: string | undefined): EnvoyObject {
  const route: EnvoyObject = {
    name: DEFAULT_ROUTE_NAME,
    match: { prefix: '/' },
    route: { cluster, timeout: duration(0), maxStreamDuration: { maxStreamDuration: duration(0), grpcTimeoutHeaderMax: duration(0) } },
  };
  if (operation) route.decorator = { operation };
  return {
    name: cluster,
    virtualHosts: [{ name: `inbound|http|${vhostPort}`, domains: ['*'], routes: [route] }],
    validateClusters: bool(false),
  };
}

function portChains(ctx: TranslateContext): EnvoyObject[] {
  const chains: EnvoyObject[] = [];
  for (const p of inboundPorts(ctx)) {
    const cls = listenerClass(p.protocol);
    if (!cls || PROXY_PORTS.has(p.port)) continue;
    const cluster = clusterName('inbound', p.port);
    const name = listenerName(WILDCARD_ADDRESS, p.port);
    for (const plan of chainPlans(cls, securityFor(ctx, p.port))) {
      const filters = plan.kind === 'http'
        ? [httpConnectionManagerFilter({
          statPrefix: `inbound_${name}`,
          routes: { kind: 'inline', routeConfig: inboundRouteConfig(cluster, p.port, `${p.service.hostname}:${p.servicePort.port}/*`) },
          protocol: p.protocol,
          direction: 'inbound',
        })]
        : [tcpProxyFilter(cluster, { kind: 'cluster', name: cluster })];
      chains.push({ name, filterChainMatch: { destinationPort: u32(p.port), ...plan.match }, filters });
    }
  }
  return chains;
}

function passthroughChains(ctx: TranslateContext): EnvoyObject[] {
  const cluster = INBOUND_PASSTHROUGH_CLUSTER;
  return chainPlans('auto', securityFor(ctx, 0)).map((plan) => plan.kind === 'http'
    ? {
      name: `${VIRTUAL_INBOUND_LISTENER}-catchall-http`,
      filterChainMatch: plan.match,
      filters: [httpConnectionManagerFilter({
        statPrefix: cluster,
        routes: { kind: 'inline', routeConfig: inboundRouteConfig(cluster, 0, undefined) },
        protocol: 'UNKNOWN',
        direction: 'inbound',
      })],
    }
    : { name: VIRTUAL_INBOUND_LISTENER, filterChainMatch: plan.match, filters: [tcpProxyFilter(cluster, { kind: 'cluster', name: cluster })] });
}

export function virtualInboundListener(ctx: TranslateContext): EnvoyObject {
  const chains: EnvoyObject[] = [
    {
      name: `${VIRTUAL_INBOUND_LISTENER}-blackhole`,
      filterChainMatch: { destinationPort: u32(INBOUND_CAPTURE_PORT) },
      filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, { kind: 'cluster', name: BLACKHOLE_CLUSTER })],
    },
    ...passthroughChains(ctx),
    ...portChains(ctx),
  ];
  return {
    name: VIRTUAL_INBOUND_LISTENER,
    address: socketAddress(WILDCARD_ADDRESS, INBOUND_CAPTURE_PORT),
    trafficDirection: 'INBOUND',
    continueOnListenerFiltersTimeout: true,
    listenerFilters: [originalDstFilter(), ...inspectors(chains)],
    listenerFiltersTimeout: duration(0),
    filterChains: chains,
  };
}

/**
 * TLS and HTTP inspectors, each switched off on the ports none of whose chains needs it, so server-first
 * protocols on declared TCP ports are not held waiting for client bytes. Port 0 stands for chains without a
 * destination port (the passthrough).
 */
function inspectors(chains: readonly EnvoyObject[]): EnvoyObject[] {
  const need = new Map<number, { tls: boolean; http: boolean }>();
  for (const c of chains) {
    const m = (c.filterChainMatch ?? {}) as { destinationPort?: { value: number }; transportProtocol?: string; applicationProtocols?: string[] };
    const port = m.destinationPort?.value ?? 0;
    const cur = need.get(port) ?? { tls: false, http: false };
    cur.tls ||= m.transportProtocol === 'tls';
    cur.http ||= (m.applicationProtocols ?? []).some((a) => a === 'http/1.1' || a === 'h2c');
    need.set(port, cur);
  }
  const out: EnvoyObject[] = [];
  const off = (k: 'tls' | 'http') => [...need].filter(([p, n]) => p !== 0 && !n[k]).map(([p]) => p).sort((a, b) => a - b);
  const on = (k: 'tls' | 'http') => [...need].filter(([p, n]) => p !== 0 && n[k]).map(([p]) => p).sort((a, b) => a - b);
  const add = (k: 'tls' | 'http', filter: EnvoyObject) => {
    if (![...need.values()].some((n) => n[k])) return;
    // Enabled for unlisted ports (the passthrough needs it): list the ports to skip. Otherwise list where it runs.
    if (need.get(0)?.[k]) {
      const skip = off(k);
      out.push(skip.length > 0 ? { ...filter, filterDisabled: destinationPortsPredicate(skip) } : filter);
    } else {
      out.push({ ...filter, filterDisabled: { notMatch: destinationPortsPredicate(on(k)) } });
    }
  };
  add('tls', tlsInspectorFilter());
  add('http', httpInspectorFilter());
  return out;
}
