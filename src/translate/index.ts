// translate(workload, snapshot) → ProxyConfig: everything one workload's sidecar needs, as Envoy v3 resources.
// Pure and deterministic: the same snapshot gives the same objects in the same order.
import type { ObjectKey, Snapshot, Workload } from '../model/types.ts';
import { buildClusters } from './clusters.ts';
import { buildEndpoints } from './endpoints.ts';
import { buildListeners } from './listeners.ts';
import { buildRoutes } from './routes.ts';
import type { EnvoyObject, ProxyConfig } from './types.ts';

/** What every builder gets: the workload, the mesh, and a place to record which config objects it used. */
export interface TranslateContext {
  readonly workload: Workload;
  readonly snapshot: Snapshot;
  /** Records a config object (`Kind/ns/name`) that shaped the output. */
  use(key: ObjectKey): void;
}

const byName = (key: string) => (a: EnvoyObject, b: EnvoyObject) => {
  const x = String(a[key]);
  const y = String(b[key]);
  return x < y ? -1 : x > y ? 1 : 0;
};

export function translate(workload: Workload, snapshot: Snapshot): ProxyConfig {
  const inputs = new Set<ObjectKey>();
  const ctx: TranslateContext = { workload, snapshot, use: (k) => void inputs.add(k) };
  const clusters = buildClusters(ctx).sort(byName('name'));
  return {
    workload: {
      kind: workload.kind,
      name: workload.name,
      namespace: workload.namespace,
      serviceAccount: workload.serviceAccount,
      labels: workload.labels,
    },
    listeners: buildListeners(ctx).sort(byName('name')),
    routes: buildRoutes(ctx).sort(byName('name')),
    clusters,
    endpoints: buildEndpoints(ctx, clusters).sort(byName('clusterName')),
    inputs: [...inputs].sort(),
  };
}
