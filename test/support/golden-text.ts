// Golden file text: YAML with a stable key order (`@type` and `name` first, then alphabetical; lists as they
// are), and a short unified line diff for failure messages.
import { stringify } from 'yaml';

const FIRST = ['@type', 'name', 'clusterName'];

function rank(k: string): number {
  const i = FIRST.indexOf(k);
  return i < 0 ? FIRST.length : i;
}

export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = sortKeys(x);
  }
  return out;
}

export function goldenYaml(docs: unknown[]): string {
  return docs.map((d) => stringify(sortKeys(d), { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}

/** A unified diff (3 lines of context, at most `limit` lines) between two texts. */
export function lineDiff(expected: string, actual: string, limit = 80): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
  const x = a.slice(start, endA);
  const y = b.slice(start, endB);
  // LCS table over the differing middle only.
  const n = x.length;
  const m = y.length;
  const lines: string[] = [];
  if (n * m > 4_000_000) {
    lines.push(...x.map((l) => `-${l}`), ...y.map((l) => `+${l}`));
  } else {
    const t: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) t[i]![j] = x[i] === y[j] ? t[i + 1]![j + 1]! + 1 : Math.max(t[i + 1]![j]!, t[i]![j + 1]!);
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && x[i] === y[j]) { lines.push(` ${x[i]}`); i++; j++; }
      else if (i < n && (j === m || t[i + 1]![j]! >= t[i]![j + 1]!)) { lines.push(`-${x[i]}`); i++; }
      else { lines.push(`+${y[j]}`); j++; }
    }
  }
  const before = a.slice(Math.max(0, start - 3), start).map((l) => ` ${l}`);
  const after = a.slice(endA, endA + 3).map((l) => ` ${l}`);
  const body = [...before, ...lines, ...after];
  const header = `@@ golden line ${start + 1} (- golden, + now) @@`;
  return [header, ...body.slice(0, limit), ...(body.length > limit ? [`… ${body.length - limit} more lines`] : [])].join('\n');
}

/** The paths at which two JSON values differ (`clusters[BlackHoleCluster].lbPolicy: "ROUND_ROBIN" → absent`). */
export function valueDiffs(expected: unknown, actual: unknown, limit = 20): string[] {
  const out: string[] = [];
  const show = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v));
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (out.length >= limit || JSON.stringify(a) === JSON.stringify(b)) return;
    if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
        // Resources are named by name/clusterName rather than by index.
        const item = x[k] as Record<string, unknown> | undefined;
        const label = Array.isArray(a) ? `[${String(item?.name ?? item?.clusterName ?? k)}]` : `.${k}`;
        walk(x[k], y[k], path + label);
      }
      return;
    }
    out.push(`${path || '.'}: ${show(a)} → ${show(b)}`);
  };
  walk(expected, actual, '');
  return out;
}
