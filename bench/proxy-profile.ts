// A V8 .cpuprofile (what node --cpu-prof writes) → the functions with the most self time, so the report points
// at the sidecar's hot path without opening a profiler. Shares are of the busy samples: the sidecar idles while
// the other variants run, and (idle) would drown everything else.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
}

export interface HotFunction {
  fn: string;
  /** Share of the busy (not idle) samples, in percent. */
  self_pct: number;
}

export function hotFunctions(profile: CpuProfile, top = 15): HotFunction[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map<string, number>();
  let busy = 0;
  for (const id of profile.samples ?? []) {
    const n = byId.get(id);
    if (!n || n.callFrame.functionName === '(idle)') continue;
    busy++;
    const { functionName, url, lineNumber } = n.callFrame;
    const where = url ? `${url.replace(/^file:\/\/.*?\/(src|node_modules)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, c]) => ({ fn, self_pct: Math.round((c / busy) * 1000) / 10 }));
}

export function hotFunctionsOf(path: string, top = 15): HotFunction[] {
  return hotFunctions(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, top);
}
