// DestinationRule outlierDetection → envoy.config.cluster.v3.OutlierDetection and the panic threshold, mapped
// as Istio maps them: success-rate ejection off, only the consecutive-error detectors the rule asks for.
import type { OutlierDetection } from '../api/destinationrule.ts';
import type { ClusterDraft } from './cluster-draft.ts';
import { durationOf, percent, wrap } from './policy-values.ts';
import type { EnvoyObject } from './types.ts';

export function applyOutlierDetection(d: ClusterDraft, od: OutlierDetection | undefined): void {
  if (!od) return;
  const out: EnvoyObject = { enforcingSuccessRate: wrap(0) };
  if (od.consecutive5xxErrors !== undefined) {
    out.consecutive5xx = wrap(od.consecutive5xxErrors);
    out.enforcingConsecutive5xx = wrap(od.consecutive5xxErrors > 0 ? 100 : 0);
  }
  if (od.consecutiveGatewayErrors !== undefined) {
    out.consecutiveGatewayFailure = wrap(od.consecutiveGatewayErrors);
    out.enforcingConsecutiveGatewayFailure = wrap(od.consecutiveGatewayErrors > 0 ? 100 : 0);
  }
  // The deprecated consecutiveErrors counted gateway errors (502/503/504) only.
  if (od.consecutiveErrors !== undefined && od.consecutiveErrors > 0
    && od.consecutive5xxErrors === undefined && od.consecutiveGatewayErrors === undefined) {
    out.consecutiveGatewayFailure = wrap(od.consecutiveErrors);
    out.enforcingConsecutiveGatewayFailure = wrap(100);
    out.enforcingConsecutive5xx = wrap(0);
  }
  const interval = durationOf(od.interval);
  if (interval) out.interval = interval;
  const base = durationOf(od.baseEjectionTime);
  if (base) out.baseEjectionTime = base;
  if (od.maxEjectionPercent !== undefined && od.maxEjectionPercent > 0) out.maxEjectionPercent = wrap(od.maxEjectionPercent);
  if (od.splitExternalLocalOriginErrors) {
    out.splitExternalLocalOriginErrors = true;
    if (od.consecutiveLocalOriginFailures !== undefined && od.consecutiveLocalOriginFailures > 0) {
      out.consecutiveLocalOriginFailure = wrap(od.consecutiveLocalOriginFailures);
      out.enforcingConsecutiveLocalOriginFailure = wrap(100);
    }
    out.enforcingLocalOriginSuccessRate = wrap(0);
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
