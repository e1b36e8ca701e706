// envoy.type.matcher.v3.MetadataMatcher → a predicate over a request's dynamic metadata (namespace → struct, in
// plain JS form: objects, arrays, strings, numbers, booleans, null). `filter` picks the namespace, `path` walks
// nested structs by key, `value` (a ValueMatcher: nullMatch, doubleMatch, stringMatch, boolMatch, presentMatch,
// listMatch.oneOf, orMatch) tests what it finds, `invert` flips the result. A path that leads nowhere is a value
// that is not set: only an inverted matcher matches it.
import { arr, bool, has, num, obj, str } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import { compileStringMatcher } from '../routing/string-matcher.ts';

/** Dynamic metadata as the filters keep it (filters/types.ts DynamicMetadata). */
export type MetadataSource = ReadonlyMap<string, Record<string, unknown>>;

export type MetadataPredicate = (metadata: MetadataSource | undefined) => boolean;

type ValuePredicate = (v: unknown) => boolean;

/** Envoy's DoubleMatcher: `range` is [start, end), or `exact`. */
function compileDouble(m: Obj): ValuePredicate {
  if (has(m, 'range')) {
    const r = obj(m.range);
    const start = num(r.start) ?? 0;
    const end = num(r.end) ?? 0;
    return (v) => typeof v === 'number' && v >= start && v < end;
  }
  const exact = num(m.exact) ?? 0;
  return (v) => typeof v === 'number' && v === exact;
}

export function compileValueMatcher(matcher: unknown): ValuePredicate {
  const m = obj(matcher);
  if (has(m, 'nullMatch')) return (v) => v === null;
  if (has(m, 'doubleMatch')) return compileDouble(obj(m.doubleMatch));
  if (has(m, 'stringMatch')) {
    const test = compileStringMatcher(m.stringMatch);
    return (v) => typeof v === 'string' && test(v);
  }
  if (has(m, 'boolMatch')) {
    const want = bool(m.boolMatch, false);
    return (v) => typeof v === 'boolean' && v === want;
  }
  if (has(m, 'presentMatch')) {
    // Envoy: matches a set value of any kind when present_match is true; present_match false matches nothing.
    const want = bool(m.presentMatch, false);
    return (v) => want && v !== undefined;
  }
  if (has(m, 'listMatch')) {
    const one = compileValueMatcher(obj(m.listMatch).oneOf);
    return (v) => Array.isArray(v) && v.some(one);
  }
  if (has(m, 'orMatch')) {
    const any = arr(obj(m.orMatch).valueMatchers).map(compileValueMatcher);
    return (v) => any.some((p) => p(v));
  }
  return () => false;
}

/** The value at `path` under `filter`, or undefined. */
export function metadataValue(metadata: MetadataSource | undefined, filter: string, path: readonly string[]): unknown {
  let cur: unknown = metadata?.get(filter);
  // Indexed: every metadata rule of every candidate policy walks this per request.
  for (let i = 0; i < path.length; i++) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[path[i]!];
  }
  return cur;
}

export function compileMetadataMatcher(matcher: unknown): MetadataPredicate {
  const m = obj(matcher);
  const filter = str(m.filter);
  const path = arr(m.path).map((p) => str(p.key));
  const test = compileValueMatcher(m.value);
  const invert = bool(m.invert, false);
  return (metadata) => {
    // A path into nothing is an unset value; Envoy's matchers (presentMatch included) do not match it.
    const v = path.length === 0 ? undefined : metadataValue(metadata, filter, path);
    return test(v) !== invert;
  };
}
