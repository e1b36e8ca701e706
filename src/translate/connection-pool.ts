// DestinationRule connectionPool (and retryBudget) → a cluster's connect timeout, circuit breaker thresholds,
// TCP keepalive and upstream HTTP protocol options, with Istio's defaults for everything left unset.
import type { ConnectionPool } from '../api/destinationrule.ts';
import type { Protocol } from '../model/types.ts';
import { type ClusterDraft, httpOptions } from './cluster-draft.ts';
import { u32 } from './envoy/values.ts';
import { duration, durationOf, MAX_UINT32, percent, wholeSeconds } from './policy-values.ts';
import type { EffectivePolicy } from './traffic-policy.ts';
import type { EnvoyObject } from './types.ts';

/** Istio's mesh-wide default connect timeout. */
export const DEFAULT_CONNECT_TIMEOUT = duration('10s');

/** Thresholds Istio starts from: no practical limit, so only what a rule sets constrains traffic (Envoy's own
 * defaults, e.g. 3 concurrent retries, are too low while endpoints churn). */
export function defaultThresholds(): EnvoyObject {
  return {
    maxConnections: u32(MAX_UINT32),
    maxPendingRequests: u32(MAX_UINT32),
    maxRequests: u32(MAX_UINT32),
    maxRetries: u32(MAX_UINT32),
    trackRemaining: true,
  };
}

const positive = (n: number | undefined): n is number => typeof n === 'number' && n > 0;

/** Applies connectionPool settings (defaults when absent) and the retry budget to the draft. */
export function applyConnectionPool(d: ClusterDraft, pool: ConnectionPool | undefined, retryBudget?: EffectivePolicy['retryBudget']): void {
  const thresholds = defaultThresholds();
  const http = pool?.http;
  const tcp = pool?.tcp;
  // Zero cannot be told apart from unset in Istio's API: only positive values override the defaults.
  if (positive(http?.http2MaxRequests)) thresholds.maxRequests = u32(http.http2MaxRequests);
  if (positive(http?.http1MaxPendingRequests)) thresholds.maxPendingRequests = u32(http.http1MaxPendingRequests);
  if (positive(http?.maxRetries)) thresholds.maxRetries = u32(http.maxRetries);
  if (positive(tcp?.maxConnections)) thresholds.maxConnections = u32(tcp.maxConnections);
  if (retryBudget) {
    thresholds.retryBudget = {
      budgetPercent: percent(retryBudget.percent ?? 20),
      minRetryConcurrency: u32(positive(retryBudget.minRetryConcurrency) ? retryBudget.minRetryConcurrency : 3),
    };
  }
  d.cluster.connectTimeout = durationOf(tcp?.connectTimeout) ?? DEFAULT_CONNECT_TIMEOUT;
  d.cluster.circuitBreakers = { thresholds: [thresholds] };

  const keepalive = tcp?.tcpKeepalive;
  if (keepalive) {
    // An empty tcpKeepalive turns SO_KEEPALIVE on with the OS's timings; set fields override them (whole seconds).
    const k: EnvoyObject = {};
    if (positive(keepalive.probes)) k.keepaliveProbes = u32(keepalive.probes);
    const time = wholeSeconds(keepalive.time);
    if (time !== undefined) k.keepaliveTime = u32(time);
    const interval = wholeSeconds(keepalive.interval);
    if (interval !== undefined) k.keepaliveInterval = u32(interval);
    d.cluster.upstreamConnectionOptions = { tcpKeepalive: k };
  }

  // The HTTP idle timeout wins over the TCP one; both end up in the common HTTP protocol options.
  const idleTimeout = durationOf(http?.idleTimeout) ?? durationOf(tcp?.idleTimeout);
  const maxConnectionDuration = durationOf(tcp?.maxConnectionDuration);
  const common: EnvoyObject = {};
  if (idleTimeout) common.idleTimeout = idleTimeout;
  if (maxConnectionDuration) common.maxConnectionDuration = maxConnectionDuration;
  if (positive(http?.maxRequestsPerConnection)) common.maxRequestsPerConnection = u32(http.maxRequestsPerConnection);
  if (Object.keys(common).length || positive(http?.maxConcurrentStreams)) {
    const h = httpOptions(d);
    h.common = { ...h.common, ...common };
    if (positive(http?.maxConcurrentStreams)) h.http2 = { maxConcurrentStreams: u32(http.maxConcurrentStreams) };
  }
  if (http?.useClientProtocol) httpOptions(d).protocol = 'downstream';
}

/**
 * h2UpgradePolicy: UPGRADE makes the cluster of a port declared HTTP speak HTTP/2 (as Istio, only named HTTP
 * ports: on a sniffed port the peer's inbound follows the downstream protocol into an app that may not speak
 * it); DO_NOT_UPGRADE and DEFAULT leave it, as weft's mesh default does not upgrade. Outbound clusters only.
 */
export function applyH2Upgrade(d: ClusterDraft, pool: ConnectionPool | undefined, protocol: Protocol): void {
  if (pool?.http?.h2UpgradePolicy === 'UPGRADE' && protocol === 'HTTP') httpOptions(d).protocol = 'http2';
}
