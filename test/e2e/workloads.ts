// The e2e workloads applied once per run (manifests.ts) and waited for: every pod ready and every client sidecar
// routing to both web versions, so each test file starts from the same settled mesh.
import type { LocalMesh } from '../../hack/local-cluster/mesh.ts';
import { apply, eventuallyBatch, fetchFrom, readyPods, sharedMesh, tally, type PodRef } from '../support/e2e-mesh.ts';
import { NS, PLAIN_NS, WEB, webRoute, workloads } from './manifests.ts';

export interface Workloads {
  mesh: LocalMesh;
  clients: PodRef[];
  webPods: PodRef[];
  outsider: PodRef;
}

let ready: Promise<Workloads> | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setUp(mesh: LocalMesh): Promise<Workloads> {
  await apply(mesh, workloads());
  const clients = await readyPods(mesh, NS, 'app=client', 2);
  const webPods = await readyPods(mesh, NS, 'app=web', 2);
  await readyPods(mesh, NS, 'app=flaky', 1);
  await readyPods(mesh, NS, 'app=backend', 2);
  const [outsider] = await readyPods(mesh, PLAIN_NS, 'app=outsider', 1);
  for (const c of clients) {
    await eventuallyBatch(`${c.name} routes end-user: jason to v2`, async () =>
      tally(await fetchFrom(mesh, NS, c.name, WEB, { headers: { 'end-user': 'jason' } }), 'version').v2 === 1);
  }
  return { mesh, clients, webPods, outsider: outsider! };
}

export function e2eWorkloads(): Promise<Workloads> | { skip: string } {
  const m = sharedMesh();
  if ('skip' in m) return m;
  ready ??= m.then(setUp);
  return ready;
}

/**
 * Applies a route sending everything to `version`; resolves when every client pod is served by it, with the
 * time from the start of `kubectl apply` (what a user waits) and from its return (the API server has the change).
 */
export async function applyToServed(mesh: LocalMesh, clients: PodRef[], version: 'v1' | 'v2'): Promise<{ fromStart: number; fromAccepted: number }> {
  const watchers = clients.map((c) =>
    mesh.node.exec(NS, c.name, 'client', ['node', 'examples/apps/client.ts', 'until', WEB, `"version":"${version}"`, '--timeout-ms', '15000'], 30_000),
  );
  await sleep(800); // the watchers are polling (and still see the old version)
  const t0 = Date.now();
  await apply(mesh, webRoute(version === 'v1' ? { v1: 100, v2: 0 } : { v1: 0, v2: 100 }));
  const accepted = Date.now();
  const done = await Promise.all(watchers);
  for (const d of done) if (d.code !== 0) throw new Error(`no client saw ${version}: ${d.stdout} ${d.stderr}`);
  const served = Math.max(...done.map((d) => (JSON.parse(d.stdout) as { matchedAt: number }).matchedAt));
  return { fromStart: served - t0, fromAccepted: served - accepted };
}

export function p99(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)]!;
}
