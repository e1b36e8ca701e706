// Checks shared by the networking.istio.io validators (VirtualService, Gateway, and usable by the others):
// Istio's host and gateway-reference syntax, exportTo, HTTP header names/values, durations to the millisecond
// and fractional percentages. Values in, an error message (string) or undefined out — callers choose the path.
import { hostMatches } from '../model/hosts.ts';
import { checkDuration, checkDnsLabel, checkHost, ipVersion, parseDurationNs } from './common.ts';

/**
 * A host in Istio's "wildcard domain" form: `*`, or a DNS name whose first label may start with `*`.
 * Like Istio, the top-level label of a multi-label name cannot be all digits (that would be a mangled IP address).
 */
export function checkWildcardDomain(host: string): string | undefined {
  const err = checkHost(host);
  if (err) return err;
  const labels = host.replace(/\.$/, '').split('.');
  const top = labels[labels.length - 1]!;
  if (labels.length > 1 && /^\d+$/.test(top)) return `host "${host}" is not a valid DNS name (all-numeric top-level label "${top}")`;
  return undefined;
}

/** A fully qualified or short DNS name without wildcards. */
export function checkFqdn(host: string): string | undefined {
  if (host.includes('*')) return `"${host}" must not contain a wildcard`;
  return checkWildcardDomain(host);
}

/**
 * `sub` is covered by `sup` (Istio's SubsetOf): equal, or `sup` is a wildcard whose suffix `sub` carries.
 * The mesh's own host matching, but case-insensitive: config may spell a host in any case.
 */
export function hostSubsetOf(sub: string, sup: string): boolean {
  return hostMatches(sup.toLowerCase(), sub.toLowerCase());
}

/** Two hosts overlap when either one covers the other. */
export function hostsOverlap(a: string, b: string): boolean {
  return hostSubsetOf(a, b) || hostSubsetOf(b, a);
}

export function isIpAddress(value: string): boolean {
  return ipVersion(value) !== 0;
}

/**
 * A gateway reference in a VirtualService: `mesh`, `name` (same namespace) or `namespace/name`.
 * Returns an error and/or a warning (the legacy `name.namespace` form still works but is discouraged).
 */
export function checkGatewayRef(ref: string): { error?: string; warning?: string } {
  const slash = ref.indexOf('/');
  if (slash < 0) {
    const out: { error?: string; warning?: string } = {};
    if (ref.includes('.')) {
      const [name, ns] = ref.split('.');
      out.warning = `gateway "${ref}" uses the legacy name.namespace form; prefer "${ns}/${name}"`;
    }
    const err = ref === '' ? 'gateway name must not be empty' : checkFqdn(ref);
    if (err) out.error = `invalid gateway "${ref}": ${err}`;
    return out;
  }
  const ns = ref.slice(0, slash);
  const name = ref.slice(slash + 1);
  if (ns === '' || name === '') return { error: `gateway "${ref}" must be of the form namespace/name with both parts set` };
  const nsErr = checkDnsLabel(ns);
  if (nsErr) return { error: `invalid namespace in gateway "${ref}": ${nsErr}` };
  const nameErr = checkDnsLabel(name);
  if (nameErr) return { error: `invalid gateway name in "${ref}": ${nameErr}` };
  return {};
}

/**
 * exportTo entries: `.` (own namespace), `*` (everyone) or namespace names; `~` (nobody) only where allowed
 * (ServiceEntry). Reports each problem as (index, message); index -1 is about the list as a whole.
 */
export function checkExportTo(
  values: readonly string[],
  namespace: string | undefined,
  report: (index: number, message: string) => void,
  opts: { allowNone?: boolean } = {},
): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    const key = v === '.' && namespace ? namespace : v;
    if (seen.has(key)) {
      const own = namespace && (v === '.' || v === namespace) ? ` ("." is the resource's own namespace "${namespace}")` : '';
      report(i, `duplicate exportTo entry "${v}"${own}`);
      return;
    }
    seen.add(key);
    if (v === '.' || v === '*') return;
    if (v === '~') {
      if (!opts.allowNone) report(i, 'exportTo "~" (nobody) is not allowed for this kind');
      return;
    }
    if (checkDnsLabel(v)) report(i, `exportTo entry "${v}" must be ".", "*" or a namespace name`);
  });
  if (seen.has('*') && values.length > 1) report(-1, 'exportTo "*" (all namespaces) cannot be combined with other entries');
  if (seen.has('~') && values.length > 1) report(-1, 'exportTo "~" (nobody) cannot be combined with other entries');
}

const HEADER_NAME = /^[-_A-Za-z0-9]+$/;
const JWT_CLAIM_PREFIX = '@request.auth.claims';

export function isJwtClaimKey(name: string): boolean {
  return name.startsWith(`${JWT_CLAIM_PREFIX}.`) || name.startsWith(`${JWT_CLAIM_PREFIX}[`);
}

export function checkHeaderName(name: string, opts: { allowStar?: boolean; allowJwtClaim?: boolean } = {}): string | undefined {
  if (name === '') return 'header name must not be empty';
  if (opts.allowStar && name === '*') return undefined;
  if (opts.allowJwtClaim && isJwtClaimKey(name)) {
    return name.length > JWT_CLAIM_PREFIX.length + 1 ? undefined : `"${name}" names no JWT claim`;
  }
  if (!HEADER_NAME.test(name)) return `"${name}" is not a valid header name (letters, digits, "-" and "_" only)`;
  return undefined;
}

/** Names a request header may be set or added under: anything but pseudo-headers, except the authority. */
export function checkRequestHeaderWrite(name: string): string | undefined {
  if (name === '') return 'header name must not be empty';
  if (name.startsWith(':') && name.toLowerCase() !== ':authority') return `header "${name}" cannot be changed (pseudo-header)`;
  return undefined;
}

/** Names for removing request headers and for any response header change: no Host, no pseudo-headers. */
export function checkHeaderWrite(name: string): string | undefined {
  if (name === '') return 'header name must not be empty';
  if (name.toLowerCase() === 'host') return 'the Host header cannot be changed here (use rewrite.authority)';
  if (name.startsWith(':')) return `header "${name}" cannot be changed (pseudo-header)`;
  return undefined;
}

export function isAuthorityHeader(name: string): boolean {
  const n = name.toLowerCase();
  return n === ':authority' || n === 'host';
}

/** Control characters other than horizontal tab are not allowed in header values. */
function hasControlChar(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/**
 * A header value as the proxy takes it: no control characters, and `%` only as `%%` (a literal percent) or
 * around a variable such as `%DOWNSTREAM_REMOTE_ADDRESS%` or `%START_TIME(%s)%`.
 */
export function checkHeaderValue(value: string): string | undefined {
  if (hasControlChar(value)) return 'header value must not contain control characters';
  let i = 0;
  while (i < value.length) {
    if (value[i] !== '%') {
      i++;
      continue;
    }
    if (value[i + 1] === '%') {
      i += 2;
      continue;
    }
    let j = i + 1;
    while (j < value.length && /[A-Z0-9_]/.test(value[j]!)) j++;
    const bad = `header value "${value}" has a stray "%" at ${i} (write "%%" for a literal percent sign)`;
    if (j === i + 1) return bad;
    if (value[j] === '(') {
      let depth = 0;
      for (; j < value.length; j++) {
        if (value[j] === '(') depth++;
        else if (value[j] === ')' && --depth === 0) break;
      }
      if (j >= value.length) return bad;
      j++;
    }
    if (value[j] === ':') {
      j++;
      while (j < value.length && /\d/.test(value[j]!)) j++;
    }
    if (value[j] !== '%') return bad;
    i = j + 1;
  }
  return undefined;
}

/** Istio takes durations of at least 1ms, to the millisecond. */
export function checkMsDuration(value: unknown): string | undefined {
  const err = checkDuration(value);
  if (err) return err;
  const ms = parseDurationNs(value as string)! / 1e6;
  if (Math.abs(ms - Math.round(ms)) > 1e-6) return `duration "${String(value)}" must be a whole number of milliseconds`;
  return undefined;
}

/** A `Percent` used for sampling (faults): 0, or from 0.0001 up to 100. */
export function checkFractionalPercent(value: unknown): string | undefined {
  if (typeof value !== 'number' || Number.isNaN(value)) return 'must be a number from 0 to 100';
  if (value < 0 || value > 100 || (value > 0 && value < 0.0001)) return `percentage ${value} must be 0 or between 0.0001 and 100`;
  return undefined;
}
