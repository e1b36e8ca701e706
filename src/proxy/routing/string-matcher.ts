// envoy.type.matcher.v3.StringMatcher → a predicate, compiled once. exact/prefix/suffix/contains honour
// ignore_case (ASCII, as Envoy); safe_regex must match the whole value and ignores ignore_case.
import { bool, has, obj, str } from './envoy-values.ts';
import type { Obj } from './envoy-values.ts';
import { compileRegex, fullMatch } from './regex.ts';

export type StringPredicate = (value: string) => boolean;

export function asciiLower(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : s[i];
  }
  return out;
}

export function compileStringMatcher(matcher: unknown): StringPredicate {
  const m = obj(matcher);
  const ignoreCase = bool(m.ignoreCase, false);
  const norm = ignoreCase ? asciiLower : (s: string) => s;
  if (has(m, 'safeRegex')) {
    const re = compileRegex(str(obj(m.safeRegex).regex));
    return (v) => fullMatch(re, v);
  }
  if (has(m, 'prefix')) {
    const p = norm(str(m.prefix));
    return (v) => norm(v).startsWith(p);
  }
  if (has(m, 'suffix')) {
    const p = norm(str(m.suffix));
    return (v) => norm(v).endsWith(p);
  }
  if (has(m, 'contains')) {
    const p = norm(str(m.contains));
    return (v) => norm(v).includes(p);
  }
  if (has(m, 'custom')) return () => false; // extension matchers are not supported: never match
  const exact = norm(str(m.exact));
  return (v) => norm(v) === exact;
}
