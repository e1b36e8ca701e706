// Slow start (Istio's warmup; round robin and least request clusters' slow_start_config): a host added to a
// running cluster starts with a fraction of its weight, max(min_weight_percent, (time in cluster / window) ^
// (1 / aggression)), growing to its full weight over the window. Hosts present when the cluster is created start
// at full weight. Only warming hosts are touched on each pick.
import { durationMs, num, obj, percent } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import type { HostEntry } from './types.ts';

export interface SlowStart {
  windowMs: number;
  aggression: number;
  minWeightPercent: number;
}

export function slowStartOf(cluster: Obj): SlowStart | undefined {
  const cfg = obj(obj(cluster.roundRobinLbConfig ?? cluster.leastRequestLbConfig).slowStartConfig);
  const windowMs = durationMs(cfg.slowStartWindow);
  if (!windowMs) return undefined;
  const aggression = num(obj(cfg.aggression).defaultValue) ?? 1;
  return { windowMs, aggression: aggression > 0 ? aggression : 1, minWeightPercent: percent(cfg.minWeightPercent, 10) };
}

export interface Warming {
  entry: HostEntry;
  since: number;
  fullWeight: number;
}

/** Updates the weights of warming hosts for time `now`; removes those whose window is over. True when any
 * weight changed. */
export function warmUp(warming: Warming[], s: SlowStart, now: number): boolean {
  let changed = false;
  for (let i = warming.length - 1; i >= 0; i--) {
    const w = warming[i]!;
    const elapsed = now - w.since;
    let weight = w.fullWeight;
    if (elapsed < s.windowMs) {
      const factor = Math.max(s.minWeightPercent / 100, (Math.max(0, elapsed) / s.windowMs) ** (1 / s.aggression));
      weight = w.fullWeight * factor;
    } else {
      warming.splice(i, 1);
    }
    if (w.entry.weight !== weight) {
      w.entry.weight = weight;
      changed = true;
    }
  }
  return changed;
}
