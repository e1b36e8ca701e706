// Structural-schema check: (object, openAPIV3Schema of one CRD version) -> findings, with the API server's
// semantics and message style, so `weftctl validate` refuses offline what `kubectl apply` would refuse.
// Unknown fields are errors (kubectl's default strict field validation). CEL rules (x-kubernetes-validations)
// are not evaluated here: the per-kind validators implement the same rules in TypeScript.
import { RE2JS } from 're2js';
import { canonicalJson, isObject } from './common.ts';
import { at, Findings } from './result.ts';
import type { ValidationResult } from './result.ts';

export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  description?: string;
  nullable?: boolean;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps | boolean;
  items?: JSONSchemaProps;
  required?: string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  allOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  oneOf?: JSONSchemaProps[];
  not?: JSONSchemaProps;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
  'x-kubernetes-validations'?: unknown[];
}

/** Fields every Kubernetes object (and every embedded resource) may carry whatever the schema lists. */
const OBJECT_FIELDS = new Set(['apiVersion', 'kind', 'metadata']);
const INT32 = [-(2 ** 31), 2 ** 31 - 1] as const;
const INT64 = [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] as const;

/**
 * Validates `obj` (a whole resource) against `schema` (a CRD version's openAPIV3Schema). The object is first
 * normalized as the API server does before validating (see `normalize`).
 */
export function checkSchema(obj: unknown, schema: JSONSchemaProps): ValidationResult {
  const f = new Findings();
  walk(normalize(obj, schema), schema, '', f, { structural: true, root: true });
  // Strict decoding fails before validation runs: with unknown fields, they are all the API server reports.
  const unknown = f.errors.filter((e) => e.message.startsWith('unknown field'));
  return unknown.length > 0 ? { errors: unknown, warnings: [] } : f.result();
}

/**
 * What the API server stores before it validates: nulls in fields that are not `nullable` are dropped, then
 * `default`s fill absent fields. Returns a copy; the input is not modified.
 */
export function normalize<T>(obj: T, schema: JSONSchemaProps): T {
  return norm(obj, schema) as T;
}

function norm(v: unknown, s: JSONSchemaProps | undefined): unknown {
  if (!s) return structuredClone(v);
  if (Array.isArray(v)) return v.map((item) => norm(item, s.items));
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  const ap = typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
  for (const [k, child] of Object.entries(v)) {
    const cs = s.properties?.[k] ?? ap;
    if (child === null && cs && !cs.nullable) continue;
    out[k] = norm(child, cs);
  }
  for (const [k, cs] of Object.entries(s.properties ?? {})) {
    // norm copies what it returns, so the schema's default is never shared with the result.
    if (out[k] === undefined && cs.default !== undefined) out[k] = norm(cs.default, cs);
  }
  return out;
}

interface Mode {
  /** false inside allOf/anyOf/oneOf/not: those only add value checks, never structure. */
  structural: boolean;
  root?: boolean;
}

function walk(v: unknown, s: JSONSchemaProps, path: string, f: Findings, mode: Mode): void {
  if (v === null) {
    if (!s.nullable && (s.type || s['x-kubernetes-int-or-string'])) typeError(path, v, typeLabel(s), f);
    return;
  }
  const actual = typeOf(v);
  if (s['x-kubernetes-int-or-string']) {
    if (actual !== 'integer' && actual !== 'string') return typeError(path, v, 'integer,string', f);
  } else if (s.type && !typeMatches(s.type, actual)) {
    typeError(path, v, s.type, f);
    // The API server's strict decoding sees a mapping where the schema has no properties: every key is unknown.
    if (mode.structural && isObject(v)) for (const k of Object.keys(v)) f.error(at(path, k), `unknown field "${at(path, k)}"`);
    return;
  }

  if (s.enum && !s.enum.some((e) => deepEqual(e, v))) {
    f.error(path, `Unsupported value: ${render(v)}: supported values: ${s.enum.map(render).join(', ')}`);
  }
  if (typeof v === 'string') checkString(v, s, path, f);
  else if (typeof v === 'number') checkNumber(v, s, path, f);
  else if (Array.isArray(v)) checkArray(v, s, path, f, mode);
  else if (isObject(v)) checkObject(v, s, path, f, mode);
  checkComposition(v, s, path, f);
}

function checkString(v: string, s: JSONSchemaProps, path: string, f: Findings): void {
  const len = [...v].length; // characters (runes), as the API server counts
  // The API server counts characters but words the error in bytes; keep its wording.
  if (s.maxLength !== undefined && len > s.maxLength) f.error(path, `Too long: may not be more than ${s.maxLength} bytes`);
  if (s.minLength !== undefined && len < s.minLength) invalid(path, v, `should be at least ${s.minLength} chars long`, f);
  if (s.pattern !== undefined && !patternMatches(s.pattern, v)) invalid(path, v, `should match '${s.pattern}'`, f);
  if (s.format && STRING_FORMATS[s.format] && !STRING_FORMATS[s.format]!(v)) {
    invalid(path, v, `must be of type ${s.format}: ${JSON.stringify(v)}`, f);
  }
}

function checkNumber(v: number, s: JSONSchemaProps, path: string, f: Findings): void {
  if (s.minimum !== undefined) {
    if (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum) {
      invalid(path, v, `should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}`, f);
    }
  }
  if (s.maximum !== undefined) {
    if (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum) {
      invalid(path, v, `should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${s.maximum}`, f);
    }
  }
  if (s.multipleOf !== undefined && s.multipleOf > 0 && !Number.isInteger(v / s.multipleOf)) {
    invalid(path, v, `should be a multiple of ${s.multipleOf}`, f);
  }
  // The API server stores int32 fields as int64 and does not range-check them; the proto behind every weft
  // field does, so refusing out-of-range values early spares a confusing failure later.
  const range = Number.isInteger(v) ? (s.format === 'int32' ? INT32 : s.format === 'int64' || s.type === 'integer' ? INT64 : undefined) : undefined;
  if (range && (v < range[0] || v > range[1])) invalid(path, v, `is out of range for ${s.format ?? 'int64'}`, f);
}

function checkArray(v: unknown[], s: JSONSchemaProps, path: string, f: Findings, mode: Mode): void {
  if (s.maxItems !== undefined && v.length > s.maxItems) f.error(path, `Too many: ${v.length}: must have at most ${s.maxItems} items`);
  if (s.minItems !== undefined && v.length < s.minItems) invalid(path, v.length, `should have at least ${s.minItems} items`, f);
  if (s.items) v.forEach((item, i) => walk(item, s.items!, at(path, i), f, mode));
  const listType = s['x-kubernetes-list-type'];
  if (listType === 'set' || listType === 'map') {
    const keys = s['x-kubernetes-list-map-keys'] ?? [];
    const seen = new Set<string>();
    v.forEach((item, i) => {
      const key = listType === 'set' ? item : isObject(item) ? Object.fromEntries(keys.map((k) => [k, item[k]])) : item;
      const id = canonicalJson(key);
      if (seen.has(id)) f.error(at(path, i), `Duplicate value: ${render(key)}`);
      seen.add(id);
    });
  }
}

function checkObject(v: Record<string, unknown>, s: JSONSchemaProps, path: string, f: Findings, mode: Mode): void {
  const props = s.properties ?? {};
  const ap = s.additionalProperties;
  const openEnded = ap === true || s['x-kubernetes-preserve-unknown-fields'] === true;
  const objectFields = mode.root || s['x-kubernetes-embedded-resource'] === true;
  for (const [k, child] of Object.entries(v)) {
    const p = at(path, k);
    const cs = props[k];
    if (objectFields && k === 'metadata') {
      checkMetadata(child, cs, p, f);
    } else if (cs) {
      walk(child, cs, p, f, { structural: mode.structural });
    } else if (typeof ap === 'object') {
      walk(child, ap, p, f, { structural: mode.structural });
    } else if (mode.structural && !openEnded && !(objectFields && OBJECT_FIELDS.has(k))) {
      f.error(p, `unknown field "${p}"`);
    }
  }
  for (const r of s.required ?? []) {
    if (v[r] === undefined) f.error(at(path, r), 'Required value');
  }
  const n = Object.keys(v).length;
  if (s.maxProperties !== undefined && n > s.maxProperties) f.error(path, `Too many: ${n}: must have at most ${s.maxProperties} items`);
  if (s.minProperties !== undefined && n < s.minProperties) invalid(path, n, `should have at least ${s.minProperties} properties`, f);
}

/** ObjectMeta's fields: strict decoding refuses any other key under metadata. */
const OBJECT_META_FIELDS = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
]);

/** The API server validates ObjectMeta itself; a CRD schema may only constrain name and generateName. */
function checkMetadata(v: unknown, s: JSONSchemaProps | undefined, path: string, f: Findings): void {
  if (!isObject(v)) return typeError(path, v, 'object', f);
  for (const k of Object.keys(v)) {
    if (!OBJECT_META_FIELDS.has(k)) f.error(at(path, k), `unknown field "${at(path, k)}"`);
  }
  for (const k of ['name', 'generateName']) {
    const cs = s?.properties?.[k];
    if (cs && v[k] !== undefined) walk(v[k], cs, at(path, k), f, { structural: false });
  }
}

function checkComposition(v: unknown, s: JSONSchemaProps, path: string, f: Findings): void {
  const value: Mode = { structural: false };
  for (const sub of s.allOf ?? []) walk(v, sub, path, f, value);
  const branches = (list: JSONSchemaProps[]) =>
    list.map((sub) => {
      const bf = new Findings();
      walk(v, sub, path, bf, value);
      return bf.errors;
    });
  const fewest = (results: Findings['errors'][]) => results.reduce((a, b) => (b.length < a.length ? b : a));
  if (s.anyOf?.length) {
    const results = branches(s.anyOf);
    if (!results.some((r) => r.length === 0)) {
      invalid(path, v, 'must validate at least one schema (anyOf)', f);
      for (const e of fewest(results)) f.error(e.field, e.message);
    }
  }
  if (s.oneOf?.length) {
    const results = branches(s.oneOf);
    const ok = results.filter((r) => r.length === 0).length;
    if (ok !== 1) {
      invalid(path, v, 'must validate one and only one schema (oneOf)', f);
      if (ok === 0) for (const e of fewest(results)) f.error(e.field, e.message);
    }
  }
  if (s.not) {
    const nf = new Findings();
    walk(v, s.not, path, nf, value);
    if (nf.errors.length === 0) invalid(path, v, 'must not validate the schema (not)', f);
  }
}

// ---- messages, in the API server's words -------------------------------------------------------------

function invalid(path: string, v: unknown, detail: string, f: Findings): void {
  f.error(path, `Invalid value: ${render(v)}: ${path || 'body'} in body ${detail}`);
}

function typeError(path: string, v: unknown, expected: string, f: Findings): void {
  const actual = typeOf(v);
  f.error(path, `Invalid value: "${actual}": ${path || 'body'} in body must be of type ${expected}: "${actual}"`);
}

function typeLabel(s: JSONSchemaProps): string {
  return s['x-kubernetes-int-or-string'] ? 'integer,string' : (s.type ?? 'object');
}

/** Values as Go's %q / %v print them in field errors: strings quoted, objects as JSON. */
function render(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return '<nil>';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

// ---- value helpers -----------------------------------------------------------------------------------

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(expected: string, actual: string): boolean {
  return expected === actual || (expected === 'number' && actual === 'integer');
}

function deepEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

const patterns = new Map<string, RE2JS | null>();

/** Patterns are Go regular expressions (RE2) on the API server; match them with the same engine. */
function patternMatches(pattern: string, value: string): boolean {
  let re = patterns.get(pattern);
  if (re === undefined) {
    try {
      re = RE2JS.compile(pattern);
    } catch {
      re = null; // the API server refuses such a CRD; nothing sensible to check here
    }
    patterns.set(pattern, re);
  }
  return re === null || re.matcher(value).find();
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The string formats the API server checks and weft's schemas use; unknown formats are ignored, as there. */
const STRING_FORMATS: Record<string, (v: string) => boolean> = {
  'date-time': (v) => RFC3339.test(v) && !Number.isNaN(Date.parse(v.replace(' ', 'T'))),
  datetime: (v) => RFC3339.test(v) && !Number.isNaN(Date.parse(v.replace(' ', 'T'))),
  date: (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(v)),
  byte: (v) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v),
  uuid: (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
};
