// Which AuthorizationPolicies and RequestAuthentications apply to a workload, by Istio's rule: a policy in the
// workload's namespace or in the root namespace, whose selector (matchLabels) the workload's labels satisfy — no
// selector means every workload of its namespace (every workload of the mesh from the root namespace). A policy
// with targetRef/targetRefs attaches to waypoints or Gateway API gateways, which weft does not run: it applies to
// no sidecar and no weft gateway. Snapshot and workload in; the policies, sorted by namespace (root namespace
// first) then name, out. Pure.
import type { AuthorizationPolicy, RequestAuthentication } from '../../api/index.ts';
import { compare, record, selectorMatches, stringMap } from '../../model/kube.ts';
import type { Snapshot, Workload } from '../../model/types.ts';
import { objectKey } from '../names.ts';

type Policy = AuthorizationPolicy | RequestAuthentication;

export const keyOf = (kind: 'AuthorizationPolicy' | 'RequestAuthentication', p: Policy): string =>
  objectKey(kind, p.metadata?.namespace ?? '', p.metadata?.name ?? '');

function hasTargetRefs(spec: Record<string, unknown>): boolean {
  if (spec.targetRef !== undefined && spec.targetRef !== null) return true;
  return Array.isArray(spec.targetRefs) && spec.targetRefs.length > 0;
}

/** Whether `p` (of either kind) applies to workload `w`. */
export function appliesTo(p: Policy, w: Workload, rootNamespace: string): boolean {
  const ns = p.metadata?.namespace ?? '';
  if (ns !== w.namespace && ns !== rootNamespace) return false;
  const spec = record(p.spec);
  if (hasTargetRefs(spec)) return false;
  return selectorMatches(stringMap(record(spec.selector).matchLabels), w.labels);
}

function applicable<T extends Policy>(all: readonly T[], w: Workload, root: string): T[] {
  const rank = (p: T) => ((p.metadata?.namespace ?? '') === root ? 0 : 1);
  return all
    .filter((p) => appliesTo(p, w, root))
    .sort((a, b) => rank(a) - rank(b)
      || compare(a.metadata?.namespace ?? '', b.metadata?.namespace ?? '')
      || compare(a.metadata?.name ?? '', b.metadata?.name ?? ''));
}

export function authorizationPoliciesFor(snapshot: Snapshot, w: Workload): AuthorizationPolicy[] {
  return applicable(snapshot.config.authorizationPolicies ?? [], w, snapshot.options.rootNamespace);
}

export function requestAuthenticationsFor(snapshot: Snapshot, w: Workload): RequestAuthentication[] {
  return applicable(snapshot.config.requestAuthentications ?? [], w, snapshot.options.rootNamespace);
}
