// Value checks for AuthorizationPolicy rules: match strings with "*" wildcards, ports, methods, path templates,
// service accounts, and `when` condition keys with their values. In: one value (or key and values); out: an
// error message or undefined, like the helpers in common.ts.
import { checkIpOrCidr } from './common.ts';

/**
 * Rule strings match exactly, by prefix ("abc*"), by suffix ("*abc") or by presence ("*"). A "*" anywhere else
 * is taken literally and so never matches what the user meant: refuse it rather than leave a silent hole.
 */
export function checkMatchString(value: string): string | undefined {
  if (value === '') return 'empty value not allowed';
  if (value === '*') return undefined;
  const inner = value.slice(1, -1);
  const bothEnds = value.startsWith('*') && value.endsWith('*');
  if (inner.includes('*') || bothEnds) {
    return `"${value}": "*" is only allowed once, as the first or last character (suffix, prefix or presence match)`;
  }
  return undefined;
}

/** Ports in rules are decimal strings, 0-65535. */
export function checkPortString(value: string): string | undefined {
  if (!/^[0-9]+$/.test(value) || Number(value) > 65535) return `"${value}" is not a valid port (a number from 0 to 65535)`;
  return undefined;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Methods only have to be non-empty (Istio's webhook checks no more); what never matches is a warning. */
export function checkMethod(value: string): string | undefined {
  return value === '' ? 'empty value not allowed' : undefined;
}

/** HTTP methods are case-sensitive tokens: a lower-case or malformed method never matches a real request. */
export function methodWarning(value: string): string | undefined {
  if (value === '') return undefined;
  const wildcard = checkMatchString(value);
  if (wildcard) return `${wildcard}, so it never matches a real method`;
  const name = value.replace(/^\*|\*$/g, '');
  if (name !== '' && !TOKEN.test(name)) return `"${value}" is not a valid HTTP method, so it never matches a request`;
  if (name !== name.toUpperCase()) {
    return `"${value}": HTTP methods are case-sensitive and written in upper case (e.g. "${value.toUpperCase()}"), so it never matches a request`;
  }
  return undefined;
}

export function checkHeaderName(value: string): string | undefined {
  if (value === '') return 'header name must not be empty';
  if (!TOKEN.test(value)) return `"${value}" is not a valid HTTP header name`;
  return undefined;
}

const MATCH_ONE = '{*}';
const MATCH_ANY = '{**}';
// pchar of RFC 3986 (unreserved, pct-encoded, sub-delims, ":" and "@") minus "*", which templates replace.
const PATH_LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

/** Paths take "*" prefix/suffix wildcards, or {*} (one segment) and {**} (the rest, last) templates. */
export function checkPath(value: string): string | undefined {
  if (value === '') return 'empty value not allowed';
  const template = value.includes(MATCH_ONE) || value.includes(MATCH_ANY);
  if (!template) {
    if (value.includes('{') || value.includes('}')) {
      return `"${value}": "{" and "}" are only allowed in the {*} and {**} path templates`;
    }
    const wildcard = checkMatchString(value);
    if (wildcard) return `${wildcard}; use {*} or {**} path templates to match inner segments`;
    return undefined;
  }
  let sawAny = false;
  for (const segment of value.replace(/^\/+|\/+$/g, '').split('/')) {
    if (segment === MATCH_ONE || segment === MATCH_ANY) {
      if (sawAny) return `"${value}": {**} must be the last template in the path`;
      sawAny = segment === MATCH_ANY;
      continue;
    }
    if (segment.includes('{') || segment.includes('}')) {
      return `"${value}": a path template must be a whole segment, {*} or {**}`;
    }
    if (!PATH_LITERAL.test(segment)) return `"${value}": segment "${segment}" has characters not allowed in a templated path`;
  }
  return undefined;
}

/** Service accounts are written "name" (the policy's namespace) or "namespace/name"; no wildcards. */
export function checkServiceAccount(value: string): string | undefined {
  if (value === '') return 'empty value not allowed';
  if (value.includes('*')) return `"${value}": wildcards are not allowed in service accounts`;
  if (value.length > 320) return `"${value.slice(0, 40)}…" is longer than 320 characters`;
  const parts = value.split('/');
  if (parts.length > 2 || parts.some((p) => p === '')) {
    return `"${value}" must be written "serviceAccount" or "namespace/serviceAccount"`;
  }
  return undefined;
}

/** `a[b]` keys: the part in brackets names a header, claim or filter field and must not be empty. */
function checkBracketKey(key: string): string | undefined {
  const open = key.indexOf('[');
  if (key.endsWith(']') && open > 0 && open < key.length - 2) return undefined;
  return `condition key "${key}" must have the form name[field]`;
}

type ValueCheck = (v: string) => string | undefined;

interface KeyRule {
  /** Matches the key exactly, or as a prefix when `prefix` is set. */
  name: string;
  prefix?: boolean;
  /** Refuse the key with this explanation. */
  refused?: string;
  bracket?: boolean;
  value?: ValueCheck;
  /** How the key is shown in the list of supported keys, when not name[...]. */
  display?: string;
}

const KEY_RULES: readonly KeyRule[] = [
  { name: 'request.headers', prefix: true, bracket: true },
  { name: 'request.experimental.inline.headers', prefix: true, bracket: true },
  { name: 'source.ip', value: checkIpOrCidr },
  { name: 'remote.ip', value: checkIpOrCidr },
  { name: 'source.namespace' },
  { name: 'source.serviceAccount', value: checkServiceAccount },
  { name: 'source.principal' },
  { name: 'source.trustDomain' },
  { name: 'request.auth.principal' },
  { name: 'request.auth.audiences' },
  { name: 'request.auth.presenter' },
  { name: 'request.auth.claims', prefix: true, bracket: true },
  { name: 'destination.ip', value: checkIpOrCidr },
  { name: 'destination.port', value: checkPortString },
  { name: 'connection.sni' },
  { name: 'experimental.envoy.filters.', prefix: true, bracket: true, display: 'experimental.envoy.filters.<filter>[...]' },
  { name: 'destination.namespace', refused: 'is not supported: the policy namespace (metadata.namespace) already decides it' },
  { name: 'destination.labels', prefix: true, refused: 'is not supported: use the workload selector instead' },
  { name: 'destination.name', refused: 'is no longer supported' },
  { name: 'destination.user', refused: 'is no longer supported' },
];

export const CONDITION_KEYS = KEY_RULES.filter((r) => !r.refused).map((r) => r.display ?? (r.bracket ? `${r.name}[...]` : r.name));

/** Checks a `when` key, then each value (the same way for values and notValues); returns messages. */
export function checkCondition(key: string, values: readonly string[]): { key?: string; values: Array<[number, string]> } {
  const rule = KEY_RULES.find((r) => (r.prefix ? key.startsWith(r.name) : key === r.name));
  if (!rule) return { key: `unknown condition key "${key}"; supported keys: ${CONDITION_KEYS.join(', ')}`, values: [] };
  if (rule.refused) return { key: `condition key "${key}" ${rule.refused}`, values: [] };
  const keyError = rule.bracket ? checkBracketKey(key) : undefined;
  const out: Array<[number, string]> = [];
  values.forEach((v, i) => {
    if (typeof v !== 'string' || v === '') {
      out.push([i, 'empty value not allowed']);
      return;
    }
    const e = rule.value?.(v);
    if (e) out.push([i, e]);
  });
  return keyError ? { key: keyError, values: out } : { values: out };
}
