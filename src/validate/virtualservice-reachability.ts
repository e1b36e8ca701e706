// Unreachable rules (IST0130) and ineffective matches (IST0131) in the ordered http/tls/tcp rules of a
// VirtualService: (rules, path) -> warnings. A match entry is ineffective when an entry of an earlier rule
// matches everything it matches (same conditions, or fewer, or a shorter uri prefix); a rule is unreachable when
// all of its entries are. A rule without match entries matches everything.
import { canonicalJson } from './common.ts';
import { hostSubsetOf } from './networking-common.ts';
import { at } from './result.ts';
import type { Findings } from './result.ts';

type Entry = Record<string, unknown>;
type FieldKind = 'eq' | 'map' | 'list' | 'hosts' | 'uri';

const HTTP_FIELDS: Record<string, FieldKind> = {
  uri: 'uri', scheme: 'eq', method: 'eq', authority: 'eq', headers: 'map', withoutHeaders: 'map', queryParams: 'map',
  port: 'eq', sourceLabels: 'map', gateways: 'list', sourceNamespace: 'eq',
};
const TLS_FIELDS: Record<string, FieldKind> = {
  sniHosts: 'hosts', destinationSubnets: 'list', port: 'eq', sourceLabels: 'map', gateways: 'list', sourceNamespace: 'eq',
};
const TCP_FIELDS: Record<string, FieldKind> = {
  destinationSubnets: 'list', port: 'eq', sourceSubnet: 'eq', sourceLabels: 'map', gateways: 'list', sourceNamespace: 'eq',
};
/** Past this many match entries only exact duplicates are looked for (the pairwise check is quadratic). */
const PAIRWISE_LIMIT = 2000;

export function analyzeHttpReachability(rules: ReadonlyArray<{ name?: string; match?: Entry[] }>, path: string, f: Findings): void {
  analyze(rules, path, HTTP_FIELDS, f);
}
export function analyzeTlsReachability(rules: ReadonlyArray<{ match?: Entry[] }>, path: string, f: Findings): void {
  analyze(rules, path, TLS_FIELDS, f);
}
export function analyzeTcpReachability(rules: ReadonlyArray<{ match?: Entry[] }>, path: string, f: Findings): void {
  analyze(rules, path, TCP_FIELDS, f);
}

function analyze(rules: ReadonlyArray<{ name?: string; match?: Entry[] }>, path: string, fields: Record<string, FieldKind>, f: Findings): void {
  const earlier: Array<{ entry: Entry; key: string; rule: number }> = [];
  const byKey = new Map<string, number>();
  const total = rules.reduce((n, r) => n + Math.max(1, r.match?.length ?? 0), 0);
  const pairwise = total <= PAIRWISE_LIMIT;
  const label = (i: number) => (rules[i]?.name ? `"${rules[i]!.name}"` : `#${i}`);

  rules.forEach((rule, i) => {
    const entries = rule.match && rule.match.length > 0 ? rule.match.map((e) => conditions(e, fields)) : [{}];
    const explicit = Boolean(rule.match && rule.match.length > 0);
    const coveredBy = entries.map((entry) => {
      const key = canonicalJson(entry);
      const dup = byKey.get(key);
      if (dup !== undefined) return { rule: dup, duplicate: true };
      if (pairwise) {
        const hit = earlier.find((e) => covers(e.entry, entry, fields));
        if (hit) return { rule: hit.rule, duplicate: false };
      }
      return undefined;
    });
    if (coveredBy.every((c) => c !== undefined)) {
      const why = explicit
        ? `every match is already handled by earlier rules (${[...new Set(coveredBy.map((c) => label(c!.rule)))].join(', ')})`
        : `rule ${label(coveredBy[0]!.rule)} before it already matches all traffic`;
      f.warn(at(path, i), `rule ${label(i)} is never used: ${why}`, 'IST0130');
    } else if (explicit) {
      coveredBy.forEach((c, j) => {
        if (!c) return;
        const how = c.duplicate ? 'the same match appears in' : 'a broader match covers it in';
        f.warn(at(path, i, 'match', j), `match #${j} of rule ${label(i)} is never used: ${how} rule ${label(c.rule)}`, 'IST0131');
      });
    }
    entries.forEach((entry, j) => {
      if (coveredBy[j]) return;
      const key = canonicalJson(entry);
      if (!byKey.has(key)) byKey.set(key, i);
      if (pairwise) earlier.push({ entry, key, rule: i });
    });
  });
}

/** The routing-relevant part of a match entry (names and stat prefixes do not change what matches). */
function conditions(e: Entry, fields: Record<string, FieldKind>): Entry {
  const out: Entry = {};
  for (const k of Object.keys(fields)) {
    const v = e[k];
    if (v === undefined || v === null) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0 && fields[k] === 'map') continue;
    out[k] = v;
  }
  if (e.ignoreUriCase === true && out.uri !== undefined) out.ignoreUriCase = true;
  return out;
}

/** Does entry `a` match every request `b` matches? */
function covers(a: Entry, b: Entry, fields: Record<string, FieldKind>): boolean {
  for (const [k, av] of Object.entries(a)) {
    if (k === 'ignoreUriCase') continue;
    const bv = b[k];
    if (bv === undefined) return false;
    switch (fields[k]) {
      case 'eq':
        if (canonicalJson(av) !== canonicalJson(bv)) return false;
        break;
      case 'map': {
        const bm = bv as Record<string, unknown>;
        for (const [mk, mv] of Object.entries(av as Record<string, unknown>)) if (!(mk in bm) || canonicalJson(bm[mk]) !== canonicalJson(mv)) return false;
        break;
      }
      case 'list':
        if (!(bv as unknown[]).every((x) => (av as unknown[]).includes(x))) return false;
        break;
      case 'hosts':
        if (!(bv as string[]).every((h) => (av as string[]).some((w) => hostSubsetOf(h, w)))) return false;
        break;
      case 'uri':
        if (!uriCovers(av as Entry, bv as Entry, a.ignoreUriCase === true, b.ignoreUriCase === true)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function uriCovers(a: Entry, b: Entry, aNoCase: boolean, bNoCase: boolean): boolean {
  if (bNoCase && !aNoCase) return false;
  const norm = (s: unknown) => (aNoCase ? String(s).toLowerCase() : String(s));
  if (typeof a.exact === 'string') return typeof b.exact === 'string' && norm(b.exact) === norm(a.exact);
  if (typeof a.prefix === 'string') {
    const bValue = typeof b.exact === 'string' ? b.exact : typeof b.prefix === 'string' ? b.prefix : undefined;
    return bValue !== undefined && norm(bValue).startsWith(norm(a.prefix));
  }
  return canonicalJson(a) === canonicalJson(b);
}
