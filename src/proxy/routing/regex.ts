// RE2 regular expressions for routing (re2js: linear time, the syntax Envoy accepts; never JS RegExp for
// user patterns). Full matches as Envoy's safe_regex does, and GlobalReplace with RE2's `\1` substitutions
// for regex_rewrite.
import { RE2JS } from 're2js';

export type Regex = RE2JS;

const cache = new Map<string, RE2JS>();

/** Compiles (and caches) a pattern; throws RE2JSSyntaxException on syntax RE2 refuses. */
export function compileRegex(pattern: string): Regex {
  let re = cache.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (cache.size > 10_000) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

/** Envoy's safe_regex semantics: the whole input must match. */
export function fullMatch(re: Regex, input: string): boolean {
  return re.matches(input);
}

type Piece = string | number;

/** RE2 rewrite strings: `\0`–`\9` name groups, `\\` is a backslash; anything else is kept as written. */
function parseSubstitution(s: string): Piece[] {
  const out: Piece[] = [];
  let lit = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const next = s[i + 1];
    if (c === '\\' && next !== undefined && next >= '0' && next <= '9') {
      if (lit) out.push(lit);
      lit = '';
      out.push(Number(next));
      i++;
    } else if (c === '\\' && next === '\\') {
      lit += '\\';
      i++;
    } else {
      lit += c;
    }
  }
  if (lit) out.push(lit);
  return out;
}

const substitutions = new Map<string, Piece[]>();

/**
 * RE2::GlobalReplace: every non-overlapping match, left to right, replaced by `substitution`; an empty match
 * right where the previous match ended is skipped (one character is copied instead).
 */
export function globalReplace(re: Regex, input: string, substitution: string): string {
  let pieces = substitutions.get(substitution);
  if (!pieces) {
    pieces = parseSubstitution(substitution);
    substitutions.set(substitution, pieces);
  }
  const m = re.matcher(input);
  let out = '';
  let p = 0;
  let lastEnd = -1;
  let count = 0;
  while (p <= input.length && m.find(p)) {
    const start = m.start();
    const end = m.end();
    if (p < start) out += input.slice(p, start);
    if (start === end && start === lastEnd) {
      // Disallow an empty match at the end of the last one: copy one code point and move on.
      if (p >= input.length) break;
      const cp = input.codePointAt(p)!;
      const n = cp > 0xffff ? 2 : 1;
      out += input.slice(p, p + n);
      p += n;
      continue;
    }
    for (const piece of pieces) {
      out += typeof piece === 'string' ? piece : piece <= m.groupCount() ? (m.group(piece) ?? '') : '';
    }
    p = end;
    lastEnd = end;
    count++;
  }
  if (count === 0) return input;
  if (p < input.length) out += input.slice(p);
  return out;
}
