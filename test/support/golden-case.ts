// Golden translation cases: test/golden/<case>.yaml → the workloads to translate, the SnapshotInput, and the
// simulated requests with their expected outcome. A case file is multi-document YAML:
//
//   workload: bookinfo/productpage-v1        # header (or `workloads: [ns/name, …]`), with optional
//   description: …                           #   `options:` (MeshOptions) for the snapshot
//   ---
//   fixtures:                                # compact notation (test/support/mesh-fixtures.ts builders):
//     - app: { name: reviews, namespace: bookinfo, port: 9080, versions: { v1: [10.0.0.1] } }
//     - namespace: { name: bookinfo, labels: { weft-injection: enabled } }
//   ---
//   apiVersion: networking.istio.io/v1       # any Kubernetes object (Service, EndpointSlice, Pod, ReplicaSet…)
//   kind: VirtualService                     #   or Istio object, as written for kubectl
//   …
//   ---
//   simulate:                                # requests through the translated config (see test/support/golden-sim.ts)
//     - name: reviews goes to v1
//       request: { url: 'http://reviews:9080/' }
//       expect: { cluster: 'outbound|9080|v1|reviews.bookinfo.svc.cluster.local', endpoints: ['10.0.0.1:9080'] }
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject, MeshConfig, MeshOptions, SnapshotInput } from '../../src/model/types.ts';
import {
  app, controller, deployment, endpointSlice, inputOf, namespace, pod, service, T0,
} from './mesh-fixtures.ts';
import type { AppOptions, InputPart, PodOptions, ServiceOptions, SliceEndpoint } from './mesh-fixtures.ts';

export interface SimulationCase {
  name: string;
  /** ns/name; the case's only workload by default. */
  workload?: string;
  request: Record<string, unknown>;
  /** The random value in [0, 1) for weighted picks (default 0). */
  random?: number;
  expect: Record<string, unknown>;
}

export interface GoldenCase {
  name: string;
  file: string;
  description?: string;
  workloads: string[];
  input: SnapshotInput;
  simulate: SimulationCase[];
}

const KUBE_LISTS: Record<string, keyof Omit<SnapshotInput, 'config' | 'options'>> = {
  Namespace: 'namespaces', Service: 'services', EndpointSlice: 'endpointSlices', Pod: 'pods', ReplicaSet: 'replicaSets',
  Deployment: 'deployments', StatefulSet: 'statefulSets', DaemonSet: 'daemonSets', Job: 'jobs', CronJob: 'cronJobs',
};
const CONFIG_LISTS: Record<string, keyof MeshConfig> = {
  VirtualService: 'virtualServices', DestinationRule: 'destinationRules', Gateway: 'gateways', ServiceEntry: 'serviceEntries',
  WorkloadEntry: 'workloadEntries', PeerAuthentication: 'peerAuthentications', AuthorizationPolicy: 'authorizationPolicies',
  RequestAuthentication: 'requestAuthentications',
};

type Args = Record<string, any>;

/** One `fixtures:` entry (`{ builder: { …args } }`) → a partial SnapshotInput. */
function fixture(entry: Args, where: string): InputPart {
  const [builder, a] = Object.entries(entry)[0] ?? [];
  const args = (a ?? {}) as Args;
  const ns = String(args.namespace ?? 'default');
  switch (builder) {
    case 'namespace': return { namespaces: [namespace(String(args.name), args.labels)] };
    case 'app': {
      const { name, namespace: _ns, ...o } = args;
      return app(String(name), ns, o as AppOptions);
    }
    case 'service': {
      const { name, namespace: _ns, ...o } = args;
      return { services: [service(String(name), ns, o as ServiceOptions)] };
    }
    case 'endpointSlice':
      return { endpointSlices: [endpointSlice(String(args.service), ns, args.endpoints as SliceEndpoint[], args.ports as Record<string, number>, { name: args.name })] };
    case 'deployment': {
      const { name, namespace: _ns, ...o } = args;
      return deployment(String(name), ns, o);
    }
    case 'pod': {
      const { name, namespace: _ns, ...o } = args;
      return { pods: [pod(String(name), ns, o as PodOptions)] };
    }
    case 'controller': {
      const { kind, name, namespace: _ns, ...o } = args;
      const obj = controller(String(kind), String(name), ns, o);
      const list = KUBE_LISTS[String(kind)];
      if (!list) throw new Error(`${where}: controller kind ${String(kind)} is not an informer input`);
      return { [list]: [obj] };
    }
    default: throw new Error(`${where}: unknown fixture ${JSON.stringify(builder)}`);
  }
}

/** Istio objects as written for kubectl: fill in what the API server would (uid, creationTimestamp). */
function withServerFields(doc: Args): Args {
  const m = { ...(doc.metadata ?? {}) } as Args;
  m.namespace ??= 'default';
  m.uid ??= `uid-${m.namespace}-${m.name}`;
  m.creationTimestamp ??= T0;
  m.generation ??= 1;
  return { ...doc, metadata: m };
}

export function parseCase(file: string, text: string): GoldenCase {
  const name = file.replace(/^.*\//, '').replace(/\.yaml$/, '');
  const parts: InputPart[] = [];
  let header: Args | undefined;
  const simulate: SimulationCase[] = [];
  parseAllDocuments(text).forEach((d, i) => {
    if (d.errors.length > 0) throw new Error(`${file}: document ${i}: ${d.errors[0]!.message}`);
    const doc = d.toJS() as Args | null;
    const where = `${file}: document ${i}`;
    if (!doc) return;
    if (doc.workload !== undefined || doc.workloads !== undefined) {
      header = doc;
    } else if (Array.isArray(doc.fixtures)) {
      doc.fixtures.forEach((f: Args, j: number) => parts.push(fixture(f, `${where}: fixtures[${j}]`)));
    } else if (Array.isArray(doc.simulate)) {
      simulate.push(...(doc.simulate as SimulationCase[]));
    } else if (typeof doc.kind === 'string' && KUBE_LISTS[doc.kind]) {
      parts.push({ [KUBE_LISTS[doc.kind]!]: [doc as KubeObject] });
    } else if (typeof doc.kind === 'string' && CONFIG_LISTS[doc.kind]) {
      parts.push({ config: { [CONFIG_LISTS[doc.kind]!]: [withServerFields(doc)] } });
    } else {
      throw new Error(`${where}: neither a header, fixtures, simulate, nor a known kind`);
    }
  });
  if (!header) throw new Error(`${file}: no header document (workload: ns/name)`);
  const workloads = header.workloads !== undefined ? (header.workloads as string[]) : [String(header.workload)];
  if (header.options) parts.push({ options: header.options as Partial<MeshOptions> });
  return {
    name, file, workloads, input: inputOf(...parts), simulate,
    ...(header.description ? { description: String(header.description) } : {}),
  };
}

/** Every `<case>.yaml` (not `.golden.yaml`) in `dir`, by name. */
export function loadCases(dir: string): GoldenCase[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && !f.endsWith('.golden.yaml'))
    .sort()
    .map((f) => parseCase(join(dir, f), readFileSync(join(dir, f), 'utf8')));
}
