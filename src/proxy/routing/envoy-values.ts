// Reading Envoy resources in protobufjs's object form: wrappers ({ value }), durations ({ seconds, nanos }),
// 64-bit numbers (number, string or Long), FractionalPercent, Struct, Any. Defaults are Envoy's.

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

/** Whether field `k` is set (protobufjs leaves unset oneof members undefined or null). */
export function has(m: Obj, k: string): boolean {
  return m[k] !== undefined && m[k] !== null;
}

export function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

export function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** A number from number, numeric string, or a Long-like { low, high }. */
export function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  if (isObj(v) && typeof v.low === 'number' && typeof v.high === 'number') return v.high * 2 ** 32 + (v.low >>> 0);
  return undefined;
}

/** A scalar or its wrapper message ({ value: x }). */
function unwrap(v: unknown): unknown {
  return isObj(v) && 'value' in v ? v.value : v;
}

export function bool(v: unknown, dflt: boolean): boolean {
  const x = unwrap(v);
  return typeof x === 'boolean' ? x : dflt;
}

export function u32(v: unknown): number | undefined {
  return num(unwrap(v));
}

/** google.protobuf.Duration → milliseconds (also accepts the JSON form "1.5s"). */
export function durationMs(v: unknown): number | undefined {
  if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d+)?)s$/.exec(v);
    return m ? Math.round(Number(m[1]) * 1000) : undefined;
  }
  if (!isObj(v)) return undefined;
  const seconds = num(v.seconds) ?? 0;
  const nanos = num(v.nanos) ?? 0;
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };
const DENOMINATOR_BY_NUMBER = [100, 10_000, 1_000_000];

/** envoy.type.v3.FractionalPercent → a percentage (0–100). */
export function fractionalPercent(v: unknown): number {
  const fp = obj(v);
  const n = num(fp.numerator) ?? 0;
  const d = typeof fp.denominator === 'number' ? DENOMINATOR_BY_NUMBER[fp.denominator] ?? 100
    : DENOMINATORS[str(fp.denominator)] ?? 100;
  return Math.min(100, (n * 100) / d);
}

/** envoy.type.v3.Percent ({ value: double }) → a percentage; `dflt` when the message is absent. A message
 * without `value` is 0 (proto3 leaves the default off the wire). */
export function percent(v: unknown, dflt: number): number {
  if (isObj(v)) return num(v.value) ?? 0;
  return num(v) ?? dflt;
}

/** google.protobuf.Struct in object form ({ fields: { k: Value } }) → plain JSON; plain objects pass through. */
export function structToJs(v: unknown): unknown {
  if (!isObj(v)) return v;
  if (isObj(v.fields)) {
    const out: Obj = {};
    for (const [k, val] of Object.entries(v.fields)) out[k] = valueToJs(val);
    return out;
  }
  return v;
}

function valueToJs(v: unknown): unknown {
  if (!isObj(v)) return v;
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  if ('nullValue' in v) return null;
  if ('structValue' in v) return structToJs(v.structValue);
  if ('listValue' in v) return arr(obj(v.listValue).values).map(valueToJs);
  return structToJs(v);
}

/** The `@type` of a google.protobuf.Any in object form, without the type.googleapis.com/ prefix. */
export function anyType(v: unknown): string {
  const t = str(obj(v)['@type']);
  return t.slice(t.lastIndexOf('/') + 1);
}
