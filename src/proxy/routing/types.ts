// The routing core's vocabulary: a request as the proxy sees it arrive, and what Envoy's semantics make of it
// (listener, filter chain, route, action, upstream endpoints). Shared by `simulate()` and the sidecar.

/** A connection (and, for HTTP, its first request) as it reaches the proxy after iptables capture. */
export interface RequestDescription {
  direction: 'outbound' | 'inbound';
  /** The original destination address. Outbound: a service's ClusterIP or any IP; inbound: the pod's IP. */
  destinationIp?: string;
  port: number;
  sourceIp?: string;
  /** `http1` (HTTP/1.1, the default when `host` or `path` is given), `http1.0`, `http2` (prior knowledge), or
   * `tcp` for an opaque byte stream. */
  protocol?: 'http1' | 'http1.0' | 'http2' | 'tcp';
  /** The connection is TLS: originated by the application (SNI = its target) or mTLS from a peer sidecar. */
  tls?: { sni?: string; alpn?: string[] };
  /** :authority / Host, with or without a port. */
  host?: string;
  /** :path, query string included. */
  path?: string;
  method?: string;
  /** :scheme and x-forwarded-proto; `http` by default (`https` when the proxy terminates TLS). */
  scheme?: string;
  headers?: Record<string, string | string[]>;
  /** The mTLS peer's SPIFFE id (spiffe://<td>/ns/<ns>/sa/<sa>); undefined = no client certificate. */
  peerPrincipal?: string;
  /** Dynamic metadata as the JWT / istio_authn stages would have set it (namespace → struct). */
  metadata?: Record<string, Record<string, unknown>>;
}

export interface SimulateOptions {
  /** Uniform in [0, 1): weighted cluster picks and runtime fractions. Math.random by default. */
  random?: () => number;
}

export interface HeaderOp {
  op: 'append' | 'set' | 'add-if-absent' | 'overwrite-if-exists' | 'remove';
  name: string;
  value?: string;
}

export interface RetrySummary {
  numRetries: number;
  retryOn: string[];
  perTryTimeoutMs?: number;
  retriableStatusCodes?: number[];
  hostPredicates?: string[];
  hostSelectionRetryMaxAttempts?: number;
}

export interface FaultSummary {
  delay?: { fixedDelayMs?: number; fromHeader?: true; percent: number };
  abort?: { httpStatus?: number; grpcStatus?: number; fromHeader?: true; percent: number };
}

export interface MirrorSummary {
  cluster: string;
  percent: number;
}

export interface UpstreamEndpoint {
  /** `ip:port`, `host:port` (DNS clusters) or `unix://path`. */
  address: string;
  health: string;
  locality?: string;
  priority: number;
  weight?: number;
  /** How the proxy would connect: cluster transport socket or the matching transportSocketMatches entry. */
  transport: 'plaintext' | 'tls' | 'mtls';
  sni?: string;
}

export interface UpstreamCluster {
  name: string;
  /** Envoy answers 503 (NC) when a route names a cluster that does not exist. */
  found: boolean;
  type?: string;
  lbPolicy?: string;
  /** Endpoints that take traffic (health UNKNOWN or HEALTHY; DEGRADED as last resort), by priority. */
  endpoints: UpstreamEndpoint[];
  /** Endpoints that do not take traffic (UNHEALTHY, DRAINING, TIMEOUT). */
  excluded: UpstreamEndpoint[];
  /** Too few healthy endpoints (healthy_panic_threshold): Envoy balances over all of them. */
  panic?: true;
}

export interface ClusterAction {
  kind: 'cluster';
  via: 'http' | 'tcp';
  /** The cluster this request goes to (for weighted routes, the one the random source picked). */
  cluster: string;
  weightedClusters?: Array<{ name: string; weight: number }>;
  upstream: UpstreamCluster;
  /** HTTP only from here on. */
  rewrittenPath?: string;
  rewrittenHost?: string;
  autoHostRewrite?: true;
  requestHeaderOps?: HeaderOp[];
  responseHeaderOps?: HeaderOp[];
  /** Headers the upstream receives (pseudo-headers :authority and :path included); undefined: removed by an
   * HTTP filter. */
  upstreamHeaders?: Record<string, string | undefined>;
  /** 0 = no timeout; Envoy's default is 15 s when the route sets none. */
  timeoutMs?: number;
  retry?: RetrySummary;
  fault?: FaultSummary;
  mirrors?: MirrorSummary[];
  cors?: Record<string, unknown>;
  hashPolicy?: Array<Record<string, unknown>>;
  /** Per-route filter configs whose filter is not in the connection manager's chain (so they do nothing). */
  ignoredFilterConfigs?: string[];
  /** The most specific per-route config of the chain's other filters (not fault, CORS) by filter name; null:
   * the filter is disabled for this route (FilterConfig.disabled). */
  perFilterConfig?: Record<string, Record<string, unknown> | null>;
}

export type Action =
  | ClusterAction
  | { kind: 'redirect'; location: string; status: number }
  | { kind: 'direct'; status: number; body?: string }
  | { kind: 'no-route' }
  | { kind: 'closed'; reason: string };

export interface AuthzShadowResult {
  filter: string;
  /** shadowRulesStatPrefix: istio_dry_run_allow_, istio_dry_run_deny_, istio_ext_authz_, … */
  prefix: string;
  result: 'allowed' | 'denied';
  policy?: string;
}

/** What the chain's authorization filters decide (RBAC, ext_authz; network RBAC for TCP). */
export interface AuthzResult {
  decision: 'allowed' | 'denied';
  /** The filter that denied. */
  filter?: string;
  /** The policy that decided a denial (a DENY policy; none for ALLOW rules nothing matched). */
  policy?: string;
  /** Response code details of a denial: rbac_access_denied_matched_policy[…]. */
  details?: string;
  shadow?: AuthzShadowResult[];
  /** An AUDIT (RBAC LOG) policy matched. */
  audit?: true;
  auditPolicies?: string[];
  /** An ext_authz filter would ask its external authorizer (the request is allowed only if it agrees). */
  extAuthz?: 'checked';
}

export interface SimulationResult {
  listener?: string;
  filterChain?: string;
  routeConfig?: string;
  virtualHost?: string;
  route?: string;
  action: Action;
  /** Present when the chain has authorization filters. */
  authz?: AuthzResult;
}
