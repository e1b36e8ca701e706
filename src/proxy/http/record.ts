// Who talked to whom, for HttpRecords and TcpRecords alike: the reporter (the source sidecar for outbound and
// gateway traffic, the destination sidecar for inbound), the local workload's PeerInfo from the ProxyConfig and
// identity, the destination from the picked host's `istio` metadata and the cluster's service, the peer
// principal (and its namespace) from mTLS.
import type { ClusterRuntime, ConnContext, HttpRecord, PeerInfo, Runtime, UpstreamHost } from '../runtime.ts';

export type Peers = Pick<HttpRecord, 'reporter' | 'source' | 'destination' | 'connectionSecurityPolicy'>;

const cache = new WeakMap<Runtime, { spiffe: string | undefined; peer: PeerInfo }>();

/** This workload's PeerInfo, built once per identity (records copy it before adding to it). */
function localPeer(rt: Runtime): PeerInfo {
  const spiffe = rt.live.identity()?.spiffeId;
  const hit = cache.get(rt);
  if (hit && hit.spiffe === spiffe) return hit.peer;
  const peer = buildLocalPeer(rt, spiffe);
  cache.set(rt, { spiffe, peer });
  return peer;
}

function buildLocalPeer(rt: Runtime, spiffe: string | undefined): PeerInfo {
  const local = rt.local;
  const p: PeerInfo = { workload: local.name, namespace: local.namespace };
  if (local.labels.app !== undefined) p.app = local.labels.app;
  if (local.labels.version !== undefined) p.version = local.labels.version;
  if (spiffe) p.principal = spiffe;
  return p;
}

/** The peer's namespace is part of its SPIFFE id (spiffe://<td>/ns/<ns>/sa/<sa>); the rest of its workload
 * metadata is not known without a metadata exchange. */
function peerFromPrincipal(principal: string): PeerInfo {
  const ns = principal.indexOf('/ns/');
  const sa = principal.indexOf('/sa/', ns + 4);
  return ns > 0 && sa > ns ? { principal, namespace: principal.slice(ns + 4, sa) } : { principal };
}

export function peers(rt: Runtime, ctx: ConnContext, cluster: ClusterRuntime | undefined, host: UpstreamHost | undefined): Peers {
  const inbound = ctx.kind === 'inbound';
  let destination: HttpRecord['destination'];
  let source: PeerInfo;
  if (inbound) {
    source = ctx.tls?.peerPrincipal ? peerFromPrincipal(ctx.tls.peerPrincipal) : {};
    destination = { ...localPeer(rt) };
  } else {
    source = localPeer(rt);
    destination = {};
    if (host) {
      const m = host.metadata;
      if (m.workload) destination.workload = m.workload;
      if (m.namespace) destination.namespace = m.namespace;
      if (m.app) destination.app = m.app;
      if (m.version) destination.version = m.version;
      const p = cluster?.peerPrincipal(host);
      if (p) destination.principal = p;
    }
  }
  if (cluster?.service) destination.service = cluster.service;
  return {
    reporter: inbound ? 'destination' : 'source',
    source,
    destination,
    connectionSecurityPolicy: inbound ? (ctx.tls?.peerPrincipal ? 'mutual_tls' : 'none') : 'unknown',
  };
}
