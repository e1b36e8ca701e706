// `virtualInbound` on 15006: every redirected inbound connection, sorted by its original destination port into
// a chain per served port (HTTP → HttpConnectionManager with an inline route to `inbound|<port>||`, TCP →
// tcp_proxy to it, UNKNOWN → both, told apart by HTTP sniffing), a passthrough for ports no service declares,
// and a blackhole for connections addressed to 15006 itself. Each port's PeerAuthentication mode decides whether
// its chains are plaintext, mutual TLS (terminated with the workload's identity) or both. Context in, one Listener out.
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
import { any, bool, duration, u32 } from './envoy/values.ts';
import { ROOT_CERT, WORKLOAD_CERT_CHAIN, WORKLOAD_KEY } from './identity-files.ts';
import { mtlsModeFor } from './peer-authentication.ts';
import type { MtlsMode } from './peer-authentication.ts';
import { TLS_TRANSPORT_SOCKET } from './upstream-tls.ts';
import { workloadSecurity } from './authz/index.ts';
import type { EnvoyObject } from './types.ts';

const DOWNSTREAM_TLS_CONTEXT = 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

/** How connections to a port are secured: PeerAuthentication's mode for it (peer-authentication.ts). */
export interface InboundSecurity {
  mode: MtlsMode;
}

interface ChainPlan {
  kind: 'http' | 'tcp';
  match: EnvoyObject;
  /** The chain terminates mutual TLS with the workload's identity. */
  mtls?: true;
}

/** ALPNs a peer sidecar announces for HTTP inside mutual TLS (it says `istio` for raw TCP). */
export const MTLS_HTTP_ALPNS = ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'] as const;

function plaintextPlans(cls: 'http' | 'tcp' | 'auto'): ChainPlan[] {
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

function mtlsPlans(cls: 'http' | 'tcp' | 'auto'): ChainPlan[] {
  const tls = { transportProtocol: 'tls' };
  switch (cls) {
    case 'http': return [{ kind: 'http', match: tls, mtls: true }];
    case 'tcp': return [{ kind: 'tcp', match: tls, mtls: true }];
    // Inside TLS no inspector can see HTTP: the peer's ALPN says what it carries.
    case 'auto': return [
      { kind: 'http', match: { applicationProtocols: [...MTLS_HTTP_ALPNS], ...tls }, mtls: true },
      { kind: 'tcp', match: tls, mtls: true },
    ];
  }
}

/** STRICT: only mutual TLS chains, so plaintext finds no chain and is closed; PERMISSIVE: both; DISABLE: plaintext. */
function chainPlans(cls: 'http' | 'tcp' | 'auto', security: InboundSecurity): ChainPlan[] {
  switch (security.mode) {
    case 'DISABLE': return plaintextPlans(cls);
    case 'STRICT': return mtlsPlans(cls);
    case 'PERMISSIVE': return [...mtlsPlans(cls), ...plaintextPlans(cls)];
  }
}

/** A port's mode; port 0 (the passthrough) takes the workload's mode without a port-level override. */
function securityFor(ctx: TranslateContext, port: number): InboundSecurity {
  const w = ctx.workload;
  return { mode: mtlsModeFor(ctx.snapshot, w.namespace, w.labels, port, ctx.use) };
}

/** The DownstreamTlsContext of an mTLS chain: the workload's certificate, peers verified against the mesh root
 * (also a gateway's ISTIO_MUTUAL servers: the same clients, the same ALPN). */
export function downstreamMtls(kind: 'http' | 'tcp'): EnvoyObject {
  return {
    name: TLS_TRANSPORT_SOCKET,
    typedConfig: any(DOWNSTREAM_TLS_CONTEXT, {
      commonTlsContext: {
        tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3' },
        tlsCertificates: [{ certificateChain: { filename: WORKLOAD_CERT_CHAIN }, privateKey: { filename: WORKLOAD_KEY } }],
        validationContext: { trustedCa: { filename: ROOT_CERT } },
        alpnProtocols: kind === 'http' ? ['istio-h2', 'istio-http/1.1', 'istio-http/1.0', 'h2', 'http/1.1'] : ['istio-peer-exchange', 'istio'],
      },
      requireClientCertificate: bool(true),
    }),
  };
}

const withTls = (plan: ChainPlan): EnvoyObject => (plan.mtls ? { transportSocket: downstreamMtls(plan.kind) } : {});

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

/** What every inbound connection manager carries: the workload's authn/authz filters, the mesh's path normalization. */
function hcmSecurity(ctx: TranslateContext) {
  return { securityFilters: workloadSecurity(ctx).http, pathNormalization: ctx.snapshot.options.pathNormalization };
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
          ...hcmSecurity(ctx),
        })]
        : [...workloadSecurity(ctx).tcp, tcpProxyFilter(cluster, { kind: 'cluster', name: cluster })];
      chains.push({ name, filterChainMatch: { destinationPort: u32(p.port), ...plan.match }, filters, ...withTls(plan) });
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
      ...withTls(plan),
      filters: [httpConnectionManagerFilter({
        statPrefix: cluster,
        routes: { kind: 'inline', routeConfig: inboundRouteConfig(cluster, 0, undefined) },
        protocol: 'UNKNOWN',
        direction: 'inbound',
        ...hcmSecurity(ctx),
      })],
    }
    : {
      name: VIRTUAL_INBOUND_LISTENER, filterChainMatch: plan.match, ...withTls(plan),
      filters: [...workloadSecurity(ctx).tcp, tcpProxyFilter(cluster, { kind: 'cluster', name: cluster })],
    });
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
