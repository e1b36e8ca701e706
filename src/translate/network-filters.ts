// Building blocks of listeners: the tcp_proxy and http_connection_manager network filters, the listener
// filters (original_dst, tls_inspector, http_inspector), addresses and CIDR ranges. Plain values in, Envoy v3
// objects out (envoy.config.listener.v3 and the filter extensions' typed configs).
import { DEFAULT_MESH_OPTIONS, type PathNormalization, type Protocol } from '../model/types.ts';
import { any, bool, duration, u32 } from './envoy/values.ts';
import { httpFilters } from './http-filters.ts';
import type { EnvoyObject } from './types.ts';

export const TCP_PROXY_FILTER = 'envoy.filters.network.tcp_proxy';
export const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
export const WILDCARD_ADDRESS = '0.0.0.0';

/** ALPN values the HTTP inspector sets for plaintext HTTP/1.1 and HTTP/2; chains matching them carry HTTP. */
export const PLAINTEXT_HTTP_ALPNS = ['http/1.1', 'h2c'] as const;
export const RAW_BUFFER = 'raw_buffer';

export function socketAddress(address: string, port: number): EnvoyObject {
  return { socketAddress: { address, portValue: port } };
}

/** `10.0.0.0/8` or a bare IP (a /32 or /128) as envoy.config.core.v3.CidrRange. */
export function cidrRange(cidr: string): EnvoyObject {
  const [address = cidr, len] = cidr.split('/');
  const bits = len !== undefined ? Number(len) : address.includes(':') ? 128 : 32;
  return { addressPrefix: address, prefixLen: u32(bits) };
}

export type ClusterSpec =
  | { kind: 'cluster'; name: string }
  | { kind: 'weighted'; clusters: ReadonlyArray<{ name: string; weight: number }> };

export interface TcpProxyOptions {
  idleTimeout?: string;
  maxConnectionDuration?: string;
  /** Hash on the client address (a consistentHash DestinationRule with useSourceIp). */
  hashOnSourceIp?: boolean;
}

export function tcpProxyFilter(statPrefix: string, target: ClusterSpec, opts: TcpProxyOptions = {}): EnvoyObject {
  const config: EnvoyObject = { statPrefix };
  if (target.kind === 'cluster') config.cluster = target.name;
  else config.weightedClusters = { clusters: target.clusters.map((c) => ({ name: c.name, weight: c.weight })) };
  if (opts.idleTimeout) config.idleTimeout = duration(opts.idleTimeout);
  if (opts.maxConnectionDuration) config.maxDownstreamConnectionDuration = duration(opts.maxConnectionDuration);
  if (opts.hashOnSourceIp) config.hashPolicy = [{ sourceIp: {} }];
  return { name: TCP_PROXY_FILTER, typedConfig: any('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', config) };
}

export type RouteSource = { kind: 'rds'; name: string } | { kind: 'inline'; routeConfig: EnvoyObject };

export interface HcmOptions {
  statPrefix: string;
  routes: RouteSource;
  /** The port's protocol: gRPC-Web adds its filter; HTTP/2 and gRPC enable HTTP/2 options inbound. */
  protocol: Protocol;
  /** A gateway is where clients enter: it trusts the peer address it sees (useRemoteAddress), as Istio's do. */
  direction: 'inbound' | 'outbound' | 'gateway';
  /** MeshConfig pathNormalization (the mesh default when absent). */
  pathNormalization?: PathNormalization;
  /** Authentication and authorization filters (src/translate/authz), ahead of the chain's own filters. */
  securityFilters?: readonly EnvoyObject[];
}

/** The HCM fields of a path normalization setting, as Istio sets them (NONE leaves Envoy's defaults). */
export function pathNormalizationFields(mode: PathNormalization): EnvoyObject {
  switch (mode) {
    case 'NONE': return { pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' };
    case 'BASE': return { normalizePath: bool(true), pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' };
    case 'MERGE_SLASHES': return { normalizePath: bool(true), mergeSlashes: true, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' };
    case 'DECODE_AND_MERGE_SLASHES':
    default:
      return { normalizePath: bool(true), mergeSlashes: true, pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD' };
  }
}

/**
 * HttpConnectionManager as a sidecar uses it: automatic codec, paths normalized as the mesh says,
 * websocket upgrades, no stream idle timeout, the client's address not trusted (`useRemoteAddress` false) except
 * on gateways. Inbound it forwards the peer certificate's details in x-forwarded-client-cert.
 */
export function httpConnectionManagerFilter(o: HcmOptions): EnvoyObject {
  const config: EnvoyObject = { statPrefix: o.statPrefix };
  if (o.routes.kind === 'rds') {
    config.rds = { configSource: { ads: {}, initialFetchTimeout: duration(0), resourceApiVersion: 'V3' }, routeConfigName: o.routes.name };
  } else {
    config.routeConfig = o.routes.routeConfig;
  }
  config.httpFilters = [...(o.securityFilters ?? []), ...httpFilters(o.protocol)];
  config.useRemoteAddress = bool(o.direction === 'gateway');
  config.upgradeConfigs = [{ upgradeType: 'websocket' }];
  config.streamIdleTimeout = duration(0);
  Object.assign(config, pathNormalizationFields(o.pathNormalization ?? DEFAULT_MESH_OPTIONS.pathNormalization));
  if (o.direction === 'inbound') {
    config.forwardClientCertDetails = 'APPEND_FORWARD';
    config.setCurrentClientCertDetails = { subject: bool(true), dns: true, uri: true };
    if (o.protocol === 'HTTP2' || o.protocol === 'GRPC') config.http2ProtocolOptions = {};
  }
  return {
    name: HCM_FILTER,
    typedConfig: any('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', config),
  };
}

export function originalDstFilter(): EnvoyObject {
  return { name: 'envoy.filters.listener.original_dst', typedConfig: any('envoy.extensions.filters.listener.original_dst.v3.OriginalDst') };
}

/** The TLS inspector reads SNI and ALPN; a small first read keeps plaintext connections from waiting on it. */
export function tlsInspectorFilter(): EnvoyObject {
  return {
    name: 'envoy.filters.listener.tls_inspector',
    typedConfig: any('envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector', { initialReadBufferSize: u32(512) }),
  };
}

export function httpInspectorFilter(): EnvoyObject {
  return { name: 'envoy.filters.listener.http_inspector', typedConfig: any('envoy.extensions.filters.listener.http_inspector.v3.HttpInspector') };
}

/**
 * A ListenerFilterChainMatchPredicate true for connections to any of `ports`, used as a listener filter's
 * `filterDisabled` so inspectors stay off ports that never need them (server-first protocols would stall).
 */
export function destinationPortsPredicate(ports: readonly number[]): EnvoyObject {
  const rules = ports.map((p) => ({ destinationPortRange: { start: p, end: p + 1 } }));
  return rules.length === 1 ? rules[0]! : { orMatch: { rules } };
}
