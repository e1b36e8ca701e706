// The parts of an Envoy route that say what happens to a matched request: destination clusters (single or
// weighted), header operations, rewrites, redirects, direct responses, retries, mirrors and hash policies.
// VirtualService rule values in, envoy.config.route.v3 objects out.
import type { MeshService } from '../model/types.ts';
import type { TranslateContext } from './index.ts';
import { clusterName } from './names.ts';
import { any, bool, duration, u32 } from './envoy/values.ts';
import { hashPolicyFor } from './load-balancer.ts';
import { destinationRuleFor, effectivePolicy } from './traffic-policy.ts';
import type { EnvoyObject } from './types.ts';
import type { Destination, HTTPRetry, HTTPRoute, Headers, Percent } from './vs-types.ts';

export interface ResolvedDestination {
  cluster: string;
  host: string;
  port: number;
  service?: MeshService;
}

/**
 * `outbound|<port>|<subset>|<fqdn>` for a destination. The port is the destination's, else the service's only
 * port, else the listener's (Istio's fallback, which reaches the same-numbered port of a multi-port service).
 */
export function resolveDestination(ctx: TranslateContext, dest: Destination, hostNamespace: string, listenerPort: number): ResolvedDestination {
  const host = ctx.snapshot.resolveHost(dest.host, hostNamespace);
  const service = ctx.snapshot.serviceFor(host, ctx.workload.namespace);
  const only = service && service.ports.length === 1 ? service.ports[0]?.port : undefined;
  const port = dest.port?.number ?? only ?? listenerPort;
  return { cluster: clusterName('outbound', port, dest.subset ?? '', host), host, port, service };
}

export interface HeaderOps {
  requestHeadersToAdd: EnvoyObject[];
  requestHeadersToRemove: string[];
  responseHeadersToAdd: EnvoyObject[];
  responseHeadersToRemove: string[];
  /** A request `:authority`/`host` value, applied as a host rewrite instead of a header. */
  authority?: string;
}

const isAuthority = (k: string) => k.toLowerCase() === ':authority' || k.toLowerCase() === 'host';
/** Pseudo-headers and `host` cannot be written as headers by the proxy. */
const isInternal = (k: string) => k.startsWith(':') || k.toLowerCase() === 'host';

function valueOptions(values: Readonly<Record<string, string | undefined>> | undefined, append: boolean): { list: EnvoyObject[]; authority?: string } {
  let authority: string | undefined;
  const list: EnvoyObject[] = [];
  for (const key of Object.keys(values ?? {}).sort()) {
    const value = values?.[key];
    if (value === undefined) continue;
    if (isAuthority(key)) authority = value;
    if (isInternal(key)) continue;
    // APPEND_IF_EXISTS_OR_ADD is the enum's zero value, so `add` entries leave appendAction out.
    list.push(append ? { header: { key, value } } : { header: { key, value }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  }
  return authority === undefined ? { list } : { list, authority };
}

/** `set` entries first (they replace), then `add` (they append); authority from `set` wins over `add`. */
export function headerOps(h: Headers | undefined): HeaderOps {
  const set = valueOptions(h?.request?.set, false);
  const add = valueOptions(h?.request?.add, true);
  const out: HeaderOps = {
    requestHeadersToAdd: [...set.list, ...add.list],
    requestHeadersToRemove: (h?.request?.remove ?? []).filter((k) => !isInternal(k)),
    responseHeadersToAdd: [...valueOptions(h?.response?.set, false).list, ...valueOptions(h?.response?.add, true).list],
    responseHeadersToRemove: (h?.response?.remove ?? []).filter((k) => !isInternal(k)),
  };
  const authority = set.authority ?? add.authority;
  if (authority !== undefined) out.authority = authority;
  return out;
}

/** Copies the non-empty header lists onto a Route or a ClusterWeight. */
export function applyHeaderOps(target: EnvoyObject, ops: HeaderOps): void {
  const append = (k: keyof Omit<HeaderOps, 'authority'>) => {
    if (ops[k].length === 0) return;
    target[k] = [...((target[k] as unknown[] | undefined) ?? []), ...ops[k]];
  };
  append('requestHeadersToAdd');
  append('requestHeadersToRemove');
  append('responseHeadersToAdd');
  append('responseHeadersToRemove');
}

const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

const previousHosts = () => ({
  name: 'envoy.retry_host_predicates.previous_hosts',
  typedConfig: any('envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate'),
});

/**
 * Envoy's RetryPolicy for a rule. Unset → the mesh default (2 retries on connection failures, refused streams,
 * `unavailable`, `cancelled` and 503, preferring other hosts). `attempts` 0 or unset in a given policy turns
 * retries off, as Istio reads proto3's zero. With consistent hashing the retry stays on the hashed host.
 */
export function retryPolicy(r: HTTPRetry | undefined, consistentHash: boolean): EnvoyObject | undefined {
  const out: EnvoyObject = {
    retryOn: DEFAULT_RETRY_ON,
    numRetries: u32(2),
    hostSelectionRetryMaxAttempts: 5,
    retriableStatusCodes: [503],
  };
  if (!consistentHash) out.retryHostPredicate = [previousHosts()];
  if (!r) return out;
  if (!r.attempts || r.attempts <= 0) return undefined;
  out.numRetries = u32(r.attempts);
  if (r.retryOn) {
    const { on, codes } = parseRetryOn(r.retryOn);
    if (codes.length > 0 && !on.includes('retriable-status-codes')) on.push('retriable-status-codes');
    out.retryOn = on.join(',');
    if (codes.length > 0) out.retriableStatusCodes = codes;
    else delete out.retriableStatusCodes;
  }
  if (r.perTryTimeout) out.perTryTimeout = duration(r.perTryTimeout);
  if (r.retryIgnorePreviousHosts !== undefined) {
    if (r.retryIgnorePreviousHosts) out.retryHostPredicate = [previousHosts()];
    else delete out.retryHostPredicate;
  }
  if (r.retryRemoteLocalities) {
    out.retryPriority = {
      name: 'envoy.retry_priorities.previous_priorities',
      typedConfig: any('envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig', { updateFrequency: 2 }),
    };
  }
  if (r.backoff) out.retryBackOff = { baseInterval: duration(r.backoff) };
  return out;
}

/** Status codes in `retryOn` become retriable status codes; the other words are Envoy retry conditions. */
function parseRetryOn(retryOn: string): { on: string[]; codes: number[] } {
  const on: string[] = [];
  const codes: number[] = [];
  for (const raw of retryOn.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const n = Number(part);
    if (/^\d+$/.test(part) && n >= 100 && n <= 599) codes.push(n);
    else on.push(part);
  }
  return { on, codes };
}

/** envoy.type.v3.FractionalPercent from a 0–100 double, in millionths (Istio's precision); HUNDRED is the zero value. */
export function percentFraction(p: Percent): EnvoyObject {
  const numerator = Math.round((p.value ?? 0) * 10000);
  return numerator === 0 ? { denominator: 'MILLION' } : { numerator, denominator: 'MILLION' };
}

/** A deprecated integer percentage, in hundredths. */
export function integerFraction(n: number): EnvoyObject {
  return n === 0 ? {} : { numerator: n };
}

/** Request mirroring: `mirror` (+ mirrorPercentage, default 100) and `mirrors[]`; a 0 percentage mirrors nothing. */
export function mirrorPolicies(ctx: TranslateContext, rule: HTTPRoute, hostNamespace: string, listenerPort: number): EnvoyObject[] {
  const out: EnvoyObject[] = [];
  const policy = (dest: Destination, fraction: EnvoyObject) => ({
    cluster: resolveDestination(ctx, dest, hostNamespace, listenerPort).cluster,
    runtimeFraction: { defaultValue: fraction },
    traceSampled: bool(false),
  });
  if (rule.mirror) {
    const legacy = rule.mirrorPercent ?? rule.mirror_percent;
    let fraction: EnvoyObject | undefined = integerFraction(100);
    if (rule.mirrorPercentage) fraction = (rule.mirrorPercentage.value ?? 0) > 0 ? percentFraction(rule.mirrorPercentage) : undefined;
    else if (legacy !== undefined) fraction = legacy > 0 ? integerFraction(legacy) : undefined;
    if (fraction) out.push(policy(rule.mirror, fraction));
  }
  for (const m of rule.mirrors ?? []) {
    if (!m.destination) continue;
    if (m.percentage && !((m.percentage.value ?? 0) > 0)) continue;
    out.push(policy(m.destination, m.percentage ? percentFraction(m.percentage) : integerFraction(100)));
  }
  return out;
}

/**
 * The route hash policy a destination's DestinationRule asks for (consistentHash on the cluster's effective
 * load balancer: subset and port-level settings applied, as for the cluster itself).
 */
export function hashPolicy(ctx: TranslateContext, dest: ResolvedDestination, subset: string | undefined): EnvoyObject | undefined {
  if (!dest.service) return undefined;
  const rule = destinationRuleFor(ctx, dest.service);
  if (!rule) return undefined;
  const sub = subset ? rule.spec?.subsets?.find((s) => s.name === subset) : undefined;
  return hashPolicyFor(effectivePolicy(rule, dest.port, sub)?.loadBalancer)?.[0];
}
