// DestinationRule outlierDetection → envoy.config.cluster.v3.OutlierDetection and the panic threshold, mapped
// as Istio maps them: success-rate ejection off, only the consecutive-error detectors the rule asks for.
import type { OutlierDetection } from '../api/destinationrule.ts';
import type { ClusterDraft } from './cluster-draft.ts';
import { u32 } from './envoy/values.ts';
import { durationOf, percent } from './policy-values.ts';
import type { EnvoyObject } from './types.ts';

export function applyOutlierDetection(d: ClusterDraft, od: OutlierDetection | undefined): void {
  if (!od) return;
  const out: EnvoyObject = { enforcingSuccessRate: u32(0) };
  if (od.consecutive5xxErrors !== undefined) {
    out.consecutive5xx = u32(od.consecutive5xxErrors);
    out.enforcingConsecutive5xx = u32(od.consecutive5xxErrors > 0 ? 100 : 0);
  }
  if (od.consecutiveGatewayErrors !== undefined) {
    out.consecutiveGatewayFailure = u32(od.consecutiveGatewayErrors);
    out.enforcingConsecutiveGatewayFailure = u32(od.consecutiveGatewayErrors > 0 ? 100 : 0);
  }
  // The deprecated consecutiveErrors counted gateway errors (502/503/504) only.
  if (od.consecutiveErrors !== undefined && od.consecutiveErrors > 0
    && od.consecutive5xxErrors === undefined && od.consecutiveGatewayErrors === undefined) {
    out.consecutiveGatewayFailure = u32(od.consecutiveErrors);
    out.enforcingConsecutiveGatewayFailure = u32(100);
    out.enforcingConsecutive5xx = u32(0);
  }
  const interval = durationOf(od.interval);
  if (interval) out.interval = interval;
  const base = durationOf(od.baseEjectionTime);
  if (base) out.baseEjectionTime = base;
  if (od.maxEjectionPercent !== undefined && od.maxEjectionPercent > 0) out.maxEjectionPercent = u32(od.maxEjectionPercent);
  if (od.splitExternalLocalOriginErrors) {
    out.splitExternalLocalOriginErrors = true;
    if (od.consecutiveLocalOriginFailures !== undefined && od.consecutiveLocalOriginFailures > 0) {
      out.consecutiveLocalOriginFailure = u32(od.consecutiveLocalOriginFailures);
      out.enforcingConsecutiveLocalOriginFailure = u32(100);
    }
    out.enforcingLocalOriginSuccessRate = u32(0);
  }
  d.cluster.outlierDetection = out;
  // Envoy's 50% panic threshold would send traffic to ejected endpoints in small Kubernetes services; the panic
  // threshold is minHealthPercent instead, 0 (never panic) unless the rule sets it.
  commonLbConfig(d).healthyPanicThreshold = percent(od.minHealthPercent ?? 0);
}

export function commonLbConfig(d: ClusterDraft): EnvoyObject {
  d.cluster.commonLbConfig ??= {};
  return d.cluster.commonLbConfig as EnvoyObject;
}
