// A Snapshot that records what translation reads from it: the dependency record of one workload.
// In: a Snapshot and an empty `Reads`. Out: a Snapshot with the same answers whose queries also note their
// arguments in `Reads`. The dependency index (dependencies.ts) decides from these notes which workloads a change
// can affect, so it never has to guess how the translation builders look things up. Translation builds parts
// that several workloads share through views of their own (READ_RECORDER), and replays their reads into the
// record of each workload that uses them.
import type { MeshConfig, MeshService, ServicePort, Snapshot, Workload } from '../../model/types.ts';
import { READ_RECORDER, type ReadRecorder } from '../../translate/outbound.ts';

/** Everything a translation asked the snapshot. Hostnames are FQDNs (as resolved by the snapshot). */
export interface Reads {
  /** Namespaces whose visible services were listed (`servicesFor`). */
  readonly visibleIn: Set<string>;
  /** Hostnames looked up one by one (`serviceFor`, `servicesByHost`, `endpoints`). */
  readonly hosts: Set<string>;
  /** Namespaces of workloads whose inbound services were asked for (`servicesOf`). */
  readonly inboundIn: Set<string>;
  /** Namespaces whose visible VirtualServices were listed (`virtualServicesFor`). */
  readonly virtualServicesIn: Set<string>;
  /** Hostnames whose DestinationRule was looked up (`destinationRuleFor`). */
  readonly ruleHosts: Set<string>;
  /** Namespaces whose labels were read. */
  readonly namespaceLabels: Set<string>;
  /** `namespace/name` of workloads looked up (`workload`). */
  readonly workloads: Set<string>;
  /** Whole lists read: `services`, `workloads`, or a MeshConfig field (`virtualServices`, `gateways`, …). */
  readonly lists: Set<string>;
}

export const CONFIG_LISTS: ReadonlyArray<keyof MeshConfig> = [
  'virtualServices', 'destinationRules', 'gateways', 'serviceEntries', 'workloadEntries',
  'peerAuthentications', 'authorizationPolicies', 'requestAuthentications',
];

export function emptyReads(): Reads {
  return {
    visibleIn: new Set(),
    hosts: new Set(),
    inboundIn: new Set(),
    virtualServicesIn: new Set(),
    ruleHosts: new Set(),
    namespaceLabels: new Set(),
    workloads: new Set(),
    lists: new Set(),
  };
}

/** Adds everything `from` records to `into`. */
export function mergeReads(into: Reads, from: Reads): void {
  for (const k of Object.keys(into) as Array<keyof Reads>) for (const x of from[k]) into[k].add(x);
}

const recordOf = new WeakMap<Snapshot, Reads>();

export function trackingSnapshot(s: Snapshot, r: Reads): Snapshot {
  const recorder: ReadRecorder = {
    base: s,
    fork: () => trackingSnapshot(s, emptyReads()),
    replay(view) {
      const from = recordOf.get(view);
      if (!from) throw new Error('replay: not a tracking snapshot');
      mergeReads(r, from);
    },
  };
  const config = {} as MeshConfig;
  for (const field of CONFIG_LISTS) {
    Object.defineProperty(config, field, {
      enumerable: true,
      get: () => {
        r.lists.add(field);
        return s.config[field];
      },
    });
  }
  const host = (h: string): void => void r.hosts.add(h.toLowerCase());
  const view: Snapshot & { [READ_RECORDER]: ReadRecorder } = {
    [READ_RECORDER]: recorder,
    options: s.options,
    config,
    get services() {
      r.lists.add('services');
      return s.services;
    },
    get workloads() {
      r.lists.add('workloads');
      return s.workloads;
    },
    namespaceLabels(namespace: string) {
      r.namespaceLabels.add(namespace);
      return s.namespaceLabels(namespace);
    },
    workload(namespace: string, name: string) {
      r.workloads.add(`${namespace}/${name}`);
      return s.workload(namespace, name);
    },
    servicesByHost(h: string) {
      host(h);
      return s.servicesByHost(h);
    },
    resolveHost: (h: string, namespace: string) => s.resolveHost(h, namespace),
    serviceFor(h: string, namespace: string) {
      host(h);
      host(s.resolveHost(h, namespace));
      const svc = s.serviceFor(h, namespace);
      if (svc) host(svc.hostname);
      return svc;
    },
    endpoints(service: MeshService, port: ServicePort) {
      host(service.hostname);
      return s.endpoints(service, port);
    },
    servicesOf(w: Workload) {
      r.inboundIn.add(w.namespace);
      return s.servicesOf(w);
    },
    servicesFor(namespace: string) {
      r.visibleIn.add(namespace);
      return s.servicesFor(namespace);
    },
    virtualServicesFor(namespace: string) {
      r.virtualServicesIn.add(namespace);
      return s.virtualServicesFor(namespace);
    },
    destinationRuleFor(h: string, namespace: string, w?: Workload) {
      r.ruleHosts.add(h.toLowerCase());
      r.ruleHosts.add(s.resolveHost(h, namespace).toLowerCase());
      return s.destinationRuleFor(h, namespace, w);
    },
  };
  recordOf.set(view, r);
  return view;
}
