// Scope checks shared by the security policies (PeerAuthentication, AuthorizationPolicy, RequestAuthentication):
// the workload selector and the targetRef/targetRefs alternatives. In: the spec fields and a Findings sink;
// out: findings only. Messages that mirror a CEL rule of the CRDs repeat the rule's message word for word, so
// the API server and the offline validator agree on the text.
import { checkLabelKey, checkLabelValue } from './common.ts';
import { at, type Findings } from './result.ts';

export interface WorkloadSelectorLike {
  matchLabels?: { [k: string]: string | undefined };
}

export interface TargetRefLike {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** What a policy may target, as group (empty for the core group) and kind. */
const ALLOWED_TARGETS: ReadonlyArray<{ group: string; kind: string }> = [
  { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
  { group: 'gateway.networking.k8s.io', kind: 'GatewayClass' },
  { group: '', kind: 'Service' },
  { group: 'networking.istio.io', kind: 'ServiceEntry' },
];

const ALLOWED_TEXT = ALLOWED_TARGETS.map((t) => `${t.kind} (${t.group || 'core'})`).join(', ');

export function selectorHasLabels(selector: WorkloadSelectorLike | undefined): boolean {
  return Object.keys(selector?.matchLabels ?? {}).length > 0;
}

/** Wildcards and empty keys are refused (they never select anything); odd label syntax only warns. */
export function checkWorkloadSelector(f: Findings, path: string, selector: WorkloadSelectorLike | undefined): void {
  if (selector === undefined || selector === null) return;
  const labels = selector.matchLabels ?? {};
  if (Object.keys(labels).length === 0) {
    f.warn(path, 'selector has no matchLabels, so the policy applies to every workload in its scope');
    return;
  }
  if (Object.keys(labels).length > 4096) f.error(`${path}.matchLabels`, 'matchLabels may have at most 4096 entries');
  for (const [key, value] of Object.entries(labels)) {
    const p = `${path}.matchLabels[${key}]`;
    if (key === '') f.error(`${path}.matchLabels`, 'matchLabels keys must not be empty');
    else if (key.includes('*')) f.error(p, 'matchLabels keys may not contain a wildcard');
    if (typeof value !== 'string') {
      f.error(p, 'matchLabels values must be strings');
      continue;
    }
    if (value.includes('*')) f.error(p, 'matchLabels values may not contain a wildcard');
    else if (value.length > 63) f.error(p, `matchLabels value is longer than 63 characters`);
    if (key !== '' && !key.includes('*') && !value.includes('*')) {
      const syntax = checkLabelKey(key) ?? checkLabelValue(value);
      if (syntax) f.warn(p, `${syntax}; no Kubernetes workload can carry this label`);
    }
  }
}

function checkTargetRef(f: Findings, path: string, ref: TargetRefLike): void {
  if (typeof ref !== 'object' || ref === null) {
    f.error(path, 'must be an object with kind and name');
    return;
  }
  if (!ref.name) f.error(at(path, 'name'), 'targetRef name must be set');
  if (!ref.kind) f.error(at(path, 'kind'), 'targetRef kind must be set');
  if (ref.namespace) {
    f.error(at(path, 'namespace'), 'targetRef namespace must be empty, cross-namespace references are not supported');
  }
  if (!ref.kind) return;
  const group = ref.group === 'core' ? '' : (ref.group ?? '');
  if (!ALLOWED_TARGETS.some((t) => t.kind === ref.kind && t.group === group)) {
    f.error(path, `targetRef must refer to one of ${ALLOWED_TEXT}; got kind ${ref.kind} in group "${ref.group ?? ''}"`);
  }
}

/** selector, targetRef and targetRefs are alternatives; presence counts, as in the CRD's CEL rule. */
export function checkPolicyScope(
  f: Findings,
  spec: { selector?: WorkloadSelectorLike; targetRef?: TargetRefLike; targetRefs?: readonly TargetRefLike[] },
): void {
  const set = [spec.selector, spec.targetRef, spec.targetRefs].filter((x) => x !== undefined && x !== null).length;
  if (set > 1) f.error('spec', 'only one of selector, targetRef or targetRefs may be set');
  checkWorkloadSelector(f, 'spec.selector', spec.selector);
  if (spec.targetRef !== undefined && spec.targetRef !== null) checkTargetRef(f, 'spec.targetRef', spec.targetRef);
  if (spec.targetRefs !== undefined && spec.targetRefs !== null) {
    if (!Array.isArray(spec.targetRefs)) {
      f.error('spec.targetRefs', 'must be a list');
      return;
    }
    if (spec.targetRefs.length === 0) {
      f.warn('spec.targetRefs', 'targetRefs is empty, so the policy applies as if no target were set');
    }
    if (spec.targetRefs.length > 16) f.error('spec.targetRefs', 'at most 16 targetRefs may be set');
    spec.targetRefs.forEach((ref, i) => checkTargetRef(f, at('spec.targetRefs', i), ref));
  }
}
