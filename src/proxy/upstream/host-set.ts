// Which hosts take traffic now: the lowest priority that has a healthy host (health status UNKNOWN, HEALTHY or
// DEGRADED and not ejected by outlier detection). When the healthy share of that priority falls below the panic
// threshold (healthy_panic_threshold; weft's translation sets Istio's minHealthPercent there) the balancer uses
// every host of it, ejected and unhealthy ones included, which is how minHealthPercent turns ejection off.
// With no healthy host anywhere: panic over the first priority, or nothing when the threshold is 0.
import type { HostEntry } from './types.ts';

export interface EligibleSet {
  hosts: readonly HostEntry[];
  panic: boolean;
}

const NONE: EligibleSet = { hosts: [], panic: false };

export function eligibleHosts(all: readonly HostEntry[], isEjected: (key: string) => boolean, panicPercent: number): EligibleSet {
  if (all.length === 0) return NONE;
  const priorities = [...new Set(all.map((h) => h.priority))].sort((a, b) => a - b);
  for (const p of priorities) {
    const level = all.filter((h) => h.priority === p);
    const healthy = level.filter((h) => h.health === 'healthy' && !isEjected(h.key));
    if (healthy.length === 0) continue;
    if ((100 * healthy.length) / level.length < panicPercent) return { hosts: level, panic: true };
    return { hosts: healthy, panic: false };
  }
  if (panicPercent <= 0) return NONE;
  return { hosts: all.filter((h) => h.priority === priorities[0]), panic: true };
}
