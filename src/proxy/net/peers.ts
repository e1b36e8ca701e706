// Istio's metric labels for a connection: the local workload, the upstream host's `istio` metadata, the mTLS
// peer. In: the runtime, the connection's context, the chosen host. Out: the source and destination PeerInfo
// and reporter that TcpRecords carry.
import type { ClusterRuntime, ConnContext, PeerInfo, Reporter, Runtime, TcpRecord, UpstreamHost } from '../runtime.ts';

function local(runtime: Runtime): PeerInfo {
  const w = runtime.local;
  const principal = runtime.live.identity()?.spiffeId;
  return {
    workload: w.name,
    namespace: w.namespace,
    ...(w.labels.app ? { app: w.labels.app } : {}),
    ...(w.labels.version ? { version: w.labels.version } : {}),
    ...(principal ? { principal } : {}),
  };
}

function fromHost(host: UpstreamHost | undefined, principal: string | undefined): PeerInfo {
  const m = host?.metadata ?? {};
  return {
    ...(m.workload ? { workload: m.workload } : {}),
    ...(m.namespace ? { namespace: m.namespace } : {}),
    ...(m.app ? { app: m.app } : {}),
    ...(m.version ? { version: m.version } : {}),
    ...(principal ? { principal } : {}),
  };
}

export type Peers = Pick<TcpRecord, 'reporter' | 'source' | 'destination' | 'connectionSecurityPolicy'>;

/** Outbound connections are reported by the client side (reporter=source), inbound by the server side. */
export function peersOf(runtime: Runtime, ctx: ConnContext, cluster?: ClusterRuntime, host?: UpstreamHost): Peers {
  const service = cluster?.service;
  if (ctx.kind === 'inbound') {
    const peer = ctx.tls?.peerPrincipal;
    return {
      reporter: 'destination' satisfies Reporter,
      source: peer ? { principal: peer } : {},
      destination: { ...local(runtime), ...(service ? { service } : {}) },
      connectionSecurityPolicy: peer ? 'mutual_tls' : 'none',
    };
  }
  return {
    reporter: 'source',
    source: local(runtime),
    destination: { ...fromHost(host, host && cluster ? cluster.peerPrincipal(host) : undefined), ...(service ? { service } : {}) },
    connectionSecurityPolicy: 'unknown',
  };
}
