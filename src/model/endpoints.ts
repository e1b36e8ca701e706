// Endpoints of every service, each with its target port for every service port it serves (`ports[portName]`).
// In: service records, EndpointSlices, the pod view, WorkloadEntries. Out: endpoints by service key, sorted.
//   Kubernetes Service  EndpointSlices (ports by name) + WorkloadEntries its selector selects (same namespace);
//                       ExternalName: the external name itself, on each service port.
//   ServiceEntry        inline `endpoints`, else the WorkloadEntries and pods its workloadSelector selects (same
//                       namespace); DNS / DNS_ROUND_ROBIN entries without either resolve the host itself.
// A ServiceEntry endpoint's port is `ports[name]`, else the service port's targetPort, else its number.
import type { ServiceEntry, WorkloadEntry } from '../api/index.ts';
import { by, compare, groupBy, key, labelsOf, list, nameOf, namespaceOf, num, record, selectorMatches, str, stringList, stringMap } from './kube.ts';
import { serviceKey, type ServiceRecord } from './services.ts';
import type { Endpoint, EndpointHealth, KubeObject, Labels, MeshService, ServicePort } from './types.ts';
import type { PodView } from './workloads.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Endpoint labels that say whether the endpoint speaks mesh mTLS (set by injection; settable on WorkloadEntries). */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';
export const LOCALITY_LABEL = 'istio-locality';
export const NETWORK_LABEL = 'topology.istio.io/network';
export const REGION_LABEL = 'topology.kubernetes.io/region';

export interface EndpointInputs {
  endpointSlices: readonly KubeObject[];
  pods: ReadonlyMap<string, PodView>;
  workloadEntries: readonly WorkloadEntry[];
  namespaceLabels: (ns: string) => Labels | undefined;
}

/** The inputs grouped by namespace, since selectors select within their own namespace only. */
interface Indexed {
  workloadEntries: Map<string, WorkloadEntry[]>;
  pods: Map<string, PodView[]>;
  podsByKey: ReadonlyMap<string, PodView>;
  namespaceLabels: (ns: string) => Labels | undefined;
}

/** EndpointSlice conditions (unset ready means ready; unset serving follows ready) → health. */
export function sliceEndpointHealth(conditions: unknown): EndpointHealth {
  const c = record(conditions);
  const ready = c.ready !== false;
  const serving = typeof c.serving === 'boolean' ? c.serving : ready;
  const terminating = c.terminating === true;
  if (ready && !terminating) return 'HEALTHY';
  if (serving && terminating) return 'DRAINING';
  return 'UNHEALTHY';
}

const isUnix = (address: string) => address.startsWith('unix://');

/** A pod's locality: the `istio-locality` label (`region.zone.subzone`), else the slice's zone. */
function podLocality(pod: PodView | undefined, zone: string | undefined): string | undefined {
  const label = pod?.info.labels[LOCALITY_LABEL];
  if (label) return label.split('.').join('/');
  if (zone) return `${pod?.info.labels[REGION_LABEL] ?? ''}/${zone}`;
  return undefined;
}

function podNetwork(pod: PodView | undefined, labels: (ns: string) => Labels | undefined): string | undefined {
  if (!pod) return undefined;
  return pod.info.labels[NETWORK_LABEL] ?? labels(pod.info.namespace)?.[NETWORK_LABEL];
}

function podEndpoint(pod: PodView | undefined, address: string, ports: Record<string, number>, health: EndpointHealth,
  locality: string | undefined, network: string | undefined): Endpoint {
  return {
    address,
    ports,
    labels: pod?.info.labels ?? {},
    ...(pod ? { serviceAccount: pod.info.serviceAccount } : {}),
    ...(pod?.workload ? { workload: pod.workload } : {}),
    health,
    ...(locality !== undefined ? { locality } : {}),
    ...(network !== undefined ? { network } : {}),
    sidecar: pod?.sidecar ?? false,
  };
}

function sliceEndpoints(svc: MeshService, slices: readonly KubeObject[], inputs: Indexed): Endpoint[] {
  const byAddress = new Map<string, Endpoint>();
  for (const slice of slices) {
    const s = record(slice);
    if (s.addressType === 'FQDN') continue;
    const ports: Record<string, number> = {};
    for (const p of list(s.ports)) {
      const port = num(record(p).port);
      if (port !== undefined) ports[str(record(p).name) ?? ''] = port;
    }
    for (const e of list(s.endpoints)) {
      const ep = record(e);
      // Addresses of one endpoint are interchangeable; the first is the one to use.
      const address = stringList(ep.addresses)[0];
      if (!address) continue;
      const known = byAddress.get(address);
      if (known) {
        // The same endpoint in two slices (while the controller moves it): one endpoint with every port.
        byAddress.set(address, { ...known, ports: { ...ports, ...known.ports } });
        continue;
      }
      const ref = record(ep.targetRef);
      const pod = ref.kind === 'Pod' ? inputs.podsByKey.get(key(str(ref.namespace) ?? svc.namespace, str(ref.name) ?? '')) : undefined;
      byAddress.set(address, podEndpoint(pod, address, { ...ports }, sliceEndpointHealth(ep.conditions), podLocality(pod, str(ep.zone)),
        podNetwork(pod, inputs.namespaceLabels)));
    }
  }
  return [...byAddress.values()];
}

/** Target port of a service port on a workload-entry-shaped endpoint. */
function entryPort(port: ServicePort, overrides: Record<string, number>): number {
  const byName = overrides[port.name];
  if (byName !== undefined) return byName;
  if (typeof port.targetPort === 'number') return port.targetPort;
  if (typeof port.targetPort === 'string' && overrides[port.targetPort] !== undefined) return overrides[port.targetPort]!;
  return port.port;
}

function portOverrides(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(record(v))) if (typeof x === 'number') out[k] = x;
  return out;
}

/** A WorkloadEntry, or a ServiceEntry's inline endpoint (same shape), as an Endpoint of `svc`. */
function entryEndpoint(svc: MeshService, spec: Record<string, unknown>, health: EndpointHealth): Endpoint | undefined {
  const address = str(spec.address);
  // An endpoint without address lives on another network, behind its gateway: not reachable directly.
  if (!address) return undefined;
  const overrides = portOverrides(spec.ports);
  const ports: Record<string, number> = {};
  for (const p of svc.ports) ports[p.name] = isUnix(address) ? 0 : entryPort(p, overrides);
  const labels = stringMap(spec.labels);
  const serviceAccount = str(spec.serviceAccount) || undefined;
  const tlsMode = labels[TLS_MODE_LABEL];
  // A service account means the workload runs a proxy with that identity, unless the tlsMode label says otherwise.
  const sidecar = tlsMode !== undefined ? tlsMode === 'istio' : serviceAccount !== undefined && svc.location === 'MESH_INTERNAL';
  const locality = str(spec.locality) || undefined;
  const weight = num(spec.weight);
  const network = str(spec.network) || undefined;
  return {
    address,
    ports,
    labels,
    ...(serviceAccount !== undefined ? { serviceAccount } : {}),
    health,
    ...(locality !== undefined ? { locality } : {}),
    ...(weight !== undefined && weight > 0 ? { weight } : {}),
    ...(network !== undefined ? { network } : {}),
    sidecar,
  };
}

/** A WorkloadEntry whose status says it failed its health check is unhealthy; otherwise healthy. */
function workloadEntryHealth(we: WorkloadEntry): EndpointHealth {
  const healthy = list(record(we.status).conditions).find((c) => record(c).type === 'Healthy');
  return healthy !== undefined && record(healthy).status === 'False' ? 'UNHEALTHY' : 'HEALTHY';
}

function selectedWorkloadEntries(svc: MeshService, selector: Labels, inputs: Indexed): Endpoint[] {
  const out: Endpoint[] = [];
  for (const we of inputs.workloadEntries.get(svc.namespace) ?? []) {
    const spec = record(we.spec);
    if (!selectorMatches(selector, stringMap(spec.labels))) continue;
    const ep = entryEndpoint(svc, spec, workloadEntryHealth(we));
    if (ep) out.push(ep);
  }
  return out;
}

/** Pods a ServiceEntry's workloadSelector selects; ports are found among their named container ports. */
function selectedPods(svc: MeshService, selector: Labels, inputs: Indexed): Endpoint[] {
  const out: Endpoint[] = [];
  for (const pod of inputs.pods.get(svc.namespace) ?? []) {
    if (!pod.workload || !pod.info.ip) continue;
    if (!selectorMatches(selector, pod.info.labels)) continue;
    const named: Record<string, number> = {};
    for (const c of pod.info.containerPorts) if (c.name) named[c.name] = c.port;
    const ports: Record<string, number> = {};
    for (const p of svc.ports) ports[p.name] = entryPort(p, named);
    out.push(podEndpoint(pod, pod.info.ip, ports, pod.info.ready ? 'HEALTHY' : 'UNHEALTHY', podLocality(pod, undefined),
      podNetwork(pod, inputs.namespaceLabels)));
  }
  return out;
}

function serviceEntryEndpoints(svc: MeshService, se: ServiceEntry, inputs: Indexed): Endpoint[] {
  const spec = record(se.spec);
  const inline = list(spec.endpoints);
  if (inline.length > 0) {
    return inline.map((e) => entryEndpoint(svc, record(e), 'HEALTHY')).filter((e): e is Endpoint => e !== undefined);
  }
  if (svc.selector !== undefined) {
    return [...selectedWorkloadEntries(svc, svc.selector, inputs), ...selectedPods(svc, svc.selector, inputs)];
  }
  if ((svc.resolution === 'DNS' || svc.resolution === 'DNS_ROUND_ROBIN') && !svc.hostname.startsWith('*')) {
    const ep = entryEndpoint(svc, { address: svc.hostname }, 'HEALTHY');
    return ep ? [ep] : [];
  }
  return [];
}

function externalNameEndpoints(svc: MeshService, externalName: string): Endpoint[] {
  const ports: Record<string, number> = {};
  // The external name is reached on the service's own port numbers.
  for (const p of svc.ports) ports[p.name] = p.port;
  return [{ address: externalName, ports, labels: svc.labels, health: 'HEALTHY', sidecar: false }];
}

const endpointOrder = by<Endpoint>((e) => e.address, (e) => JSON.stringify(Object.entries(e.ports).sort((a, b) => compare(a[0], b[0]))));

export function buildEndpoints(records: readonly ServiceRecord[], given: EndpointInputs): Map<string, readonly Endpoint[]> {
  const inputs: Indexed = {
    namespaceLabels: given.namespaceLabels,
    workloadEntries: groupBy([...given.workloadEntries].sort(by(namespaceOf, nameOf)), namespaceOf),
    pods: groupBy([...given.pods.values()], (p) => p.info.namespace),
    podsByKey: given.pods,
  };
  const labelled = given.endpointSlices.filter((s) => labelsOf(s)[SERVICE_NAME_LABEL]);
  const slicesByService = groupBy([...labelled].sort(by(namespaceOf, nameOf)), (s) => key(namespaceOf(s), labelsOf(s)[SERVICE_NAME_LABEL]!));
  const out = new Map<string, readonly Endpoint[]>();
  for (const { service: svc, source } of records) {
    let eps: Endpoint[];
    if (source.kind === 'ServiceEntry') eps = serviceEntryEndpoints(svc, source.object, inputs);
    else if (source.externalName !== undefined) eps = externalNameEndpoints(svc, source.externalName);
    else {
      eps = sliceEndpoints(svc, slicesByService.get(key(svc.namespace, svc.name)) ?? [], inputs);
      if (svc.selector !== undefined) eps.push(...selectedWorkloadEntries(svc, svc.selector, inputs));
    }
    out.set(serviceKey(svc), eps.sort(endpointOrder));
  }
  return out;
}

/** The endpoints serving one port of a service: those with a target port for it. */
export function endpointsForPort(all: readonly Endpoint[], port: ServicePort): Endpoint[] {
  return all.filter((e) => e.ports[port.name] !== undefined);
}
