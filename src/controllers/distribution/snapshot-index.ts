// Lookups over one Snapshot that the dependency rule needs and the Snapshot interface does not offer directly,
// computed lazily and remembered per snapshot (snapshots are immutable).
// In: a Snapshot. Out: config objects by key, services and workloads by namespace, the hostnames and
// VirtualService keys visible from a namespace, and stable signatures of a service (with its endpoints) and of a
// workload, used to see what differs between two snapshots.
import { compare, groupBy } from '../../model/kube.ts';
import type { Labels, MeshConfig, MeshService, ObjectKey, Snapshot, Workload } from '../../model/types.ts';
import { CONFIG_LISTS } from './tracking.ts';

/** A mesh config object as translation sees it (the generated API types share this shape). */
export interface ConfigObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string; generation?: number; labels?: Record<string, string> };
  spec?: unknown;
}

const KIND_OF_LIST: Readonly<Record<keyof MeshConfig, string>> = {
  virtualServices: 'VirtualService',
  destinationRules: 'DestinationRule',
  gateways: 'Gateway',
  serviceEntries: 'ServiceEntry',
  workloadEntries: 'WorkloadEntry',
  peerAuthentications: 'PeerAuthentication',
  authorizationPolicies: 'AuthorizationPolicy',
  requestAuthentications: 'RequestAuthentication',
};

export function configKey(kind: string, obj: ConfigObject): ObjectKey {
  return `${kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export const workloadKey = (w: { namespace: string; name: string }): string => `${w.namespace}/${w.name}`;

interface Memo {
  config?: Map<ObjectKey, ConfigObject>;
  servicesByNs?: Map<string, MeshService[]>;
  workloadsByNs?: Map<string, Workload[]>;
  visibleHosts: Map<string, Set<string>>;
  visibleVirtualServices: Map<string, Set<ObjectKey>>;
  serviceSig: Map<string, string>;
}

const memos = new WeakMap<Snapshot, Memo>();

function memo(s: Snapshot): Memo {
  let m = memos.get(s);
  if (!m) {
    m = { visibleHosts: new Map(), visibleVirtualServices: new Map(), serviceSig: new Map() };
    memos.set(s, m);
  }
  return m;
}

export function configObjects(s: Snapshot): Map<ObjectKey, ConfigObject> {
  const m = memo(s);
  if (!m.config) {
    m.config = new Map();
    for (const field of CONFIG_LISTS) {
      for (const o of s.config[field] as readonly ConfigObject[]) m.config.set(configKey(KIND_OF_LIST[field], o), o);
    }
  }
  return m.config;
}

export function servicesIn(s: Snapshot, namespace: string): readonly MeshService[] {
  const m = memo(s);
  m.servicesByNs ??= groupBy(s.services, (x) => x.namespace);
  return m.servicesByNs.get(namespace) ?? [];
}

export function workloadsIn(s: Snapshot, namespace: string): readonly Workload[] {
  const m = memo(s);
  m.workloadsByNs ??= groupBy(s.workloads, (x) => x.namespace);
  return m.workloadsByNs.get(namespace) ?? [];
}

/** Hostnames of the services visible from `namespace`. */
export function visibleHosts(s: Snapshot, namespace: string): ReadonlySet<string> {
  const m = memo(s);
  let set = m.visibleHosts.get(namespace);
  if (!set) {
    set = new Set(s.servicesFor(namespace).map((x) => x.hostname.toLowerCase()));
    m.visibleHosts.set(namespace, set);
  }
  return set;
}

/** Keys of the VirtualServices visible from `namespace`. */
export function visibleVirtualServices(s: Snapshot, namespace: string): ReadonlySet<ObjectKey> {
  const m = memo(s);
  let set = m.visibleVirtualServices.get(namespace);
  if (!set) {
    set = new Set(s.virtualServicesFor(namespace).map((v) => configKey('VirtualService', v as ConfigObject)));
    m.visibleVirtualServices.set(namespace, set);
  }
  return set;
}

/** JSON with sets as sorted arrays (ExportTo holds a Set). */
export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Set ? [...(x as Set<unknown>)].map(String).sort() : x));
}

/** Everything translation can learn about the services named `hostname` in `namespace`: definition and endpoints. */
export function serviceSignature(s: Snapshot, namespace: string, hostname: string): string {
  const m = memo(s);
  const key = `${namespace}\u0000${hostname}`;
  let sig = m.serviceSig.get(key);
  if (sig === undefined) {
    const parts = servicesIn(s, namespace)
      .filter((x) => x.hostname === hostname)
      .map((x) => stableJson([x, x.ports.map((p) => s.endpoints(x, p))]))
      .sort();
    sig = parts.join('\n');
    m.serviceSig.set(key, sig);
  }
  return sig;
}

export function workloadSignature(w: Workload | undefined): string {
  return w ? stableJson(w) : '';
}

export function labelsSignature(l: Labels | undefined): string {
  return l ? stableJson(Object.entries(l).sort(([a], [b]) => compare(a, b))) : '';
}
