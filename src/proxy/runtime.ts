// The seams between the sidecar's parts. The listeners accept and sniff connections and hand them to the TCP
// proxy or the HTTP handler with a ConnContext; both reach upstreams through the ClusterManager and report what
// happened to Telemetry. LiveConfig holds the last-known-good config and identity and swaps them atomically:
// a connection re-plans against the live config for each new request, a request in flight keeps what it started with.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { CompiledProxy, ConnectionInfo, ConnectionPlan } from './routing/engine.ts';
import type { ProxyConfig } from '../translate/types.ts';
import type { Credentials } from './config/credentials.ts';

/** The workload the sidecar runs beside (ProxyConfig.workload). */
export type LocalWorkload = ProxyConfig['workload'];

/** The workload identity from the mounted Secret `weft-identity-<sa>`. */
export interface Identity {
  certChain: string;
  key: string;
  rootCerts: string;
  /** The URI SAN of the leaf certificate. */
  spiffeId: string;
  notAfter: Date;
}

/** Certificate files a config names. Paths under the identity and credentials directories resolve to the live
 * Identity and Credentials (so a rotation needs no file read per connection); other paths are read from disk and
 * cached until reload. */
export interface FileSource {
  read(path: string): string | undefined;
}

/** A config version the proxy runs on: decoded, validated, compiled. */
export interface LoadedConfig {
  /** The bundle's version (or its hash). */
  version: string;
  config: ProxyConfig;
  compiled: CompiledProxy;
  loadedAt: Date;
}

export interface LiveConfig {
  /** The config in force now; never undefined after `ready`. */
  current(): LoadedConfig | undefined;
  identity(): Identity | undefined;
  /** A gateway's mounted credentials (`--credentials-dir`); absent or undefined when there are none. */
  credentials?(): Credentials | undefined;
  files: FileSource;
  /** Called after each successful swap of config, identity or credentials. */
  onChange(listener: (what: 'config' | 'identity' | 'credentials') => void): () => void;
}

/** Istio's peer metadata for metric labels (source_* / destination_*). */
export interface PeerInfo {
  workload?: string;
  namespace?: string;
  app?: string;
  version?: string;
  /** spiffe://… when known from an mTLS handshake, else undefined ("unknown" in metrics). */
  principal?: string;
}

export interface UpstreamHost {
  /** `ip:port` (or `host:port` for DNS clusters). */
  address: string;
  host: string;
  port: number;
  /** The endpoint's `istio` filter metadata: workload, namespace, app, version, serviceAccount, tlsMode. */
  metadata: Readonly<Record<string, string>>;
  locality?: string;
}

export interface LbContext {
  /** From the route's hash policy (header, cookie, source IP, query parameter); undefined = no hashing. */
  hashKey?: string;
  /** ORIGINAL_DST clusters: the connection's original destination `ip:port`. */
  originalDestination?: string;
  /** Hosts this request already tried (retry host predicate previous_hosts). */
  attempted?: ReadonlySet<string>;
}

export type UpstreamOutcome =
  | { kind: 'response'; status: number; latencyMs: number }
  | { kind: 'connect-failure' | 'reset' | 'timeout'; latencyMs: number };

export interface ClusterRuntime {
  readonly name: string;
  /** The cluster's `istio.services[0]` metadata (destination_service labels). */
  readonly service?: { host: string; name: string; namespace: string };
  readonly connectTimeoutMs: number;
  /** A host chosen by the cluster's load balancer; undefined when none is healthy (503, flag UH). */
  pick(ctx: LbContext): UpstreamHost | undefined;
  /** Circuit breakers (max_requests / max_pending_requests): undefined on overflow (503, flag UO); call the
   * returned function when the request ends. */
  admitRequest(): (() => void) | undefined;
  /** max_retries: undefined when the retry budget is exhausted. */
  admitRetry(): (() => void) | undefined;
  /** A pooled undici dispatcher to the host, with the cluster's TLS (ISTIO_MUTUAL: peer SPIFFE id checked),
   * HTTP/2 when the cluster's protocol options say so, and max_connections. Optional: the downstream's protocol,
   * which clusters with use_downstream_protocol_config follow (HTTP/1.1 when absent), and the request's
   * authority, which auto_sni clusters send as SNI. */
  dispatcher(host: UpstreamHost, downstream?: 'http1' | 'http2', authority?: string): Dispatcher;
  /** A raw connection for the TCP proxy (TLS per the transport socket), resolved once connected. */
  connect(host: UpstreamHost, signal?: AbortSignal): Promise<Socket>;
  /** Feedback for outlier detection and latency-aware balancing. */
  report(host: UpstreamHost, outcome: UpstreamOutcome): void;
  /** The SPIFFE id the host presented on the last TLS handshake (destination_principal). */
  peerPrincipal(host: UpstreamHost): string | undefined;
}

export interface ClusterManager {
  get(name: string): ClusterRuntime | undefined;
  /** Applies a new config: clusters and hosts that did not change keep their pools, outlier state and load
   * balancer state; removed ones are closed once their requests finish. */
  update(config: LoadedConfig, files: FileSource): void;
  close(): Promise<void>;
}

/** Envoy response flags the sidecar sets. */
export type ResponseFlag = 'UH' | 'UF' | 'UO' | 'NR' | 'URX' | 'UT' | 'DC' | 'UC' | 'FI' | 'DI' | 'NC' | 'UR' | 'UPE' | 'RL' | 'DPE' | 'UAEX';

export type Reporter = 'source' | 'destination';

export interface HttpRecord {
  reporter: Reporter;
  startTime: number;
  durationMs: number;
  method: string;
  authority: string;
  path: string;
  /** Istio's request_protocol: grpc when the content-type is application/grpc*, else http. */
  requestProtocol: 'http' | 'grpc';
  /** HTTP/1.1, HTTP/2 */
  httpVersion: string;
  status: number;
  grpcStatus?: string;
  flags: ResponseFlag[];
  requestBytes: number;
  responseBytes: number;
  route?: string;
  upstreamCluster?: string;
  upstreamHost?: string;
  downstreamRemote?: string;
  source: PeerInfo;
  destination: PeerInfo & { service?: { host: string; name: string; namespace: string } };
  connectionSecurityPolicy: 'mutual_tls' | 'none' | 'unknown';
  requestId?: string;
  traceId?: string;
  spanId?: string;
  userAgent?: string;
  /** Envoy's response code details when a filter answered (rbac_access_denied_matched_policy[…], …). */
  details?: string;
  /** An RBAC LOG (AUDIT) policy matched: the policy's name. */
  audit?: string;
  /** Shadow (dry-run) results and other hints the filters left for the access log. */
  logHints?: Readonly<Record<string, string>>;
}

/** One authorization decision of a filter (RBAC enforced or shadow rules, ext_authz). */
export interface AuthzRecord {
  protocol: 'http' | 'tcp';
  /** The filter's name in the chain (envoy.filters.http.rbac, envoy.filters.network.rbac, …). */
  filter: string;
  action: 'ALLOW' | 'DENY' | 'LOG' | 'CUSTOM';
  /** `logged`: a LOG policy matched. */
  decision: 'allowed' | 'denied' | 'logged';
  /** The policy that decided; undefined when none matched. */
  policy?: string;
  /** Shadow rules (Istio's dry-run and CUSTOM markers): evaluated, not enforced. */
  dryRun: boolean;
  /** The shadow rules' stat prefix (istio_dry_run_allow_, istio_ext_authz_, …). */
  prefix?: string;
}

export interface TcpRecord {
  reporter: Reporter;
  startTime: number;
  durationMs?: number;
  /** Bytes sent to / received from the downstream since the last record of this connection. */
  sentBytes: number;
  receivedBytes: number;
  upstreamCluster?: string;
  upstreamHost?: string;
  downstreamRemote?: string;
  flags: ResponseFlag[];
  source: PeerInfo;
  destination: PeerInfo & { service?: { host: string; name: string; namespace: string } };
  connectionSecurityPolicy: 'mutual_tls' | 'none' | 'unknown';
  /** Why the proxy closed the connection itself (rbac_access_denied_matched_policy[…]). */
  details?: string;
}

export interface Telemetry {
  http(r: HttpRecord): void;
  tcpOpen(r: TcpRecord): void;
  tcpClose(r: TcpRecord): void;
  /** A config or identity file was rejected (the proxy stays on last-known-good). */
  configRejected(what: 'config' | 'identity', reason: string): void;
  configAccepted(what: 'config' | 'identity', version: string): void;
  /** An authorization filter decided (weft_authz_decisions_total). */
  authz?(r: AuthzRecord): void;
}

/** Everything a connection handler needs besides its connection. */
export interface Runtime {
  live: LiveConfig;
  clusters: ClusterManager;
  telemetry: Telemetry;
  local: LocalWorkload;
  /** Uniform in [0, 1): weighted picks, fault percentages, random LB, jitter. */
  random(): number;
  /** Milliseconds, monotonic enough for durations (performance.now() by default). */
  now(): number;
}

/** One accepted connection after the listener filters ran. */
export interface ConnContext {
  kind: 'outbound' | 'inbound' | 'gateway';
  info: ConnectionInfo;
  /** The plan under the live config (re-planned when the config changed since the last call). */
  plan(): ConnectionPlan;
  /** TLS terminated by the proxy (inbound mTLS or a gateway's HTTPS server). */
  tls?: { peerPrincipal?: string; sni?: string; alpn?: string };
  downstreamRemote: string;
}

/** The HTTP side: takes over a connection (bytes already read were unshifted back onto it). */
export interface HttpHandler {
  serve(socket: Duplex, ctx: ConnContext, protocol: 'http1' | 'http2'): void;
  /** Stop taking new requests on idle connections, finish in-flight ones, then resolve. */
  drain(timeoutMs: number): Promise<void>;
  /** Requests in flight (admin /ready and drain). */
  inFlight(): number;
}
