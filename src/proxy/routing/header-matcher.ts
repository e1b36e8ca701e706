// Route HeaderMatcher and QueryParameterMatcher → predicates over an HttpRequest, with Envoy's rules: a missing
// header fails every matcher except present_match:false (and inverted present_match:true) unless
// treat_missing_header_as_empty; invert_match flips the result only when the header is there (or treated as "").
import { bool, has, num, obj, str } from './envoy-values.ts';
import type { Obj } from './envoy-values.ts';
import { compileRegex, fullMatch } from './regex.ts';
import { headerValue } from './request.ts';
import type { HttpRequest } from './request.ts';
import { compileStringMatcher } from './string-matcher.ts';
import type { StringPredicate } from './string-matcher.ts';

export type RequestPredicate = (req: HttpRequest) => boolean;

type Kind = { type: 'present'; present: boolean } | { type: 'value'; test: StringPredicate };

function kindOf(m: Obj): Kind {
  if (has(m, 'presentMatch')) return { type: 'present', present: bool(m.presentMatch, false) };
  if (has(m, 'stringMatch')) return { type: 'value', test: compileStringMatcher(m.stringMatch) };
  if (has(m, 'exactMatch')) {
    // The deprecated exact_match: an empty value matches any value.
    const v = str(m.exactMatch);
    return { type: 'value', test: (x) => v === '' || x === v };
  }
  if (has(m, 'safeRegexMatch')) {
    const re = compileRegex(str(obj(m.safeRegexMatch).regex));
    return { type: 'value', test: (x) => fullMatch(re, x) };
  }
  if (has(m, 'rangeMatch')) {
    const r = obj(m.rangeMatch);
    const start = num(r.start) ?? 0;
    const end = num(r.end) ?? 0;
    return { type: 'value', test: (x) => /^[+-]?\d+$/.test(x) && Number(x) >= start && Number(x) < end };
  }
  if (has(m, 'prefixMatch')) {
    const p = str(m.prefixMatch);
    return { type: 'value', test: (x) => x.startsWith(p) };
  }
  if (has(m, 'suffixMatch')) {
    const p = str(m.suffixMatch);
    return { type: 'value', test: (x) => x.endsWith(p) };
  }
  if (has(m, 'containsMatch')) {
    const p = str(m.containsMatch);
    return { type: 'value', test: (x) => x.includes(p) };
  }
  // No specifier: the header must be present.
  return { type: 'present', present: true };
}

export function compileHeaderMatcher(matcher: unknown): RequestPredicate {
  const m = obj(matcher);
  const name = str(m.name).toLowerCase();
  const invert = bool(m.invertMatch, false);
  const missingAsEmpty = bool(m.treatMissingHeaderAsEmpty, false);
  const kind = kindOf(m);
  return (req) => {
    let value = headerValue(req, name);
    if (value === undefined) {
      if (!missingAsEmpty) return kind.type === 'present' && kind.present === invert;
      value = '';
    }
    const matched = kind.type === 'present' ? kind.present : kind.test(value);
    return matched !== invert;
  };
}

export function compileHeaderMatchers(list: readonly unknown[]): RequestPredicate | undefined {
  if (list.length === 0) return undefined;
  const ps = list.map(compileHeaderMatcher);
  return (req) => ps.every((p) => p(req));
}

/** QueryParameterMatcher: the parameter must be present; string_match then tests its first value. */
export function compileQueryMatcher(matcher: unknown): (params: Map<string, string>) => boolean {
  const m = obj(matcher);
  const name = str(m.name);
  const test = has(m, 'stringMatch') && !bool(m.presentMatch, false) ? compileStringMatcher(m.stringMatch) : undefined;
  return (params) => {
    const v = params.get(name);
    if (v === undefined) return false;
    return test ? test(v) : true;
  };
}
