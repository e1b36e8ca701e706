// Which hosts take traffic now, by priority. Each priority's health is its share of available hosts (health
// status UNKNOWN, HEALTHY or DEGRADED, and not ejected by outlier detection) times the overprovisioning factor
// 1.4, capped at 100 %; priorities take load in order until it adds up to 100 %, so traffic spills to the next
// priority gradually as hosts fail (Istio's locality failover). When the priorities together are below 100 %,
// the load is spread in proportion, and a priority whose available share is below the panic threshold
// (healthy_panic_threshold; weft's translation puts Istio's minHealthPercent there) uses all its hosts, ejected
// and unhealthy ones included — which is how minHealthPercent turns ejection off. With nothing available at
// all: panic on the first priority, or no host when the threshold is 0.
import type { HostEntry } from './types.ts';

const OVERPROVISIONING = 1.4;

export interface PriorityLevel {
  priority: number;
  hosts: readonly HostEntry[];
  /** Cumulative share of the load (0–1] up to and including this level. */
  upTo: number;
  panic: boolean;
}

export function priorityLevels(all: readonly HostEntry[], isEjected: (key: string) => boolean, panicPercent: number): PriorityLevel[] {
  if (all.length === 0) return [];
  const byPriority = new Map<number, HostEntry[]>();
  for (const h of all) {
    const list = byPriority.get(h.priority);
    if (list) list.push(h); else byPriority.set(h.priority, [h]);
  }
  const levels = [...byPriority].sort((a, b) => a[0] - b[0]).map(([priority, hosts]) => {
    const available = hosts.filter((h) => h.health === 'healthy' && !isEjected(h.key));
    const share = (100 * available.length) / hosts.length;
    return { priority, hosts, available, share, health: Math.min(100, Math.round(OVERPROVISIONING * share)) };
  });
  const total = Math.min(100, levels.reduce((s, l) => s + l.health, 0));
  if (total === 0) {
    const first = levels[0]!;
    return panicPercent > 0 ? [{ priority: first.priority, hosts: first.hosts, upTo: 1, panic: true }] : [];
  }
  const out: PriorityLevel[] = [];
  let remaining = 100;
  let upTo = 0;
  for (const l of levels) {
    const load = total < 100 ? (l.health * 100) / total : Math.min(l.health, remaining);
    remaining -= load;
    if (load <= 0) continue;
    upTo += load / 100;
    const panic = total < 100 && panicPercent > 0 && l.share < panicPercent;
    out.push({ priority: l.priority, hosts: panic ? l.hosts : l.available, upTo, panic });
  }
  // Rounding must not leave a gap at the top of the range.
  out[out.length - 1]!.upTo = 1;
  return out;
}

export function choosePriority<L extends PriorityLevel>(levels: readonly L[], random: () => number): L {
  if (levels.length === 1) return levels[0]!;
  const x = random();
  for (const l of levels) if (x < l.upTo) return l;
  return levels[levels.length - 1]!;
}
