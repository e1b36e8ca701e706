// The HTTP RBAC filter's stage (envoy.extensions.filters.http.rbac.v3.RBAC). In: the request after routing and
// the stages before it (dynamic metadata from jwt_authn / istio_authn), the connection (peer principal, addresses,
// SNI); out: shadow results and the LOG hint in dynamic metadata and the access log hints, a decision record
// (weft_authz_decisions_total, `weft:authz`), and for a denial 403 `RBAC: access denied` with the response code
// details rbac_access_denied_matched_policy[<policy>|none] and no response flag. The evaluation is
// authz/rbac-filter.ts, which simulate() runs too.
import { httpAttributes } from '../../authz/attributes.ts';
import type { AuthzAttributes } from '../../authz/attributes.ts';
import { connectionFacts } from '../../authz/connection.ts';
import { reportRbac } from '../../authz/events.ts';
import { checkRbacFilter, compileRbacFilter, HTTP_RBAC_NAMESPACE } from '../../authz/rbac-filter.ts';
import type { FilterRequest, StageFactory } from './types.ts';

export const RBAC_DENIED_BODY = 'RBAC: access denied';

// One request's attributes, shared by the RBAC filters of its chain (the metadata map they see is the request's
// own, so what a stage adds between them is seen); kept on the request itself, not in a side table.
function attributesOf(req: FilterRequest): AuthzAttributes {
  const hit = req.authzCache;
  if (hit && hit.rawPath === req.request.path) return hit.attributes as AuthzAttributes;
  const plan = req.conn.plan();
  const attributes = httpAttributes(connectionFacts(req.conn), plan.kind === 'http' ? plan.hcm : undefined, req.request, req.metadata);
  req.authzCache = { rawPath: req.request.path, attributes };
  return attributes;
}

export const rbacFilter: StageFactory = (filter) => {
  const f = compileRbacFilter(filter.config, HTTP_RBAC_NAMESPACE);
  if (!f.rules && !f.shadow && !f.unsupportedMatcher) return undefined;
  const name = filter.name;
  return (req, next) => {
    const d = checkRbacFilter(f, attributesOf(req), req.metadata);
    reportRbac(req.runtime.telemetry, 'http', name, d);
    if (d.shadow) {
      req.logHints[`${d.shadow.prefix}shadow_engine_result`] = d.shadow.allowed ? 'allowed' : 'denied';
      if (d.shadow.policy !== undefined) req.logHints[`${d.shadow.prefix}shadow_effective_policy_id`] = d.shadow.policy;
    }
    if (d.logged) req.logHints.audit = d.policy ?? '';
    if (!d.allowed) {
      req.reply({ status: 403, body: RBAC_DENIED_BODY }, [], d.details);
      return;
    }
    next();
  };
};
