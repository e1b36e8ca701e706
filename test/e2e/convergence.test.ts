// How the mesh converges: a VirtualService change is served by every client sidecar through the operator's pod
// annotation, which makes the node refresh the volume at once rather than at its 60–90 s resync (how fast is the
// bench's `convergence` figure, not a test's: the machine may be busy), and pods of an existing workload start and serve with the operator
// stopped, because everything they need is already in ConfigMaps and Secrets.
import { expect } from 'chai';
import { apply, fetchFrom, readyPods, type PodRef } from '../support/e2e-mesh.ts';
import type { MeshTarget } from '../support/e2e-target.ts';
import { e2eTiers, TIER_START_MS } from '../support/e2e-tiers.ts';
import { NS, WEB, webRoute } from './manifests.ts';
import { applyToServed, e2eWorkloads, p99 } from './workloads.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const tier of e2eTiers()) describe(`e2e [${tier.name}]: convergence`, function () {
  this.timeout(240_000);
  let mesh: MeshTarget;
  let clients: PodRef[];

  before(async function () {
    this.timeout(TIER_START_MS);
    const w = e2eWorkloads(tier);
    if ('skip' in w) {
      console.log(`      skipped: ${w.skip}`);
      return this.skip();
    }
    ({ t: mesh, clients } = await w);
  });

  it('serves a VirtualService change on every client sidecar without waiting for the volume resync', async () => {
    await apply(mesh, webRoute({ v1: 100, v2: 0 }));
    await sleep(2000);
    const samples: Array<{ fromStart: number; fromAccepted: number }> = [];
    for (let i = 0; i < 10; i++) samples.push(await applyToServed(mesh, clients, i % 2 === 0 ? 'v2' : 'v1'));
    console.log(`      kubectl apply → served on ${clients.length} sidecars, ms: ${samples.map((s) => `${s.fromStart} (${s.fromAccepted} after apply returned)`).join(', ')}`);
    // Far below the 60 s a refresh without the annotation can take, whatever the load.
    expect(p99(samples.map((s) => s.fromStart))).to.be.below(30_000);
    await apply(mesh, webRoute({ v1: 90, v2: 10 }));
  });

  it('starts and serves new pods of an existing workload while the operator is stopped', async () => {
    await mesh.operator.stop();
    try {
      const scaled = await mesh.kubectl(['scale', 'deployment/client', '-n', NS, '--replicas=3']);
      expect(scaled.status, scaled.stderr).to.equal(0);
      const pods = await readyPods(mesh, NS, 'app=client', 3);
      const fresh = pods.find((p) => !clients.some((c) => c.name === p.name))!;
      const r = await fetchFrom(mesh, NS, fresh.name, WEB, { n: 20, concurrency: 2 });
      expect(r.counts).to.deep.equal({ 200: 20 });
      expect(new Set(r.results.map((x) => (x.body as { peer: string }).peer))).to.deep.equal(new Set([`spiffe://cluster.local/ns/${NS}/sa/client`]));
    } finally {
      await mesh.operator.start();
      await mesh.kubectl(['scale', 'deployment/client', '-n', NS, '--replicas=2']);
      await readyPods(mesh, NS, 'app=client', 2);
    }
  });
});
