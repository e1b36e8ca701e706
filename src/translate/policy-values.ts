// Value builders the cluster and endpoint builders need beyond src/translate/envoy/values.ts: optional
// durations from policy fields, Percent, Struct metadata, Istio's "no limit" threshold.
import { parseDurationNs } from '../validate/common.ts';
import { duration, type Duration } from './envoy/values.ts';
import type { EnvoyObject } from './types.ts';

export { duration } from './envoy/values.ts';

/** A policy's duration string as google.protobuf.Duration; undefined when absent (or not a duration). */
export function durationOf(value: string | undefined): Duration | undefined {
  if (value === undefined) return undefined;
  const ns = parseDurationNs(value);
  return ns === undefined || ns < 0 ? undefined : duration(value);
}

/** Whole seconds of a duration string (TCP keepalive takes seconds). */
export function wholeSeconds(value: string | undefined): number | undefined {
  const ns = value === undefined ? undefined : parseDurationNs(value);
  return ns === undefined || ns < 0 ? undefined : Math.floor(ns / 1e9);
}

/** envoy.type.v3.Percent (0–100). Zero is written as `{}`: proto3 does not carry a zero double, and the
 * config must decode to exactly what was encoded. */
export function percent(value: number): { value?: number } {
  return value === 0 ? {} : { value };
}

type StructValue = string | number | boolean | null | readonly StructValue[] | { readonly [k: string]: StructValue | undefined };

/** google.protobuf.Struct from a plain JSON-like object (undefined entries are left out). */
export function struct(obj: { readonly [k: string]: StructValue | undefined }): EnvoyObject {
  const fields: Record<string, EnvoyObject> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) fields[k] = structValue(v);
  return { fields };
}

function structValue(v: StructValue): EnvoyObject {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: (v as readonly StructValue[]).map(structValue) } };
  return { structValue: struct(v as { readonly [k: string]: StructValue | undefined }) };
}

/** Largest uint32, Istio's "no limit" for circuit breaker thresholds. */
export const MAX_UINT32 = 4294967295;
