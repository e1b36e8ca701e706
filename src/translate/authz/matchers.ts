// The Envoy matchers Istio's authorization builder writes, from the values users put in AuthorizationPolicy:
// `abc` exact, `abc*` prefix, `*abc` suffix, `*` presence (a `.+` regex, as Istio has it). Strings in,
// envoy.type.matcher.v3 / envoy.config.route.v3.HeaderMatcher / envoy.config.core.v3.CidrRange objects out;
// a value that cannot be turned into a matcher (a bad CIDR, a port out of range) gives undefined.
import { ipVersion } from '../../validate/common.ts';
import { u32 } from '../envoy/values.ts';
import type { EnvoyObject } from '../types.ts';

export const SPIFFE_PREFIX = 'spiffe://';
/** Dynamic metadata namespace of Istio's request.auth.* attributes (written by the istio_authn filter). */
export const AUTHN_FILTER = 'istio_authn';

export const regexMatcher = (regex: string): EnvoyObject => ({ safeRegex: { regex } });

/** Istio's StringMatcherWithPrefix: `prefix` is put before the value (not for `*`, which means "present"). */
export function stringMatcher(v: string, prefix = ''): EnvoyObject {
  if (v === '*') return regexMatcher('.+');
  if (v.startsWith('*')) return prefix === '' ? { suffix: v.slice(1) } : regexMatcher(`${prefix}.*${v.slice(1)}`);
  if (v.endsWith('*')) return { prefix: prefix + v.slice(0, -1) };
  return { exact: prefix + v };
}

/** A header value as Istio matches it: `*` means the header is present. */
export function headerMatcher(name: string, v: string): EnvoyObject {
  if (v === '*') return { name, presentMatch: true };
  return { name, stringMatch: stringMatcher(v) };
}

/** `:authority` matched case-insensitively (the value as written: `example.com` does not match `example.com:80`). */
export function hostMatcher(name: string, v: string): EnvoyObject {
  if (v === '*') return { name, presentMatch: true };
  return { name, stringMatch: { ...stringMatcher(v), ignoreCase: true } };
}

/** A path with Istio's `{*}` / `{**}` templates. */
export const isPathTemplate = (v: string): boolean => v.includes('{*}') || v.includes('{**}');

/** The uri_template extension Istio uses for template paths (`{*}` → `*`, `{**}` → `**`). */
export function pathTemplate(v: string): EnvoyObject {
  return {
    name: 'uri-template',
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig',
      pathTemplate: v.replaceAll('{**}', '**').replaceAll('{*}', '*'),
    },
  };
}

/** Metadata `filter`.`key` holding a string. */
export function metadataString(filter: string, key: string, m: EnvoyObject): EnvoyObject {
  return { filter, path: [{ key }], value: { stringMatch: m } };
}

/** Metadata at `keys` holding a list, one element of which must match. */
export function metadataList(filter: string, keys: readonly string[], m: EnvoyObject): EnvoyObject {
  return { filter, path: keys.map((key) => ({ key })), value: { listMatch: { oneOf: { stringMatch: m } } } };
}

/** `10.0.0.0/8` or a bare IP as a CidrRange; undefined when it is neither. */
export function cidr(value: string): EnvoyObject | undefined {
  const v = value.trim();
  const slash = v.indexOf('/');
  const address = slash < 0 ? v : v.slice(0, slash);
  const family = ipVersion(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { addressPrefix: address, prefixLen: u32(max) };
  const text = v.slice(slash + 1);
  if (!/^\d+$/.test(text)) return undefined;
  const len = Number(text);
  if (len > max) return undefined;
  // proto3 leaves a zero wrapper value out on the wire; `{}` decodes back to the same object.
  return { addressPrefix: address, prefixLen: len === 0 ? {} : u32(len) };
}

/** A port as Istio reads it (decimal, 0–65535); undefined otherwise. */
export function port(value: string): number | undefined {
  if (!/^\d+$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return n <= 65535 ? n : undefined;
}
