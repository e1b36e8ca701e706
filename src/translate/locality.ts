// Locality-aware load balancing over a cluster's endpoint groups: Istio's localityLbSetting (distribute weights,
// region failover, failoverPriority labels) and its default proximity failover when outlier detection is on.
// Endpoint groups and the client's locality/labels in, groups with weights and priorities out.
import type { LoadBalancer } from '../api/destinationrule.ts';
import { NETWORK_LABEL, REGION_LABEL } from '../model/endpoints.ts';
import type { Endpoint, Labels } from '../model/types.ts';
import type { TranslateContext } from './index.ts';
import type { EnvoyObject } from './types.ts';

export type LocalityLbSetting = NonNullable<LoadBalancer['localityLbSetting']>;

export interface Locality { region: string; zone: string; subzone: string }

/** Topology labels Istio adds to workload and endpoint labels, which failoverPriority may name (with NETWORK_LABEL and REGION_LABEL of model/endpoints.ts). */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const SUBZONE_LABEL = 'topology.istio.io/subzone';

export function parseLocality(value: string | undefined): Locality {
  const [region = '', zone = '', subzone = ''] = (value ?? '').split('/');
  return { region, zone, subzone };
}

/** The Envoy Locality of a `region/zone/subzone` string; undefined for no locality. */
export function envoyLocality(value: string | undefined): EnvoyObject | undefined {
  const l = parseLocality(value);
  if (!l.region && !l.zone && !l.subzone) return undefined;
  const out: EnvoyObject = {};
  if (l.region) out.region = l.region;
  if (l.zone) out.zone = l.zone;
  if (l.subzone) out.subZone = l.subzone;
  return out;
}

/** Labels with the topology labels of a locality and network added (explicit labels win). */
export function withTopologyLabels(labels: Labels, locality: string | undefined, network: string | undefined): Labels {
  const l = parseLocality(locality);
  const extra: Record<string, string> = {};
  if (l.region) extra[REGION_LABEL] = l.region;
  if (l.zone) extra[ZONE_LABEL] = l.zone;
  if (l.subzone) extra[SUBZONE_LABEL] = l.subzone;
  if (network) extra[NETWORK_LABEL] = network;
  return { ...extra, ...labels };
}

/** The client side: where the workload runs and its labels. */
export interface ClientView { locality: Locality; labels: Labels }

/**
 * The workload's locality is not on the Workload itself; its own pods show up as endpoints of the services that
 * select it, carrying the locality (and network) of their nodes.
 */
export function clientView(ctx: TranslateContext): ClientView {
  const { workload, snapshot } = ctx;
  const ips = new Set(workload.pods.map((p) => p.ip).filter((ip): ip is string => !!ip));
  let own: Endpoint | undefined;
  for (const svc of snapshot.servicesOf(workload)) {
    for (const port of svc.ports) {
      own = snapshot.endpoints(svc, port).find((e) => (e.workload
        && e.workload.kind === workload.kind && e.workload.name === workload.name && e.workload.namespace === workload.namespace)
        || ips.has(e.address));
      if (own) break;
    }
    if (own) break;
  }
  return { locality: parseLocality(own?.locality), labels: withTopologyLabels(workload.labels, own?.locality, own?.network) };
}

/** A rule locality (`region/zone/subzone`, `*` matching anything from there on) against a locality. */
export function localityMatch(l: Locality, rule: string): boolean {
  const r = parseLocality(rule);
  if (r.region === '*') return true;
  if (r.region !== l.region) return false;
  if (r.zone === '*' || r.zone === '') return true;
  if (r.zone !== l.zone) return false;
  return r.subzone === '*' || r.subzone === '' || r.subzone === l.subzone;
}

/** 0 same subzone, 1 same zone, 2 same region, 3 elsewhere. */
export function proximity(client: Locality, ep: Locality): number {
  if (client.region !== ep.region) return 3;
  if (client.zone !== ep.zone) return 2;
  return client.subzone === ep.subzone ? 0 : 1;
}

/** The locality setting for a cluster: the rule's, unless it turns locality LB off; else the mesh default (on,
 * with no explicit distribution or failover). */
export function localitySettingFor(lb: LoadBalancer | undefined): LocalityLbSetting | undefined {
  const own = lb?.localityLbSetting;
  if (own) return own.enabled === false ? undefined : own;
  return { enabled: true };
}

/** Whether the cluster needs Envoy's locality-weighted LB: explicit weights, or failover that can happen. */
export function needsLocalityWeights(setting: LocalityLbSetting | undefined, outlierDetection: boolean): boolean {
  if (!setting) return false;
  if (setting.distribute?.length) return true;
  return outlierDetection && (!!setting.failover?.length || !!setting.failoverPriority?.length);
}

/** One endpoint as it will be sent, with the labels failoverPriority compares. */
export interface EndpointEntry { lbEndpoint: EnvoyObject; labels: Labels; weight: number }

export interface LocalityGroup { locality: string; entries: EndpointEntry[]; weight: number; priority: number }

/**
 * Applies the locality setting to the groups. Distribute rescales the groups' weights (and drops localities it
 * does not list); failover — which needs outlier detection, or Envoy would never leave priority 0 — assigns
 * priorities by failoverPriority labels and/or proximity to the client.
 */
export function applyLocalitySetting(
  groups: LocalityGroup[], client: ClientView, setting: LocalityLbSetting | undefined, outlierDetection: boolean,
): LocalityGroup[] {
  if (!setting) return groups;
  if (setting.distribute?.length) return distribute(groups, client.locality, setting.distribute);
  if (!outlierDetection) return groups;
  let out = groups;
  if (setting.failoverPriority?.length) {
    out = byFailoverPriority(out, client.labels, setting.failoverPriority);
    if (setting.failover?.length) out = byProximity(out, client.locality, setting.failover);
  } else {
    out = byProximity(out, client.locality, setting.failover ?? []);
  }
  return out;
}

function distribute(groups: LocalityGroup[], client: Locality, rules: NonNullable<LocalityLbSetting['distribute']>): LocalityGroup[] {
  const rule = rules.find((r) => localityMatch(client, r.from ?? ''));
  if (!rule) return groups;
  const unmatched = new Set(groups.map((_, i) => i));
  const weights = new Map<number, number>();
  for (const [to, weight = 0] of Object.entries(rule.to ?? {})) {
    const matched = [...unmatched].filter((i) => localityMatch(parseLocality(groups[i]!.locality), to));
    const total = matched.reduce((s, i) => s + groups[i]!.weight, 0);
    for (const i of matched) {
      unmatched.delete(i);
      // A wildcard destination shares its weight among the localities it matches, by their own weights.
      const w = Math.ceil((groups[i]!.weight * weight) / total);
      weights.set(i, w > 0 ? w : groups[i]!.weight);
    }
  }
  return groups.flatMap((g, i) => (unmatched.has(i) ? [] : [{ ...g, weight: weights.get(i) ?? g.weight }]));
}

function byProximity(groups: LocalityGroup[], client: Locality, failover: NonNullable<LocalityLbSetting['failover']>): LocalityGroup[] {
  const raw = groups.map((g) => {
    const ep = parseLocality(g.locality);
    let p = proximity(client, ep);
    if (p === 3) {
      // An explicit failover target for the client's region keeps priority 3; other regions drop below it.
      const rule = failover.find((f) => f.from === client.region);
      if (rule && ep.region !== rule.to) p = 4;
    }
    return g.priority * 5 + p;
  });
  return renumber(groups.map((g, i) => ({ ...g, priority: raw[i]! })));
}

function byFailoverPriority(groups: LocalityGroup[], clientLabels: Labels, priorities: readonly string[]): LocalityGroup[] {
  const keys = priorities.map((p) => {
    const eq = p.indexOf('=');
    return eq < 0 ? { label: p, value: clientLabels[p] } : { label: p.slice(0, eq), value: p.slice(eq + 1) };
  });
  const lowest = keys.length;
  const out: LocalityGroup[] = [];
  for (const g of groups) {
    const split = new Map<number, EndpointEntry[]>();
    for (const e of g.entries) {
      const miss = keys.findIndex((k) => k.value !== e.labels[k.label]);
      const p = miss < 0 ? 0 : lowest - miss;
      split.set(p, [...(split.get(p) ?? []), e]);
    }
    for (const p of [...split.keys()].sort((a, b) => a - b)) {
      const entries = split.get(p)!;
      out.push({ locality: g.locality, entries, weight: entries.reduce((s, e) => s + e.weight, 0), priority: p });
    }
  }
  return renumber(out);
}

/** Envoy wants priorities 0..N without gaps. */
function renumber(groups: LocalityGroup[]): LocalityGroup[] {
  const used = [...new Set(groups.map((g) => g.priority))].sort((a, b) => a - b);
  return groups.map((g) => ({ ...g, priority: used.indexOf(g.priority) }));
}
