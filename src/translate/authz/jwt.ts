// RequestAuthentication → envoy.filters.http.jwt_authn, as Istio writes it: one provider per jwtRule (all the
// workload's rules, sorted by issuer, named `origins-<i>`), keys inline (the rule's `jwks`, or the keys the operator
// fetched from its `jwksUri`, MeshOptions.jwks; keys that could not be fetched become Istio's placeholder key set
// that no token verifies against, so a request with a token gets 401 and one without passes), the verified payload
// in dynamic metadata under the issuer, and a requirement that any token present be valid (`allow_missing`).
// Followed by `istio_authn`, which turns that metadata into Istio's request.auth.* attributes. On a gateway every
// provider clears the route cache (as Istio sets it for any proxy but a sidecar), so the route is chosen again
// with the token's claims (VirtualService `@request.auth.claims` matches). Rules in, the two HTTP filters out
// (none without rules).
import type { RequestAuthentication } from '../../api/index.ts';
import type { MeshOptions } from '../../model/types.ts';
import { any } from '../envoy/values.ts';
import type { EnvoyObject } from '../types.ts';

export const JWT_AUTHN_FILTER = 'envoy.filters.http.jwt_authn';
export const ISTIO_AUTHN_FILTER = 'istio_authn';
export const ISTIO_AUTHN_TYPE = 'weft.v1.IstioAuthn';

type JwtRule = NonNullable<NonNullable<RequestAuthentication['spec']>['jwtRules']>[number];

/** Istio's stand-in when the keys of `uri` could not be fetched: an RSA key no token is signed with. */
export function fakeJwks(uri: string): string {
  const n = Buffer.from(`Error-IstiodFailedToFetchJwksUri-${uri}`).toString('base64url');
  return `{"keys":[ {"e":"AQAB","kid":"abc","kty":"RSA","n":"${n}"}]}`;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const objects = (v: unknown): Array<Record<string, unknown>> =>
  (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => x !== null && typeof x === 'object') : []);

/** The JWKS JSON a rule verifies with. */
export function jwksFor(rule: JwtRule, fetched: MeshOptions['jwks']): string {
  if (text(rule.jwks) !== '') return text(rule.jwks);
  const uri = text(rule.jwksUri) || text(rule.jwks_uri);
  // Without a jwksUri the keys are discovered from the issuer; the operator files them under the issuer.
  const got = Object.hasOwn(fetched, uri || text(rule.issuer)) ? fetched[uri || text(rule.issuer)] : undefined;
  if (got && typeof got === 'object' && 'keys' in got && typeof got.keys === 'string') return got.keys;
  return fakeJwks(uri || text(rule.issuer));
}

function provider(rule: JwtRule, fetched: MeshOptions['jwks'], clearRouteCache: boolean): EnvoyObject {
  const p: EnvoyObject = {};
  const issuer = text(rule.issuer);
  if (issuer) p.issuer = issuer;
  const audiences = strings(rule.audiences);
  if (audiences.length > 0) p.audiences = audiences;
  p.localJwks = { inlineString: jwksFor(rule, fetched) };
  if (rule.forwardOriginalToken === true) p.forward = true;
  const headers = objects(rule.fromHeaders)
    .filter((h) => text(h.name) !== '')
    .map((h) => (text(h.prefix) ? { name: text(h.name), valuePrefix: text(h.prefix) } : { name: text(h.name) }));
  if (headers.length > 0) p.fromHeaders = headers;
  const params = strings(rule.fromParams);
  if (params.length > 0) p.fromParams = params;
  const cookies = strings(rule.fromCookies);
  if (cookies.length > 0) p.fromCookies = cookies;
  if (text(rule.outputPayloadToHeader)) p.forwardPayloadHeader = text(rule.outputPayloadToHeader);
  if (issuer) p.payloadInMetadata = issuer;
  const claims = objects(rule.outputClaimToHeaders)
    .filter((c) => text(c.header) !== '' && text(c.claim) !== '')
    .map((c) => ({ headerName: text(c.header), claimName: text(c.claim) }));
  if (claims.length > 0) p.claimToHeaders = claims;
  // Istio always treats `scope` and `permission` as space-delimited, plus the rule's own.
  p.normalizePayloadInMetadata = { spaceDelimitedClaims: [...new Set([...strings(rule.spaceDelimitedClaims), 'permission', 'scope'])].sort() };
  if (clearRouteCache) p.clearRouteCache = true;
  return p;
}

/** The jwtRules of the policies, in Istio's order (by issuer; stable). */
export function jwtRulesOf(policies: readonly RequestAuthentication[]): JwtRule[] {
  const rules = policies.flatMap((p) => (Array.isArray(p.spec?.jwtRules) ? p.spec.jwtRules : []))
    .filter((r): r is JwtRule => r !== null && typeof r === 'object');
  return rules.map((r, i) => ({ r, i }))
    .sort((a, b) => (text(a.r.issuer) < text(b.r.issuer) ? -1 : text(a.r.issuer) > text(b.r.issuer) ? 1 : a.i - b.i))
    .map(({ r }) => r);
}

/** JwtAuthentication for the rules; undefined without rules. `clearRouteCache`: on gateways. */
export function jwtAuthentication(rules: readonly JwtRule[], fetched: MeshOptions['jwks'], clearRouteCache = false): EnvoyObject | undefined {
  if (rules.length === 0) return undefined;
  const providers: Record<string, EnvoyObject> = {};
  const inner: EnvoyObject[] = [];
  const outer: EnvoyObject[] = [];
  rules.forEach((rule, i) => {
    const name = `origins-${i}`;
    providers[name] = provider(rule, fetched, clearRouteCache);
    inner.push({ requiresAny: { requirements: [{ providerName: name }, { allowMissing: {} }] } });
    outer.push({ providerName: name });
  });
  // One provider: its token, if any, must be valid. Several: every present token valid (AND of the OR-missing
  // pairs), or any one provider satisfied (for providers that read the same location).
  const requires = inner.length === 1 ? inner[0]! : { requiresAny: { requirements: [...outer, { requiresAll: { requirements: inner } }] } };
  return { providers, rules: [{ match: { prefix: '/' }, requires }], bypassCorsPreflight: true };
}

/** jwt_authn then istio_authn for the workload's RequestAuthentications; [] when they have no rules. */
export function jwtFilters(policies: readonly RequestAuthentication[], fetched: MeshOptions['jwks'], gateway = false): EnvoyObject[] {
  const config = jwtAuthentication(jwtRulesOf(policies), fetched ?? {}, gateway);
  if (!config) return [];
  return [
    { name: JWT_AUTHN_FILTER, typedConfig: any('envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication', config) },
    { name: ISTIO_AUTHN_FILTER, typedConfig: any(ISTIO_AUTHN_TYPE) },
  ];
}
