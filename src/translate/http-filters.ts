// The HTTP filter chain of every HttpConnectionManager weft writes, and the per-route configs of the filters
// in it: fault injection and CORS are always present (empty) so a route can switch them on through
// typedPerFilterConfig; the router is last. VirtualService fault/corsPolicy values in, Envoy objects out.
import type { Protocol } from '../model/types.ts';
import { any, bool, duration } from './envoy/values.ts';
import { integerFraction, percentFraction } from './route-action.ts';
import { stringMatcher } from './route-match.ts';
import type { EnvoyObject } from './types.ts';
import type { CorsPolicy, HTTPFault } from './vs-types.ts';

export const FAULT_FILTER = 'envoy.filters.http.fault';
export const CORS_FILTER = 'envoy.filters.http.cors';
export const ROUTER_FILTER = 'envoy.filters.http.router';
export const GRPC_WEB_FILTER = 'envoy.filters.http.grpc_web';

const FAULT_TYPE = 'envoy.extensions.filters.http.fault.v3.HTTPFault';
const CORS_POLICY_TYPE = 'envoy.extensions.filters.http.cors.v3.CorsPolicy';

/** grpc_web (gRPC-Web ports only), fault, cors, router — in that order. */
export function httpFilters(protocol: Protocol): EnvoyObject[] {
  const filters: EnvoyObject[] = [];
  if (protocol === 'GRPC-WEB') filters.push({ name: GRPC_WEB_FILTER, typedConfig: any('envoy.extensions.filters.http.grpc_web.v3.GrpcWeb') });
  filters.push(
    { name: FAULT_FILTER, typedConfig: any(FAULT_TYPE) },
    { name: CORS_FILTER, typedConfig: any('envoy.extensions.filters.http.cors.v3.Cors') },
    { name: ROUTER_FILTER, typedConfig: any('envoy.extensions.filters.http.router.v3.Router') },
  );
  return filters;
}

const GRPC_CODES: Readonly<Record<string, number>> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/**
 * HTTPFault for a rule's `fault`, as an Any for the fault filter; undefined when nothing can be injected.
 * Percentages are doubles turned into millionths; a delay without any percentage delays nothing, an abort
 * without one aborts nothing (Envoy's zero fraction), as in Istio. Exponential delays and HTTP/2 errors are
 * not supported.
 */
export function faultConfig(f: HTTPFault): EnvoyObject | undefined {
  const out: EnvoyObject = {};
  if (f.delay?.fixedDelay) {
    out.delay = {
      fixedDelay: duration(f.delay.fixedDelay),
      percentage: f.delay.percentage ? percentFraction(f.delay.percentage) : integerFraction(f.delay.percent ?? 0),
    };
  }
  const a = f.abort;
  if (a && (a.httpStatus !== undefined || (a.grpcStatus !== undefined && GRPC_CODES[a.grpcStatus] !== undefined))) {
    const abort: EnvoyObject = a.httpStatus !== undefined ? { httpStatus: a.httpStatus } : { grpcStatus: GRPC_CODES[a.grpcStatus ?? ''] };
    if (a.percentage) abort.percentage = percentFraction(a.percentage);
    out.abort = abort;
  }
  if (!out.delay && !out.abort) return undefined;
  return any(FAULT_TYPE, out);
}

/** The cors filter's per-route CorsPolicy; unmatched preflights are forwarded unless IGNORE is asked for. */
export function corsConfig(c: CorsPolicy): EnvoyObject {
  const out: EnvoyObject = {};
  const origins = c.allowOrigins?.map(stringMatcher).filter((m) => m !== undefined)
    ?? c.allowOrigin?.map((o) => ({ exact: o }));
  if (origins && origins.length > 0) out.allowOriginStringMatch = origins;
  if (c.allowMethods?.length) out.allowMethods = c.allowMethods.join(',');
  if (c.allowHeaders?.length) out.allowHeaders = c.allowHeaders.join(',');
  if (c.exposeHeaders?.length) out.exposeHeaders = c.exposeHeaders.join(',');
  if (c.maxAge) out.maxAge = String(Math.trunc((duration(c.maxAge).seconds ?? 0)));
  if (c.allowCredentials !== undefined) out.allowCredentials = bool(c.allowCredentials);
  out.filterEnabled = { defaultValue: { numerator: 100 } };
  out.forwardNotMatchingPreflights = bool(c.unmatchedPreflights !== 'IGNORE');
  return any(CORS_POLICY_TYPE, out);
}
