// Authorization along a filter chain without running it, for simulate() and the TCP proxy. HTTP: the
// connection manager's `http_filters` in order up to the router — each RBAC filter checked (shadow rules and LOG
// noted), an ext_authz filter reported as "would be checked" when its filter_enabled_metadata matches (the
// external answer cannot be known here), the first denial ends the walk. JWT stages are not run: their dynamic
// metadata comes with the description. TCP: the network filters before tcp_proxy (or the connection manager), as
// the sidecar runs them — RBAC checked, a network ext_authz filter reported as "would be checked" when its
// filter_enabled_metadata matches the metadata the RBAC filters before it wrote.
import { has } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import type { AuthzAttributes } from './attributes.ts';
import { compileMetadataMatcher } from './metadata.ts';
import type { MetadataPredicate } from './metadata.ts';
import { checkRbacFilter, compileRbacFilter, HTTP_RBAC_TYPE, NETWORK_RBAC_NAMESPACE, NETWORK_RBAC_TYPE } from './rbac-filter.ts';
import type { RbacDecision, WritableMetadata } from './rbac-filter.ts';

export const EXT_AUTHZ_TYPE = 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
export const NETWORK_EXT_AUTHZ_TYPE = 'envoy.extensions.filters.network.ext_authz.v3.ExtAuthz';
const ROUTER_TYPE = 'envoy.extensions.filters.http.router.v3.Router';

/** A filter of a chain: its name and typed config (HttpFilter, or a network filter). */
export interface ChainFilter {
  name: string;
  type: string;
  config: Obj;
}

export interface ShadowSummary {
  filter: string;
  prefix: string;
  result: 'allowed' | 'denied';
  policy?: string;
}

export interface AuthzSummary {
  decision: 'allowed' | 'denied';
  /** The filter that denied. */
  filter?: string;
  /** The policy that denied (DENY rules), or none matched (ALLOW rules). */
  policy?: string;
  /** Response code details of the denial (rbac_access_denied_matched_policy[…]). */
  details?: string;
  shadow?: ShadowSummary[];
  /** A LOG (AUDIT) policy matched. */
  audit?: true;
  auditPolicies?: string[];
  /** An ext_authz filter would ask the external authorizer (its filter_enabled_metadata matched). */
  extAuthz?: 'checked';
}

const enabledMatchers = new WeakMap<Obj, MetadataPredicate | null>();

/** ext_authz's filter_enabled_metadata: undefined when the filter has none (it always runs). */
export function extAuthzEnabledBy(config: Obj): MetadataPredicate | undefined {
  let m = enabledMatchers.get(config);
  if (m === undefined) {
    m = has(config, 'filterEnabledMetadata') ? compileMetadataMatcher(config.filterEnabledMetadata) : null;
    enabledMatchers.set(config, m);
  }
  return m ?? undefined;
}

function note(out: AuthzSummary, filter: string, d: RbacDecision): boolean {
  if (d.shadow) {
    (out.shadow ??= []).push({
      filter, prefix: d.shadow.prefix, result: d.shadow.allowed ? 'allowed' : 'denied',
      ...(d.shadow.policy !== undefined ? { policy: d.shadow.policy } : {}),
    });
  }
  if (d.logged) {
    out.audit = true;
    (out.auditPolicies ??= []).push(d.policy ?? '');
  }
  if (d.allowed) return true;
  out.decision = 'denied';
  out.filter = filter;
  if (d.policy !== undefined) out.policy = d.policy;
  if (d.details !== undefined) out.details = d.details;
  return false;
}

/** Undefined when the chain has no authorization filter. `metadata` is written as the filters would. */
export function httpAuthzSummary(filters: readonly ChainFilter[], a: AuthzAttributes, metadata: WritableMetadata): AuthzSummary | undefined {
  let out: AuthzSummary | undefined;
  for (const f of filters) {
    if (f.type === ROUTER_TYPE) break;
    if (f.type === HTTP_RBAC_TYPE) {
      out ??= { decision: 'allowed' };
      if (!note(out, f.name, checkRbacFilter(compileRbacFilter(f.config), { ...a, metadata }, metadata))) return out;
    } else if (f.type === EXT_AUTHZ_TYPE) {
      out ??= { decision: 'allowed' };
      const enabled = extAuthzEnabledBy(f.config);
      if (!enabled || enabled(metadata)) out.extAuthz = 'checked';
    }
  }
  return out;
}

export function tcpAuthzSummary(filters: readonly ChainFilter[], a: AuthzAttributes, metadata: WritableMetadata = new Map()): AuthzSummary | undefined {
  let out: AuthzSummary | undefined;
  for (const f of filters) {
    if (f.type === NETWORK_RBAC_TYPE) {
      out ??= { decision: 'allowed' };
      if (!note(out, f.name, checkRbacFilter(compileRbacFilter(f.config, NETWORK_RBAC_NAMESPACE), a, metadata))) return out;
    } else if (f.type === NETWORK_EXT_AUTHZ_TYPE) {
      out ??= { decision: 'allowed' };
      const enabled = extAuthzEnabledBy(f.config);
      if (!enabled || enabled(metadata)) out.extAuthz = 'checked';
    }
  }
  return out;
}
