// The request as the upstream receives it, from the route's ClusterAction (whose upstreamHeaders already hold
// the rewritten :path/:authority and the route's request header operations): hop-by-hop headers removed (te:
// trailers kept for gRPC), Host from the authority, x-forwarded-proto and x-request-id when absent,
// x-forwarded-for appended at the edge (use_remote_address), trace context for this hop,
// x-forwarded-client-cert per the connection manager; and the timeout the request runs under.
// The proxy adds no x-envoy-* headers of its own (no x-envoy-attempt-count, no expected-timeout hints); those a
// request brings from an untrusted downstream (inbound, gateway) were already dropped (headers.ts toHttpRequest),
// those from the local application pass through.
import { randomUUID } from 'node:crypto';
import { bool } from '../routing/envoy-values.ts';
import type { ClusterAction } from '../routing/types.ts';
import type { Exchange } from './exchange.ts';
import { firstValue, withoutHopByHop } from './headers.ts';
import type { HeaderBag } from './headers.ts';
import { propagateTrace } from './trace.ts';

/** What the upstream request is built from: an Exchange, or a WebSocket upgrade's equivalent. */
export type UpstreamSource = Pick<Exchange, 'shared' | 'ctx' | 'request' | 'hcm' | 'grpc' | 'requestId' | 'trace'>;

export function upstreamRequest(ex: UpstreamSource, action: ClusterAction): { headers: HeaderBag; path: string } {
  const all: HeaderBag = action.upstreamHeaders ?? {};
  const path = (all[':path'] as string | undefined) ?? ex.request!.path;
  const authority = (all[':authority'] as string | undefined) ?? ex.request!.authority;
  const h = withoutHopByHop(all, ex.grpc, true);
  h.host = authority;
  if (h['x-forwarded-proto'] === undefined) h['x-forwarded-proto'] = ex.request!.scheme;
  // use_remote_address (gateways): the proxy is the edge and appends the peer to x-forwarded-for.
  if (bool(ex.hcm?.useRemoteAddress, false) && ex.ctx.info.sourceIp) {
    const xff = firstValue(h['x-forwarded-for']);
    h['x-forwarded-for'] = xff ? `${xff}, ${ex.ctx.info.sourceIp}` : ex.ctx.info.sourceIp;
  }
  let rid = firstValue(h['x-request-id']);
  if (!rid) h['x-request-id'] = rid = randomUUID();
  ex.requestId = rid;
  ex.trace = propagateTrace(h);
  forwardClientCert(h, ex);
  return { headers: h, path };
}

/** The route timeout (0 = none). Translation sets max_stream_duration.grpc_timeout_header_max to 0 on every
 * route, so a gRPC request's own grpc-timeout is its timeout, uncapped. */
export function routeTimeoutMs(ex: Exchange, action: ClusterAction): number {
  if (ex.grpc) {
    const g = grpcTimeoutMs(firstValue(ex.req.headers['grpc-timeout']));
    if (g !== undefined) return g;
  }
  return action.timeoutMs ?? 15_000;
}

const XFCC_MODES = ['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'];

/** x-forwarded-client-cert per the connection manager's forward_client_cert_details: without an mTLS peer the
 * header is dropped (unless forwarded as is); APPEND_FORWARD / SANITIZE_SET add By (this workload) and URI (the
 * peer) elements. */
function forwardClientCert(h: HeaderBag, ex: UpstreamSource): void {
  const v = ex.hcm?.forwardClientCertDetails;
  const mode = typeof v === 'number' ? XFCC_MODES[v] ?? 'SANITIZE' : typeof v === 'string' ? v : 'SANITIZE';
  if (mode === 'FORWARD_ONLY' || mode === 'ALWAYS_FORWARD_ONLY') return;
  const peer = ex.ctx.tls?.peerPrincipal;
  if (!peer || mode === 'SANITIZE') {
    delete h['x-forwarded-client-cert'];
    return;
  }
  const by = ex.shared.runtime.live.identity()?.spiffeId;
  const element = `${by ? `By=${by};` : ''}URI=${peer}`;
  const cur = firstValue(h['x-forwarded-client-cert']);
  h['x-forwarded-client-cert'] = mode === 'APPEND_FORWARD' && cur ? `${cur},${element}` : element;
}

const GRPC_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** grpc-timeout: 1 to 8 digits and a unit (H, M, S, m, u, n). */
function grpcTimeoutMs(v: string | undefined): number | undefined {
  if (v === undefined || v.length < 2 || v.length > 9) return undefined;
  const unit = GRPC_UNITS[v[v.length - 1]!];
  const n = Number(v.slice(0, -1));
  if (unit === undefined || !Number.isInteger(n) || n < 0) return undefined;
  return Math.max(1, Math.ceil(n * unit));
}

