// The ext_authz network filter (envoy.extensions.filters.network.ext_authz.v3.ExtAuthz) for one connection. In:
// the filter config (grpc_service, failure_mode_allow, include_tls_session, filter_enabled_metadata), the
// connection (ConnContext), the dynamic metadata the network RBAC filters before it wrote. Out: whether the
// filter runs at all (filter_enabled_metadata, judged synchronously) and, when it does, the verdict of one
// envoy.service.auth.v3.Authorization/Check call as Envoy's createTcpCheck fills it — source (peer address, the
// mTLS peer's URI SAN), destination (local address, own SPIFFE id when the proxy terminated TLS, SNI as its
// service), the TLS session's SNI when include_tls_session. OK → allowed (the response's dynamic metadata under
// envoy.filters.network.ext_authz); denied → closed with flag UAEX, details ext_authz_denied; a failed call
// (transport, grpc-status, timeout) → closed with UAEX, ext_authz_error, unless failure_mode_allow.
// Not carried out (the config loader warns): include_peer_certificate (the sidecar keeps only the peer's URI SAN,
// not its certificate), bootstrap_metadata_labels_key, send_tls_alert_on_denial.
// Each verdict is reported as a CUSTOM decision. weft checks when the connection is set up, before any upstream
// connection is made and before any byte goes anywhere (Envoy asks on the first bytes the client sends).
import { bool, has } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import type { ConnContext, ResponseFlag, Runtime } from '../runtime.ts';
import { extAuthzEnabledBy } from './chain-summary.ts';
import { reportAuthz } from './events.ts';
import { GrpcCheckClient, socketAddress } from './grpc-check.ts';
import type { MetadataPredicate } from './metadata.ts';
import type { WritableMetadata } from './rbac-filter.ts';

/** The dynamic metadata namespace of the network ext_authz filter. */
export const NETWORK_EXT_AUTHZ_NAMESPACE = 'envoy.filters.network.ext_authz';

export type NetworkDenial = {
  allowed: false;
  filter: string;
  /** Connection termination details (rbac_access_denied_matched_policy[…], ext_authz_denied, ext_authz_error). */
  details: string;
  /** What denied: an RBAC filter, an ext_authz filter, or a filter the sidecar cannot run. */
  by: 'rbac' | 'ext_authz' | 'unsupported';
  flags: ResponseFlag[];
};

export type NetworkAuthz = { allowed: true } | NetworkDenial;

export const ALLOWED: NetworkAuthz = { allowed: true };

interface CompiledNetworkExtAuthz {
  client?: GrpcCheckClient;
  failOpen: boolean;
  includeTlsSession: boolean;
  enabled?: MetadataPredicate;
}

const compiled = new WeakMap<Obj, CompiledNetworkExtAuthz>();

function compile(config: Obj): CompiledNetworkExtAuthz {
  let c = compiled.get(config);
  if (c) return c;
  const enabled = extAuthzEnabledBy(config);
  c = {
    ...(has(config, 'grpcService') ? { client: new GrpcCheckClient(config.grpcService) } : {}),
    failOpen: bool(config.failureModeAllow, false),
    includeTlsSession: bool(config.includeTlsSession, false),
    ...(enabled ? { enabled } : {}),
  };
  compiled.set(config, c);
  return c;
}

/** filter_enabled_metadata against the connection's metadata: whether the filter asks the authorizer at all. */
export function networkExtAuthzEnabled(config: Obj, metadata: WritableMetadata): boolean {
  const enabled = compile(config).enabled;
  return !enabled || enabled(metadata);
}

/** The CheckRequest's AttributeContext for a connection (Envoy's createTcpCheck). */
export function tcpCheckAttributes(runtime: Runtime, conn: ConnContext, includeTlsSession: boolean): Obj {
  const source: Obj = {};
  const src = socketAddress(conn.downstreamRemote);
  if (src) source.address = src;
  if (conn.tls?.peerPrincipal) source.principal = conn.tls.peerPrincipal;
  const destination: Obj = {};
  const info = conn.info;
  const dst = socketAddress(info.destinationIp ? `${info.destinationIp}:${info.port}` : undefined);
  if (dst) destination.address = dst;
  const sni = conn.tls?.sni ?? info.tls?.sni;
  if (sni) destination.service = sni;
  const self = conn.tls ? runtime.live.identity()?.spiffeId : undefined;
  if (self) destination.principal = self;
  const attributes: Obj = { source, destination };
  if (includeTlsSession && sni) attributes.tlsSession = { sni };
  return attributes;
}

/** Asks the authorizer about the connection; resolves to the filter's verdict (never rejects). */
export async function checkConnection(
  runtime: Runtime, name: string, config: Obj, conn: ConnContext, metadata: WritableMetadata, signal?: AbortSignal,
): Promise<NetworkAuthz> {
  const c = compile(config);
  const outcome = c.client
    ? await c.client.check(runtime, tcpCheckAttributes(runtime, conn, c.includeTlsSession), signal)
    : { kind: 'error' as const, message: 'ext_authz has no grpc_service' };
  const report = (decision: 'allowed' | 'denied') =>
    reportAuthz(runtime.telemetry, { protocol: 'tcp', filter: name, action: 'CUSTOM', decision, dryRun: false });
  if (outcome.kind === 'ok') {
    if (outcome.metadata) metadata.set(NETWORK_EXT_AUTHZ_NAMESPACE, { ...metadata.get(NETWORK_EXT_AUTHZ_NAMESPACE), ...outcome.metadata });
    report('allowed');
    return ALLOWED;
  }
  if (outcome.kind === 'error' && c.failOpen && !('cancelled' in outcome)) {
    report('allowed');
    return ALLOWED;
  }
  report('denied');
  return { allowed: false, filter: name, by: 'ext_authz', flags: ['UAEX'], details: outcome.kind === 'denied' ? 'ext_authz_denied' : 'ext_authz_error' };
}
