// The mesh as translation sees it: plain, immutable values built from the informer caches (src/model/snapshot.ts).
// Nothing here talks to the API server; everything is indexed so translating one workload is cheap.
import type {
  AuthorizationPolicy, DestinationRule, Gateway, PeerAuthentication, RequestAuthentication, ServiceEntry, VirtualService,
  WorkloadEntry,
} from '../api/index.ts';

export type Labels = Readonly<Record<string, string>>;

/** A port's application protocol, named as Istio names them. UNKNOWN means: sniff HTTP/1, HTTP/2, else TCP. */
export type Protocol =
  | 'HTTP' | 'HTTP2' | 'HTTPS' | 'GRPC' | 'GRPC-WEB' | 'TCP' | 'TLS' | 'MONGO' | 'MYSQL' | 'REDIS' | 'UDP' | 'UNKNOWN';

export interface ServicePort {
  /** Port name; for ServiceEntries the declared name. Kubernetes allows an empty name on single-port services. */
  name: string;
  port: number;
  /** Kubernetes targetPort (number or container port name) or ServiceEntry targetPort. */
  targetPort?: number | string;
  protocol: Protocol;
}

/** Where an object may be seen: everywhere, or in the listed namespaces only (exportTo "." resolved). */
export type ExportTo = { readonly all: true } | { readonly all: false; readonly namespaces: ReadonlySet<string> };

export type Resolution = 'EDS' | 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS';

/** A Kubernetes Service or one host of a ServiceEntry. */
export interface MeshService {
  /** FQDN (`reviews.bookinfo.svc.cluster.local`) or a ServiceEntry host, possibly a `*.` wildcard. */
  hostname: string;
  name: string;
  namespace: string;
  origin: 'Kubernetes' | 'ServiceEntry';
  /** ClusterIPs or ServiceEntry addresses; empty for headless services. */
  addresses: readonly string[];
  ports: readonly ServicePort[];
  labels: Labels;
  /** Kubernetes selector or ServiceEntry workloadSelector; undefined when endpoints come from elsewhere. */
  selector?: Labels;
  location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  /** Kubernetes ClusterIP services are 'EDS'; headless ones 'NONE'. */
  resolution: Resolution;
  exportTo: ExportTo;
  subjectAltNames: readonly string[];
}

export type EndpointHealth = 'HEALTHY' | 'UNHEALTHY' | 'DRAINING';

export interface Endpoint {
  /** An IP, a hostname (DNS ServiceEntry endpoints) or `unix://path`. */
  address: string;
  /** Target port by service port name (EndpointSlice port names; ServiceEntry endpoint `ports`). */
  ports: Readonly<Record<string, number>>;
  labels: Labels;
  serviceAccount?: string;
  workload?: WorkloadRef;
  /** EndpointSlice conditions: ready → HEALTHY; serving and terminating → DRAINING; otherwise UNHEALTHY. */
  health: EndpointHealth;
  /** `region/zone/subzone`. */
  locality?: string;
  weight?: number;
  network?: string;
  /** The endpoint runs a weft sidecar: clients use mTLS automatically (identity issue). */
  sidecar: boolean;
}

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob' | 'ReplicaSet' | 'ReplicationController' | 'Pod';

export interface WorkloadRef {
  kind: WorkloadKind;
  name: string;
  namespace: string;
}

export interface PodInfo {
  name: string;
  namespace: string;
  uid: string;
  ip?: string;
  labels: Labels;
  serviceAccount: string;
  ready: boolean;
  /** Terminated pods (Succeeded/Failed) are left out of workloads altogether. */
  phase: string;
  containerPorts: ReadonlyArray<{ name?: string; port: number; protocol: string }>;
}

/** What a ConfigMap `weft-proxy-<name>` is written for: the pods' owning controller, or the bare pod. */
export interface Workload extends WorkloadRef {
  /** The owner object (for the ConfigMap's ownerReference). */
  apiVersion: string;
  /** '' when the owner object is not (yet) known: leave the ownerReference out then. */
  uid: string;
  /** Labels of its pods (all pods of a workload share the template labels; the first pod's are used). */
  labels: Labels;
  serviceAccount: string;
  pods: readonly PodInfo[];
  /** Gets proxy config: in a namespace with `weft-injection=enabled` (or `istio-injection=enabled`) and not
   * opted out, or a gateway (any namespace). */
  injected: boolean;
  /** `gateway` when its pods carry `weft.dev/proxy-mode: gateway`: the proxy serves the Gateways selecting it
   * instead of capturing an app's traffic. */
  mode: 'sidecar' | 'gateway';
}

export interface MeshOptions {
  /** Root namespace: mesh-wide DestinationRules and policies live here. */
  rootNamespace: string;
  clusterDomain: string;
  trustDomain: string;
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** MeshConfig `extensionProviders` (CUSTOM AuthorizationPolicy authorizers; tracing/logging providers kept as
   * given for the kinds that read them). */
  extensionProviders: readonly ExtensionProvider[];
  /** MeshConfig `pathNormalization.normalization`: how connection managers normalize paths before routing and
   * authorization. weft's default is DECODE_AND_MERGE_SLASHES (Istio's recommended setting, not its BASE default)
   * so `/a/../admin`, `//admin` and `/%2Fadmin` all reach policy as `/admin`. */
  pathNormalization: PathNormalization;
  /** Keys fetched from RequestAuthentication `jwksUri`s by the operator: the JWKS JSON, or why it is missing. */
  jwks: Readonly<Record<string, JwksFetch>>;
}

export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export type JwksFetch = { keys: string; fetchedAt?: string } | { error: string };

/** Istio MeshConfig.ExtensionProvider (the authorizer kinds weft carries out; others kept as given). */
export interface ExtensionProvider {
  name: string;
  envoyExtAuthzHttp?: ExtAuthzHttpProvider;
  envoyExtAuthzGrpc?: ExtAuthzGrpcProvider;
  [kind: string]: unknown;
}

export interface ExtAuthzBody {
  maxRequestBytes?: number;
  allowPartialMessage?: boolean;
  packAsBytes?: boolean;
}

export interface ExtAuthzHttpProvider {
  /** `[<Namespace>/]<Hostname>` of a Service or ServiceEntry. */
  service: string;
  port: number;
  timeout?: string;
  pathPrefix?: string;
  failOpen?: boolean;
  statusOnError?: string;
  includeRequestHeadersInCheck?: string[];
  includeAdditionalHeadersInCheck?: Record<string, string>;
  includeRequestBodyInCheck?: ExtAuthzBody;
  headersToUpstreamOnAllow?: string[];
  headersToDownstreamOnDeny?: string[];
  headersToDownstreamOnAllow?: string[];
}

export interface ExtAuthzGrpcProvider {
  service: string;
  port: number;
  timeout?: string;
  failOpen?: boolean;
  statusOnError?: string;
  includeRequestBodyInCheck?: ExtAuthzBody;
}

export const DEFAULT_MESH_OPTIONS: MeshOptions = {
  rootNamespace: 'weft-system',
  clusterDomain: 'cluster.local',
  trustDomain: 'cluster.local',
  outboundTrafficPolicy: 'ALLOW_ANY',
  extensionProviders: [],
  pathNormalization: 'DECODE_AND_MERGE_SLASHES',
  jwks: {},
};

/** `Kind/namespace/name`: how config objects are named in dependency sets and status. */
export type ObjectKey = string;

export interface MeshConfig {
  virtualServices: readonly VirtualService[];
  destinationRules: readonly DestinationRule[];
  gateways: readonly Gateway[];
  serviceEntries: readonly ServiceEntry[];
  workloadEntries: readonly WorkloadEntry[];
  peerAuthentications: readonly PeerAuthentication[];
  authorizationPolicies: readonly AuthorizationPolicy[];
  requestAuthentications: readonly RequestAuthentication[];
}

/**
 * An immutable view of the whole mesh at one moment. Every list is sorted (deterministic output); lookups
 * are indexed. Visibility (exportTo) is applied by the `*For(namespace)` queries.
 */
export interface Snapshot {
  readonly options: MeshOptions;
  readonly config: MeshConfig;
  readonly services: readonly MeshService[];
  readonly workloads: readonly Workload[];

  namespaceLabels(namespace: string): Labels | undefined;
  workload(namespace: string, name: string): Workload | undefined;

  /** Services with exactly this hostname (several when ServiceEntries in different namespaces share a host). */
  servicesByHost(host: string): readonly MeshService[];
  /** A host as written in config made an FQDN relative to `namespace`, by Istio's rule: only a name without dots
   * is short (`reviews` → `reviews.<namespace>.svc.<domain>`); anything with a dot (`reviews.other`), wildcards and
   * IPs are returned unchanged. */
  resolveHost(host: string, namespace: string): string;
  /** The service a host names as seen from `namespace` (exportTo applied; Kubernetes before ServiceEntry). */
  serviceFor(host: string, namespace: string): MeshService | undefined;
  /** Endpoints of a service port, from EndpointSlices, ServiceEntry endpoints and selected WorkloadEntries. */
  endpoints(service: MeshService, port: ServicePort): readonly Endpoint[];
  /** The services whose selector selects this workload's pods (its inbound side). */
  servicesOf(workload: Workload): readonly MeshService[];

  /** Services visible from a namespace (exportTo), one per hostname (the one serviceFor picks), by hostname. */
  servicesFor(namespace: string): readonly MeshService[];
  /** VirtualServices visible from a namespace, in Istio's order (creation time, then name, then namespace). */
  virtualServicesFor(namespace: string): readonly VirtualService[];
  /** The DestinationRule that applies to `host` for a client in `namespace`: the client's namespace, then the
   * host's namespace, then the root namespace; exportTo respected. Rules with a workloadSelector apply only when
   * `workload` (in `namespace`) is given and selected, and then take precedence over the others there. */
  destinationRuleFor(host: string, namespace: string, workload?: Workload): DestinationRule | undefined;
}

/**
 * What a snapshot is built from: the informer caches' objects as the API server returns them (plain JSON, as
 * `kubectl get -o json` shows them). `buildSnapshot(input)` in src/model/snapshot.ts is pure.
 */
export interface SnapshotInput {
  options?: Partial<MeshOptions>;
  namespaces: readonly KubeObject[];
  services: readonly KubeObject[];
  endpointSlices: readonly KubeObject[];
  pods: readonly KubeObject[];
  /** Owners of pods, to name workloads: ReplicaSets (→ Deployments), Jobs (→ CronJobs), and the controllers
   * themselves (for their uid in ownerReferences). Missing owners fall back to names derived from the pod. */
  replicaSets: readonly KubeObject[];
  deployments: readonly KubeObject[];
  statefulSets: readonly KubeObject[];
  daemonSets: readonly KubeObject[];
  jobs: readonly KubeObject[];
  cronJobs: readonly KubeObject[];
  config: MeshConfig;
}

/** A Kubernetes object in its JSON form. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
    creationTimestamp?: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string;
  };
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
}
