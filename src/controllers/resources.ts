// The resource types the controllers watch, and their REST collection paths.
// In: a type (and optionally a namespace). Out: `/api/v1/pods`, `/apis/networking.istio.io/v1/namespaces/x/gateways`.
import { MESH_KINDS } from '../api/kinds.ts';

export interface ResourceType {
  kind: string;
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

export const SERVICES: ResourceType = { kind: 'Service', group: '', version: 'v1', plural: 'services', namespaced: true };
export const PODS: ResourceType = { kind: 'Pod', group: '', version: 'v1', plural: 'pods', namespaced: true };
export const NAMESPACES: ResourceType = { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', namespaced: false };
export const SERVICE_ACCOUNTS: ResourceType = { kind: 'ServiceAccount', group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true };
export const SECRETS: ResourceType = { kind: 'Secret', group: '', version: 'v1', plural: 'secrets', namespaced: true };
export const CONFIG_MAPS: ResourceType = { kind: 'ConfigMap', group: '', version: 'v1', plural: 'configmaps', namespaced: true };
export const ENDPOINT_SLICES: ResourceType = {
  kind: 'EndpointSlice',
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  namespaced: true,
};

/** The Istio kinds weft serves, read and written at their storage version (v1); from the generated kind table. */
export const MESH_TYPES: readonly ResourceType[] = MESH_KINDS.map(({ kind, group, version, plural, namespaced }) => ({ kind, group, version, plural, namespaced }));

export const GATEWAYS: ResourceType = MESH_TYPES.find((t) => t.kind === 'Gateway')!;

export function apiVersionOf(t: ResourceType): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}

/** Collection path, cluster-wide or within one namespace. */
export function collectionPath(t: ResourceType, namespace?: string): string {
  const base = t.group === '' ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
  return t.namespaced && namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${t.plural}` : `${base}/${t.plural}`;
}

// Owners of pods, which the mesh snapshot names workloads after (src/model/workloads.ts).
export const REPLICA_SETS: ResourceType = { kind: 'ReplicaSet', group: 'apps', version: 'v1', plural: 'replicasets', namespaced: true };
export const DEPLOYMENTS: ResourceType = { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true };
export const STATEFUL_SETS: ResourceType = { kind: 'StatefulSet', group: 'apps', version: 'v1', plural: 'statefulsets', namespaced: true };
export const DAEMON_SETS: ResourceType = { kind: 'DaemonSet', group: 'apps', version: 'v1', plural: 'daemonsets', namespaced: true };
export const JOBS: ResourceType = { kind: 'Job', group: 'batch', version: 'v1', plural: 'jobs', namespaced: true };
export const CRON_JOBS: ResourceType = { kind: 'CronJob', group: 'batch', version: 'v1', plural: 'cronjobs', namespaced: true };
