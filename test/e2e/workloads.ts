// The e2e workloads applied once per run and tier (manifests.ts) and waited for: every pod ready and every client
// sidecar routing to both web versions, so each test file starts from the same settled mesh.
import { apply, eventuallyBatch, fetchFrom, readyPods, tally, type PodRef } from '../support/e2e-mesh.ts';
import type { MeshTarget } from '../support/e2e-target.ts';
import type { Tier } from '../support/e2e-tiers.ts';
import { NS, PLAIN_NS, WEB, webRoute, workloads } from './manifests.ts';

export interface Workloads {
  t: MeshTarget;
  clients: PodRef[];
  webPods: PodRef[];
  outsider: PodRef;
}

const ready = new Map<string, Promise<Workloads>>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setUp(t: MeshTarget): Promise<Workloads> {
  await apply(t, workloads());
  const clients = await readyPods(t, NS, 'app=client', 2);
  const webPods = await readyPods(t, NS, 'app=web', 2);
  await readyPods(t, NS, 'app=flaky', 1);
  await readyPods(t, NS, 'app=backend', 2);
  const [outsider] = await readyPods(t, PLAIN_NS, 'app=outsider', 1);
  for (const c of clients) {
    await eventuallyBatch(`${c.name} routes end-user: jason to v2`, async () =>
      tally(await fetchFrom(t, NS, c.name, WEB, { headers: { 'end-user': 'jason' } }), 'version').v2 === 1);
  }
  return { t, clients, webPods, outsider: outsider! };
}

export function e2eWorkloads(tier: Tier): Promise<Workloads> | { skip: string } {
  const target = tier.target();
  if ('skip' in target) return target;
  let p = ready.get(tier.name);
  if (!p) ready.set(tier.name, (p = target.then(setUp)));
  return p;
}

/**
 * Applies a route sending everything to `version`; resolves when every client pod is served by it, with the
 * time from the start of `kubectl apply` (what a user waits) and from its return (the API server has the change).
 */
export async function applyToServed(t: MeshTarget, clients: PodRef[], version: 'v1' | 'v2'): Promise<{ fromStart: number; fromAccepted: number }> {
  const watchers = clients.map((c) =>
    t.exec(NS, c.name, 'client', ['node', 'examples/apps/client.ts', 'until', WEB, `"version":"${version}"`, '--timeout-ms', '15000'], 30_000),
  );
  await sleep(800); // the watchers are polling (and still see the old version)
  const t0 = Date.now();
  await apply(t, webRoute(version === 'v1' ? { v1: 100, v2: 0 } : { v1: 0, v2: 100 }));
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
