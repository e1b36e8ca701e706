// Which workloads must be translated again after a batch of changes (pure: values in, values out).
// In: what the informers saw change (namespaces and config keys), the snapshots before and after, and for each
// translated workload its dependency entry (what its translation read, and its ProxyConfig.inputs).
// Out: the workload keys (`namespace/name`) whose config may differ; every other workload's config is known to
// be the same as before, so it is neither translated nor written.
//
// The rule, in two steps.
// 1. What changed, in snapshot terms. Kubernetes objects (Services, EndpointSlices, Pods, their owners, the
//    Namespace) and ServiceEntries/WorkloadEntries only shape services, endpoints and workloads of their own
//    namespace, so for each touched namespace the snapshots are compared there: changed hostnames (definition or
//    any endpoint), changed workloads, changed namespace labels. Config objects are compared by key.
// 2. Who depends on it. A workload is affected when
//    - it is new, gone, changed itself, or a config object in its `inputs` changed;
//    - a changed hostname is one it looked up, is visible from a namespace whose services it listed (before or
//      after), or belongs to the namespace whose inbound services it asked for; or it listed all services;
//    - a changed VirtualService bound to `mesh` is visible (before or after) from a namespace whose VirtualServices
//      it listed (its hosts do not narrow this down: hosts a sidecar does not see as services still land on its
//      port-80 routes); a delegate only counts for workloads that used a VirtualService delegating to it; one
//      bound to gateways only counts for workloads one of the Gateways it names selects (before or after);
//    - a changed DestinationRule's host covers (or is covered by) a host whose rule it looked up;
//    - a changed AuthorizationPolicy/RequestAuthentication/PeerAuthentication applies to it: its namespace or the
//      root namespace, selector matching its labels (or no selector, or a targetRef);
//    - a changed Gateway's selector matches its labels (or is empty);
//    - it read a whole list (`config.x`, `services`, `workloads`) of the changed kind;
//    - a workload or namespace whose labels it looked up changed.
// Before/after both count, so a change that hides something is seen by those who saw it, and one that reveals
// something by those who now see it. Because every workload that could read a different answer is translated
// again, a workload that is not affected would read the same answers from the new snapshot as from the one it was
// translated with; that is why its recorded reads may be checked against the previous snapshot.
import { list, record, stringList, stringMap } from '../../model/kube.ts';
import type { Labels, ObjectKey, Snapshot, Workload } from '../../model/types.ts';
import { hostCovers, matches } from '../refs.ts';
import {
  configObjects, labelsSignature, serviceSignature, servicesIn, stableJson, visibleHosts, visibleVirtualServices,
  workloadKey, workloadSignature, workloadsIn, type ConfigObject,
} from './snapshot-index.ts';
import type { Reads } from './tracking.ts';

/** What the informers reported since the last batch. */
export interface Touched {
  /** Namespaces where a Service, EndpointSlice, Pod, workload owner, ServiceEntry or WorkloadEntry changed, or
   * the Namespace object itself. */
  namespaces: ReadonlySet<string>;
  /** Mesh config objects that changed (`Kind/namespace/name`). */
  config: ReadonlySet<ObjectKey>;
}

export interface ConfigChange {
  before?: ConfigObject;
  after?: ConfigObject;
}

export interface Change {
  hosts: Set<string>;
  /** Namespaces of the services whose hostnames are in `hosts`. */
  hostNamespaces: Set<string>;
  workloads: Set<string>;
  namespaces: Set<string>;
  config: Map<ObjectKey, ConfigChange>;
}

/** What the index keeps per translated workload. */
export interface DependencyEntry {
  namespace: string;
  labels: Labels;
  inputs: ReadonlySet<ObjectKey>;
  reads: Reads;
}

/** Config without the fields that change without changing meaning (status, resourceVersion, managedFields). */
function meaning(o: ConfigObject | undefined): string {
  if (!o) return '';
  const { status: _s, ...rest } = o as ConfigObject & { status?: unknown };
  const md = { ...(o.metadata ?? {}) } as Record<string, unknown>;
  delete md.resourceVersion;
  delete md.managedFields;
  return stableJson({ ...rest, metadata: md });
}

export function describeChanges(t: Touched, prev: Snapshot, next: Snapshot): Change {
  const c: Change = { hosts: new Set(), hostNamespaces: new Set(), workloads: new Set(), namespaces: new Set(), config: new Map() };
  for (const ns of t.namespaces) {
    const hosts = new Set([...servicesIn(prev, ns), ...servicesIn(next, ns)].map((s) => s.hostname));
    for (const h of hosts) {
      if (serviceSignature(prev, ns, h) !== serviceSignature(next, ns, h)) {
        c.hosts.add(h.toLowerCase());
        c.hostNamespaces.add(ns);
      }
    }
    const before = new Map(workloadsIn(prev, ns).map((w) => [workloadKey(w), w]));
    const after = new Map(workloadsIn(next, ns).map((w) => [workloadKey(w), w]));
    for (const k of new Set([...before.keys(), ...after.keys()])) {
      if (workloadSignature(before.get(k)) !== workloadSignature(after.get(k))) c.workloads.add(k);
    }
    if (labelsSignature(prev.namespaceLabels(ns)) !== labelsSignature(next.namespaceLabels(ns))) c.namespaces.add(ns);
  }
  const pc = configObjects(prev);
  const nc = configObjects(next);
  for (const k of t.config) {
    const before = pc.get(k);
    const after = nc.get(k);
    if (meaning(before) !== meaning(after)) c.config.set(k, { before, after });
  }
  return c;
}

/** Counts `key` as changed (unless it already is): its workloads are looked at again. */
export function forceChange(c: Change, key: ObjectKey, prev: Snapshot, next: Snapshot): void {
  if (c.config.has(key)) return;
  const before = configObjects(prev).get(key);
  const after = configObjects(next).get(key);
  if (before || after) c.config.set(key, { before, after });
}

export function isEmpty(c: Change): boolean {
  return c.hosts.size === 0 && c.workloads.size === 0 && c.namespaces.size === 0 && c.config.size === 0;
}

type Obj = Record<string, unknown>;

/** Evaluates the rule for one batch; memoizes per-namespace answers across entries. */
class Rule {
  private readonly c: Change;
  private readonly prev: Snapshot;
  private readonly next: Snapshot;
  private readonly root: string;
  private readonly nsHit = new Map<string, boolean>();
  private readonly wildcardHosts: string[];
  private readonly kinds: Map<ObjectKey, { kind: string; versions: Array<[ConfigObject, Snapshot]> }>;

  constructor(c: Change, prev: Snapshot, next: Snapshot, root: string) {
    this.c = c;
    this.prev = prev;
    this.next = next;
    this.root = root;
    this.wildcardHosts = [...c.hosts].filter((h) => h.startsWith('*'));
    this.kinds = new Map();
    for (const [k, ch] of c.config) {
      const versions: Array<[ConfigObject, Snapshot]> = [];
      if (ch.before) versions.push([ch.before, prev]);
      if (ch.after) versions.push([ch.after, next]);
      this.kinds.set(k, { kind: k.slice(0, k.indexOf('/')), versions });
    }
  }

  affects(key: string, e: DependencyEntry): boolean {
    return this.workloadHit(key, e) || this.hostHit(e) || this.configHit(key, e);
  }

  private workloadHit(key: string, e: DependencyEntry): boolean {
    const { c } = this;
    if (c.workloads.has(key)) return true;
    if (c.workloads.size > 0) {
      if (e.reads.lists.has('workloads')) return true;
      for (const k of e.reads.workloads) if (c.workloads.has(k)) return true;
    }
    for (const ns of e.reads.namespaceLabels) if (c.namespaces.has(ns)) return true;
    return false;
  }

  private hostHit(e: DependencyEntry): boolean {
    const { c } = this;
    if (c.hosts.size === 0) return false;
    if (e.reads.lists.has('services')) return true;
    for (const h of c.hosts) if (e.reads.hosts.has(h)) return true;
    for (const ns of e.reads.inboundIn) if (c.hostNamespaces.has(ns)) return true;
    for (const ns of e.reads.visibleIn) if (this.visibleChange(ns)) return true;
    for (const read of e.reads.hosts) {
      if (read.startsWith('*')) for (const h of c.hosts) if (hostCovers(read, h)) return true;
      for (const w of this.wildcardHosts) if (hostCovers(w, read)) return true;
    }
    return false;
  }

  /** Whether a changed hostname is visible from `ns` before or after. */
  private visibleChange(ns: string): boolean {
    let hit = this.nsHit.get(ns);
    if (hit === undefined) {
      const before = visibleHosts(this.prev, ns);
      const after = visibleHosts(this.next, ns);
      hit = [...this.c.hosts].some((h) => before.has(h) || after.has(h));
      this.nsHit.set(ns, hit);
    }
    return hit;
  }

  private configHit(key: string, e: DependencyEntry): boolean {
    for (const [k, { kind, versions }] of this.kinds) {
      if (e.inputs.has(k)) return true;
      if (versions.some(([v, s]) => this.concerns(kind, k, v, s, e))) return true;
    }
    return false;
  }

  private concerns(kind: string, k: ObjectKey, v: ConfigObject, s: Snapshot, e: DependencyEntry): boolean {
    const spec = record(v.spec);
    const ns = v.metadata?.namespace ?? '';
    switch (kind) {
      case 'VirtualService':
        return this.virtualService(k, v, spec, s, e);
      case 'DestinationRule':
        return e.reads.lists.has('destinationRules') || this.ruleHost(spec, ns, s, e);
      case 'Gateway': {
        // An empty selector selects every workload (as `matches` has it).
        return matches(e.labels, stringMap(spec.selector));
      }
      case 'PeerAuthentication':
        return e.reads.lists.has('peerAuthentications') || this.policy(spec, ns, e);
      case 'AuthorizationPolicy':
      case 'RequestAuthentication':
        return this.policy(spec, ns, e);
      case 'ServiceEntry':
        return e.reads.lists.has('serviceEntries');
      case 'WorkloadEntry':
        return e.reads.lists.has('workloadEntries');
      default:
        return true;
    }
  }

  private virtualService(k: ObjectKey, v: ConfigObject, spec: Obj, s: Snapshot, e: DependencyEntry): boolean {
    const visible = e.reads.lists.has('virtualServices') || [...e.reads.virtualServicesIn].some((n) => visibleVirtualServices(s, n).has(k));
    if (!visible) return false;
    const gateways = stringList(spec.gateways);
    // Bound to gateways only: shapes the gateway workloads those Gateways select, never a sidecar.
    if (gateways.length > 0 && !gateways.includes('mesh')) return this.selectedByNamed(gateways, v.metadata?.namespace ?? '', e);
    if (stringList(spec.hosts).length === 0) return this.delegatedFrom(v, e);
    // Its hosts do not narrow it down: a host a workload does not see as a service still reaches that workload's
    // port-80 routes (hosts outside the registry), so every visible mesh VirtualService counts.
    return true;
  }

  /** Selected, before or after, by one of the Gateways a VirtualService names (`ns/name`, or `name` in the
   * VirtualService's namespace; an empty selector selects every workload). */
  private selectedByNamed(gateways: readonly string[], vsNamespace: string, e: DependencyEntry): boolean {
    for (const ref of gateways) {
      const i = ref.indexOf('/');
      const key = i < 0 ? `Gateway/${vsNamespace}/${ref}` : `Gateway/${ref.slice(0, i)}/${ref.slice(i + 1)}`;
      for (const s of [this.prev, this.next]) {
        const g = configObjects(s).get(key);
        if (g && matches(e.labels, stringMap(record(g.spec).selector))) return true;
      }
    }
    return false;
  }

  /** A delegate (no hosts) matters to the workloads that used a VirtualService delegating to it. */
  private delegatedFrom(v: ConfigObject, e: DependencyEntry): boolean {
    const name = v.metadata?.name;
    const ns = v.metadata?.namespace;
    for (const key of e.inputs) {
      if (!key.startsWith('VirtualService/')) continue;
      for (const s of [this.prev, this.next]) {
        const root = configObjects(s).get(key);
        if (!root) continue;
        const rootNs = root.metadata?.namespace;
        for (const rule of list(record(root.spec).http)) {
          const d = record(record(rule).delegate);
          if (d.name === name && ((typeof d.namespace === 'string' && d.namespace) || rootNs) === ns) return true;
        }
      }
    }
    return false;
  }

  private ruleHost(spec: Obj, ns: string, s: Snapshot, e: DependencyEntry): boolean {
    if (typeof spec.host !== 'string' || spec.host === '') return false;
    const p = s.resolveHost(spec.host, ns).toLowerCase();
    for (const h of e.reads.ruleHosts) if (h === p || hostCovers(p, h) || hostCovers(h, p)) return true;
    return false;
  }

  private policy(spec: Obj, ns: string, e: DependencyEntry): boolean {
    if (ns !== e.namespace && ns !== this.root) return false;
    if (spec.targetRef !== undefined || (Array.isArray(spec.targetRefs) && spec.targetRefs.length > 0)) return true;
    return matches(e.labels, stringMap(record(spec.selector).matchLabels));
  }
}

/**
 * The workloads to translate again: entries the change affects, workloads new in `next` (or now distributed:
 * injected, or gateways) and entries whose workload is gone from `next` or no longer distributed.
 */
export function affectedWorkloads(
  change: Change,
  entries: ReadonlyMap<string, DependencyEntry>,
  prev: Snapshot,
  next: Snapshot,
  rootNamespace: string,
  distributed: (w: Workload) => boolean = (w) => w.injected,
): Set<string> {
  const out = new Set<string>();
  for (const w of next.workloads) if (distributed(w) && !entries.has(workloadKey(w))) out.add(workloadKey(w));
  for (const key of entries.keys()) {
    const i = key.indexOf('/');
    const w = next.workload(key.slice(0, i), key.slice(i + 1));
    if (!w || !distributed(w)) out.add(key);
  }
  if (isEmpty(change)) return out;
  const rule = new Rule(change, prev, next, rootNamespace);
  for (const [key, e] of entries) if (rule.affects(key, e)) out.add(key);
  return out;
}
