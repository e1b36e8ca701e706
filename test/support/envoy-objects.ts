// Small builders of Envoy v3 objects (protobufjs object form) for routing tests: listeners with a connection
// manager or a TCP proxy, route configurations, clusters and load assignments.
import type { ProxyConfig } from '../../src/translate/types.ts';

type O = Record<string, unknown>;

const T = 'type.googleapis.com/';
export const HCM = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
export const TCP_PROXY = `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`;
export const FAULT = `${T}envoy.extensions.filters.http.fault.v3.HTTPFault`;
export const CORS_FILTER = `${T}envoy.extensions.filters.http.cors.v3.Cors`;
export const CORS_POLICY = `${T}envoy.extensions.filters.http.cors.v3.CorsPolicy`;
export const ROUTER = `${T}envoy.extensions.filters.http.router.v3.Router`;
export const TLS_INSPECTOR = `${T}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector`;
export const HTTP_INSPECTOR = `${T}envoy.extensions.filters.listener.http_inspector.v3.HttpInspector`;
export const UPSTREAM_TLS = `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`;

export const address = (ip: string, port: number) => ({ socketAddress: { address: ip, portValue: port } });

export const httpFilters = [
  { name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT } },
  { name: 'envoy.filters.http.cors', typedConfig: { '@type': CORS_FILTER } },
  { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } },
];

export function hcm(routeConfigName: string, extra: O = {}): O {
  return { name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': HCM, statPrefix: 'http', rds: { routeConfigName }, httpFilters, ...extra } };
}

export function tcpProxy(target: string | Array<[string, number]>): O {
  const config = typeof target === 'string' ? { cluster: target }
    : { weightedClusters: { clusters: target.map(([name, weight]) => ({ name, weight: { value: weight } })) } };
  return { name: 'envoy.filters.network.tcp_proxy', typedConfig: { '@type': TCP_PROXY, statPrefix: 'tcp', ...config } };
}

export function listener(name: string, ip: string, port: number, filterChains: O[], extra: O = {}): O {
  return { name, address: address(ip, port), filterChains, ...extra };
}

export function routeConfig(name: string, virtualHosts: O[], extra: O = {}): O {
  return { name, virtualHosts, ...extra };
}

export function vhost(name: string, domains: string[], routes: O[], extra: O = {}): O {
  return { name, domains, routes, ...extra };
}

export const toCluster = (cluster: string, match: O = { prefix: '/' }, extra: O = {}): O => ({ name: `${cluster}@${JSON.stringify(match)}`, match, route: { cluster }, ...extra });

export function edsCluster(name: string, extra: O = {}): O {
  return { name, type: 'EDS', edsClusterConfig: { serviceName: name, edsConfig: { ads: {} } }, ...extra };
}

export function cla(clusterName: string, endpoints: Array<string | { address: string; health?: string; locality?: O; priority?: number; metadata?: O }>): O {
  const groups = new Map<string, O[]>();
  const meta = new Map<string, { locality?: O; priority?: number }>();
  for (const e of endpoints) {
    const ep = typeof e === 'string' ? { address: e } : e;
    const [ip, port] = ep.address.split(':');
    const key = JSON.stringify([ep.locality ?? {}, ep.priority ?? 0]);
    meta.set(key, { locality: ep.locality, priority: ep.priority });
    groups.set(key, [...(groups.get(key) ?? []), {
      endpoint: { address: address(ip!, Number(port)) },
      ...(ep.health ? { healthStatus: ep.health } : {}),
      ...(ep.metadata ? { metadata: ep.metadata } : {}),
    }]);
  }
  return {
    clusterName,
    endpoints: [...groups].map(([key, lbEndpoints]) => ({
      ...(meta.get(key)!.locality ? { locality: meta.get(key)!.locality } : {}),
      ...(meta.get(key)!.priority ? { priority: meta.get(key)!.priority } : {}),
      lbEndpoints,
    })),
  };
}

export function proxyConfig(parts: Partial<Pick<ProxyConfig, 'listeners' | 'routes' | 'clusters' | 'endpoints'>>): ProxyConfig {
  return {
    workload: { kind: 'Deployment', name: 'client', namespace: 'default', serviceAccount: 'default', labels: {} },
    listeners: parts.listeners ?? [],
    routes: parts.routes ?? [],
    clusters: parts.clusters ?? [],
    endpoints: parts.endpoints ?? [],
    inputs: [],
  };
}

/** One outbound HTTP listener on 0.0.0.0:<port> with the given route configuration, plus clusters. */
export function httpProxy(port: number, rc: O, clusters: O[] = [], endpoints: O[] = []): ProxyConfig {
  return proxyConfig({ listeners: [listener(`0.0.0.0_${port}`, '0.0.0.0', port, [{ filters: [hcm(String(rc.name))] }])], routes: [rc], clusters, endpoints });
}
