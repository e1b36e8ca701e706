// What an RBAC engine looks at, for a connection (network RBAC) or a request (HTTP RBAC): the connection's
// addresses and ports, the mTLS peer, SNI, and for HTTP the request and its dynamic metadata. The remote address
// follows the connection manager's x-forwarded-for rules (use_remote_address, xff_num_trusted_hops) as Envoy
// computes its downstream remote address; the direct remote address is always the connection's peer.
import { bool, u32 } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import { pathOnly } from '../routing/request.ts';
import type { HttpRequest } from '../routing/request.ts';
import type { MetadataSource } from './metadata.ts';

export interface AuthzAttributes {
  /** HTTP only; undefined for a network RBAC filter (header and path rules see no request). */
  request?: HttpRequest;
  /** The request's path without query string and fragment (what url_path rules match), computed once. */
  path?: string;
  /** The connection's peer address (Envoy's direct remote address, `source_ip` / `direct_remote_ip`). */
  directRemoteIp?: string;
  /** The trusted client address (`remote_ip`): the peer, or an x-forwarded-for entry per the HCM. */
  remoteIp?: string;
  /** The connection's local address: the original destination of a captured connection. */
  destinationIp?: string;
  destinationPort: number;
  /** The URI SAN (SPIFFE id) of the validated peer certificate; undefined without mTLS. */
  peerPrincipal?: string;
  /** TLS SNI the downstream sent. */
  sni?: string;
  metadata?: MetadataSource;
}

/** Envoy's getLastAddressFromXFF: the entry `skip` places from the right, when there are enough entries. */
function xffEntry(request: HttpRequest, skip: number): string | undefined {
  const values = request.headers.get('x-forwarded-for');
  if (!values || values.length === 0) return undefined;
  const entries = values.join(',').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const i = entries.length - 1 - skip;
  return i >= 0 ? entries[i] : undefined;
}

/** The downstream remote address the connection manager derives (trusted client address). */
export function trustedRemoteIp(hcm: Obj | undefined, request: HttpRequest, peer: string | undefined): string | undefined {
  const hops = u32(hcm?.xffNumTrustedHops) ?? 0;
  if (bool(hcm?.useRemoteAddress, false)) return hops > 0 ? xffEntry(request, hops - 1) ?? peer : peer;
  return xffEntry(request, hops) ?? peer;
}

/** What a connection offers every RBAC rule. */
export interface ConnectionFacts {
  sourceIp?: string;
  destinationIp?: string;
  port: number;
  peerPrincipal?: string;
  sni?: string;
}

/** A connection's attributes (network RBAC): the remote address is the peer. */
export function connectionAttributes(c: ConnectionFacts): AuthzAttributes {
  const a: AuthzAttributes = { destinationPort: c.port };
  if (c.sourceIp !== undefined) a.directRemoteIp = a.remoteIp = c.sourceIp;
  if (c.destinationIp !== undefined) a.destinationIp = c.destinationIp;
  if (c.peerPrincipal !== undefined) a.peerPrincipal = c.peerPrincipal;
  if (c.sni !== undefined) a.sni = c.sni;
  return a;
}

/** A request's attributes (HTTP RBAC): the connection's, the request, the trusted remote address, metadata. */
export function httpAttributes(c: ConnectionFacts, hcm: Obj | undefined, request: HttpRequest, metadata: MetadataSource | undefined): AuthzAttributes {
  const a = connectionAttributes(c);
  a.request = request;
  a.path = pathOnly(request.path);
  const remote = trustedRemoteIp(hcm, request, c.sourceIp);
  if (remote !== undefined) a.remoteIp = remote;
  if (metadata !== undefined) a.metadata = metadata;
  return a;
}
