// buildClusters(ctx): the sidecar's Envoy Clusters. Outbound: one per port of each visible service and per
// DestinationRule subset, shaped by the effective traffic policy (connection pool, outlier detection, load
// balancer, TLS). Inbound: one per port the workload serves, to the app on localhost. Plus the passthrough and
// blackhole clusters listeners fall back on.
import type { MeshService, ServicePort } from '../model/types.ts';
import { type ClusterDraft, finishCluster, setPortProtocol } from './cluster-draft.ts';
import { applyConnectionPool, applyH2Upgrade, DEFAULT_CONNECT_TIMEOUT } from './connection-pool.ts';
import type { TranslateContext } from './index.ts';
import { targetPortOf } from './inbound-ports.ts';
import { planEndpoints } from './lb-endpoints.ts';
import { applyLoadBalancer } from './load-balancer.ts';
import { type ClientView, clientView } from './locality.ts';
import {
  BLACKHOLE_CLUSTER, clusterName, INBOUND_PASSTHROUGH_CLUSTER, PASSTHROUGH_CLUSTER,
} from './names.ts';
import { applyOutlierDetection, commonLbConfig } from './outlier.ts';
import { type ClusterPlan, outboundClusterPlans } from './cluster-plan.ts';
import { duration, percent, struct } from './policy-values.ts';
import { destinationRuleFor, effectivePolicy, ruleConfigPath } from './traffic-policy.ts';
import type { EnvoyObject } from './types.ts';
import { applyProxyProtocol, applyUpstreamTls } from './upstream-tls.ts';

/** Source addresses for passthrough traffic to the app, which the capture rules leave alone. */
export const INBOUND_PASSTHROUGH_BIND_IPV4 = '127.0.0.6';
export const INBOUND_PASSTHROUGH_BIND_IPV6 = '::6';
/** Istio's mesh default DNS refresh rate (DNS TTLs are respected within it). */
const DNS_REFRESH_RATE = duration('60s');

export function buildClusters(ctx: TranslateContext, client: ClientView = clientView(ctx)): EnvoyObject[] {
  return [...buildOutboundClusters(ctx, client), ...buildInboundClusters(ctx)];
}

/** The clusters that depend on what the workload sees (outbound ones) and the fixed fallbacks, unsorted. */
export function buildOutboundClusters(ctx: TranslateContext, client: ClientView,
  plans: readonly ClusterPlan[] = outboundClusterPlans(ctx)): EnvoyObject[] {
  const out: EnvoyObject[] = [];
  for (const plan of plans) {
    const c = outboundCluster(ctx, plan, client);
    if (c) out.push(c);
  }
  out.push(blackHoleCluster(), passthroughCluster());
  return out;
}

/** The clusters towards the workload's own app, unsorted. */
export function buildInboundClusters(ctx: TranslateContext): EnvoyObject[] {
  return [inboundPassthroughCluster(ctx), ...inboundClusters(ctx)];
}

function ipFamilies(ctx: TranslateContext): { v4: boolean; v6: boolean } {
  const ips = ctx.workload.pods.map((p) => p.ip).filter((ip): ip is string => !!ip);
  const v6 = ips.some((ip) => ip.includes(':'));
  const v4 = ips.some((ip) => !ip.includes(':'));
  return { v4: v4 || !v6, v6 };
}

/** Telemetry reads which services a cluster stands for, and which rule and subset shaped it. */
function clusterMetadata(services: readonly MeshService[], extra: Record<string, string | boolean | undefined> = {}): EnvoyObject {
  return {
    filterMetadata: {
      istio: struct({
        services: services.map((s) => ({ host: s.hostname, name: s.name, namespace: s.namespace })),
        ...extra,
      }),
    },
  };
}

function outboundCluster(ctx: TranslateContext, plan: ClusterPlan, client: ClientView): EnvoyObject | undefined {
  const { service, port, policy } = plan;
  const passthrough = policy?.loadBalancer?.simple === 'PASSTHROUGH';
  const d: ClusterDraft = { cluster: { name: plan.name, type: passthrough ? 'ORIGINAL_DST' : plan.type } };
  const c = d.cluster;
  if (c.type === 'STRICT_DNS' || c.type === 'LOGICAL_DNS') {
    c.dnsLookupFamily = ipFamilies(ctx).v4 ? 'V4_ONLY' : 'V6_ONLY';
    c.dnsRefreshRate = DNS_REFRESH_RATE;
    c.respectDnsTtl = true;
    let endpoints = planEndpoints(ctx, plan, client);
    if (c.type === 'LOGICAL_DNS') endpoints = firstEndpointOnly(endpoints);
    // A DNS cluster needs something to resolve; with no endpoint (e.g. a subset that selects none) it is left out.
    if (!endpoints.length) return undefined;
    c.loadAssignment = { clusterName: plan.name, endpoints };
  }
  // Endpoints are sent with their health; unhealthy ones must never be chosen, so no panic mode by default.
  commonLbConfig(d).healthyPanicThreshold = percent(0);
  setPortProtocol(d, port.protocol);

  applyConnectionPool(d, policy?.connectionPool, policy?.retryBudget);
  applyH2Upgrade(d, policy?.connectionPool, port.protocol);
  applyOutlierDetection(d, policy?.outlierDetection);
  applyLoadBalancer(d, policy?.loadBalancer);
  applyUpstreamTls(ctx, d, policy?.tls, { service, port, subset: plan.subset?.name ?? '' });
  if (policy?.proxyProtocol) applyProxyProtocol(d, policy.proxyProtocol.version);
  if (c.type === 'ORIGINAL_DST') c.lbPolicy = 'CLUSTER_PROVIDED';
  if (c.type === 'EDS') {
    c.edsClusterConfig = {
      serviceName: plan.name,
      edsConfig: { ads: {}, initialFetchTimeout: duration('0s'), resourceApiVersion: 'V3' },
    };
  }
  c.metadata = clusterMetadata([service], {
    config: plan.rule ? ruleConfigPath(plan.rule) : undefined,
    subset: plan.subset?.name,
    external: service.location === 'MESH_EXTERNAL' ? true : undefined,
  });
  return finishCluster(d);
}

/** Envoy resolves a LOGICAL_DNS cluster through exactly one endpoint. */
function firstEndpointOnly(groups: EnvoyObject[]): EnvoyObject[] {
  const first = groups[0];
  const lb = (first?.lbEndpoints as EnvoyObject[] | undefined)?.[0];
  if (!first || !lb) return [];
  return [{ ...first, lbEndpoints: [lb], loadBalancingWeight: lb.loadBalancingWeight }];
}

function blackHoleCluster(): EnvoyObject {
  return { name: BLACKHOLE_CLUSTER, type: 'STATIC', connectTimeout: DEFAULT_CONNECT_TIMEOUT };
}

/** Forwards to the address the client connected to, speaking whatever HTTP version it spoke. */
function passthroughDraft(name: string): ClusterDraft {
  const d: ClusterDraft = {
    cluster: { name, type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED' },
    http: { common: { idleTimeout: duration('5m') }, protocol: 'downstream' },
  };
  applyConnectionPool(d, undefined);
  return d;
}

function passthroughCluster(): EnvoyObject {
  return finishCluster(passthroughDraft(PASSTHROUGH_CLUSTER));
}

function inboundPassthroughCluster(ctx: TranslateContext): EnvoyObject {
  const d = passthroughDraft(INBOUND_PASSTHROUGH_CLUSTER);
  const { v4, v6 } = ipFamilies(ctx);
  const bind: EnvoyObject = {
    sourceAddress: { address: v4 ? INBOUND_PASSTHROUGH_BIND_IPV4 : INBOUND_PASSTHROUGH_BIND_IPV6, portValue: 0 },
  };
  if (v4 && v6) bind.extraSourceAddresses = [{ address: { address: INBOUND_PASSTHROUGH_BIND_IPV6, portValue: 0 } }];
  d.cluster.upstreamBindConfig = bind;
  return finishCluster(d);
}

/** `inbound|<targetPort>||`, one per port the app serves; the first service on a port decides its protocol. */
function inboundClusters(ctx: TranslateContext): EnvoyObject[] {
  const byPort = new Map<number, Array<{ service: MeshService; port: ServicePort }>>();
  for (const service of ctx.snapshot.servicesOf(ctx.workload)) {
    for (const port of service.ports) {
      if (port.protocol === 'UDP') continue;
      const target = targetPortOf(ctx.workload, port);
      if (target === undefined) continue;
      byPort.set(target, [...(byPort.get(target) ?? []), { service, port }]);
    }
  }
  return [...byPort.keys()].sort((a, b) => a - b).map((target) => {
    const targets = byPort.get(target)!;
    const { service, port } = targets[0]!;
    const name = clusterName('inbound', target);
    const d: ClusterDraft = {
      cluster: {
        name,
        type: 'STATIC',
        loadAssignment: {
          clusterName: name,
          endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: target } } } }] }],
        },
      },
    };
    setPortProtocol(d, port.protocol);
    // The server side needs the same capacity the rule grants clients, so its connection pool applies here too.
    const rule = destinationRuleFor(ctx, service, 'inbound');
    applyConnectionPool(d, effectivePolicy(rule, port.port)?.connectionPool);
    d.cluster.metadata = clusterMetadata(uniqueServices(targets.map((t) => t.service)));
    return finishCluster(d);
  });
}

function uniqueServices(services: MeshService[]): MeshService[] {
  const seen = new Set<string>();
  return services.filter((s) => (seen.has(s.hostname) ? false : (seen.add(s.hostname), true)));
}
