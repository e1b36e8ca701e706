// A cluster and its endpoints as the load balancer would see them: EDS clusters read their
// ClusterLoadAssignment (eds_cluster_config.service_name or the cluster name), STATIC/DNS clusters their inline
// load_assignment, ORIGINAL_DST the connection's original destination. Each endpoint gets the transport socket
// Envoy would pick (transport_socket_matches against the endpoint's envoy.transport_socket_match metadata).
import { anyType, arr, isObj, num, obj, percent, str, structToJs, u32 } from './envoy-values.ts';
import type { Obj } from './envoy-values.ts';
import type { UpstreamCluster, UpstreamEndpoint } from './types.ts';

const HEALTH = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'];
const CLUSTER_TYPES = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST'];
const LB_POLICIES = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RING_HASH', 'RANDOM', 'MAGLEV', 'CLUSTER_PROVIDED', 'LOAD_BALANCING_POLICY_CONFIG'];
const TLS_TYPE = 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

const enumName = (v: unknown, names: readonly string[], dflt: string): string =>
  typeof v === 'string' ? v : typeof v === 'number' ? names[v] ?? dflt : dflt;

export interface UpstreamIndex {
  clusters: ReadonlyMap<string, Obj>;
  assignments: ReadonlyMap<string, Obj>;
}

type Transport = Pick<UpstreamEndpoint, 'transport' | 'sni'>;

function transportOf(socket: unknown): Transport {
  const s = obj(socket);
  const tc = obj(s.typedConfig);
  if (anyType(tc) !== TLS_TYPE) return { transport: 'plaintext' };
  const common = obj(tc.commonTlsContext);
  const hasCert = arr(common.tlsCertificates).length > 0 || arr(common.tlsCertificateSdsSecretConfigs).length > 0
    || isObj(common.tlsCertificateProviderInstance);
  const sni = str(tc.sni);
  return { transport: hasCert ? 'mtls' : 'tls', ...(sni ? { sni } : {}) };
}

/** Does the endpoint's match metadata contain every key/value of `match`? */
function subsetMatches(match: unknown, metadata: unknown): boolean {
  const want = obj(structToJs(match));
  const have = obj(structToJs(metadata));
  return Object.entries(want).every(([k, v]) => JSON.stringify(have[k]) === JSON.stringify(v));
}

/** The transport socket Envoy uses for one endpoint: the first transport_socket_matches entry whose match the
 * endpoint's (or its locality's) envoy.transport_socket_match metadata contains, else the cluster's own. */
export function endpointTransportSocket(cluster: Obj, lbEndpoint: Obj, locality: Obj): unknown {
  const matchMeta = (o: Obj) => obj(obj(o.metadata).filterMetadata)['envoy.transport_socket_match'];
  const meta = matchMeta(lbEndpoint) ?? matchMeta(locality);
  for (const m of arr(cluster.transportSocketMatches)) {
    if (subsetMatches(m.match, meta)) return m.transportSocket;
  }
  return cluster.transportSocket;
}

function endpointTransport(cluster: Obj, lbEndpoint: Obj, locality: Obj): Transport {
  return transportOf(endpointTransportSocket(cluster, lbEndpoint, locality));
}

export function localityName(l: unknown): string | undefined {
  const o = obj(l);
  const parts = [str(o.region), str(o.zone), str(o.subZone)];
  return parts.some(Boolean) ? parts.join('/').replace(/\/+$/, '') : undefined;
}

function endpointsOf(cluster: Obj, cla: Obj | undefined): UpstreamEndpoint[] {
  const out: UpstreamEndpoint[] = [];
  for (const group of arr(cla?.endpoints)) {
    const priority = num(group.priority) ?? 0;
    const locality = localityName(group.locality);
    for (const lb of arr(group.lbEndpoints)) {
      const ep = obj(lb.endpoint);
      const addr = obj(ep.address);
      const sa = obj(addr.socketAddress);
      const address = addr.pipe ? `unix://${str(obj(addr.pipe).path)}` : `${str(sa.address)}:${num(sa.portValue) ?? 0}`;
      const weight = u32(lb.loadBalancingWeight);
      out.push({
        address,
        health: healthStatusOf(lb),
        ...(locality ? { locality } : {}),
        priority,
        ...(weight !== undefined ? { weight } : {}),
        ...endpointTransport(cluster, lb, group),
      });
    }
  }
  return out.sort((a, b) => a.priority - b.priority);
}

/** The cluster's discovery type name (STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST, or a custom type's name). */
export function clusterTypeOf(cluster: Obj): string {
  return cluster.clusterType ? str(obj(cluster.clusterType).name) : enumName(cluster.type, CLUSTER_TYPES, 'STATIC');
}

export function lbPolicyOf(cluster: Obj): string {
  return enumName(cluster.lbPolicy, LB_POLICIES, 'ROUND_ROBIN');
}

export function healthStatusOf(lbEndpoint: Obj): string {
  return enumName(lbEndpoint.healthStatus, HEALTH, 'UNKNOWN');
}

/** The ClusterLoadAssignment a cluster balances over: EDS by eds_cluster_config.service_name (or the cluster's
 * name), the others their inline load_assignment; undefined for ORIGINAL_DST or when none is known. */
export function assignmentOf(cluster: Obj, name: string, assignments: ReadonlyMap<string, Obj>): Obj | undefined {
  const type = clusterTypeOf(cluster);
  if (type === 'ORIGINAL_DST') return undefined;
  if (type === 'EDS') return assignments.get(str(obj(cluster.edsClusterConfig).serviceName) || name);
  return cluster.loadAssignment ? obj(cluster.loadAssignment) : undefined;
}

export function resolveUpstream(index: UpstreamIndex, name: string, originalDestination?: string): UpstreamCluster {
  const cluster = index.clusters.get(name);
  if (!cluster) return { name, found: false, endpoints: [], excluded: [] };
  const type = clusterTypeOf(cluster);
  let all: UpstreamEndpoint[];
  if (type === 'ORIGINAL_DST') {
    all = originalDestination
      ? [{ address: originalDestination, health: 'UNKNOWN', priority: 0, ...transportOf(cluster.transportSocket) }]
      : [];
  } else if (type === 'EDS') {
    const serviceName = str(obj(cluster.edsClusterConfig).serviceName) || name;
    all = endpointsOf(cluster, index.assignments.get(serviceName));
  } else {
    all = endpointsOf(cluster, cluster.loadAssignment ? obj(cluster.loadAssignment) : undefined);
  }
  const healthy = (e: UpstreamEndpoint) => e.health === 'UNKNOWN' || e.health === 'HEALTHY' || e.health === 'DEGRADED';
  // Panic mode: below healthy_panic_threshold percent healthy (Envoy's default 50; 0 disables it), Envoy
  // balances over every endpoint, unhealthy ones included.
  const threshold = percent(obj(cluster.commonLbConfig).healthyPanicThreshold, 50);
  const panic = all.length > 0 && (100 * all.filter(healthy).length) / all.length < threshold;
  const takesTraffic = panic ? () => true : healthy;
  return {
    name,
    found: true,
    type,
    lbPolicy: lbPolicyOf(cluster),
    endpoints: all.filter(takesTraffic),
    excluded: all.filter((e) => !takesTraffic(e)),
    ...(panic ? { panic: true as const } : {}),
  };
}
