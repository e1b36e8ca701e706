// The sidecar's side of authorization for a connection: what a ConnContext offers RBAC rules (addresses, ports,
// the mTLS peer's URI SAN, SNI), and the network filters in front of tcp_proxy or the connection manager run in
// order — RBAC (synchronously, each decision reported) and ext_authz (an authorizer call, only when its
// filter_enabled_metadata matches what the RBAC filters before it wrote into the connection's dynamic metadata).
// Out: the verdict — synchronously when no authorizer is asked (a chain without ext_authz stays synchronous),
// else a promise; the first denial ends the walk with Envoy's connection termination details. A network filter
// the sidecar cannot run denies the connection: it is never skipped (the config loader refuses such bundles).
import type { ConnContext, Runtime } from '../runtime.ts';
import { connectionAttributes } from './attributes.ts';
import type { AuthzAttributes, ConnectionFacts } from './attributes.ts';
import type { ChainFilter } from './chain-summary.ts';
import { NETWORK_EXT_AUTHZ_TYPE } from './chain-summary.ts';
import { reportRbac } from './events.ts';
import { ALLOWED, checkConnection, networkExtAuthzEnabled } from './network-ext-authz.ts';
import type { NetworkAuthz } from './network-ext-authz.ts';
import { checkRbacFilter, compileRbacFilter, NETWORK_RBAC_NAMESPACE, NETWORK_RBAC_TYPE } from './rbac-filter.ts';
import type { WritableMetadata } from './rbac-filter.ts';

export type { NetworkAuthz, NetworkDenial } from './network-ext-authz.ts';

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

interface Walk {
  filters: readonly ChainFilter[];
  conn: ConnContext;
  runtime: Runtime;
  signal: AbortSignal | undefined;
  attributes?: AuthzAttributes;
  metadata: WritableMetadata;
}

function walk(w: Walk, from: number): NetworkAuthz | Promise<NetworkAuthz> {
  for (let i = from; i < w.filters.length; i++) {
    const f = w.filters[i]!;
    if (f.type === NETWORK_RBAC_TYPE) {
      w.attributes ??= connectionAttributes(connectionFacts(w.conn));
      const d = checkRbacFilter(compileRbacFilter(f.config, NETWORK_RBAC_NAMESPACE), w.attributes, w.metadata);
      reportRbac(w.runtime.telemetry, 'tcp', f.name, d);
      if (!d.allowed) return { allowed: false, filter: f.name, by: 'rbac', flags: [], details: d.details ?? 'rbac_access_denied_matched_policy[none]' };
    } else if (f.type === NETWORK_EXT_AUTHZ_TYPE) {
      if (!networkExtAuthzEnabled(f.config, w.metadata)) continue;
      return checkConnection(w.runtime, f.name, f.config, w.conn, w.metadata, w.signal).then((r) => (r.allowed ? walk(w, i + 1) : r));
    } else {
      return { allowed: false, filter: f.name, by: 'unsupported', flags: [], details: 'filter_chain_not_supported' };
    }
  }
  return ALLOWED;
}

/** The network filters before the terminal filter, for one connection; `signal` cancels an authorizer call. */
export function enforceNetworkFilters(
  filters: readonly ChainFilter[], conn: ConnContext, runtime: Runtime, signal?: AbortSignal,
): NetworkAuthz | Promise<NetworkAuthz> {
  if (filters.length === 0) return ALLOWED;
  return walk({ filters, conn, runtime, signal, metadata: new Map() }, 0);
}

interface Pending {
  filters: readonly ChainFilter[];
  result: Promise<NetworkAuthz>;
  settled?: NetworkAuthz;
}

const pending = new WeakMap<ConnContext, Pending>();

/** For the requests of one connection (filters in front of a connection manager): a verdict that needed an
 * authorizer is asked once per connection and filter list, and shared by every request on it. */
export function connectionNetworkAuthz(filters: readonly ChainFilter[], conn: ConnContext, runtime: Runtime): NetworkAuthz | Promise<NetworkAuthz> {
  const p = pending.get(conn);
  if (p && p.filters === filters) return p.settled ?? p.result;
  const r = enforceNetworkFilters(filters, conn, runtime);
  if (r instanceof Promise) {
    const entry: Pending = { filters, result: r };
    pending.set(conn, entry);
    void r.then((v) => { entry.settled = v; });
  }
  return r;
}
