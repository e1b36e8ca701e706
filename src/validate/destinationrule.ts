// DestinationRule validation: a DestinationRule in, findings out. The host, the subsets (unique DNS-label
// names, valid labels), exportTo, the workload selector, and every traffic policy (see trafficpolicy.ts).
// Implements the CRD's CEL rules too, for the offline path that has no CEL.
import type { DestinationRule } from '../api/destinationrule.ts';
import { checkDnsLabel, checkLabels } from './common.ts';
import { checkExportTo, checkWildcardDomain } from './networking-common.ts';
import { at, Findings } from './result.ts';
import type { ValidationResult } from './result.ts';
import { checkTrafficPolicy } from './trafficpolicy.ts';

export function validateDestinationRule(obj: DestinationRule): ValidationResult {
  const f = new Findings();
  const spec = obj.spec;
  if (!spec || typeof spec !== 'object') {
    f.error('spec', 'Required value: a DestinationRule needs a spec with a host');
    return f.result();
  }
  if (typeof spec.host !== 'string' || spec.host === '') {
    f.error('spec.host', 'Required value: the service the rule applies to');
  } else {
    const e = checkWildcardDomain(spec.host);
    if (e) f.error('spec.host', e);
  }
  if (spec.trafficPolicy !== undefined) checkTrafficPolicy(spec.trafficPolicy, 'spec.trafficPolicy', f);
  checkSubsets(spec.subsets, f);
  checkSelector(spec.workloadSelector, f);
  checkVisibility(spec.exportTo, obj.metadata?.namespace, spec.workloadSelector !== undefined, f);
  return f.result();
}

function checkSubsets(subsets: NonNullable<DestinationRule['spec']>['subsets'], f: Findings): void {
  if (!Array.isArray(subsets)) return;
  const seen = new Map<string, number>();
  subsets.forEach((s, i) => {
    const p = at('spec.subsets', i);
    if (!s || typeof s !== 'object') {
      f.error(p, 'subset must be an object with a name');
      return;
    }
    const name = typeof s.name === 'string' ? s.name : '';
    if (name === '') {
      f.error(at(p, 'name'), 'Required value: every subset needs a name');
    } else {
      const e = checkDnsLabel(name);
      if (e) f.error(at(p, 'name'), `subset name is invalid: ${e}`);
      if (seen.has(name)) f.error(at(p, 'name'), `duplicate subset name "${name}" (also spec.subsets[${seen.get(name)}])`);
      else seen.set(name, i);
    }
    if (s.labels && typeof s.labels === 'object') checkLabels(s.labels as Record<string, string>, (key, message) => f.error(`${at(p, 'labels')}[${key}]`, message));
    if (s.trafficPolicy !== undefined) checkTrafficPolicy(s.trafficPolicy, at(p, 'trafficPolicy'), f);
  });
}

function checkSelector(sel: NonNullable<DestinationRule['spec']>['workloadSelector'], f: Findings): void {
  if (!sel) return;
  const labels = sel.matchLabels ?? {};
  for (const [k, v] of Object.entries(labels)) {
    const p = `spec.workloadSelector.matchLabels[${k}]`;
    if (k === '') f.error(p, 'key must not be empty');
    else if (k.includes('*')) f.error(p, 'wildcard not allowed in label key match');
    else if ((v ?? '').includes('*')) f.error(p, 'wildcard not allowed in label value match');
    else checkLabels({ [k]: v ?? '' }, (_key, message) => f.error(p, message));
  }
  if (Object.keys(labels).length === 0) {
    f.warn('spec.workloadSelector', 'workload selector without labels applies the rule to every workload in the namespace');
  }
}

/**
 * exportTo entries; a rule with a workload selector applies to workloads of its own namespace only, so it may
 * not be exported anywhere else.
 */
function checkVisibility(exportTo: string[] | undefined, namespace: string | undefined, hasSelector: boolean, f: Findings): void {
  const list = Array.isArray(exportTo) ? exportTo : [];
  checkExportTo(list, namespace, (i, message) => f.error(i < 0 ? 'spec.exportTo' : at('spec.exportTo', i), message));
  if (!hasSelector || list.length === 0) return;
  const own = (v: string) => v === '.' || (namespace !== undefined && v === namespace);
  if (!list.some(own)) {
    f.error('spec.exportTo', 'destination rule with workload selector cannot have exportTo beyond current namespace (use ".")');
  } else if (new Set(list.map((v) => (own(v) ? '.' : v))).size > 1) {
    f.error('spec.exportTo', 'destination rule with workload selector cannot have multiple entries in exportTo (use ".")');
  }
}
