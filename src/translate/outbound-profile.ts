// A workload's outbound profile: a string that is equal for two workloads of one snapshot whenever their outbound
// config (outbound listeners, routes, outbound clusters, endpoints) is equal, so translation can build it once
// and share it (outbound.ts). Workload and snapshot in, the key out.
//
// The outbound builders read the workload only through what is listed here; a builder that starts reading
// something else of the workload must add it, or workloads that differ in it would share config:
//   - its namespace: visibility (services, VirtualServices, DestinationRules, exportTo), short host names,
//     `sourceNamespace` matches;
//   - its labels, through VirtualService `sourceLabels` (http, tls and tcp matches, delegates included) and
//     DestinationRule `workloadSelector`s of its namespace: kept as which of them select it, not the labels;
//   - its pods' IP families (DNS clusters resolve V4_ONLY or V6_ONLY);
//   - its pods' IPs that are endpoints of headless services (no listener of its own address);
//   - where it runs (ClientView), when some DestinationRule could use it: its locality for failover and
//     distribute, and the labels failoverPriority names.
import type { DestinationRule } from '../api/index.ts';
import { compare, record, selectorMatches, stringMap } from '../model/kube.ts';
import type { Labels, Snapshot, Workload } from '../model/types.ts';
import type { ClientView } from './locality.ts';
import { labelsSubset } from './route-match.ts';

type Selector = Readonly<Record<string, string | undefined>>;

/** What of a snapshot the profiles look at, worked out once per snapshot. */
interface Facts {
  /** Every distinct `sourceLabels` of any VirtualService match. */
  sourceLabels: readonly Selector[];
  /** workloadSelector labels of the DestinationRules that have one, by namespace. */
  ruleSelectors: ReadonlyMap<string, readonly Labels[]>;
  /** Addresses of the endpoints of headless services. */
  headlessIps: ReadonlySet<string>;
  /** Whether any DestinationRule has outlier detection or a locality setting (else the client's place is unused). */
  localityUsed: boolean;
  /** Labels that some failoverPriority compares with the client's. */
  priorityLabels: readonly string[];
}

const FACTS = new WeakMap<Snapshot, Facts>();

function factsOf(snapshot: Snapshot): Facts {
  let f = FACTS.get(snapshot);
  if (!f) FACTS.set(snapshot, (f = collectFacts(snapshot)));
  return f;
}

function collectFacts(snapshot: Snapshot): Facts {
  const sourceLabels = new Map<string, Selector>();
  for (const vs of snapshot.config.virtualServices) {
    const spec = vs.spec;
    const matches = [
      ...(spec?.http ?? []).flatMap((r) => r.match ?? []),
      ...(spec?.tls ?? []).flatMap((r) => r.match ?? []),
      ...(spec?.tcp ?? []).flatMap((r) => r.match ?? []),
    ];
    for (const m of matches) {
      if (!m.sourceLabels) continue;
      const key = JSON.stringify(Object.entries(m.sourceLabels).sort(([a], [b]) => compare(a, b)));
      if (!sourceLabels.has(key)) sourceLabels.set(key, m.sourceLabels);
    }
  }

  const ruleSelectors = new Map<string, Labels[]>();
  let localityUsed = false;
  const priorityLabels = new Set<string>();
  for (const rule of snapshot.config.destinationRules) {
    const ws = (rule.spec as Record<string, unknown> | undefined)?.workloadSelector;
    // As the snapshot's rule index reads it (src/model/destination-rules.ts).
    if (ws !== undefined && ws !== null) {
      const ns = rule.metadata?.namespace ?? '';
      ruleSelectors.set(ns, [...(ruleSelectors.get(ns) ?? []), stringMap(record(ws).matchLabels)]);
    }
    const use = localityUse(rule);
    localityUsed ||= use.used;
    for (const l of use.labels) priorityLabels.add(l);
  }

  const headlessIps = new Set<string>();
  for (const s of snapshot.services) {
    if (s.addresses.length > 0 || s.resolution !== 'NONE') continue;
    for (const p of s.ports) for (const e of snapshot.endpoints(s, p)) headlessIps.add(e.address);
  }
  return { sourceLabels: [...sourceLabels.values()], ruleSelectors, headlessIps, localityUsed, priorityLabels: [...priorityLabels].sort() };
}

/** Outlier detection or a locality setting anywhere in the rule (top level, port level, subsets). */
function localityUse(rule: DestinationRule): { used: boolean; labels: string[] } {
  const out = { used: false, labels: [] as string[] };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'outlierDetection' || k === 'localityLbSetting') out.used = true;
      if (k === 'failoverPriority' && Array.isArray(x)) {
        for (const p of x) if (typeof p === 'string') out.labels.push(p.includes('=') ? p.slice(0, p.indexOf('=')) : p);
      }
      walk(x);
    }
  };
  walk(rule.spec);
  return out;
}

const bit = (b: boolean) => (b ? '1' : '0');

/** The key under which `workload`'s outbound config may be shared (see the top of this file). */
export function outboundProfile(workload: Workload, snapshot: Snapshot, client: ClientView): string {
  const f = factsOf(snapshot);
  const ips = workload.pods.map((p) => p.ip).filter((ip): ip is string => !!ip);
  const v6 = ips.some((ip) => ip.includes(':'));
  const v4 = ips.some((ip) => !ip.includes(':'));
  const parts: unknown[] = [
    workload.namespace,
    f.sourceLabels.map((s) => bit(labelsSubset(s, workload.labels))).join(''),
    (f.ruleSelectors.get(workload.namespace) ?? []).map((s) => bit(selectorMatches(s, workload.labels))).join(''),
    `${bit(v4)}${bit(v6)}`,
    ips.filter((ip) => f.headlessIps.has(ip)).sort(),
  ];
  if (f.localityUsed) {
    const l = client.locality;
    parts.push([l.region, l.zone, l.subzone], f.priorityLabels.map((k) => client.labels[k] ?? null));
  }
  return JSON.stringify(parts);
}
