// buildEndpoints(ctx, clusters): a ClusterLoadAssignment for every EDS cluster among the built clusters — the
// service port's endpoints, filtered by the cluster's subset, grouped by locality, with priorities and weights
// from the DestinationRule's locality setting for this workload. `plans`: the ones the clusters were built from.
import type { TranslateContext } from './index.ts';
import { planEndpoints } from './lb-endpoints.ts';
import { type ClientView, clientView } from './locality.ts';
import { type ClusterPlan, outboundClusterPlans } from './cluster-plan.ts';
import type { EnvoyObject } from './types.ts';

export function buildEndpoints(ctx: TranslateContext, clusters: readonly EnvoyObject[], client?: ClientView,
  plans?: readonly ClusterPlan[]): EnvoyObject[] {
  const eds = new Set(clusters.filter((c) => c.type === 'EDS').map((c) => String(c.name)));
  if (!eds.size) return [];
  client ??= clientView(ctx);
  return (plans ?? outboundClusterPlans(ctx))
    .filter((plan) => eds.has(plan.name))
    .map((plan) => ({ clusterName: plan.name, endpoints: planEndpoints(ctx, plan, client) }));
}
