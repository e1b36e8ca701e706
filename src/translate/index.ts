// translate(workload, snapshot) → ProxyConfig: everything one workload's sidecar needs, as Envoy v3 resources.
// Pure and deterministic: the same snapshot gives the same objects in the same order. The outbound part is
// shared between the workloads of one snapshot that would build the same one (outbound.ts); the inbound part
// (`virtualInbound`, the clusters to the app) is the workload's own. A gateway workload (`mode: 'gateway'`) gets
// the listeners of the Gateways selecting it instead (gateway.ts).
import type { ObjectKey, Snapshot, Workload } from '../model/types.ts';
import { missingAuthorizerClusters } from './authz/clusters.ts';
import { workloadSecurity } from './authz/index.ts';
import { buildInboundClusters } from './clusters.ts';
import { buildGateway } from './gateway.ts';
import { buildInboundListeners } from './listeners.ts';
import { clientView } from './locality.ts';
import { buildOutbound, byName, type OutboundPart, sharedOutbound } from './outbound.ts';
import type { EnvoyObject, ProxyConfig } from './types.ts';

/** What every builder gets: the workload, the mesh, and a place to record which config objects it used. */
export interface TranslateContext {
  readonly workload: Workload;
  readonly snapshot: Snapshot;
  /** Records a config object (`Kind/ns/name`) that shaped the output. */
  use(key: ObjectKey): void;
}

export interface TranslateOptions {
  /** `shared` (the default): reuse the outbound part another workload of this snapshot built; `own`: build it. */
  outbound?: 'shared' | 'own';
}

export function translate(workload: Workload, snapshot: Snapshot, opts: TranslateOptions = {}): ProxyConfig {
  const inputs = new Set<ObjectKey>();
  const ctx: TranslateContext = { workload, snapshot, use: (k) => void inputs.add(k) };
  const client = clientView(ctx);
  // Authentication and authorization apply to every workload (recorded as inputs even without a chain to carry them).
  const security = workloadSecurity(ctx);
  if (workload.mode === 'gateway') {
    const gw = buildGateway(ctx, client);
    const extra = missingAuthorizerClusters(ctx, client, new Set(gw.clusters.map((c) => String(c.name))), security.clusters);
    return {
      workload: workloadOf(workload),
      ...gw,
      clusters: merge(gw.clusters, extra.clusters.sort(byName('name')), 'name'),
      endpoints: merge(gw.endpoints, extra.endpoints.sort(byName('clusterName')), 'clusterName'),
      inputs: [...inputs].sort(),
    };
  }
  const out: OutboundPart = opts.outbound === 'own' ? buildOutbound(ctx, client) : sharedOutbound(ctx, client);
  const extra = missingAuthorizerClusters(ctx, client, new Set(out.clusters.map((c) => String(c.name))), security.clusters);
  const own = [...buildInboundClusters(ctx), ...extra.clusters].sort(byName('name'));
  const clusters = merge(out.clusters, own, 'name');
  const listeners = merge(out.listeners, buildInboundListeners(ctx).sort(byName('name')), 'name');
  for (const k of out.inputs) inputs.add(k);
  return {
    workload: workloadOf(workload),
    listeners,
    routes: [...out.routes],
    clusters,
    endpoints: merge(out.endpoints, extra.endpoints.sort(byName('clusterName')), 'clusterName'),
    inputs: [...inputs].sort(),
  };
}

function workloadOf(w: Workload): ProxyConfig['workload'] {
  return { kind: w.kind, name: w.name, namespace: w.namespace, serviceAccount: w.serviceAccount, labels: w.labels };
}

/** Two lists sorted by `key` as one (ties: `a` first, as a stable sort of `a` then `b` would have it). */
function merge(a: readonly EnvoyObject[], b: readonly EnvoyObject[], key: string): EnvoyObject[] {
  const cmp = byName(key);
  const out: EnvoyObject[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(cmp(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}
