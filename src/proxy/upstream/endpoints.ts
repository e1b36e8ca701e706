// The hosts a cluster balances over, read from its ClusterLoadAssignment (EDS by service name, STATIC and DNS
// clusters inline): address, weight, priority, health, locality, the endpoint's `istio` metadata, and the
// transport socket Envoy would use for it (transport_socket_matches). DNS clusters' hostnames are resolved by
// dns.ts; everything else is taken as written.
import type { UpstreamHost } from '../runtime.ts';
import { arr, num, obj, str, structToJs, u32 } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import { endpointTransportSocket, healthStatusOf, localityName } from '../routing/upstream.ts';

export interface EndpointDesc {
  /** As written: an IP, or a hostname for DNS clusters. */
  address: string;
  port: number;
  weight: number;
  priority: number;
  health: 'healthy' | 'unhealthy';
  locality?: string;
  localityWeight?: number;
  metadata: Record<string, string>;
  transportSocket: unknown;
}

/** UNKNOWN, HEALTHY and DEGRADED take traffic; UNHEALTHY, DRAINING and TIMEOUT do not. */
function healthOf(lb: Obj): EndpointDesc['health'] {
  const h = healthStatusOf(lb);
  return h === 'UNKNOWN' || h === 'HEALTHY' || h === 'DEGRADED' ? 'healthy' : 'unhealthy';
}

function istioMetadata(lb: Obj): Record<string, string> {
  const meta = obj(structToJs(obj(obj(lb.metadata).filterMetadata).istio));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) if (typeof v === 'string') out[k] = v;
  return out;
}

export function endpointDescs(cluster: Obj, cla: Obj | undefined): EndpointDesc[] {
  const out: EndpointDesc[] = [];
  for (const group of arr(cla?.endpoints)) {
    const priority = num(group.priority) ?? 0;
    const locality = localityName(group.locality);
    const localityWeight = u32(group.loadBalancingWeight);
    for (const lb of arr(group.lbEndpoints)) {
      const sa = obj(obj(obj(lb.endpoint).address).socketAddress);
      const address = str(sa.address);
      if (!address) continue;
      out.push({
        address,
        port: num(sa.portValue) ?? 0,
        weight: Math.max(1, u32(lb.loadBalancingWeight) ?? 1),
        priority,
        health: healthOf(lb),
        ...(locality ? { locality } : {}),
        ...(localityWeight !== undefined ? { localityWeight } : {}),
        metadata: istioMetadata(lb),
        transportSocket: endpointTransportSocket(cluster, lb, group),
      });
    }
  }
  return out;
}

export function hostAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function upstreamHost(e: Pick<EndpointDesc, 'address' | 'port' | 'metadata' | 'locality'>): UpstreamHost {
  return {
    address: hostAddress(e.address, e.port),
    host: e.address,
    port: e.port,
    metadata: e.metadata,
    ...(e.locality ? { locality: e.locality } : {}),
  };
}

/** `ip:port` / `[v6]:port` → host and port (ORIGINAL_DST destinations). */
export function parseAddress(address: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!m) return undefined;
  return { host: m[1]!, port: Number(m[2]) };
}
