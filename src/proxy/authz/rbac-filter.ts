// One RBAC filter (HTTP envoy.extensions.filters.http.rbac.v3.RBAC or network …network.rbac.v3.RBAC): its
// enforced `rules` and its `shadowRules` (evaluated, never enforced) compiled once per config object; `check`
// runs both against a request or connection and writes what Envoy writes into dynamic metadata: under the
// filter's namespace `<shadowRulesStatPrefix>shadow_effective_policy_id` (when a shadow policy matched) and
// `<shadowRulesStatPrefix>shadow_engine_result` ("allowed" | "denied"); for enforced LOG rules `access_log_hint`
// under `envoy.common`. A filter without rules enforces nothing. The sidecar's stages and simulate() share this.
import { has, obj, str } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import type { AuthzAttributes } from './attributes.ts';
import { compileRbac } from './rbac-engine.ts';
import type { RbacAction, RbacEngine } from './rbac-engine.ts';

export const HTTP_RBAC_TYPE = 'envoy.extensions.filters.http.rbac.v3.RBAC';
export const NETWORK_RBAC_TYPE = 'envoy.extensions.filters.network.rbac.v3.RBAC';
export const HTTP_RBAC_NAMESPACE = 'envoy.filters.http.rbac';
export const NETWORK_RBAC_NAMESPACE = 'envoy.filters.network.rbac';
/** Envoy's shared namespace for the access log hint RBAC LOG rules set. */
export const COMMON_NAMESPACE = 'envoy.common';

/** Dynamic metadata the filter writes into (namespace → fields). */
export type WritableMetadata = Map<string, Record<string, unknown>>;

export interface CompiledRbacFilter {
  /** The metadata namespace: envoy.filters.http.rbac or envoy.filters.network.rbac. */
  readonly namespace: string;
  readonly rules?: RbacEngine;
  readonly shadow?: RbacEngine;
  readonly shadowPrefix: string;
  /** The unified `matcher` / `shadowMatcher` API, which weft does not evaluate: enforced as deny-all. */
  readonly unsupportedMatcher: boolean;
}

export interface ShadowDecision {
  allowed: boolean;
  action: RbacAction;
  policy?: string;
  /** shadowRulesStatPrefix (istio_dry_run_allow_, istio_ext_authz_, …). */
  prefix: string;
}

export interface RbacDecision {
  allowed: boolean;
  /** The enforced rules' action; undefined when the filter enforces nothing. */
  action?: RbacAction;
  policy?: string;
  /** LOG rules: a policy matched. */
  logged?: boolean;
  shadow?: ShadowDecision;
  /** Response code details for a denial: rbac_access_denied_matched_policy[<policy>|none]. */
  details?: string;
}

const filters = new WeakMap<object, CompiledRbacFilter>();

export function compileRbacFilter(config: Obj, namespace: string = HTTP_RBAC_NAMESPACE): CompiledRbacFilter {
  let f = filters.get(config);
  if (f) return f;
  f = {
    namespace,
    ...(has(config, 'rules') ? { rules: compileRbac(obj(config.rules)) } : {}),
    ...(has(config, 'shadowRules') ? { shadow: compileRbac(obj(config.shadowRules)) } : {}),
    shadowPrefix: str(config.shadowRulesStatPrefix),
    unsupportedMatcher: !has(config, 'rules') && has(config, 'matcher'),
  };
  filters.set(config, f);
  return f;
}

function put(metadata: WritableMetadata | undefined, namespace: string, key: string, value: unknown): void {
  if (!metadata) return;
  let ns = metadata.get(namespace);
  if (!ns) metadata.set(namespace, (ns = {}));
  ns[key] = value;
}

export function checkRbacFilter(f: CompiledRbacFilter, a: AuthzAttributes, metadata: WritableMetadata | undefined): RbacDecision {
  const out: RbacDecision = { allowed: true };
  if (f.shadow) {
    const r = f.shadow.evaluate(a);
    const shadow: ShadowDecision = { allowed: r.allowed, action: f.shadow.action, prefix: f.shadowPrefix };
    if (r.policy !== undefined) {
      shadow.policy = r.policy;
      put(metadata, f.namespace, `${f.shadowPrefix}shadow_effective_policy_id`, r.policy);
    }
    put(metadata, f.namespace, `${f.shadowPrefix}shadow_engine_result`, r.allowed ? 'allowed' : 'denied');
    out.shadow = shadow;
  }
  if (f.unsupportedMatcher) {
    out.allowed = false;
    out.details = 'rbac_access_denied_matched_policy[none]';
    return out;
  }
  if (!f.rules) return out;
  const r = f.rules.evaluate(a);
  out.action = f.rules.action;
  out.allowed = r.allowed;
  if (r.policy !== undefined) out.policy = r.policy;
  if (f.rules.action === 'LOG') {
    out.logged = r.logged === true;
    put(metadata, COMMON_NAMESPACE, 'access_log_hint', out.logged);
  }
  if (!r.allowed) out.details = `rbac_access_denied_matched_policy[${r.policy ?? 'none'}]`;
  return out;
}
