// Envoy's CORS filter over a route's CorsPolicy (ClusterAction.cors): a preflight (OPTIONS with Origin and
// Access-Control-Request-Method) from an allowed origin is answered by the proxy; a preflight from another
// origin is forwarded (forward_not_matching_preflights, default true) or answered without CORS headers; an
// actual request from an allowed origin gets Access-Control-Allow-Origin (and credentials / expose headers) on
// its response. Requests without Origin are not CORS requests.
import { arr, bool, fractionalPercent, has, obj, str } from '../routing/envoy-values.ts';
import { compileStringMatcher } from '../routing/string-matcher.ts';
import type { StringPredicate } from '../routing/string-matcher.ts';

type CorsDecision =
  | { kind: 'none' }
  | { kind: 'preflight'; headers: Record<string, string> }
  | { kind: 'actual'; headers: Record<string, string> };

const NONE: CorsDecision = { kind: 'none' };
const compiled = new WeakMap<object, StringPredicate[]>();

function originMatchers(policy: Record<string, unknown>): StringPredicate[] {
  const list = policy.allowOriginStringMatch;
  if (!Array.isArray(list)) return [];
  let m = compiled.get(list);
  if (!m) {
    m = arr(list).map(compileStringMatcher);
    compiled.set(list, m);
  }
  return m;
}

function originAllowed(policy: Record<string, unknown>, origin: string): boolean {
  for (const match of originMatchers(policy)) if (match('*') || match(origin)) return true;
  return false;
}

export function corsDecision(
  policy: Record<string, unknown>, method: string, origin: string | undefined, requestMethod: string | undefined, random: number,
): CorsDecision {
  if (origin === undefined || origin === '') return NONE;
  const enabled = has(policy, 'filterEnabled') ? fractionalPercent(obj(policy.filterEnabled).defaultValue) : 100;
  if (random * 100 >= enabled) return NONE;
  const allowed = originAllowed(policy, origin);
  const credentials = bool(policy.allowCredentials, false);
  if (method === 'OPTIONS' && requestMethod !== undefined && requestMethod !== '') {
    if (!allowed) return bool(policy.forwardNotMatchingPreflights, true) ? NONE : { kind: 'preflight', headers: {} };
    const h: Record<string, string> = { 'access-control-allow-origin': origin };
    if (credentials) h['access-control-allow-credentials'] = 'true';
    if (str(policy.allowMethods)) h['access-control-allow-methods'] = str(policy.allowMethods);
    if (str(policy.allowHeaders)) h['access-control-allow-headers'] = str(policy.allowHeaders);
    if (str(policy.maxAge)) h['access-control-max-age'] = str(policy.maxAge);
    return { kind: 'preflight', headers: h };
  }
  if (!allowed) return NONE;
  const h: Record<string, string> = { 'access-control-allow-origin': origin };
  if (credentials) h['access-control-allow-credentials'] = 'true';
  if (str(policy.exposeHeaders)) h['access-control-expose-headers'] = str(policy.exposeHeaders);
  return { kind: 'actual', headers: h };
}
