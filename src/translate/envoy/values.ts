// Small builders for the Envoy values translation writes over and over: an Any, a Duration, wrapper values.
// Plain objects out, in the object form `encodeProxyConfig` takes; they spell no proto3 default (a zero
// `seconds` is left out), so they come back from a decode unchanged.
import { parseDurationNs } from '../../validate/common.ts';
import type { EnvoyObject } from '../types.ts';

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** `google.protobuf.Any` holding a `typeName` message (checked against the descriptor when encoded). */
export function any(typeName: string, fields: EnvoyObject = {}): EnvoyObject {
  return { '@type': TYPE_URL_PREFIX + typeName, ...fields };
}

export interface Duration {
  seconds?: number;
  nanos?: number;
}

/** `google.protobuf.Duration` from a Go-style duration string ("1.5s", "1m30s", "250ms") or a number of ms. */
export function duration(d: string | number): Duration {
  const ns = typeof d === 'number' ? Math.round(d * 1e6) : parseDurationNs(d);
  if (ns === undefined || !Number.isFinite(ns)) throw new Error(`invalid duration ${JSON.stringify(d)}`);
  const seconds = Math.trunc(ns / 1e9);
  const nanos = Math.round(ns - seconds * 1e9);
  const out: Duration = {};
  if (seconds !== 0) out.seconds = seconds;
  if (nanos !== 0) out.nanos = nanos;
  return out;
}

/** A `google.protobuf.UInt32Value` (also fits UInt64Value, Int32Value, DoubleValue). */
export function u32(n: number): { value: number } {
  return { value: n };
}

/** A `google.protobuf.BoolValue`. */
export function bool(b: boolean): { value: boolean } {
  return { value: b };
}
