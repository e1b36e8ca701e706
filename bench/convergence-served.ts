// The `served` part of the convergence bench: on the local cluster's real nodes (the e2e `nodes` tier: kubelets,
// containerd, weft installed from config/) with the e2e workloads (two client pods with
// sidecars, a two-version web service), the time from `kubectl apply` of a VirtualService that moves all traffic
// to the other version (timed from the start of the command) until every client pod is answered by that version — apply → operator → ConfigMap and pod
// annotation → kubelet volume refresh → sidecar reload → served. Repeated `WEFT_BENCH_CHANGES` times (default 20).
import { apply } from '../test/support/e2e-mesh.ts';
import { webRoute } from '../test/e2e/manifests.ts';
import { applyToServed, e2eWorkloads } from '../test/e2e/workloads.ts';
import { e2eTiers, stopTiers } from '../test/support/e2e-tiers.ts';
import { percentile } from './proxy-load.ts';

const pct = (sorted: number[], p: number) => percentile(sorted, p * 100);

export async function runServed(log: (line: string) => void): Promise<Record<string, unknown>> {
  const w = e2eWorkloads(e2eTiers().find((t) => t.name === 'nodes')!);
  if ('skip' in w) return { skipped: w.skip };
  try {
    log('served: starting the local cluster\'s real nodes with the e2e workloads');
    const { t: mesh, clients } = await w;
    await apply(mesh, webRoute({ v1: 100, v2: 0 }));
    await new Promise((r) => setTimeout(r, 2000));
    const changes = Number(process.env.WEFT_BENCH_CHANGES ?? 20);
    const samples: Array<{ fromStart: number; fromAccepted: number }> = [];
    for (let i = 0; i < changes; i++) {
      samples.push(await applyToServed(mesh, clients, i % 2 === 0 ? 'v2' : 'v1'));
      log(`served: change ${i + 1}/${changes}: ${samples.at(-1)!.fromStart} ms`);
    }
    const fromStart = samples.map((s) => s.fromStart).sort((a, b) => a - b);
    const fromAccepted = samples.map((s) => s.fromAccepted).sort((a, b) => a - b);
    return {
      changes,
      client_sidecars: clients.length,
      apply_to_served_p50_ms: pct(fromStart, 0.5),
      apply_to_served_p90_ms: pct(fromStart, 0.9),
      apply_to_served_p99_ms: pct(fromStart, 0.99),
      apply_to_served_max_ms: fromStart.at(-1),
      // The same, counted from when `kubectl apply` returned (its own client-side work left out).
      accepted_to_served_p50_ms: pct(fromAccepted, 0.5),
      accepted_to_served_p99_ms: pct(fromAccepted, 0.99),
      samples_ms: samples.map((s) => s.fromStart),
    };
  } finally {
    await stopTiers();
  }
}
