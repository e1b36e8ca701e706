// What the informers reported since the last batch, in the terms the dependency rule (dependencies.ts) takes:
// namespaces where Kubernetes objects changed, mesh config objects by key, workloads to look at again regardless.
import type { ObjectKey } from '../../model/types.ts';
import { KUBE_KINDS, MESH_KIND_NAMES } from './sources.ts';

export interface Pending {
  /** Every workload, whatever changed (activation, a failed batch). */
  full: boolean;
  namespaces: Set<string>;
  config: Set<ObjectKey>;
  /** Workloads to look at again regardless (ConfigMap changed under us, retry after a failure). */
  recheck: Set<string>;
  /** Config objects unchanged themselves whose meaning changed (the key sets a RequestAuthentication names were
   * fetched anew): the workloads they concern are translated again, as if they had changed. */
  forced: Set<ObjectKey>;
}

export const freshPending = (full = false): Pending => ({ full, namespaces: new Set(), config: new Set(), recheck: new Set(), forced: new Set() });

export const hasWork = (p: Pending): boolean => p.full || p.namespaces.size > 0 || p.config.size > 0 || p.recheck.size > 0 || p.forced.size > 0;

/** `namespace/name` → [namespace, name]. */
export function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** Notes a change of `kind` `key` (`namespace/name`, or `name` for Namespaces); false for kinds translation ignores. */
export function addChange(p: Pending, kind: string, key: string): boolean {
  const ns = kind === 'Namespace' ? key : splitKey(key)[0];
  if (MESH_KIND_NAMES.includes(kind)) {
    p.config.add(`${kind}/${key}`);
    // ServiceEntries and WorkloadEntries define services and endpoints in their namespace.
    if (kind === 'ServiceEntry' || kind === 'WorkloadEntry') p.namespaces.add(ns);
    return true;
  }
  if ((KUBE_KINDS as readonly string[]).includes(kind)) {
    p.namespaces.add(ns);
    return true;
  }
  return false;
}
