// VirtualService match conditions → Envoy RouteMatch (envoy.config.route.v3), plus the conditions a sidecar
// settles while generating config (port, source labels, source namespace, gateways) instead of at request time.
import { compare } from '../model/kube.ts';
import type { Workload } from '../model/types.ts';
import type { EnvoyObject } from './types.ts';
import { bool } from './envoy/values.ts';
import type { HTTPMatchRequest, StringMatch } from './vs-types.ts';
import { MESH_GATEWAY } from './virtual-services.ts';

/** envoy.type.matcher.v3.StringMatcher; undefined when the condition names no kind of match. */
export function stringMatcher(m: StringMatch | undefined): EnvoyObject | undefined {
  if (!m) return undefined;
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  if (m.regex !== undefined) return { safeRegex: { regex: m.regex } };
  return undefined;
}

/** An empty condition, or the regex `*` (not RE2; Istio's spelling of "any value"), asks only for presence. */
function presenceOnly(m: StringMatch | undefined): boolean {
  return !m || (m.exact === undefined && m.prefix === undefined && m.regex === undefined) || m.regex === '*';
}

function headerMatcher(name: string, m: StringMatch | undefined): EnvoyObject {
  if (presenceOnly(m)) return { name, presentMatch: true };
  return { name, stringMatch: stringMatcher(m) };
}

const CLAIM_PREFIX = '@request.auth.claims';

/**
 * The claim names of a JWT claim condition, as Istio reads the key: `@request.auth.claims.a.b` (split on `.`) or
 * `@request.auth.claims[a][b]` (split on `][`), the prefix in any case; undefined for any other key (an ordinary
 * header, even one spelled `@request.auth.claims`).
 */
export function routingClaim(name: string): string[] | undefined {
  if (!name.toLowerCase().startsWith(CLAIM_PREFIX)) return undefined;
  const rest = name.slice(CLAIM_PREFIX.length);
  if (rest.startsWith('.') && rest.length > 1) return rest.slice(1).split('.');
  if (rest.startsWith('[') && rest.endsWith(']') && rest.length > 2) return rest.slice(1, -1).split('][');
  return undefined;
}

/**
 * A claim condition as Istio writes it into the route: a MetadataMatcher on the `istio_authn` metadata at
 * `request.auth.claims` and the claim names (each claim holds a list of strings), one element of which must match.
 * The authentication filters (jwt_authn, istio_authn) write that metadata on gateways and inbound listeners only,
 * so on a sidecar's outbound routes the claim is never there: the condition never matches (and its
 * `withoutHeaders` form always does), as in Istio.
 */
function claimMatcher(claims: readonly string[], m: StringMatch | undefined): EnvoyObject {
  // An empty condition gives Istio no string matcher (config Envoy refuses); here it asks for any element.
  const sm = presenceOnly(m) ? undefined : stringMatcher(m);
  return {
    filter: 'istio_authn',
    path: ['request.auth.claims', ...claims].map((key) => ({ key })),
    value: { listMatch: { oneOf: sm ? { stringMatch: sm } : { presentMatch: true } } },
  };
}

const byName = (o: Readonly<Record<string, StringMatch | undefined>> | undefined): Array<[string, StringMatch | undefined]> =>
  Object.entries(o ?? {}).sort(([a], [b]) => compare(a, b));

/** Istio's route match for one match entry (none: everything under `/`). */
export function routeMatch(m: HTTPMatchRequest | undefined): EnvoyObject {
  const out: EnvoyObject = { prefix: '/' };
  if (!m) return out;
  const headers: EnvoyObject[] = [];
  const metadata: EnvoyObject[] = [];
  for (const [name, sm] of byName(m.headers)) {
    const claims = routingClaim(name);
    if (claims) metadata.push(claimMatcher(claims, sm));
    else headers.push(headerMatcher(name, sm));
  }
  for (const [name, sm] of byName(m.withoutHeaders)) {
    const claims = routingClaim(name);
    if (claims) {
      metadata.push({ ...claimMatcher(claims, sm), invert: true });
      continue;
    }
    const h = headerMatcher(name, sm);
    h.invertMatch = true;
    // A missing header counts as an empty value, so `withoutHeaders: {x: {exact: v}}` matches requests without x.
    if (!presenceOnly(sm)) h.treatMissingHeaderAsEmpty = true;
    headers.push(h);
  }
  headers.sort((a, b) => compare(String(a.name), String(b.name)));
  if (m.uri) {
    delete out.prefix;
    if (m.uri.exact !== undefined) out.path = m.uri.exact;
    else if (m.uri.prefix !== undefined) out.prefix = m.uri.prefix;
    else if (m.uri.regex !== undefined) out.safeRegex = { regex: m.uri.regex };
    else out.prefix = '/';
  }
  out.caseSensitive = bool(!m.ignoreUriCase);
  if (m.method) headers.push(headerMatcher(':method', m.method));
  if (m.authority) headers.push(headerMatcher(':authority', m.authority));
  if (m.scheme) headers.push(headerMatcher(':scheme', m.scheme));
  if (headers.length > 0) out.headers = headers;
  const params = Object.keys(m.queryParams ?? {}).sort().map((name) => {
    const sm = m.queryParams?.[name];
    return presenceOnly(sm) ? { name, presentMatch: true } : { name, stringMatch: stringMatcher(sm) };
  });
  if (params.length > 0) out.queryParameters = params;
  if (metadata.length > 0) out.dynamicMetadata = metadata;
  return out;
}

/** Everything matches: `/` prefix (or `.*`), nothing else. Later routes of the same VirtualService are unreachable. */
export function isCatchAll(match: EnvoyObject): boolean {
  const path = match.prefix === '/' || (match.safeRegex as { regex?: string } | undefined)?.regex === '.*';
  return path && !match.headers && !match.queryParameters && !match.dynamicMetadata;
}

/**
 * Whether a match entry applies to this sidecar on this listener port. Gateways in the match replace the
 * source conditions: when listed, only `mesh` makes it apply (source labels are then not checked, as in Istio).
 */
export function appliesToSidecar(m: HTTPMatchRequest | undefined, workload: Workload, port: number): boolean {
  if (!m) return true;
  if (m.port && m.port !== port) return false;
  if (m.gateways && m.gateways.length > 0) return m.gateways.includes(MESH_GATEWAY);
  return labelsSubset(m.sourceLabels, workload.labels) && (!m.sourceNamespace || m.sourceNamespace === workload.namespace);
}

export function labelsSubset(want: Readonly<Record<string, string | undefined>> | undefined, have: Readonly<Record<string, string>>): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => v === undefined || have[k] === v);
}

/** L4 (tls/tcp) match entries: every static condition must hold. */
export function l4AppliesToSidecar(
  m: { port?: number; gateways?: string[]; sourceLabels?: Record<string, string | undefined>; sourceNamespace?: string },
  workload: Workload, port: number,
): boolean {
  const gateway = !m.gateways || m.gateways.length === 0 || m.gateways.includes(MESH_GATEWAY);
  return gateway && labelsSubset(m.sourceLabels, workload.labels) && (!m.port || m.port === port)
    && (!m.sourceNamespace || m.sourceNamespace === workload.namespace);
}

/** A route's path as a tracing operation suffix: `/prefix*`, the exact path, or the regex. */
export function pathForOperation(match: EnvoyObject): string {
  if (typeof match.prefix === 'string') return `${match.prefix}*`;
  if (typeof match.path === 'string') return match.path;
  const regex = (match.safeRegex as { regex?: string } | undefined)?.regex;
  return regex ?? '/*';
}
