// HTTP rules of a VirtualService: (rule, its path, context) -> findings. Covers the action exclusivity rules the
// CRD also enforces with CEL (same messages), matches, header changes, redirect/rewrite/directResponse, retries,
// faults, mirrors, CORS and destinations.
import type { VirtualServiceSpec } from '../api/virtualservice.ts';
import { checkDnsLabel, checkPercent, checkPort, checkRegex, parseDurationNs } from './common.ts';
import {
  checkFractionalPercent, checkHeaderName, checkHeaderValue, checkHeaderWrite, checkMsDuration,
  checkRequestHeaderWrite, isAuthorityHeader, isJwtClaimKey,
} from './networking-common.ts';
import { at } from './result.ts';
import type { Findings } from './result.ts';
import { checkDestination, checkMatchSource, checkWeights } from './virtualservice-dest.ts';

export type HTTPRoute = NonNullable<VirtualServiceSpec['http']>[number];
type HTTPMatch = NonNullable<HTTPRoute['match']>[number];
type StringMatch = NonNullable<HTTPMatch['uri']>;
type HeaderOps = NonNullable<NonNullable<HTTPRoute['headers']>['request']>;

export interface HttpContext {
  /** The VirtualService has no hosts: its rules are merged into a root VirtualService's delegate rule. */
  isDelegate: boolean;
  /** Bound to gateways only (not to the mesh): JWT claim matches are allowed. */
  gatewayOnly: boolean;
}

/** Messages shared with the CEL rules of crds/networking.istio.io_virtualservices.yaml (keep identical). */
export const CEL = {
  action: 'an HTTP route needs one of route, redirect, directResponse or delegate',
  routeRedirect: 'route and redirect cannot both be set in an HTTP route',
  routeDirect: 'route and directResponse cannot both be set in an HTTP route',
  redirectDirect: 'redirect and directResponse cannot both be set in an HTTP route',
  delegate: 'an HTTP route with delegate cannot also set route or redirect',
  fault: 'fault cannot be combined with redirect or directResponse in an HTTP route',
  rewrite: 'rewrite cannot be combined with redirect or directResponse in an HTTP route',
  mirrors: 'mirror and mirrors cannot both be set in an HTTP route',
  redirectPort: 'redirect: port and derivePort cannot both be set',
  rewriteUri: 'rewrite: uri and uriRegexRewrite cannot both be set',
  delay: 'fault.delay: fixedDelay and exponentialDelay cannot both be set',
  abort: 'fault.abort: only one of httpStatus, grpcStatus or http2Error may be set',
  duration: 'must be a duration of at least 1ms, such as "250ms" or "5s"',
} as const;

const RETRY_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);
/** Status codes with a standard reason phrase: retryOn accepts them as retriable codes. */
const KNOWN_STATUS = /^(10[0-3]|20[0-8]|226|30[0-5]|30[78]|40\d|41[0-8]|42[1-689]|431|451|50[0-8]|51[01])$/;
const GRPC_STATUS = new Set([
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
]);
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE']);
const MAX_REGEX = 1024;
const KB = 1024;

const nonEmpty = <T>(xs: T[] | undefined): xs is T[] => Array.isArray(xs) && xs.length > 0;

export function validateHttpRoute(r: HTTPRoute, path: string, ctx: HttpContext, f: Findings): void {
  checkAction(r, path, ctx, f);
  (r.match ?? []).forEach((m, j) => checkMatch(m, at(path, 'match', j), ctx, f));
  checkHeaderOps(r.headers, at(path, 'headers'), f);
  checkAuthorityOnce(r, path, f);
  if (nonEmpty(r.route)) {
    r.route.forEach((d, k) => {
      const p = at(path, 'route', k);
      if (d.destination) checkDestination(d.destination, at(p, 'destination'), f);
      else f.error(at(p, 'destination'), 'destination is required');
      checkHeaderOps(d.headers, at(p, 'headers'), f);
    });
    checkWeights(r.route, at(path, 'route'), f);
  }
  if (r.redirect) checkRedirect(r.redirect, at(path, 'redirect'), f);
  if (r.redirect?.prefixRewrite) {
    (r.match ?? []).forEach((m, j) => {
      if (m.uri && m.uri.prefix === undefined) f.error(at(path, 'match', j, 'uri'), 'redirect.prefixRewrite needs every uri match of the rule to be a prefix match');
    });
  }
  if (r.directResponse) checkDirectResponse(r.directResponse, at(path, 'directResponse'), f);
  if (r.delegate && !r.delegate.name) f.error(at(path, 'delegate', 'name'), 'delegate needs the name of a VirtualService');
  if (r.delegate?.namespace && checkDnsLabel(r.delegate.namespace)) f.error(at(path, 'delegate', 'namespace'), `"${r.delegate.namespace}" is not a valid namespace name`);
  if (r.rewrite) checkRewrite(r.rewrite, at(path, 'rewrite'), f);
  if (r.timeout !== undefined) duration(r.timeout, at(path, 'timeout'), f);
  if (r.retries) checkRetries(r.retries, at(path, 'retries'), f);
  if (r.fault) checkFault(r.fault, at(path, 'fault'), f);
  checkMirrors(r, path, f);
  if (r.corsPolicy) checkCors(r.corsPolicy, at(path, 'corsPolicy'), f);
}

function checkAction(r: HTTPRoute, path: string, ctx: HttpContext, f: Findings): void {
  const route = nonEmpty(r.route);
  if (!route && !r.redirect && !r.directResponse && !r.delegate) f.error(path, CEL.action);
  if (r.redirect && route) f.error(path, CEL.routeRedirect);
  if (r.directResponse && route) f.error(path, CEL.routeDirect);
  if (r.redirect && r.directResponse) f.error(path, CEL.redirectDirect);
  if (r.delegate && (r.redirect || route)) f.error(path, CEL.delegate);
  if (r.fault && (r.redirect || r.directResponse)) f.error(path, CEL.fault);
  if (r.rewrite && (r.redirect || r.directResponse)) f.error(path, CEL.rewrite);
  if (r.mirror && nonEmpty(r.mirrors)) f.error(path, CEL.mirrors);
  if (ctx.isDelegate && r.delegate) f.error(at(path, 'delegate'), 'a delegate VirtualService (one without hosts) cannot delegate again');
}

function duration(v: unknown, path: string, f: Findings): void {
  const err = checkMsDuration(v);
  if (err) f.error(path, `${CEL.duration}: ${err}`);
}

function checkStringMatch(sm: StringMatch | undefined, path: string, f: Findings, opts: { emptyPrefixOk?: boolean; starRegexOk?: boolean } = {}): void {
  if (!sm) return;
  const kinds = (['exact', 'prefix', 'regex'] as const).filter((k) => sm[k] !== undefined);
  if (kinds.length > 1) f.error(path, `only one of exact, prefix or regex may be set (found ${kinds.join(', ')})`);
  if (sm.prefix === '' && !opts.emptyPrefixOk) f.error(at(path, 'prefix'), 'prefix must not be empty');
  if (sm.regex !== undefined) {
    if (opts.starRegexOk && sm.regex === '*') return; // withoutHeaders: "*" means "header present"
    if (sm.regex === '') f.error(at(path, 'regex'), 'regex must not be empty');
    else if (sm.regex.length > MAX_REGEX) f.error(at(path, 'regex'), `regex is longer than ${MAX_REGEX} characters`);
    else {
      const err = checkRegex(sm.regex);
      if (err) f.error(at(path, 'regex'), err, 'IST0122');
    }
  }
}

function checkMatch(m: HTTPMatch, path: string, ctx: HttpContext, f: Findings): void {
  checkStringMatch(m.uri, at(path, 'uri'), f, { emptyPrefixOk: true });
  checkStringMatch(m.scheme, at(path, 'scheme'), f);
  checkStringMatch(m.method, at(path, 'method'), f);
  checkStringMatch(m.authority, at(path, 'authority'), f);
  for (const field of ['headers', 'withoutHeaders'] as const) {
    for (const [name, sm] of Object.entries(m[field] ?? {})) {
      const p = `${at(path, field)}[${name}]`;
      const err = checkHeaderName(name, { allowJwtClaim: true });
      if (err) f.error(p, err);
      else if (isJwtClaimKey(name) && !ctx.gatewayOnly) f.error(p, 'JWT claim matches are only supported for VirtualServices bound to gateways (not the mesh)');
      checkStringMatch(sm, p, f, { starRegexOk: field === 'withoutHeaders' });
    }
  }
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) checkStringMatch(sm, `${at(path, 'queryParams')}[${name}]`, f);
  checkMatchSource(m, path, f);
}

export function checkHeaderOps(h: { request?: HeaderOps; response?: HeaderOps } | undefined, path: string, f: Findings): void {
  if (!h) return;
  for (const side of ['request', 'response'] as const) {
    const ops = h[side];
    if (!ops) continue;
    const nameCheck = side === 'request' ? checkRequestHeaderWrite : checkHeaderWrite;
    for (const op of ['set', 'add'] as const) {
      for (const [name, value] of Object.entries(ops[op] ?? {})) {
        const p = `${at(path, side, op)}[${name}]`;
        const err = nameCheck(name) ?? checkHeaderValue(String(value));
        if (err) f.error(p, err);
      }
    }
    (ops.remove ?? []).forEach((name, i) => {
      const err = checkHeaderWrite(name);
      if (err) f.error(at(path, side, 'remove', i), err);
    });
  }
}

/** The authority can be rewritten in one place only: rewrite.authority or one request header change. */
function checkAuthorityOnce(r: HTTPRoute, path: string, f: Findings): void {
  const sources: string[] = r.rewrite?.authority ? ['rewrite.authority'] : [];
  for (const op of ['set', 'add'] as const) {
    for (const name of Object.keys(r.headers?.request?.[op] ?? {})) if (isAuthorityHeader(name)) sources.push(`headers.request.${op}[${name}]`);
  }
  if (sources.length > 1) f.error(path, `the authority is rewritten more than once (${sources.join(', ')}); set it in one place`);
}

function checkRedirect(rd: NonNullable<HTTPRoute['redirect']>, path: string, f: Findings): void {
  if (!rd.uri && !rd.prefixRewrite && !rd.authority && rd.port === undefined && !rd.derivePort && !rd.scheme) {
    f.error(path, 'redirect must change at least one of uri, prefixRewrite, authority, port, derivePort or scheme');
  }
  if (rd.uri && rd.prefixRewrite) f.error(path, 'redirect: only one of uri or prefixRewrite may be set');
  if (rd.port !== undefined && rd.derivePort !== undefined) f.error(path, CEL.redirectPort);
  if (rd.port !== undefined) {
    const err = checkPort(rd.port);
    if (err) f.error(at(path, 'port'), err);
  }
  if (rd.derivePort !== undefined && !['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'].includes(rd.derivePort)) f.error(at(path, 'derivePort'), 'must be FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT');
  if (rd.redirectCode !== undefined && rd.redirectCode !== 0 && (rd.redirectCode < 300 || rd.redirectCode > 399)) f.error(at(path, 'redirectCode'), `${rd.redirectCode} is not a redirect status (300-399)`);
  if (rd.scheme !== undefined && rd.scheme !== '' && rd.scheme !== 'http' && rd.scheme !== 'https') f.error(at(path, 'scheme'), `scheme must be "http" or "https", not "${rd.scheme}"`);
}

function checkStatus(status: unknown, path: string, f: Findings): void {
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) f.error(path, `HTTP status ${String(status)} is not in range 200-599`);
}

function checkDirectResponse(dr: NonNullable<HTTPRoute['directResponse']>, path: string, f: Findings): void {
  checkStatus(dr.status, at(path, 'status'), f);
  const body = dr.body;
  if (!body) return;
  if (body.string !== undefined && body.bytes !== undefined) f.error(at(path, 'body'), 'only one of string or bytes may be set');
  const size = body.string !== undefined ? Buffer.byteLength(body.string) : body.bytes !== undefined ? Buffer.from(body.bytes, 'base64').length : 0;
  if (size > 1024 * KB) f.error(at(path, 'body'), 'directResponse body must be smaller than 1MB');
  else if (size > 100 * KB) f.warn(at(path, 'body'), 'large directResponse bodies (over 100KB) make every proxy configuration larger');
}

function checkRewrite(rw: NonNullable<HTTPRoute['rewrite']>, path: string, f: Findings): void {
  if (rw.uri && rw.uriRegexRewrite) f.error(path, CEL.rewriteUri);
  if (!rw.uri && !rw.uriRegexRewrite && !rw.authority) f.error(path, 'rewrite must set at least one of uri, uriRegexRewrite or authority');
  const rr = rw.uriRegexRewrite;
  if (rr) {
    if (!rr.match || rr.rewrite === undefined || rr.rewrite === '') f.error(at(path, 'uriRegexRewrite'), 'uriRegexRewrite needs both match and rewrite');
    if (rr.match) {
      const err = rr.match.length > MAX_REGEX ? `regex is longer than ${MAX_REGEX} characters` : checkRegex(rr.match);
      if (err) f.error(at(path, 'uriRegexRewrite', 'match'), err, 'IST0122');
    }
  }
}

function checkRetries(rt: NonNullable<HTTPRoute['retries']>, path: string, f: Findings): void {
  const attempts = rt.attempts ?? 0;
  if (attempts < 0) f.error(at(path, 'attempts'), 'attempts cannot be negative');
  if (attempts === 0 && (rt.perTryTimeout !== undefined || rt.retryOn || rt.retryRemoteLocalities != null)) {
    f.error(path, 'retry settings are given but attempts is 0 (retries disabled); set attempts');
  }
  if (rt.perTryTimeout !== undefined) duration(rt.perTryTimeout, at(path, 'perTryTimeout'), f);
  if (rt.backoff !== undefined) duration(rt.backoff, at(path, 'backoff'), f);
  for (const policy of (rt.retryOn ?? '').split(',').filter((p) => p !== '')) {
    const p = policy.trim();
    if (!RETRY_ON.has(p) && !KNOWN_STATUS.test(p)) f.error(at(path, 'retryOn'), `"${p}" is not a valid retryOn condition`);
  }
}

function checkFault(fault: NonNullable<HTTPRoute['fault']>, path: string, f: Findings): void {
  if (!fault.delay && !fault.abort) f.error(path, 'fault needs an abort and/or a delay');
  const d = fault.delay;
  if (d) {
    const p = at(path, 'delay');
    if (d.fixedDelay !== undefined && d.exponentialDelay !== undefined) f.error(p, CEL.delay);
    if (d.fixedDelay !== undefined) duration(d.fixedDelay, at(p, 'fixedDelay'), f);
    else if (d.exponentialDelay !== undefined) {
      duration(d.exponentialDelay, at(p, 'exponentialDelay'), f);
      f.error(at(p, 'exponentialDelay'), 'exponentialDelay is not supported; use fixedDelay');
    } else f.warn(p, 'delay has no fixedDelay, so it delays nothing');
    if (d.percentage) percent(checkFractionalPercent(d.percentage.value ?? 0), at(p, 'percentage', 'value'), f);
    if (d.percent !== undefined) {
      percent(checkPercent(d.percent), at(p, 'percent'), f);
      f.warn(at(p, 'percent'), 'percent is deprecated; use percentage.value');
    }
  }
  const a = fault.abort;
  if (a) {
    const p = at(path, 'abort');
    const kinds = [a.httpStatus, a.grpcStatus, a.http2Error].filter((x) => x !== undefined).length;
    if (kinds > 1) f.error(p, CEL.abort);
    if (a.percentage) percent(checkFractionalPercent(a.percentage.value ?? 0), at(p, 'percentage', 'value'), f);
    if (a.httpStatus !== undefined) checkStatus(a.httpStatus, at(p, 'httpStatus'), f);
    else if (a.grpcStatus !== undefined) {
      if (!GRPC_STATUS.has(a.grpcStatus)) f.error(at(p, 'grpcStatus'), `gRPC status "${a.grpcStatus}" is not a status name such as UNAVAILABLE or NOT_FOUND`);
    } else if (a.http2Error !== undefined) f.error(at(p, 'http2Error'), 'HTTP/2 error aborts are not supported; use httpStatus or grpcStatus');
    else f.warn(p, 'abort has no httpStatus or grpcStatus, so it does nothing');
  }
}

function percent(err: string | undefined, path: string, f: Findings): void {
  if (err) f.error(path, err);
}

function checkMirrors(r: HTTPRoute, path: string, f: Findings): void {
  if (r.mirror) checkDestination(r.mirror, at(path, 'mirror'), f);
  if (r.mirrorPercentage) percent(checkPercent(r.mirrorPercentage.value ?? 0), at(path, 'mirrorPercentage', 'value'), f);
  for (const field of ['mirrorPercent', 'mirror_percent'] as const) {
    const v = r[field];
    if (v == null) continue;
    percent(checkPercent(v), at(path, field), f);
    f.warn(at(path, field), `${field} is deprecated; use mirrorPercentage`);
  }
  (r.mirrors ?? []).forEach((m, i) => {
    const p = at(path, 'mirrors', i);
    if (!m.destination) f.error(at(p, 'destination'), 'destination is required');
    else checkDestination(m.destination, at(p, 'destination'), f);
    if (m.percentage) percent(checkPercent(m.percentage.value ?? 0), at(p, 'percentage', 'value'), f);
  });
}

function checkCors(c: NonNullable<HTTPRoute['corsPolicy']>, path: string, f: Findings): void {
  (c.allowOrigins ?? []).forEach((o, i) => {
    const p = at(path, 'allowOrigins', i);
    if (!o.exact && !o.prefix && !o.regex) f.error(p, 'an allowed origin needs a non-empty exact, prefix or regex');
    checkStringMatch(o, p, f);
  });
  if (c.allowOrigin !== undefined) f.warn(at(path, 'allowOrigin'), 'allowOrigin is deprecated; use allowOrigins');
  (c.allowMethods ?? []).forEach((m, i) => {
    if (!METHODS.has(m)) f.error(at(path, 'allowMethods', i), `"${m}" is not a supported HTTP method`);
  });
  for (const field of ['allowHeaders', 'exposeHeaders'] as const) {
    (c[field] ?? []).forEach((h, i) => {
      const err = checkHeaderName(h, { allowStar: true });
      if (err) f.error(at(path, field, i), err);
    });
  }
  if (c.maxAge !== undefined) {
    duration(c.maxAge, at(path, 'maxAge'), f);
    const ns = typeof c.maxAge === 'string' ? parseDurationNs(c.maxAge) : undefined;
    if (ns !== undefined && ns >= 1e6 && Math.abs(ns / 1e9 - Math.round(ns / 1e9)) > 1e-9) f.error(at(path, 'maxAge'), 'maxAge is only accurate to whole seconds');
  }
}
