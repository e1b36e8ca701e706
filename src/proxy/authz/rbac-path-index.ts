// Which RBAC policies a request path can match, so an engine with many policies skips the ones it cannot. In: the
// policies' permissions (envoy.config.rbac.v3.Permission, raw config); out: per policy the url_path condition every
// match needs (exact paths and prefixes, plain case-sensitive matchers only) or none, and an index giving, for a
// request path, the policy positions (ascending) whose condition it meets plus every position without one. The
// index only narrows: the engine still runs each candidate's full matcher, so the first match stays the same.
import { arr, has, isObj, obj } from '../routing/envoy-values.ts';

/** A path condition: the path equals one of `exact` or starts with one of `prefix`. */
export interface PathNeed {
  exact: string[];
  prefix: string[];
}

/** A StringMatcher that is only `exact` or only `prefix` (case-sensitive): the engine compares it directly and
 * the index files it by path. */
export function plainStringMatch(v: unknown): { kind: 'exact' | 'prefix'; value: string } | undefined {
  if (!isObj(v)) return undefined;
  let kind: 'exact' | 'prefix' | undefined;
  for (const k of Object.keys(v)) {
    if (k === 'ignoreCase' && v.ignoreCase === false) continue;
    if ((k === 'exact' || k === 'prefix') && kind === undefined && typeof v[k] === 'string') kind = k;
    else return undefined;
  }
  return kind === undefined ? undefined : { kind, value: v[kind] as string };
}

function union(list: Array<PathNeed | undefined>): PathNeed | undefined {
  if (list.length === 0) return undefined;
  const out: PathNeed = { exact: [], prefix: [] };
  for (const n of list) {
    if (n === undefined) return undefined;
    out.exact.push(...n.exact);
    out.prefix.push(...n.prefix);
  }
  return out;
}

/** The path condition a Permission implies (checked in the engine compiler's order), undefined when none. */
export function permissionPathNeed(v: unknown): PathNeed | undefined {
  const p = obj(v);
  if (has(p, 'any')) return undefined;
  if (has(p, 'andRules')) {
    for (const r of arr(obj(p.andRules).rules)) {
      const n = permissionPathNeed(r);
      if (n !== undefined) return n;
    }
    return undefined;
  }
  if (has(p, 'orRules')) return union(arr(obj(p.orRules).rules).map(permissionPathNeed));
  if (has(p, 'notRule') || has(p, 'header') || !has(p, 'urlPath')) return undefined;
  const pm = obj(p.urlPath);
  const m = has(pm, 'path') ? plainStringMatch(pm.path) : undefined;
  if (m === undefined) return undefined;
  return m.kind === 'exact' ? { exact: [m.value], prefix: [] } : { exact: [], prefix: [m.value] };
}

/** A policy's condition: every one of its permissions (any of which may match) needs one. */
export function policyPathNeed(permissions: unknown): PathNeed | undefined {
  return union(arr(permissions).map(permissionPathNeed));
}

export interface PathIndex {
  /** Candidate positions for a request path (undefined path: no request, so only the unconditioned ones). */
  candidates(path: string | undefined): readonly number[];
}

/** The index over policies in evaluation order; undefined when too few have a condition to be worth it. */
export function pathIndex(needs: ReadonlyArray<PathNeed | undefined>): PathIndex | undefined {
  const free: number[] = [];
  const exact = new Map<string, number[]>();
  const prefix = new Map<string, number[]>();
  const add = (m: Map<string, number[]>, k: string, i: number) => {
    const l = m.get(k);
    if (l === undefined) m.set(k, [i]);
    else if (l[l.length - 1] !== i) l.push(i);
  };
  needs.forEach((n, i) => {
    if (n === undefined) return void free.push(i);
    for (const e of n.exact) add(exact, e, i);
    for (const x of n.prefix) add(prefix, x, i);
  });
  if (needs.length - free.length < 8) return undefined;
  const lengths = [...new Set([...prefix.keys()].map((k) => k.length))].sort((a, b) => a - b);
  return {
    candidates(path) {
      if (path === undefined) return free;
      // One list is returned as is; several are merged into a new one (no closure per request).
      let out: number[] | undefined;
      let shared: readonly number[] | undefined = free.length > 0 ? free : undefined;
      const e = exact.get(path);
      if (e !== undefined) {
        if (shared === undefined) shared = e;
        else out = [...shared, ...e];
      }
      for (let i = 0; i < lengths.length; i++) {
        const len = lengths[i]!;
        if (len > path.length) break;
        const l = prefix.get(path.slice(0, len));
        if (l === undefined) continue;
        if (out !== undefined) out.push(...l);
        else if (shared === undefined) shared = l;
        else out = [...shared, ...l];
      }
      if (out === undefined) return shared ?? [];
      // Several lists: positions ascending, each once.
      out.sort((a, b) => a - b);
      return out.filter((x, j) => j === 0 || out![j - 1] !== x);
    },
  };
}
