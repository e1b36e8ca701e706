// A cluster's load-balancing settings: the Envoy lb_policy with its config (least request choice count, ring
// sizes, Maglev table size), the panic threshold, and weft's latency-aware extension, chosen with cluster
// metadata `filter_metadata.weft.lb: "PEAK_EWMA"` (optional `ewmaDecayMs`, `choiceCount`); it is a weft
// extension because Envoy has no such lb_policy.
import { obj, percent, structToJs, u32 } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import { lbPolicyOf } from '../routing/upstream.ts';
import type { LbOptions } from './types.ts';

const WEFT_METADATA = 'weft';

export function lbOptions(cluster: Obj): LbOptions {
  const weft = obj(structToJs(obj(obj(cluster.metadata).filterMetadata)[WEFT_METADATA]));
  if (weft.lb === 'PEAK_EWMA') {
    const o: LbOptions = { kind: 'PEAK_EWMA' };
    if (typeof weft.ewmaDecayMs === 'number') o.decayMs = weft.ewmaDecayMs;
    if (typeof weft.choiceCount === 'number') o.choiceCount = weft.choiceCount;
    return o;
  }
  switch (lbPolicyOf(cluster)) {
    case 'LEAST_REQUEST': {
      const n = u32(obj(cluster.leastRequestLbConfig).choiceCount);
      return n ? { kind: 'LEAST_REQUEST', choiceCount: n } : { kind: 'LEAST_REQUEST' };
    }
    case 'RANDOM': return { kind: 'RANDOM' };
    case 'RING_HASH': {
      const c = obj(cluster.ringHashLbConfig);
      const o: LbOptions = { kind: 'RING_HASH' };
      const min = u32(c.minimumRingSize);
      const max = u32(c.maximumRingSize);
      if (min) o.minimumRingSize = min;
      if (max) o.maximumRingSize = max;
      return o;
    }
    case 'MAGLEV': {
      const size = u32(obj(cluster.maglevLbConfig).tableSize);
      return size ? { kind: 'MAGLEV', tableSize: size } : { kind: 'MAGLEV' };
    }
    default: return { kind: 'ROUND_ROBIN' };
  }
}

/** healthy_panic_threshold in percent (Envoy's default 50). */
export function panicThreshold(cluster: Obj): number {
  return percent(obj(cluster.commonLbConfig).healthyPanicThreshold, 50);
}

/** Whether the cluster balances by locality weight first (hash-based balancers ignore it, as Envoy's do). */
export function localityWeighted(cluster: Obj, lb: LbOptions): boolean {
  return obj(cluster.commonLbConfig).localityWeightedLbConfig !== undefined && lb.kind !== 'RING_HASH' && lb.kind !== 'MAGLEV';
}
