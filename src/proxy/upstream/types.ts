// The upstream side's shared vocabulary: one host as the load balancers and outlier detection see it (mutable
// per-host counters live here so that a pick touches no maps), and the balancer seam.
import type { LbContext, UpstreamHost } from '../runtime.ts';

export interface HostEntry {
  readonly host: UpstreamHost;
  /** `host.address`: the identity of the host across config updates. */
  readonly key: string;
  /** load_balancing_weight (1 when unset); lower while the host warms up (slow start). */
  weight: number;
  priority: number;
  /** The endpoint's locality's load_balancing_weight, when it has one. */
  localityWeight?: number;
  /** From the endpoint's health_status: UNHEALTHY, DRAINING and TIMEOUT never take traffic outside panic. */
  health: 'healthy' | 'unhealthy';
  /** Requests in flight to this host (least request, peak EWMA). */
  active: number;
  /** Smooth weighted round robin's running weight. */
  rrCurrent: number;
  /** Peak EWMA of response latency in ms, and when it was last updated (ms, the runtime's clock). */
  ewmaMs: number;
  ewmaAt: number;
}

export function newHostEntry(host: UpstreamHost, weight = 1, priority = 0, health: HostEntry['health'] = 'healthy'): HostEntry {
  return { host, key: host.address, weight, priority, health, active: 0, rrCurrent: 0, ewmaMs: 0, ewmaAt: 0 };
}

export type LbKind = 'ROUND_ROBIN' | 'RANDOM' | 'LEAST_REQUEST' | 'RING_HASH' | 'MAGLEV' | 'PEAK_EWMA';

export interface LbOptions {
  kind: LbKind;
  /** LEAST_REQUEST / PEAK_EWMA: how many random hosts compete (power of two choices by default). */
  choiceCount?: number;
  minimumRingSize?: number;
  maximumRingSize?: number;
  /** MAGLEV table size, a prime (65537 by default). */
  tableSize?: number;
  /** PEAK_EWMA: the decay time constant in ms (10 s by default). */
  decayMs?: number;
}

export interface Balancer {
  /** `hosts` is the eligible set, never empty; it is the same array object until the set changes, so balancers
   * that build tables (ring hash, Maglev) rebuild only then. */
  pick(hosts: readonly HostEntry[], ctx: LbContext, random: () => number): HostEntry;
  /** Host weights changed without the host set changing (slow start): drop what was derived from them. */
  weightsChanged?(): void;
  /** A response came back: latency-aware balancers learn from it. */
  observe?(host: HostEntry, latencyMs: number, now: number): void;
}
