// AuthorizationPolicies of one action → the RBAC configs Istio writes for them: one envoy.config.rbac.v3.RBAC of the
// enforced policies (`rules`) and one of the dry-run ones (`istio.io/dry-run: "true"` → `shadowRules`), policies
// named `ns[<ns>]-policy[<name>]-rule[<i>]`. An ALLOW policy without rules contributes a policy that matches
// nothing, so it denies everything. Policies in, rule sets out (undefined when no policy of that kind exists).
import type { AuthorizationPolicy } from '../../api/index.ts';
import { list } from '../../model/kube.ts';
import type { EnvoyObject } from '../types.ts';
import { MATCH_NEVER, type RbacAction, type Rule, rulePolicy } from './rule.ts';

export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
export const SHADOW_PREFIX = { ALLOW: 'istio_dry_run_allow_', DENY: 'istio_dry_run_deny_' } as const;
export const EXT_AUTHZ_SHADOW_PREFIX = 'istio_ext_authz_';
export const EXT_AUTHZ_MATCH_PREFIX = 'istio-ext-authz';
export const TCP_STAT_PREFIX = 'tcp.';

/** Istio reads the annotation with Go's ParseBool: 1, t, T, TRUE, true, True are true. */
export function isDryRun(p: AuthorizationPolicy): boolean {
  const v = p.metadata?.annotations?.[DRY_RUN_ANNOTATION];
  return v !== undefined && ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v);
}

export function policyName(p: AuthorizationPolicy, rule: number, prefix = ''): string {
  return `${prefix}ns[${p.metadata?.namespace ?? ''}]-policy[${p.metadata?.name ?? ''}]-rule[${rule}]`;
}

export interface RuleSets {
  /** envoy.config.rbac.v3.RBAC of the enforced policies; undefined when every policy is dry-run. */
  rules?: EnvoyObject;
  /** The same for the dry-run policies; undefined when there are none. */
  shadowRules?: EnvoyObject;
}

/** RBAC `{action, policies}`; ALLOW (the proto3 default) is left unwritten so the config decodes back unchanged. */
export function rbacRules(action: RbacAction, policies: Record<string, EnvoyObject>): EnvoyObject {
  const sorted = Object.fromEntries(Object.keys(policies).sort().map((k) => [k, policies[k]!]));
  const out: EnvoyObject = action === 'ALLOW' ? {} : { action };
  if (Object.keys(sorted).length > 0) out.policies = sorted;
  return out;
}

/** The policies (map entries) one AuthorizationPolicy contributes. */
export function policyEntries(p: AuthorizationPolicy, action: RbacAction, forTCP: boolean, namePrefix = ''): Record<string, EnvoyObject> {
  const out: Record<string, EnvoyObject> = {};
  const rules = list(p.spec?.rules);
  if (rules.length === 0) {
    out[policyName(p, 0, namePrefix)] = MATCH_NEVER;
    return out;
  }
  rules.forEach((r, i) => {
    const generated = rulePolicy(r as Rule, p.metadata?.namespace ?? '', forTCP, action);
    if (generated) out[policyName(p, i, namePrefix)] = generated;
  });
  return out;
}

/** The enforced and dry-run rule sets of policies that share an action. */
export function ruleSets(policies: readonly AuthorizationPolicy[], action: RbacAction, forTCP: boolean): RuleSets | undefined {
  if (policies.length === 0) return undefined;
  const enforced = policies.filter((p) => !isDryRun(p));
  const dry = policies.filter(isDryRun);
  const collect = (ps: readonly AuthorizationPolicy[]) => Object.assign({}, ...ps.map((p) => policyEntries(p, action, forTCP))) as Record<string, EnvoyObject>;
  const out: RuleSets = {};
  if (enforced.length > 0) out.rules = rbacRules(action, collect(enforced));
  if (dry.length > 0) out.shadowRules = rbacRules(action, collect(dry));
  return out;
}

/** The typed config fields of an RBAC filter (HTTP or network) for a rule set. */
export function rbacFilterFields(sets: RuleSets, action: RbacAction): EnvoyObject {
  const out: EnvoyObject = {};
  if (sets.rules) out.rules = sets.rules;
  if (sets.shadowRules) {
    out.shadowRules = sets.shadowRules;
    if (action !== 'LOG') out.shadowRulesStatPrefix = SHADOW_PREFIX[action];
  }
  return out;
}
