// Concise Kubernetes and Istio objects for tests, and snapshotOf() to turn them into a Snapshot.
//
//   const snap = snapshotOf(
//     app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'], v2: ['10.0.0.2'] } }),
//     app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.1.1'] } }),
//     { namespaces: [namespace('bookinfo', { 'weft-injection': 'enabled' })],
//       config: { destinationRules: [destinationRule('reviews', 'bookinfo', { host: 'reviews', subsets: [...] })] } },
//   );
//   const reviews = snap.serviceFor('reviews.bookinfo.svc.cluster.local', 'bookinfo')!;
//   snap.endpoints(reviews, reviews.ports[0]!)  // 10.0.0.1, 10.0.0.2
//   snap.workload('bookinfo', 'productpage-v1') // the Deployment productpage-v1
//
// Every builder returns plain JSON objects as `kubectl get -o json` shows them. snapshotOf() takes any number of
// partial SnapshotInputs (lists are concatenated, config lists too), creates a Namespace object for every namespace
// an object mentions that has none, and calls buildSnapshot. app() gives a whole service: per version a Deployment
// `<name>-<version>` with its ReplicaSet and Ready pods (labels app=<name>, version=<version>), a Service `<name>`
// selecting app=<name>, and one EndpointSlice listing the pods.
import { buildSnapshot } from '../../src/model/snapshot.ts';
import type { KubeObject, MeshConfig, Snapshot, SnapshotInput } from '../../src/model/types.ts';
import type {
  DestinationRule, DestinationRuleSpec, Gateway, GatewaySpec, PeerAuthentication, PeerAuthenticationSpec, ServiceEntry, ServiceEntrySpec, VirtualService, VirtualServiceSpec, WorkloadEntry, WorkloadEntrySpec,
} from '../../src/api/index.ts';

type Str = Record<string, string>;

/** A fixed creation time, so tests are deterministic; pass `created` to order objects. */
export const T0 = '2024-01-01T00:00:00Z';

function meta(name: string, namespace: string | undefined, o: { labels?: Str; annotations?: Str; uid?: string; created?: string } = {}) {
  return {
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    uid: o.uid ?? `uid-${namespace ?? ''}-${name}`,
    creationTimestamp: o.created ?? T0,
    ...(o.labels ? { labels: o.labels } : {}),
    ...(o.annotations ? { annotations: o.annotations } : {}),
  };
}

export function namespace(name: string, labels?: Str): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: meta(name, undefined, { labels }) };
}

export interface PortSpec {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

export interface ServiceOptions {
  ports?: PortSpec[];
  selector?: Str;
  /** 'None' for a headless service. Default: clusterIPOf(name, ns). */
  clusterIP?: string;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  externalName?: string;
  labels?: Str;
  annotations?: Str;
  created?: string;
}

/** A ClusterIP derived from the name, so fixtures do not depend on call order. */
export function clusterIPOf(name: string, ns: string): string {
  let h = 2166136261;
  for (const c of `${ns}/${name}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return `10.96.${(h >>> 8) % 256}.${(h % 254) + 1}`;
}

export function service(name: string, ns: string, o: ServiceOptions = {}): KubeObject {
  const external = o.type === 'ExternalName';
  const clusterIP = o.clusterIP ?? clusterIPOf(name, ns);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, ns, o),
    spec: {
      type: o.type ?? 'ClusterIP',
      ...(external ? { externalName: o.externalName } : { clusterIP, clusterIPs: [clusterIP] }),
      ...(o.selector ? { selector: o.selector } : {}),
      ports: (o.ports ?? [{ name: 'http', port: 80 }]).map((p) => ({
        ...(p.name !== undefined ? { name: p.name } : {}),
        port: p.port,
        protocol: p.protocol ?? 'TCP',
        targetPort: p.targetPort ?? p.port,
        ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
      })),
    },
  };
}

export interface SliceEndpoint {
  ip: string;
  /** Name of the pod (targetRef), in the slice's namespace. */
  pod?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  zone?: string;
}

/** An EndpointSlice for `serviceName`; ports by service port name (`{ http: 9080 }`). */
export function endpointSlice(serviceName: string, ns: string, endpoints: SliceEndpoint[], ports: Record<string, number>,
  o: { name?: string; addressType?: string } = {}): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta(o.name ?? `${serviceName}-abcde`, ns, { labels: { 'kubernetes.io/service-name': serviceName } }),
    addressType: o.addressType ?? 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready !== undefined ? { ready: e.ready } : { ready: true }),
        ...(e.serving !== undefined ? { serving: e.serving } : {}),
        ...(e.terminating !== undefined ? { terminating: e.terminating } : {}),
      },
      ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace: ns } } : {}),
      ...(e.zone ? { zone: e.zone } : {}),
    })),
    ports: Object.entries(ports).map(([name, port]) => ({ name, port, protocol: 'TCP' })),
  };
}

export interface Owner {
  kind: string;
  name: string;
  uid?: string;
  apiVersion?: string;
}

export interface PodOptions {
  labels?: Str;
  annotations?: Str;
  ip?: string;
  owner?: Owner;
  serviceAccount?: string;
  /** Default Running. */
  phase?: string;
  /** Default true. */
  ready?: boolean;
  deleting?: boolean;
  /** Container ports of the app container. */
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  /** Adds a `weft-proxy` container. */
  proxy?: boolean;
}

const apiVersionOfKind: Str = {
  ReplicaSet: 'apps/v1', Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1',
  Job: 'batch/v1', CronJob: 'batch/v1', ReplicationController: 'v1',
};

function ownerRef(o: Owner, ns: string) {
  return {
    apiVersion: o.apiVersion ?? apiVersionOfKind[o.kind] ?? 'v1',
    kind: o.kind,
    name: o.name,
    uid: o.uid ?? `uid-${ns}-${o.name}`,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function pod(name: string, ns: string, o: PodOptions = {}): KubeObject {
  const m = meta(name, ns, o);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...m,
      ...(o.owner ? { ownerReferences: [ownerRef(o.owner, ns)] } : {}),
      ...(o.deleting ? { deletionTimestamp: '2024-01-02T00:00:00Z' } : {}),
    },
    spec: {
      serviceAccountName: o.serviceAccount ?? 'default',
      containers: [
        { name: 'app', image: 'app', ...(o.ports ? { ports: o.ports.map((p) => ({ protocol: 'TCP', ...p })) } : {}) },
        ...(o.proxy ? [{ name: 'weft-proxy', image: 'weft' }] : []),
      ],
    },
    status: {
      phase: o.phase ?? 'Running',
      ...(o.ip ? { podIP: o.ip, podIPs: [{ ip: o.ip }] } : {}),
      conditions: [{ type: 'Ready', status: (o.ready ?? true) ? 'True' : 'False' }],
    },
  };
}

/** A controller object of any kind (Deployment, ReplicaSet, Job…), optionally owned by another. */
export function controller(kind: string, name: string, ns: string, o: { owner?: Owner; labels?: Str; uid?: string } = {}): KubeObject {
  return {
    apiVersion: apiVersionOfKind[kind] ?? 'v1',
    kind,
    metadata: { ...meta(name, ns, o), ...(o.owner ? { ownerReferences: [ownerRef(o.owner, ns)] } : {}) },
    spec: {},
  };
}

/** A pod-template-hash-like suffix derived from the name. */
export function templateHashOf(name: string, ns: string): string {
  let h = 2166136261;
  for (const c of `hash/${ns}/${name}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return h.toString(36).padStart(7, '0').slice(0, 9);
}

/** Deployment → ReplicaSet `<name>-<hash>` → one pod per IP (`<rs>-<i>`), with the pod-template-hash label. */
export function deployment(name: string, ns: string, o: { labels?: Str; ips?: string[]; hash?: string; serviceAccount?: string;
  podOptions?: PodOptions } = {}): Pick<SnapshotInput, 'deployments' | 'replicaSets' | 'pods'> {
  const hash = o.hash ?? templateHashOf(name, ns);
  const rsName = `${name}-${hash}`;
  const labels = { ...(o.labels ?? { app: name }) };
  const dep = controller('Deployment', name, ns, { labels });
  const rs = controller('ReplicaSet', rsName, ns, { labels: { ...labels, 'pod-template-hash': hash }, owner: { kind: 'Deployment', name } });
  const pods = (o.ips ?? ['10.0.0.1']).map((ip, i) => pod(`${rsName}-${String(i).padStart(5, 'x')}`, ns, {
    ...o.podOptions,
    labels: { ...labels, 'pod-template-hash': hash },
    ip,
    serviceAccount: o.serviceAccount ?? o.podOptions?.serviceAccount ?? name,
    owner: { kind: 'ReplicaSet', name: rsName },
  }));
  return { deployments: [dep], replicaSets: [rs], pods };
}

export interface AppOptions {
  /** A single service port (name `http`), or `ports` for several. */
  port?: number;
  ports?: PortSpec[];
  /** version → pod IPs. Default { v1: ['10.0.0.1'] }. */
  versions?: Record<string, string[]>;
  serviceAccount?: string;
  labels?: Str;
  podOptions?: PodOptions;
}

/** A Service with Deployments per version and an EndpointSlice (see the top of this file). */
export function app(name: string, ns: string, o: AppOptions = {}): Partial<SnapshotInput> {
  const ports = o.ports ?? [{ name: 'http', port: o.port ?? 80 }];
  const out = { services: [service(name, ns, { ports, selector: { app: name }, labels: o.labels })], deployments: [] as KubeObject[],
    replicaSets: [] as KubeObject[], pods: [] as KubeObject[], endpointSlices: [] as KubeObject[] };
  const sliceEndpoints: SliceEndpoint[] = [];
  for (const [version, ips] of Object.entries(o.versions ?? { v1: ['10.0.0.1'] })) {
    const d = deployment(`${name}-${version}`, ns, { labels: { app: name, version, ...o.labels }, ips, serviceAccount: o.serviceAccount ?? name,
      podOptions: { ports: ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: typeof p.targetPort === 'number' ? p.targetPort : p.port })), ...o.podOptions } });
    out.deployments.push(...d.deployments);
    out.replicaSets.push(...d.replicaSets);
    out.pods.push(...d.pods);
    d.pods.forEach((p, i) => sliceEndpoints.push({ ip: ips[i]!, pod: p.metadata!.name! }));
  }
  const slicePorts: Record<string, number> = {};
  for (const p of ports) slicePorts[p.name ?? ''] = typeof p.targetPort === 'number' ? p.targetPort : p.port;
  out.endpointSlices.push(endpointSlice(name, ns, sliceEndpoints, slicePorts));
  return out;
}

type IstioMeta = { labels?: Str; annotations?: Str; created?: string };

export function virtualService(name: string, ns: string, spec: VirtualServiceSpec, o: IstioMeta = {}): VirtualService {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta(name, ns, o) as never, spec };
}
export function destinationRule(name: string, ns: string, spec: DestinationRuleSpec, o: IstioMeta = {}): DestinationRule {
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: meta(name, ns, o) as never, spec };
}
export function gateway(name: string, ns: string, spec: GatewaySpec, o: IstioMeta = {}): Gateway {
  return { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: meta(name, ns, o) as never, spec };
}
export function serviceEntry(name: string, ns: string, spec: ServiceEntrySpec, o: IstioMeta = {}): ServiceEntry {
  return { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: meta(name, ns, o) as never, spec };
}
export function workloadEntry(name: string, ns: string, spec: WorkloadEntrySpec, o: IstioMeta = {}): WorkloadEntry {
  return { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: meta(name, ns, o) as never, spec };
}

export function peerAuthentication(name: string, ns: string, spec: PeerAuthenticationSpec, o: IstioMeta = {}): PeerAuthentication {
  return { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: meta(name, ns, o) as never, spec };
}
/** A mesh-wide PeerAuthentication (root namespace weft-system) with this mode, as an input part. */
export const meshMtls = (mode: 'STRICT' | 'PERMISSIVE' | 'DISABLE'): InputPart =>
  ({ config: { peerAuthentications: [peerAuthentication('default', 'weft-system', { mtls: { mode } })] } });

export const EMPTY_CONFIG: MeshConfig = {
  virtualServices: [], destinationRules: [], gateways: [], serviceEntries: [], workloadEntries: [],
  peerAuthentications: [], authorizationPolicies: [], requestAuthentications: [],
};

export type InputPart = Partial<Omit<SnapshotInput, 'config'>> & { config?: Partial<MeshConfig> };

const LISTS = ['namespaces', 'services', 'endpointSlices', 'pods', 'replicaSets', 'deployments', 'statefulSets', 'daemonSets', 'jobs', 'cronJobs'] as const;
const CONFIG_LISTS = Object.keys(EMPTY_CONFIG) as Array<keyof MeshConfig>;

/** Concatenates partial inputs into one SnapshotInput (options: later parts win). */
export function inputOf(...parts: InputPart[]): SnapshotInput {
  const input: Record<string, unknown[]> = {};
  for (const l of LISTS) input[l] = parts.flatMap((p) => [...(p[l] ?? [])]);
  const config: Record<string, unknown[]> = {};
  for (const l of CONFIG_LISTS) config[l] = parts.flatMap((p) => [...(p.config?.[l] ?? [])]);
  const options = Object.assign({}, ...parts.map((p) => p.options ?? {}));
  // Namespaces mentioned but not given: created without labels.
  const known = new Set(input.namespaces!.map((n) => (n as KubeObject).metadata?.name));
  const mentioned = new Set<string>();
  for (const l of LISTS) for (const o of input[l]!) { const ns = (o as KubeObject).metadata?.namespace; if (ns) mentioned.add(ns); }
  for (const l of CONFIG_LISTS) for (const o of config[l]!) { const ns = (o as { metadata?: { namespace?: string } }).metadata?.namespace; if (ns) mentioned.add(ns); }
  for (const ns of [...mentioned].sort()) if (!known.has(ns)) input.namespaces!.push(namespace(ns));
  return { ...(input as unknown as Omit<SnapshotInput, 'config' | 'options'>), options, config: config as unknown as MeshConfig };
}

export function snapshotOf(...parts: InputPart[]): Snapshot {
  return buildSnapshot(inputOf(...parts));
}
