// Names shared by the Envoy resources weft generates, following Istio's conventions so that tools and habits
// carry over (`outbound|9080|v1|reviews.bookinfo.svc.cluster.local`, `0.0.0.0_9080`, `virtualOutbound`).

export type Direction = 'inbound' | 'outbound';

/** `outbound|<port>|<subset>|<host>` / `inbound|<port>||` (subset and host empty when absent). */
export function clusterName(direction: Direction, port: number, subset = '', host = ''): string {
  return `${direction}|${port}|${subset}|${host}`;
}

export function parseClusterName(name: string): { direction: Direction; port: number; subset: string; host: string } | undefined {
  const parts = name.split('|');
  if (parts.length !== 4 || (parts[0] !== 'inbound' && parts[0] !== 'outbound')) return undefined;
  return { direction: parts[0], port: Number(parts[1]), subset: parts[2]!, host: parts[3]! };
}

export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const INBOUND_PASSTHROUGH_CLUSTER = 'InboundPassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';

export const VIRTUAL_OUTBOUND_LISTENER = 'virtualOutbound';
export const VIRTUAL_INBOUND_LISTENER = 'virtualInbound';
/** Outbound capture port (iptables REDIRECT target) and inbound capture port. */
export const OUTBOUND_CAPTURE_PORT = 15001;
export const INBOUND_CAPTURE_PORT = 15006;

/** `0.0.0.0_9080` for a port-wide outbound listener, `10.96.0.12_3306` for one service address. */
export function listenerName(address: string, port: number): string {
  return `${address}_${port}`;
}

/** Outbound HTTP route configurations are named by port, as in Istio ("9080"); inbound ones by cluster. */
export function outboundRouteName(port: number): string {
  return String(port);
}

/** `reviews.bookinfo.svc.cluster.local:9080` */
export function virtualHostName(host: string, port: number): string {
  return `${host}:${port}`;
}

/** `Kind/namespace/name`, as in ProxyConfig.inputs and the dependency index. */
export function objectKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
