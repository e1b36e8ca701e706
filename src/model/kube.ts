// Defensive reading of Kubernetes objects in their JSON form (`kubectl get -o json`): every accessor takes
// `unknown` and returns a value of the expected type or a neutral default, so a missing field never throws.
import type { KubeObject, Labels } from './types.ts';

export function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}

/** A string map (labels, annotations, selectors) with non-string values dropped. */
export function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(record(v))) if (typeof x === 'string') out[k] = x;
  return out;
}

export function stringList(v: unknown): string[] {
  return list(v).filter((x): x is string => typeof x === 'string');
}

/** Anything with metadata: KubeObject, the generated Istio kinds (typed metadata), partial objects. */
export type HasMeta = { metadata?: unknown } | undefined;

export const nameOf = (o: HasMeta): string => str(record(o?.metadata).name) ?? '';
export const namespaceOf = (o: HasMeta): string => str(record(o?.metadata).namespace) ?? '';
export const labelsOf = (o: HasMeta): Labels => stringMap(record(o?.metadata).labels);
export const annotationsOf = (o: HasMeta): Labels => stringMap(record(o?.metadata).annotations);
export const uidOf = (o: HasMeta): string => str(record(o?.metadata).uid) ?? '';

/** creationTimestamp as an RFC 3339 string ('' when absent); typed clients may hand over a Date. */
export function creationOf(o: HasMeta): string {
  const t = record(o?.metadata).creationTimestamp;
  if (typeof t === 'string') return t;
  if (t instanceof Date && !Number.isNaN(t.getTime())) return t.toISOString().replace('.000Z', 'Z');
  return '';
}

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/** The owner reference with `controller: true`, if any. */
export function controllerOf(o: KubeObject | undefined): OwnerRef | undefined {
  for (const r of list(o?.metadata?.ownerReferences)) {
    const ref = record(r);
    if (ref.controller !== true) continue;
    return { apiVersion: str(ref.apiVersion) ?? '', kind: str(ref.kind) ?? '', name: str(ref.name) ?? '', uid: str(ref.uid) ?? '' };
  }
  return undefined;
}

export const key = (namespace: string, name: string): string => `${namespace}/${name}`;

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Comparator over several string keys, in order. */
export function by<T>(...keys: Array<(x: T) => string>): (a: T, b: T) => number {
  return (a, b) => {
    for (const k of keys) {
      const c = compare(k(a), k(b));
      if (c !== 0) return c;
    }
    return 0;
  };
}

/** Kubernetes label selector semantics for a plain map: every pair present. An empty selector matches all. */
export function selectorMatches(selector: Labels, labels: Labels): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

export function indexBy<T>(items: readonly T[], keyOf: (x: T) => string): Map<string, T> {
  const m = new Map<string, T>();
  for (const x of items) if (!m.has(keyOf(x))) m.set(keyOf(x), x);
  return m;
}

export function groupBy<T>(items: readonly T[], keyOf: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of items) {
    const k = keyOf(x);
    const g = m.get(k);
    if (g) g.push(x);
    else m.set(k, [x]);
  }
  return m;
}

/** Freezes a plain value and everything it holds (arrays, records); Sets and Maps are left as they are. */
export function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v) || v instanceof Set || v instanceof Map) return v;
  for (const x of Object.values(v)) deepFreeze(x);
  return Object.freeze(v);
}
