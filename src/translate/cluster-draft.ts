// A Cluster under construction: the Envoy Cluster object plus the pieces of its upstream HttpProtocolOptions,
// which several policy parts contribute to and which are encoded once, at the end (finishCluster).
import type { Protocol } from '../model/types.ts';
import { any } from './envoy/values.ts';
import type { EnvoyObject } from './types.ts';

export const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export type DiscoveryType = 'EDS' | 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'ORIGINAL_DST';

/** How the upstream HTTP protocol is chosen: HTTP/1.1, HTTP/2, or whatever the downstream spoke. */
export type UpstreamProtocol = 'http1' | 'http2' | 'downstream';

export interface ClusterDraft {
  cluster: EnvoyObject & { name: string; type: DiscoveryType };
  /** envoy.extensions.upstreams.http.v3.HttpProtocolOptions pieces; undefined: none needed. */
  http?: {
    common?: EnvoyObject;
    upstream?: EnvoyObject;
    protocol?: UpstreamProtocol;
    /** HTTP/2 options (max concurrent streams) when the protocol is http2. */
    http2?: EnvoyObject;
  };
}

export function httpOptions(d: ClusterDraft): NonNullable<ClusterDraft['http']> {
  d.http ??= {};
  return d.http;
}

export function isHttp2Protocol(p: Protocol): boolean {
  return p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB';
}

export function isHttp2Cluster(d: ClusterDraft): boolean {
  return d.http?.protocol === 'http2';
}

/** The port's protocol decides the upstream protocol first: HTTP/2 and gRPC ports speak HTTP/2, ports whose
 * protocol is sniffed speak whatever the client spoke. */
export function setPortProtocol(d: ClusterDraft, protocol: Protocol): void {
  if (isHttp2Protocol(protocol)) httpOptions(d).protocol = 'http2';
  else if (protocol === 'UNKNOWN') httpOptions(d).protocol = 'downstream';
}

/** Encodes the collected HTTP options into typedExtensionProtocolOptions and returns the finished cluster. */
export function finishCluster(d: ClusterDraft): EnvoyObject {
  const h = d.http;
  if (!h) return d.cluster;
  const options: EnvoyObject = {};
  if (h.common && Object.keys(h.common).length) options.commonHttpProtocolOptions = h.common;
  if (h.upstream && Object.keys(h.upstream).length) options.upstreamHttpProtocolOptions = h.upstream;
  // Envoy requires an upstream protocol choice; HTTP/1.1 unless something asked for more.
  switch (h.protocol ?? 'http1') {
    case 'http1': options.explicitHttpConfig = { httpProtocolOptions: {} }; break;
    case 'http2': options.explicitHttpConfig = { http2ProtocolOptions: h.http2 ?? {} }; break;
    case 'downstream': options.useDownstreamProtocolConfig = { httpProtocolOptions: {}, http2ProtocolOptions: {} }; break;
  }
  d.cluster.typedExtensionProtocolOptions = { [HTTP_PROTOCOL_OPTIONS]: any(HTTP_PROTOCOL_OPTIONS, options) };
  return d.cluster;
}
