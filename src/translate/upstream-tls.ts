// DestinationRule tls → the cluster's transport socket (envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext):
// DISABLE none, SIMPLE/MUTUAL originate TLS with the rule's files or credential, ISTIO_MUTUAL with the workload's
// own identity files. Without a rule, autoMtls() decides from the endpoints' sidecars and PeerAuthentication.
import type { ClientTls } from '../api/destinationrule.ts';
import type { MeshService, ServicePort } from '../model/types.ts';
import { type ClusterDraft, httpOptions, isHttp2Cluster } from './cluster-draft.ts';
import { ROOT_CERT, spiffeId, WORKLOAD_CERT_CHAIN, WORKLOAD_KEY } from './identity-files.ts';
import type { TranslateContext } from './index.ts';
import { any } from './envoy/values.ts';
import { endpointPort } from './lb-endpoints.ts';
import { mtlsModeFor } from './peer-authentication.ts';
import { struct } from './policy-values.ts';
import type { EnvoyObject } from './types.ts';

export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
export const UPSTREAM_TLS_CONTEXT = 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const RAW_BUFFER = 'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';
const PROXY_PROTOCOL = 'envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport';

/** ALPN that marks in-mesh mTLS traffic (with h2 for HTTP/2 clusters), as Istio's sidecars advertise it. */
export const ALPN_IN_MESH = ['istio'];
export const ALPN_IN_MESH_H2 = ['istio', 'h2'];

/** The destination a cluster's TLS is for. */
export interface TlsTarget {
  service: MeshService;
  port: ServicePort;
  subset: string;
}

/** `outbound_.9080_.v1_.reviews.bookinfo.svc.cluster.local`: the SNI of in-mesh mTLS to one cluster. */
export function istioMtlsSni(port: number, subset: string, host: string): string {
  return `outbound_.${port}_.${subset}_.${host}`;
}

/** The SPIFFE identities the destination's endpoints may present, plus a ServiceEntry's subjectAltNames. */
export function destinationIdentities(ctx: TranslateContext, service: MeshService): string[] {
  const ids = new Set<string>(service.subjectAltNames);
  for (const port of service.ports) {
    for (const ep of ctx.snapshot.endpoints(service, port)) {
      if (ep.serviceAccount) {
        ids.add(spiffeId(ctx.snapshot.options.trustDomain, ep.workload?.namespace ?? service.namespace, ep.serviceAccount));
      }
    }
  }
  return [...ids].sort();
}

/** Sets the cluster's transport socket from the effective tls settings. */
export function applyUpstreamTls(ctx: TranslateContext, d: ClusterDraft, tls: ClientTls | undefined, target: TlsTarget): void {
  if (tls === undefined) return autoMtls(ctx, d, target);
  // An unset mode is the enum's zero value, DISABLE.
  switch (tls.mode ?? 'DISABLE') {
    case 'DISABLE':
      return;
    case 'ISTIO_MUTUAL':
      d.cluster.transportSocket = tlsSocket(istioMutual(ctx, d, tls, target));
      return;
    case 'SIMPLE':
    case 'MUTUAL':
      d.cluster.transportSocket = tlsSocket(originate(d, tls, target));
      return;
  }
}

/**
 * Automatic mTLS when no rule sets tls: ISTIO_MUTUAL towards endpoints that run a sidecar (metadata
 * `tlsMode: istio`, matched through transport_socket_matches), plaintext to the others. Plaintext altogether when
 * every sidecar endpoint's own PeerAuthentication says DISABLE for the port it serves on: its proxy would not
 * understand TLS.
 */
function autoMtls(ctx: TranslateContext, d: ClusterDraft, target: TlsTarget): void {
  if (target.service.origin === 'ServiceEntry' && target.service.location === 'MESH_EXTERNAL') return;
  const peers = ctx.snapshot.endpoints(target.service, target.port).filter((ep) => ep.sidecar);
  if (peers.length === 0) return;
  const disabled = (ep: (typeof peers)[number]) => mtlsModeFor(
    ctx.snapshot, ep.workload?.namespace ?? target.service.namespace, ep.labels, endpointPort(ep, target.port), ctx.use,
  ) === 'DISABLE';
  if (peers.every(disabled)) return;
  d.cluster.transportSocketMatches = [
    { name: 'tlsMode-istio', match: struct({ [TLS_MODE_KEY]: 'istio' }), transportSocket: tlsSocket(istioMutual(ctx, d, { mode: 'ISTIO_MUTUAL' }, target)) },
    { name: 'tlsMode-disabled', match: {}, transportSocket: rawBuffer() },
  ];
}

const TLS_MODE_KEY = 'tlsMode';

function rawBuffer(): EnvoyObject {
  return { name: 'envoy.transport_sockets.raw_buffer', typedConfig: any(RAW_BUFFER, {}) };
}

export function tlsSocket(context: EnvoyObject): EnvoyObject {
  return { name: TLS_TRANSPORT_SOCKET, typedConfig: any(UPSTREAM_TLS_CONTEXT, context) };
}

/** Wraps the transport socket (plaintext when there is none) so that a PROXY protocol header goes first. */
export function applyProxyProtocol(d: ClusterDraft, version: 'V1' | 'V2' | undefined): void {
  const inner = (d.cluster.transportSocket as EnvoyObject | undefined) ?? rawBuffer();
  d.cluster.transportSocket = {
    name: 'envoy.transport_sockets.upstream_proxy_protocol',
    typedConfig: any(PROXY_PROTOCOL, { config: { version: version ?? 'V1' }, transportSocket: inner }),
  };
}

function baseContext(): EnvoyObject {
  return { tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3' } };
}

function exactSans(names: readonly string[] | undefined): EnvoyObject[] | undefined {
  return names?.length ? names.map((exact) => ({ exact })) : undefined;
}

function istioMutual(ctx: TranslateContext, d: ClusterDraft, tls: ClientTls, t: TlsTarget): EnvoyObject {
  const sans = tls.subjectAltNames ?? destinationIdentities(ctx, t.service);
  const validation: EnvoyObject = { trustedCa: { filename: ROOT_CERT } };
  const match = exactSans(sans);
  if (match) validation.matchSubjectAltNames = match;
  return {
    commonTlsContext: {
      ...baseContext(),
      tlsCertificates: [{ certificateChain: { filename: WORKLOAD_CERT_CHAIN }, privateKey: { filename: WORKLOAD_KEY } }],
      validationContext: validation,
      alpnProtocols: isHttp2Cluster(d) ? ALPN_IN_MESH_H2 : ALPN_IN_MESH,
    },
    sni: tls.sni || istioMtlsSni(t.port.port, t.subset, t.service.hostname),
  };
}

function originate(d: ClusterDraft, tls: ClientTls, t: TlsTarget): EnvoyObject {
  const insecure = tls.insecureSkipVerify === true;
  // Without an explicit SNI the request's Host is sent, and checked against the certificate when no SANs are given.
  if (!tls.sni) {
    const upstream: EnvoyObject = { autoSni: true };
    if (!tls.subjectAltNames?.length && !insecure) upstream.autoSanValidation = true;
    const h = httpOptions(d);
    h.upstream = { ...h.upstream, ...upstream };
  }
  // A ServiceEntry's subjectAltNames stand in when the rule names none.
  const sans = tls.subjectAltNames?.length ? tls.subjectAltNames
    : t.service.origin === 'ServiceEntry' ? t.service.subjectAltNames : undefined;
  const common: EnvoyObject = baseContext();
  if (tls.credentialName) {
    // Key, certificate and CA come from a Secret, by name (`<name>` and `<name>-cacert`).
    if (tls.mode === 'MUTUAL') common.tlsCertificateSdsSecretConfigs = [{ name: tls.credentialName }];
    if (!insecure) {
      const def: EnvoyObject = {};
      const match = exactSans(sans);
      if (match) def.matchSubjectAltNames = match;
      common.combinedValidationContext = {
        defaultValidationContext: def,
        validationContextSdsSecretConfig: { name: `${tls.credentialName}-cacert` },
      };
    }
  } else {
    if (tls.mode === 'MUTUAL' && tls.clientCertificate && tls.privateKey) {
      common.tlsCertificates = [{ certificateChain: { filename: tls.clientCertificate }, privateKey: { filename: tls.privateKey } }];
    }
    if (!insecure) {
      // No CA file: the system's trusted roots.
      const validation: EnvoyObject = tls.caCertificates ? { trustedCa: { filename: tls.caCertificates } } : { systemRootCerts: {} };
      const match = exactSans(sans);
      if (match) validation.matchSubjectAltNames = match;
      if (tls.caCrl) validation.crl = { filename: tls.caCrl };
      common.validationContext = validation;
    }
  }
  if (isHttp2Cluster(d)) common.alpnProtocols = ['h2'];
  const out: EnvoyObject = { commonTlsContext: common };
  if (tls.sni) out.sni = tls.sni;
  return out;
}
