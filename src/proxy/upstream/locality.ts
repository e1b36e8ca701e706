// Locality-weighted balancing (common_lb_config.locality_weighted_lb_config): the request first goes to a
// locality, drawn by its load_balancing_weight scaled by the share of its hosts that are eligible, then the
// cluster's balancer picks within it. Each locality keeps its own balancer (and so its round-robin position).
import type { Balancer, HostEntry } from './types.ts';

export interface LocalityGroup {
  locality: string;
  hosts: readonly HostEntry[];
  /** Cumulative effective weight up to and including this group. */
  upTo: number;
  balancer: Balancer;
}

/** Groups of the eligible hosts by locality, or undefined when fewer than two localities carry weight. */
export function localityGroups(eligible: readonly HostEntry[], all: readonly HostEntry[],
  balancerFor: (locality: string) => Balancer): LocalityGroup[] | undefined {
  const byLocality = new Map<string, HostEntry[]>();
  for (const h of eligible) {
    if (h.localityWeight === undefined) return undefined;
    const l = h.host.locality ?? '';
    const list = byLocality.get(l);
    if (list) list.push(h); else byLocality.set(l, [h]);
  }
  if (byLocality.size < 2) return undefined;
  const totals = new Map<string, number>();
  for (const h of all) {
    const l = h.host.locality ?? '';
    totals.set(l, (totals.get(l) ?? 0) + 1);
  }
  let upTo = 0;
  const groups: LocalityGroup[] = [];
  for (const [locality, hosts] of [...byLocality].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const weight = hosts[0]!.localityWeight! * (hosts.length / (totals.get(locality) ?? hosts.length));
    if (weight <= 0) continue;
    upTo += weight;
    groups.push({ locality, hosts, upTo, balancer: balancerFor(locality) });
  }
  return groups.length ? groups : undefined;
}

export function chooseLocality(groups: readonly LocalityGroup[], random: () => number): LocalityGroup {
  const x = random() * groups[groups.length - 1]!.upTo;
  for (const g of groups) if (x < g.upTo) return g;
  return groups[groups.length - 1]!;
}
