// Field-level checks shared by the per-kind validators: durations, ports, hosts, labels, addresses, regexes.
// Each returns an error message (string) or undefined when the value is fine, so callers decide the path.
import { RE2JS } from 're2js';

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Parses a Go duration ("1h2m", "1.5s", "250ms") — the syntax Kubernetes CEL's duration() accepts. */
export function parseDurationNs(value: string): number | undefined {
  let s = value.trim();
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < s.length) {
    const m = DURATION_PART.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
  }
  return sign * total;
}

/** Istio requires durations of at least 1ms wherever it takes one. */
export function checkDuration(value: unknown, min = '1ms'): string | undefined {
  if (typeof value !== 'string') return 'must be a duration string such as "5s" or "250ms"';
  const ns = parseDurationNs(value);
  if (ns === undefined) return `invalid duration "${value}" (use e.g. "5s", "250ms", "1m30s")`;
  const minNs = parseDurationNs(min)!;
  if (ns < minNs) return `duration "${value}" must be at least ${min}`;
  return undefined;
}

export function checkPort(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be an integer port number';
  if (value < 1 || value > 65535) return `port ${value} is out of range 1-65535`;
  return undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/i;

/** A DNS-1123 label: what Kubernetes accepts for names of namespaces, services, subsets and ports. */
export function checkDnsLabel(value: string): string | undefined {
  if (value.length > 63) return `"${value}" is longer than 63 characters`;
  if (!DNS_LABEL.test(value)) return `"${value}" must consist of alphanumerics and '-', starting and ending with an alphanumeric`;
  return undefined;
}

/**
 * A host as Istio takes it: "*", a DNS name, or a DNS name with a leading "*." wildcard.
 * Short names ("reviews") are DNS names too; callers that need an FQDN check for dots themselves.
 */
export function checkHost(value: string, opts: { allowWildcard?: boolean } = {}): string | undefined {
  const allowWildcard = opts.allowWildcard ?? true;
  if (value === '') return 'host must not be empty';
  if (value === '*') return allowWildcard ? undefined : 'wildcard host "*" is not allowed here';
  let name = value;
  if (name.startsWith('*.')) {
    if (!allowWildcard) return `wildcard host "${value}" is not allowed here`;
    name = name.slice(2);
  } else if (name.startsWith('*')) {
    name = name.slice(1); // Istio accepts "*foo.com" style suffix wildcards
    if (!allowWildcard) return `wildcard host "${value}" is not allowed here`;
  }
  if (name.includes('*')) return `host "${value}" may only have a wildcard as its leftmost part`;
  if (name.length > 255) return `host "${value}" is longer than 255 characters`;
  for (const label of name.replace(/\.$/, '').split('.')) {
    if (label.length === 0) return `host "${value}" has an empty label`;
    if (checkDnsLabel(label)) return `host "${value}" is not a valid DNS name (label "${label}")`;
  }
  return undefined;
}

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export function checkLabelKey(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const [prefix, name] = slash >= 0 ? [key.slice(0, slash), key.slice(slash + 1)] : ['', key];
  if (slash >= 0) {
    if (prefix.length === 0 || prefix.length > 253) return `label key "${key}" has an invalid prefix`;
    for (const label of prefix.split('.')) if (checkDnsLabel(label)) return `label key "${key}" has an invalid prefix`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `label key "${key}" must be 1-63 characters of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
  }
  return undefined;
}

export function checkLabelValue(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !QUALIFIED_NAME.test(value)) {
    return `label value "${value}" must be at most 63 characters of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
  }
  return undefined;
}

/** Validates every key and value of a label map; reports into `report(fieldSuffix, message)`. */
export function checkLabels(labels: Record<string, string> | undefined, report: (key: string, message: string) => void): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    const e = checkLabelKey(k) ?? checkLabelValue(v);
    if (e) report(k, e);
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function ipVersion(value: string): 4 | 6 | 0 {
  if (IPV4.test(value)) return 4;
  if (value.includes(':') && /^[0-9a-fA-F:.]+$/.test(value)) {
    try {
      new URL(`http://[${value}]/`); // the WHATWG parser implements RFC 4291 text forms exactly
      return 6;
    } catch {
      return 0;
    }
  }
  return 0;
}

export function checkIp(value: string): string | undefined {
  return ipVersion(value) ? undefined : `"${value}" is not a valid IP address`;
}

export function checkCidr(value: string): string | undefined {
  const [ip, bits, extra] = value.split('/');
  if (extra !== undefined || ip === undefined) return `"${value}" is not a valid CIDR`;
  const v = ipVersion(ip);
  if (!v) return `"${value}" is not a valid IP address or CIDR`;
  if (bits === undefined) return undefined;
  const n = Number(bits);
  if (!/^\d+$/.test(bits) || n > (v === 4 ? 32 : 128)) return `"${value}" has an invalid prefix length`;
  return undefined;
}

export function checkIpOrCidr(value: string): string | undefined {
  return value.includes('/') ? checkCidr(value) : checkIp(value);
}

/** Regexes in mesh config are RE2 (linear time), as in Envoy: reject what RE2 cannot compile. */
export function checkRegex(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (e) {
    return `invalid RE2 regular expression "${pattern}": ${(e as Error).message}`;
  }
}

/** A percentage as Istio's `Percent` message: a double from 0 to 100. */
export function checkPercent(value: unknown): string | undefined {
  if (typeof value !== 'number' || Number.isNaN(value)) return 'must be a number from 0 to 100';
  if (value < 0 || value > 100) return `percentage ${value} must be between 0 and 100`;
  return undefined;
}

/** True for a JSON object (not null, not an array); keeps the declared type of a typed value while narrowing. */
export function isObject<T>(v: T): v is T & Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * JSON with sorted keys (undefined members left out, as JSON.stringify leaves them): equal values give equal
 * strings whatever order their fields arrived in.
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
