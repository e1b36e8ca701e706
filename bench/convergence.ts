// The `convergence` bench section: how fast the mesh converges on a change, in parts whose results merge into
// one report. served (bench/convergence-served.ts): kubectl apply of a VirtualService → served by every client
// sidecar on the local cluster (apply_to_served_p99_ms). scale (bench/convergence-scale.ts): the operator against
// thousands of kwok pods — time to write every workload's config, to mark mesh objects Programmed, and to carry
// one change through; memory and CPU.
// Each part runs in its own try: a failing part reports its error (and what it reached) and the others stand.
import { runScale, ScaleError } from './convergence-scale.ts';
import { runServed } from './convergence-served.ts';

type Part = (log: (line: string) => void) => Promise<Record<string, unknown>>;

const PARTS: Record<string, Part> = {
  served: runServed,
  scale: runScale,
};

export async function runConvergenceBench(log: (line: string) => void): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = {};
  // WEFT_BENCH_PARTS=served (or scale) runs only those parts.
  const only = process.env.WEFT_BENCH_PARTS?.split(',');
  for (const [name, part] of Object.entries(PARTS).filter(([n]) => !only || only.includes(n))) {
    try {
      report[name] = await part(log);
    } catch (err) {
      const reached = err instanceof ScaleError ? err.reached : {};
      report[name] = { ...reached, error: (err as Error).stack ?? String(err) };
    }
  }
  return report;
}
