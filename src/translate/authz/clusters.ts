// The clusters of the external authorizers a workload's CUSTOM policies call (`outbound|<port>||<host>`): usually
// among the workload's outbound clusters already; when not (the service is not visible from the workload's
// namespace, e.g. a gateway's), built here the way every outbound cluster is, with its endpoints. Context, the
// names already present and the needed clusters in; the missing clusters and their load assignments out.
import { discoveryType, type ClusterPlan } from '../cluster-plan.ts';
import { buildOutboundClusters } from '../clusters.ts';
import { buildEndpoints } from '../endpoints.ts';
import type { TranslateContext } from '../index.ts';
import type { ClientView } from '../locality.ts';
import { effectivePolicy, destinationRuleFor } from '../traffic-policy.ts';
import type { EnvoyObject } from '../types.ts';
import type { BuiltExtAuthz } from './ext-authz.ts';

const FALLBACKS = new Set(['BlackHoleCluster', 'PassthroughCluster']);

export function missingAuthorizerClusters(ctx: TranslateContext, client: ClientView, present: ReadonlySet<string>,
  needed: ReadonlyArray<BuiltExtAuthz['cluster']>): { clusters: EnvoyObject[]; endpoints: EnvoyObject[] } {
  const plans: ClusterPlan[] = [];
  for (const n of needed) {
    if (present.has(n.name) || plans.some((p) => p.name === n.name)) continue;
    const service = ctx.snapshot.servicesByHost(n.host)[0];
    const port = service?.ports.find((p) => p.port === n.port);
    // A port the service does not declare has no endpoints to build a cluster from (Istio's config names it anyway).
    if (!service || !port) continue;
    const rule = destinationRuleFor(ctx, service);
    plans.push({ name: n.name, service, port, rule, policy: effectivePolicy(rule, port.port), type: discoveryType(service) });
  }
  if (plans.length === 0) return { clusters: [], endpoints: [] };
  const clusters = buildOutboundClusters(ctx, client, plans).filter((c) => !FALLBACKS.has(String(c.name)));
  return { clusters, endpoints: buildEndpoints(ctx, clusters, client, plans) };
}
