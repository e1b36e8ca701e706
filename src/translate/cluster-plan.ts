// Which outbound clusters a workload gets: one per port of every service visible from its namespace, plus one per
// subset of the DestinationRule that applies, each with its effective traffic policy. Shared by the cluster and
// endpoint builders so both agree on names, subsets and policies.
import type { DestinationRule } from '../api/index.ts';
import type { MeshService, ServicePort } from '../model/types.ts';
import type { DiscoveryType } from './cluster-draft.ts';
import type { TranslateContext } from './index.ts';
import { clusterName, objectKey } from './names.ts';
import { destinationRuleFor, type EffectivePolicy, effectivePolicy, type Subset } from './traffic-policy.ts';

export interface ClusterPlan {
  name: string;
  service: MeshService;
  port: ServicePort;
  /** The subset this cluster is for; undefined for the service-wide cluster. */
  subset?: Subset;
  rule?: DestinationRule;
  policy?: EffectivePolicy;
  /** The discovery type the service's resolution calls for (a PASSTHROUGH load balancer may still change it). */
  type: DiscoveryType;
}

/**
 * How a service's endpoints are found: the mesh's own endpoint lists (Kubernetes ClusterIP, ServiceEntry STATIC),
 * DNS (every address, or the first one), or none — the proxy forwards to the address the client connected to
 * (headless services, resolution NONE). DYNAMIC_DNS hosts are wildcards: they forward to the original address too.
 */
export function discoveryType(service: MeshService): DiscoveryType {
  switch (service.resolution) {
    case 'EDS':
    case 'STATIC':
      return 'EDS';
    case 'DNS':
      return 'STRICT_DNS';
    case 'DNS_ROUND_ROBIN':
      return 'LOGICAL_DNS';
    case 'NONE':
    case 'DYNAMIC_DNS':
      return 'ORIGINAL_DST';
  }
}

export function outboundClusterPlans(ctx: TranslateContext): ClusterPlan[] {
  const seen = new Set<string>();
  const plans: ClusterPlan[] = [];
  const add = (p: ClusterPlan) => {
    // Two services may claim one host (ServiceEntries in several namespaces): the first one keeps the name.
    if (seen.has(p.name)) return;
    seen.add(p.name);
    plans.push(p);
  };
  for (const service of ctx.snapshot.servicesFor(ctx.workload.namespace)) {
    if (service.origin === 'ServiceEntry') ctx.use(objectKey('ServiceEntry', service.namespace, service.name));
    const ports = service.ports.filter((p) => p.protocol !== 'UDP');
    if (!ports.length) continue;
    const rule = destinationRuleFor(ctx, service);
    const type = discoveryType(service);
    for (const port of ports) {
      add({ name: clusterName('outbound', port.port, '', service.hostname), service, port, rule, policy: effectivePolicy(rule, port.port), type });
      for (const subset of rule?.spec?.subsets ?? []) {
        add({
          name: clusterName('outbound', port.port, subset.name, service.hostname),
          service, port, subset, rule, policy: effectivePolicy(rule, port.port, subset), type,
        });
      }
    }
  }
  return plans;
}

/** The endpoint labels a subset selects (empty: all endpoints). */
export function subsetLabels(subset: Subset | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(subset?.labels ?? {})) if (v !== undefined) out[k] = v;
  return out;
}
