// DestinationRule loadBalancer → a cluster's lbPolicy and LB config (least request by default, round robin,
// random, passthrough, ring hash / Maglev, slow start), plus the route-side hash policy for consistent hashing.
import type { LoadBalancer } from '../api/destinationrule.ts';
import type { ClusterDraft } from './cluster-draft.ts';
import { localitySettingFor, needsLocalityWeights } from './locality.ts';
import { commonLbConfig } from './outlier.ts';
import { u32 } from './envoy/values.ts';
import { durationOf, percent } from './policy-values.ts';
import type { EnvoyObject } from './types.ts';

/** Envoy's default ring size, which Istio states explicitly when a ring hash is chosen. */
const DEFAULT_MIN_RING_SIZE = 1024;

export function applyLoadBalancer(d: ClusterDraft, lb: LoadBalancer | undefined): void {
  const c = d.cluster;
  if (needsLocalityWeights(localitySettingFor(lb), c.outlierDetection !== undefined)) {
    commonLbConfig(d).localityWeightedLbConfig = {};
  }
  if (c.type === 'ORIGINAL_DST') {
    c.lbPolicy = 'CLUSTER_PROVIDED';
    return;
  }
  switch (lb?.simple) {
    case 'RANDOM':
      c.lbPolicy = 'RANDOM';
      break;
    case 'ROUND_ROBIN':
      // Envoy's default lb_policy (the enum's zero value): proto3 does not carry it, so it is not spelled out.
      delete c.lbPolicy;
      withSlowStart(c, 'roundRobinLbConfig', lb);
      break;
    case 'PASSTHROUGH':
      // Forward to the address the client asked for: no endpoints of our own.
      c.type = 'ORIGINAL_DST';
      c.lbPolicy = 'CLUSTER_PROVIDED';
      delete c.loadAssignment;
      delete c.edsClusterConfig;
      return;
    default:
      // LEAST_REQUEST, LEAST_CONN (its old name) and unspecified: least request, weft's default.
      c.lbPolicy = 'LEAST_REQUEST';
      withSlowStart(c, 'leastRequestLbConfig', lb);
  }
  applyConsistentHash(c, lb?.consistentHash);
}

function withSlowStart(c: EnvoyObject, field: 'roundRobinLbConfig' | 'leastRequestLbConfig', lb: LoadBalancer | undefined): void {
  const window = durationOf(lb?.warmup?.duration ?? lb?.warmupDurationSecs);
  if (!window) return;
  const slowStartConfig: EnvoyObject = { slowStartWindow: window };
  if (lb?.warmup?.aggression !== undefined) {
    slowStartConfig.aggression = { defaultValue: lb.warmup.aggression, runtimeKey: 'upstream.slow_start.aggression' };
  }
  if (lb?.warmup?.minimumPercent !== undefined) slowStartConfig.minWeightPercent = percent(lb.warmup.minimumPercent);
  c[field] = { slowStartConfig };
}

function applyConsistentHash(c: EnvoyObject, ch: LoadBalancer['consistentHash']): void {
  if (!ch) return;
  delete c.roundRobinLbConfig;
  delete c.leastRequestLbConfig;
  if (ch.maglev) {
    c.lbPolicy = 'MAGLEV';
    if (ch.maglev.tableSize) c.maglevLbConfig = { tableSize: u32(ch.maglev.tableSize) };
  } else if (ch.ringHash) {
    c.lbPolicy = 'RING_HASH';
    if (ch.ringHash.minimumRingSize) c.ringHashLbConfig = { minimumRingSize: u32(ch.ringHash.minimumRingSize) };
  } else {
    c.lbPolicy = 'RING_HASH';
    c.ringHashLbConfig = { minimumRingSize: u32(ch.minimumRingSize || DEFAULT_MIN_RING_SIZE) };
  }
}

/**
 * The route's hash policy for a destination whose load balancer hashes consistently (Istio puts the hash key on
 * the route, the algorithm on the cluster): envoy.config.route.v3.RouteAction.HashPolicy entries, or undefined.
 */
export function hashPolicyFor(lb: LoadBalancer | undefined): EnvoyObject[] | undefined {
  const ch = lb?.consistentHash;
  if (!ch) return undefined;
  if (ch.httpHeaderName) return [{ header: { headerName: ch.httpHeaderName } }];
  if (ch.httpCookie) {
    const cookie: EnvoyObject = { name: ch.httpCookie.name };
    if (ch.httpCookie.path) cookie.path = ch.httpCookie.path;
    const ttl = durationOf(ch.httpCookie.ttl);
    if (ttl) cookie.ttl = ttl;
    if (ch.httpCookie.attributes?.length) {
      cookie.attributes = ch.httpCookie.attributes.map((a) => (a.value === undefined ? { name: a.name } : { name: a.name, value: a.value }));
    }
    return [{ cookie }];
  }
  if (ch.useSourceIp) return [{ connectionProperties: { sourceIp: true } }];
  if (ch.httpQueryParameterName) return [{ queryParameter: { name: ch.httpQueryParameterName } }];
  return undefined;
}
