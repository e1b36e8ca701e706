// The synthetic mesh the translate benches distribute, as plain Kubernetes and Istio objects (no uids: the API
// server assigns them, or meshInput() does for in-process runs).
//   20 namespaces × (50 Services, 25 Deployments → ReplicaSet → Running Pod), 1000 EndpointSlices holding
//   10 000 endpoints, a VirtualService and a DestinationRule per namespace, and a hub namespace whose one
//   workload sees every service (the others see their own namespace's: Services carry the
//   `networking.istio.io/exportTo: .,bench-hub` annotation, as scoped meshes do). 500 injected workloads in all.
import { SERVICE_NAME_LABEL } from '../src/model/endpoints.ts';
import { INJECTION_LABEL } from '../src/model/injection.ts';
import type { KubeObject, SnapshotInput } from '../src/model/types.ts';

export const NAMESPACES = 20;
export const SERVICES_PER_NS = 50;
export const WORKLOADS_PER_NS = 25;
export const ENDPOINTS_PER_SERVICE = 10;
export const HUB = 'bench-hub';
export const HASH = '5d8f7c9b4';

export const nsName = (i: number): string => `bench-${String(i).padStart(2, '0')}`;

export interface BenchWorkload {
  namespace: string;
  name: string;
  ip: string;
}

export interface BenchWorkloadObjects {
  workload: BenchWorkload;
  labels: Record<string, string>;
  deployment: KubeObject;
  replicaSet: (deploymentUid: string) => KubeObject;
  pod: (replicaSetUid: string) => KubeObject;
  /** The pod's status as a Running, Ready pod with the workload's IP. */
  podStatus: Record<string, unknown>;
}

export interface BenchMesh {
  namespaces: KubeObject[];
  workloads: BenchWorkload[];
  services: KubeObject[];
  endpointSlices: KubeObject[];
  workloadObjects: BenchWorkloadObjects[];
  destinationRules: KubeObject[];
  virtualServices: KubeObject[];
}

const owner = (o: { name: string; uid: string }, kind: string, apiVersion: string) =>
  [{ apiVersion, kind, name: o.name, uid: o.uid, controller: true, blockOwnerDeletion: true }];

export function benchMesh(): BenchMesh {
  const namespaceNames = [...Array.from({ length: NAMESPACES }, (_, i) => nsName(i)), HUB];
  const namespaces = namespaceNames.map((ns) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [INJECTION_LABEL]: 'enabled' } } }));

  const workloads: BenchWorkload[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    for (let j = 0; j < WORKLOADS_PER_NS; j++) workloads.push({ namespace: nsName(n), name: `wl-${j}`, ip: `10.10.${n}.${j + 1}` });
  }
  workloads.pop(); // 499 + the hub = 500
  workloads.push({ namespace: HUB, name: 'hub', ip: '10.10.250.1' });

  const services: KubeObject[] = [];
  const endpointSlices: KubeObject[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = nsName(n);
    for (let j = 0; j < SERVICES_PER_NS; j++) {
      const name = `svc-${j}`;
      const backed = j < WORKLOADS_PER_NS && workloads.some((w) => w.namespace === ns && w.name === `wl-${j}`);
      services.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace: ns, annotations: { 'networking.istio.io/exportTo': `.,${HUB}` } },
        spec: { ports: [{ name: 'http', port: 8080, targetPort: 8080 }], ...(backed ? { selector: { app: `wl-${j}` } } : {}) },
      });
      const endpoints = Array.from({ length: ENDPOINTS_PER_SERVICE }, (_, e) => ({
        addresses: [backed && e === 0 ? `10.10.${n}.${j + 1}` : `10.${20 + n}.${j}.${e + 1}`],
        conditions: { ready: true },
        ...(backed && e === 0 ? { targetRef: { kind: 'Pod', namespace: ns, name: `wl-${j}-${HASH}-bench` } } : {}),
      }));
      endpointSlices.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${name}-bench`, namespace: ns, labels: { [SERVICE_NAME_LABEL]: name, 'endpointslice.kubernetes.io/managed-by': 'weft-bench' } },
        addressType: 'IPv4',
        endpoints,
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      });
    }
  }

  const workloadObjects = workloads.map((w): BenchWorkloadObjects => {
    const labels = { app: w.name, version: 'v1' };
    const template = {
      metadata: { labels },
      spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: 'example.invalid/app:1', ports: [{ name: 'http', containerPort: 8080 }] }] },
    };
    const rsName = `${w.name}-${HASH}`;
    const podLabels = { ...labels, 'pod-template-hash': HASH };
    return {
      workload: w,
      labels,
      deployment: {
        apiVersion: 'apps/v1', kind: 'Deployment',
        metadata: { name: w.name, namespace: w.namespace, labels }, spec: { replicas: 1, selector: { matchLabels: labels }, template },
      },
      replicaSet: (uid) => ({
        apiVersion: 'apps/v1', kind: 'ReplicaSet',
        metadata: { name: rsName, namespace: w.namespace, labels: podLabels, ownerReferences: owner({ name: w.name, uid }, 'Deployment', 'apps/v1') },
        spec: { replicas: 1, selector: { matchLabels: podLabels }, template: { ...template, metadata: { labels: podLabels } } },
      }),
      pod: (uid) => ({
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name: `${rsName}-bench`, namespace: w.namespace, labels: podLabels, ownerReferences: owner({ name: rsName, uid }, 'ReplicaSet', 'apps/v1') },
        spec: template.spec,
      }),
      podStatus: { phase: 'Running', podIP: w.ip, podIPs: [{ ip: w.ip }], conditions: [{ type: 'Ready', status: 'True' }] },
    };
  });

  const destinationRules: KubeObject[] = [];
  const virtualServices: KubeObject[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = nsName(n);
    destinationRules.push({
      apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule',
      metadata: { name: 'svc-0', namespace: ns },
      spec: { host: 'svc-0', exportTo: ['.', HUB], subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] },
    });
    virtualServices.push({
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService',
      metadata: { name: 'svc-0', namespace: ns },
      spec: { hosts: ['svc-0'], exportTo: ['.', HUB], http: [{ timeout: '1s', route: [{ destination: { host: 'svc-0', subset: 'v1' } }] }] },
    });
  }
  return { namespaces, workloads, services, endpointSlices, workloadObjects, destinationRules, virtualServices };
}

/** The mesh as a SnapshotInput, with made-up uids and creation times, for in-process runs. */
export function meshInput(mesh: BenchMesh = benchMesh()): SnapshotInput {
  const created = '2024-01-01T00:00:00Z';
  let uids = 0;
  const stamp = <T extends KubeObject>(o: T): T => ({ ...o, metadata: { ...o.metadata, uid: `uid-${++uids}`, creationTimestamp: created } });
  const deployments: KubeObject[] = [];
  const replicaSets: KubeObject[] = [];
  const pods: KubeObject[] = [];
  for (const w of mesh.workloadObjects) {
    const dep = stamp(w.deployment);
    const rs = stamp(w.replicaSet(dep.metadata!.uid!));
    const pod = stamp(w.pod(rs.metadata!.uid!));
    deployments.push(dep);
    replicaSets.push(rs);
    pods.push({ ...pod, status: w.podStatus });
  }
  // The API server gives every (non-headless) Service a cluster IP.
  const services = mesh.services.map((svc, i) => {
    const ip = `10.96.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    return stamp({ ...svc, spec: { ...(svc.spec as object), type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip] } });
  });
  return {
    namespaces: mesh.namespaces.map(stamp),
    services,
    endpointSlices: mesh.endpointSlices.map(stamp),
    pods,
    replicaSets,
    deployments,
    statefulSets: [],
    daemonSets: [],
    jobs: [],
    cronJobs: [],
    config: {
      virtualServices: mesh.virtualServices.map(stamp) as never,
      destinationRules: mesh.destinationRules.map(stamp) as never,
      gateways: [], serviceEntries: [], workloadEntries: [], peerAuthentications: [], authorizationPolicies: [], requestAuthentications: [],
    },
  };
}
