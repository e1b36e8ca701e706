// buildSnapshot(input) → Snapshot: the informer caches' plain objects made into sorted, indexed, immutable values.
// Pure: no I/O, no clock, no randomness; the same input in any order gives the same snapshot.
import type { DestinationRule, ServiceEntry, VirtualService } from '../api/index.ts';
import { indexDestinationRules } from './destination-rules.ts';
import { buildEndpoints, endpointsForPort } from './endpoints.ts';
import { resolveHost } from './hosts.ts';
import { by, creationOf, deepFreeze, type HasMeta, groupBy, indexBy, key, labelsOf, nameOf, namespaceOf, selectorMatches, stringList, record, uidOf } from './kube.ts';
import { kubernetesService, serviceEntryServices, serviceKey, type ServiceRecord } from './services.ts';
import {
  DEFAULT_MESH_OPTIONS, type Endpoint, type KubeObject, type Labels, type MeshConfig, type MeshOptions, type MeshService, type ServicePort, type Snapshot,
  type SnapshotInput, type Workload,
} from './types.ts';
import { parseExportTo, visibleIn } from './visibility.ts';
import { buildWorkloads } from './workloads.ts';

const byNamespaceName = by<HasMeta>(namespaceOf, nameOf);

function sortedConfig(config: MeshConfig | undefined): MeshConfig {
  const sort = <T extends HasMeta>(xs: readonly T[] | undefined): readonly T[] =>
    Object.freeze([...(xs ?? [])].sort(byNamespaceName));
  return Object.freeze({
    virtualServices: sort(config?.virtualServices),
    destinationRules: sort(config?.destinationRules),
    gateways: sort(config?.gateways),
    serviceEntries: sort(config?.serviceEntries),
    workloadEntries: sort(config?.workloadEntries),
    peerAuthentications: sort(config?.peerAuthentications),
    authorizationPolicies: sort(config?.authorizationPolicies),
    requestAuthentications: sort(config?.requestAuthentications),
  });
}

/** Services sharing a host: Kubernetes first, then the oldest, then by namespace/name (for determinism). */
const recordOrder = by<ServiceRecord>(
  (r) => r.service.hostname,
  (r) => (r.service.origin === 'Kubernetes' ? '0' : '1'),
  (r) => r.created,
  (r) => r.service.namespace,
  (r) => r.service.name,
);

export function buildSnapshot(input: SnapshotInput): Snapshot {
  // Options given as undefined keep their defaults.
  const given = Object.fromEntries(Object.entries(input.options ?? {}).filter(([, v]) => v !== undefined && v !== ''));
  const options: MeshOptions = Object.freeze({ ...DEFAULT_MESH_OPTIONS, ...given });
  const config = sortedConfig(input.config);
  const domain = options.clusterDomain;

  const nsLabels = new Map<string, Labels>();
  for (const ns of [...(input.namespaces ?? [])].sort(by(nameOf, uidOf))) {
    if (nameOf(ns) !== '' && !nsLabels.has(nameOf(ns))) nsLabels.set(nameOf(ns), Object.freeze(labelsOf(ns)));
  }
  const namespaceLabels = (ns: string) => nsLabels.get(ns);

  // Workloads and the pod view.
  const owners = {
    replicaSets: indexBy(input.replicaSets ?? [], (o: KubeObject) => key(namespaceOf(o), nameOf(o))),
    deployments: indexBy(input.deployments ?? [], (o: KubeObject) => key(namespaceOf(o), nameOf(o))),
    jobs: indexBy(input.jobs ?? [], (o: KubeObject) => key(namespaceOf(o), nameOf(o))),
    cronJobs: indexBy(input.cronJobs ?? [], (o: KubeObject) => key(namespaceOf(o), nameOf(o))),
  };
  const { workloads, pods } = buildWorkloads(input.pods ?? [], owners, namespaceLabels);
  const workloadsByKey = indexBy(workloads, (w) => key(w.namespace, w.name));

  // Services: Kubernetes Services and ServiceEntry hosts.
  const records: ServiceRecord[] = [];
  for (const svc of [...(input.services ?? [])].sort(by(namespaceOf, nameOf))) {
    const r = kubernetesService(svc, domain);
    if (r) records.push(r);
  }
  for (const se of config.serviceEntries as readonly ServiceEntry[]) records.push(...serviceEntryServices(se));
  records.sort(recordOrder);
  const unique = [...indexBy(records, (r) => serviceKey(r.service)).values()];
  const services = deepFreeze(unique.map((r) => r.service));
  const recordsByHost = groupBy(unique, (r) => r.service.hostname);
  const selectingByNamespace = groupBy(services.filter((s) => s.selector !== undefined), (s) => s.namespace);

  const endpointsByService = buildEndpoints(unique, {
    endpointSlices: input.endpointSlices ?? [],
    pods,
    workloadEntries: config.workloadEntries,
    namespaceLabels,
  });
  const endpointCache = new Map<string, readonly Endpoint[]>();

  // Config visibility.
  const virtualServices = [...config.virtualServices].sort(by<VirtualService>(creationOf, nameOf, namespaceOf)).map((vs) => ({
    vs,
    exportTo: parseExportTo(stringList(record(vs.spec).exportTo), namespaceOf(vs)),
  }));
  const drIndex = indexDestinationRules(config.destinationRules as readonly DestinationRule[], options.rootNamespace, domain);

  const visibleFrom = new Map<string, readonly MeshService[]>();
  const vsFrom = new Map<string, readonly VirtualService[]>();

  const serviceFor = (host: string, namespace: string): MeshService | undefined => {
    const candidates = (recordsByHost.get(host) ?? []).filter((r) => visibleIn(r.service.exportTo, namespace));
    // Kubernetes first (records are in that order), and among ServiceEntries the client's own namespace.
    const k8s = candidates.find((r) => r.service.origin === 'Kubernetes');
    return (k8s ?? candidates.find((r) => r.service.namespace === namespace) ?? candidates[0])?.service;
  };

  const snapshot: Snapshot = {
    options,
    config,
    services,
    workloads: deepFreeze(workloads),

    namespaceLabels,
    workload: (namespace, name) => workloadsByKey.get(key(namespace, name)),
    servicesByHost: (host) => (recordsByHost.get(host) ?? []).map((r) => r.service),
    resolveHost: (host, namespace) => resolveHost(host, namespace, domain),
    serviceFor,

    endpoints(service: MeshService, port: ServicePort): readonly Endpoint[] {
      const k = `${serviceKey(service)}|${port.name}|${port.port}`;
      let eps = endpointCache.get(k);
      if (!eps) {
        eps = deepFreeze(endpointsForPort(endpointsByService.get(serviceKey(service)) ?? [], port));
        endpointCache.set(k, eps);
      }
      return eps;
    },

    servicesOf(workload: Workload): readonly MeshService[] {
      const labelSets = [workload.labels, ...workload.pods.map((p) => p.labels)];
      // Any pod's own labels count too: a StatefulSet's per-pod Service selects on the pod-name label.
      return (selectingByNamespace.get(workload.namespace) ?? []).filter((s) => labelSets.some((l) => selectorMatches(s.selector!, l)));
    },

    servicesFor(namespace: string): readonly MeshService[] {
      let out = visibleFrom.get(namespace);
      if (!out) {
        // One service per host: the one serviceFor picks.
        out = Object.freeze([...recordsByHost.keys()].map((h) => serviceFor(h, namespace)).filter((s): s is MeshService => s !== undefined));
        visibleFrom.set(namespace, out);
      }
      return out;
    },

    virtualServicesFor(namespace: string): readonly VirtualService[] {
      let out = vsFrom.get(namespace);
      if (!out) {
        out = Object.freeze(virtualServices.filter((v) => visibleIn(v.exportTo, namespace)).map((v) => v.vs));
        vsFrom.set(namespace, out);
      }
      return out;
    },

    destinationRuleFor(host: string, namespace: string, workload?: Workload): DestinationRule | undefined {
      const svcNs = serviceFor(host, namespace)?.namespace;
      return drIndex.lookup(host, namespace, svcNs, workload?.namespace === namespace ? workload.labels : undefined);
    },
  };
  return Object.freeze(snapshot);
}
