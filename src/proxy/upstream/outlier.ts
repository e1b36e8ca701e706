// Outlier detection as a pure state machine over host keys: outcomes in (with the time), ejections out.
// Consecutive 5xx and consecutive gateway failures (502/503/504, and connect failures, resets and timeouts, which
// count as both) eject a host when they reach their threshold and the enforcing percentage lets them; an ejected
// host returns after base_ejection_time × its number of ejections (capped by max_ejection_time); a host that
// stays clean for an interval has its multiplier lowered again. max_ejection_percent caps how many hosts are out,
// but one host can always be ejected.
import type { UpstreamOutcome } from '../runtime.ts';
import { durationMs, obj, u32 } from '../routing/envoy-values.ts';

export interface OutlierConfig {
  consecutive5xx: number;
  enforcing5xx: number;
  consecutiveGateway: number;
  enforcingGateway: number;
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionPercent: number;
  /** split_external_local_origin_errors: connect failures, resets and timeouts count on their own (consecutive
   * local origin failures) instead of as 5xx and gateway failures. */
  splitLocalOrigin: boolean;
  consecutiveLocalOrigin: number;
  enforcingLocalOrigin: number;
}

/** envoy.config.cluster.v3.OutlierDetection with Envoy's defaults; undefined when the cluster has none. */
export function outlierConfig(od: unknown): OutlierConfig | undefined {
  if (od === undefined || od === null) return undefined;
  const o = obj(od);
  const base = durationMs(o.baseEjectionTime) ?? 30_000;
  return {
    consecutive5xx: u32(o.consecutive5xx) ?? 5,
    enforcing5xx: u32(o.enforcingConsecutive5xx) ?? 100,
    consecutiveGateway: u32(o.consecutiveGatewayFailure) ?? 5,
    enforcingGateway: u32(o.enforcingConsecutiveGatewayFailure) ?? 0,
    intervalMs: durationMs(o.interval) ?? 10_000,
    baseEjectionMs: base,
    maxEjectionMs: Math.max(base, durationMs(o.maxEjectionTime) ?? 300_000),
    maxEjectionPercent: u32(o.maxEjectionPercent) ?? 10,
    splitLocalOrigin: o.splitExternalLocalOriginErrors === true,
    consecutiveLocalOrigin: u32(o.consecutiveLocalOriginFailure) ?? 5,
    enforcingLocalOrigin: u32(o.enforcingConsecutiveLocalOriginFailure) ?? 100,
  };
}

interface HostState {
  localOrigin: number;
  fiveXx: number;
  gateway: number;
  ejections: number;
  /** When the host returns; 0 while it is not ejected. */
  ejectedUntil: number;
  /** Whether the host failed since the last sweep (a clean interval lowers the multiplier). */
  failed: boolean;
}

export interface OutlierDetector {
  /** Records an outcome; true when it ejected the host. */
  record(key: string, outcome: UpstreamOutcome, now: number, random: () => number): boolean;
  isEjected(key: string): boolean;
  /** Returns hosts whose ejection time is over; true when any came back. Cheap when nothing is due. */
  sweep(now: number): boolean;
  /** Hosts the cluster has now (others are forgotten, kept ones keep their state). */
  setHosts(keys: Iterable<string>): void;
  ejectedCount(): number;
}

export function createOutlierDetector(config: OutlierConfig): OutlierDetector {
  const hosts = new Map<string, HostState>();
  let ejected = 0;
  let nextDue = Infinity;
  let lastInterval = -Infinity;

  const state = (key: string): HostState => {
    let s = hosts.get(key);
    if (!s) {
      s = { localOrigin: 0, fiveXx: 0, gateway: 0, ejections: 0, ejectedUntil: 0, failed: false };
      hosts.set(key, s);
    }
    return s;
  };

  const mayEject = (): boolean => ejected === 0 || (100 * (ejected + 1)) / Math.max(1, hosts.size) <= config.maxEjectionPercent;

  const eject = (s: HostState, now: number): void => {
    s.ejections++;
    s.ejectedUntil = now + Math.min(config.baseEjectionMs * s.ejections, config.maxEjectionMs);
    s.fiveXx = 0;
    s.gateway = 0;
    s.localOrigin = 0;
    ejected++;
    if (s.ejectedUntil < nextDue) nextDue = s.ejectedUntil;
  };

  return {
    record(key, outcome, now, random) {
      const s = state(key);
      if (config.splitLocalOrigin && outcome.kind !== 'response') {
        s.failed = true;
        s.localOrigin++;
        if (s.ejectedUntil !== 0 || config.consecutiveLocalOrigin <= 0 || s.localOrigin < config.consecutiveLocalOrigin) return false;
        if (!(random() * 100 < config.enforcingLocalOrigin) || !mayEject()) return false;
        eject(s, now);
        return true;
      }
      if (config.splitLocalOrigin) s.localOrigin = 0;
      const isGateway = outcome.kind !== 'response' || outcome.status === 502 || outcome.status === 503 || outcome.status === 504;
      const is5xx = outcome.kind !== 'response' || outcome.status >= 500;
      if (!is5xx) {
        s.fiveXx = 0;
        s.gateway = 0;
        return false;
      }
      s.failed = true;
      s.fiveXx++;
      if (isGateway) s.gateway++; else s.gateway = 0;
      if (s.ejectedUntil !== 0) return false;
      const by5xx = config.consecutive5xx > 0 && s.fiveXx >= config.consecutive5xx && random() * 100 < config.enforcing5xx;
      const byGateway = !by5xx && config.consecutiveGateway > 0 && s.gateway >= config.consecutiveGateway
        && random() * 100 < config.enforcingGateway;
      if (!(by5xx || byGateway) || !mayEject()) return false;
      eject(s, now);
      return true;
    },
    isEjected: (key) => (hosts.get(key)?.ejectedUntil ?? 0) !== 0,
    sweep(now) {
      const intervalDue = now - lastInterval >= config.intervalMs;
      if (now < nextDue && !intervalDue) return false;
      let changed = false;
      nextDue = Infinity;
      if (intervalDue) lastInterval = now;
      for (const s of hosts.values()) {
        if (s.ejectedUntil !== 0 && s.ejectedUntil <= now) {
          s.ejectedUntil = 0;
          s.failed = false;
          ejected--;
          changed = true;
        } else if (s.ejectedUntil !== 0) {
          nextDue = Math.min(nextDue, s.ejectedUntil);
        } else if (intervalDue) {
          if (!s.failed && s.ejections > 0) s.ejections--;
          s.failed = false;
        }
      }
      return changed;
    },
    setHosts(keys) {
      const keep = new Set(keys);
      for (const [k, s] of hosts) {
        if (keep.has(k)) continue;
        if (s.ejectedUntil !== 0) ejected--;
        hosts.delete(k);
      }
      for (const k of keep) state(k);
    },
    ejectedCount: () => ejected,
  };
}
