// The sidecar's side of authorization for a connection: what a ConnContext offers RBAC rules (addresses, ports,
// the mTLS peer's URI SAN, SNI), and the network RBAC filters before tcp_proxy enforced in order — each decision
// reported, the first denial ends the walk with Envoy's connection termination details.
import type { ConnContext, Telemetry } from '../runtime.ts';
import { connectionAttributes } from './attributes.ts';
import type { ConnectionFacts } from './attributes.ts';
import type { ChainFilter } from './chain-summary.ts';
import { reportRbac } from './events.ts';
import { checkRbacFilter, compileRbacFilter, NETWORK_RBAC_NAMESPACE, NETWORK_RBAC_TYPE } from './rbac-filter.ts';

export function connectionFacts(conn: ConnContext): ConnectionFacts {
  const info = conn.info;
  const f: ConnectionFacts = { port: info.port };
  if (info.sourceIp !== undefined) f.sourceIp = info.sourceIp;
  if (info.destinationIp !== undefined) f.destinationIp = info.destinationIp;
  if (conn.tls?.peerPrincipal !== undefined) f.peerPrincipal = conn.tls.peerPrincipal;
  const sni = conn.tls?.sni ?? info.tls?.sni;
  if (sni !== undefined) f.sni = sni;
  return f;
}

export type NetworkAuthz = { allowed: true } | { allowed: false; filter: string; details: string };

const ALLOWED: NetworkAuthz = { allowed: true };

export function enforceNetworkRbac(filters: readonly ChainFilter[], conn: ConnContext, telemetry: Telemetry): NetworkAuthz {
  let attributes;
  let metadata: Map<string, Record<string, unknown>> | undefined;
  for (const f of filters) {
    if (f.type !== NETWORK_RBAC_TYPE) continue;
    attributes ??= connectionAttributes(connectionFacts(conn));
    metadata ??= new Map();
    const d = checkRbacFilter(compileRbacFilter(f.config, NETWORK_RBAC_NAMESPACE), attributes, metadata);
    reportRbac(telemetry, 'tcp', f.name, d);
    if (!d.allowed) return { allowed: false, filter: f.name, details: d.details ?? 'rbac_access_denied_matched_policy[none]' };
  }
  return ALLOWED;
}
