// The security filters of one workload's inbound (sidecar) or gateway connection managers and TCP chains, from the
// AuthorizationPolicies and RequestAuthentications that apply to it (select.ts), in the order every weft proxy
// runs them:
//   HTTP: jwt_authn, istio_authn, [CUSTOM: shadow RBAC + ext_authz], RBAC DENY, RBAC LOG (AUDIT), RBAC ALLOW
//   TCP:  [CUSTOM: shadow RBAC + ext_authz (gRPC providers)], RBAC DENY, RBAC LOG, RBAC ALLOW — before tcp_proxy
// A CUSTOM policy whose provider is missing or invalid, or several CUSTOM providers on one workload, turn the
// CUSTOM policies into a DENY RBAC (Istio fails closed). Every policy used is recorded as an input. Computed once
// per translation (the context is the key). Context in, filters and the authorizer clusters they call out.
import type { AuthorizationPolicy } from '../../api/index.ts';
import type { TranslateContext } from '../index.ts';
import { any } from '../envoy/values.ts';
import type { EnvoyObject } from '../types.ts';
import {
  type BuiltExtAuthz, HTTP_RBAC_FILTER, NETWORK_RBAC_FILTER, httpExtAuthzFilter, networkExtAuthzFilter, resolveProvider,
} from './ext-authz.ts';
import { jwtFilters } from './jwt.ts';
import { EXT_AUTHZ_SHADOW_PREFIX, TCP_STAT_PREFIX, isDryRun, policyEntries, rbacFilterFields, rbacRules, ruleSets } from './rbac.ts';
import type { RbacAction } from './rule.ts';
import { authorizationPoliciesFor, keyOf, requestAuthenticationsFor } from './select.ts';

export interface WorkloadSecurity {
  /** HTTP filters ahead of the connection manager's own. */
  http: EnvoyObject[];
  /** Network filters ahead of tcp_proxy. */
  tcp: EnvoyObject[];
  /** Clusters of the external authorizers the filters call. */
  clusters: Array<BuiltExtAuthz['cluster']>;
}

const HTTP_RBAC_TYPE = 'envoy.extensions.filters.http.rbac.v3.RBAC';
const NETWORK_RBAC_TYPE = 'envoy.extensions.filters.network.rbac.v3.RBAC';
export const BAD_CUSTOM_SUFFIX = '-deny-due-to-bad-CUSTOM-action';
const CUSTOM_NAME_PREFIX = 'istio-ext-authz-';

const httpRbac = (fields: EnvoyObject): EnvoyObject => ({ name: HTTP_RBAC_FILTER, typedConfig: any(HTTP_RBAC_TYPE, fields) });
const networkRbac = (fields: EnvoyObject): EnvoyObject =>
  ({ name: NETWORK_RBAC_FILTER, typedConfig: any(NETWORK_RBAC_TYPE, { statPrefix: TCP_STAT_PREFIX, ...fields }) });

type Action = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
const actionOf = (p: AuthorizationPolicy): Action | undefined => {
  const a = p.spec?.action ?? 'ALLOW';
  return a === 'ALLOW' || a === 'DENY' || a === 'AUDIT' || a === 'CUSTOM' ? a : undefined;
};

/** The CUSTOM policies' rules (DENY semantics: unusable values widen the match), named for ext_authz. */
function customEntries(policies: readonly AuthorizationPolicy[], forTCP: boolean, suffix = ''): Record<string, EnvoyObject> {
  const out: Record<string, EnvoyObject> = {};
  for (const p of policies) {
    for (const [k, v] of Object.entries(policyEntries(p, 'DENY', forTCP, CUSTOM_NAME_PREFIX))) out[k + suffix] = v;
  }
  return out;
}

interface Custom {
  http: EnvoyObject[];
  tcp: EnvoyObject[];
  cluster?: BuiltExtAuthz['cluster'];
}

function customFilters(ctx: TranslateContext, policies: readonly AuthorizationPolicy[]): Custom {
  // Dry-run CUSTOM policies are not evaluated (as in Istio, they never trigger the authorizer).
  const enforced = policies.filter((p) => !isDryRun(p));
  if (enforced.length === 0) return { http: [], tcp: [] };
  const providers = [...new Set(enforced.map((p) => p.spec?.provider?.name ?? ''))];
  const resolved = providers.length === 1 ? resolveProvider(ctx.snapshot, providers[0]!) : { error: 'several providers' };
  if ('error' in resolved) {
    const deny = (forTCP: boolean) => ({ rules: rbacRules('DENY', customEntries(enforced, forTCP, BAD_CUSTOM_SUFFIX)) });
    return { http: [httpRbac(deny(false))], tcp: [networkRbac(deny(true))] };
  }
  const ext = resolved.ok;
  const shadow = (forTCP: boolean) => ({ shadowRules: rbacRules('DENY', customEntries(enforced, forTCP)), shadowRulesStatPrefix: EXT_AUTHZ_SHADOW_PREFIX });
  return {
    http: [httpRbac(shadow(false)), httpExtAuthzFilter(ext.http)],
    // An HTTP authorizer cannot judge a TCP connection: TCP chains go without (as in Istio).
    tcp: ext.tcp ? [networkRbac(shadow(true)), networkExtAuthzFilter(ext.tcp)] : [],
    cluster: ext.cluster,
  };
}

function build(ctx: TranslateContext): WorkloadSecurity {
  const { snapshot, workload } = ctx;
  const authn = requestAuthenticationsFor(snapshot, workload);
  for (const p of authn) ctx.use(keyOf('RequestAuthentication', p));
  const byAction = new Map<Action, AuthorizationPolicy[]>();
  for (const p of authorizationPoliciesFor(snapshot, workload)) {
    const a = actionOf(p);
    if (!a) continue;
    ctx.use(keyOf('AuthorizationPolicy', p));
    byAction.set(a, [...(byAction.get(a) ?? []), p]);
  }
  const custom = customFilters(ctx, byAction.get('CUSTOM') ?? []);
  const http: EnvoyObject[] = [...jwtFilters(authn, snapshot.options.jwks, workload.mode === 'gateway'), ...custom.http];
  const tcp: EnvoyObject[] = [...custom.tcp];
  const order: Array<[Action, RbacAction]> = [['DENY', 'DENY'], ['AUDIT', 'LOG'], ['ALLOW', 'ALLOW']];
  for (const [action, rbac] of order) {
    const policies = byAction.get(action) ?? [];
    const h = ruleSets(policies, rbac, false);
    if (h) http.push(httpRbac(rbacFilterFields(h, rbac)));
    const t = ruleSets(policies, rbac, true);
    if (t) tcp.push(networkRbac(rbacFilterFields(t, rbac)));
  }
  return { http, tcp, clusters: custom.cluster ? [custom.cluster] : [] };
}

const cache = new WeakMap<TranslateContext, WorkloadSecurity>();

/** The workload's security filters (computed on first use within a translation). */
export function workloadSecurity(ctx: TranslateContext): WorkloadSecurity {
  let s = cache.get(ctx);
  if (!s) {
    s = build(ctx);
    cache.set(ctx, s);
  }
  return s;
}
