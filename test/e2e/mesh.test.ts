// The mesh end to end, on each tier (test/support/e2e-tiers.ts): on the local cluster that is a real API server
// and controllers, the operator and webhook as processes, pods in network namespaces with iptables capture and weft
// sidecars, traffic between them with mTLS.
import { expect } from 'chai';
import { apply, eventuallyBatch, fetchFrom, getJson, tally, type PodRef } from '../support/e2e-mesh.ts';
import type { MeshTarget } from '../support/e2e-target.ts';
import { e2eTiers, TIER_START_MS } from '../support/e2e-tiers.ts';
import { flakyRoute, NS, PLAIN_NS, WEB, webRoute } from './manifests.ts';
import { e2eWorkloads } from './workloads.ts';

interface InjectedPod {
  spec: { initContainers: Array<{ name: string; restartPolicy?: string }>; containers: Array<{ name: string }>; volumes: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string } }> };
}
interface Slices {
  items: Array<{ endpoints: Array<{ addresses: string[]; conditions: { ready: boolean } }> }>;
}

for (const tier of e2eTiers()) describe(`e2e [${tier.name}]: the mesh`, function () {
  this.timeout(180_000);
  let mesh: MeshTarget;
  let clients: PodRef[];
  let outsider: PodRef;
  let webPods: PodRef[];

  before(async function () {
    this.timeout(TIER_START_MS);
    const w = e2eWorkloads(tier);
    if ('skip' in w) {
      console.log(`      skipped: ${w.skip}`);
      return this.skip();
    }
    ({ t: mesh, clients, outsider, webPods } = await w);
  });

  it('injects the sidecar, its init container and volumes, and endpoints appear for ready pods', async () => {
    const pod = await getJson<InjectedPod>(mesh, ['pod', '-n', NS, clients[0]!.name]);
    expect(pod.spec.initContainers.map((c) => [c.name, c.restartPolicy ?? ''])).to.deep.equal([['weft-init', ''], ['weft-proxy', 'Always']]);
    expect(pod.spec.containers.map((c) => c.name)).to.deep.equal(['client']);
    const sources = pod.spec.volumes.map((v) => v.configMap?.name ?? v.secret?.secretName).filter(Boolean);
    expect(sources).to.include.members(['weft-proxy-client', 'weft-identity-client', 'weft-root-cert']);
    const plain = await getJson<{ spec: { initContainers?: unknown[]; containers: Array<{ name: string }> } }>(mesh, ['pod', '-n', PLAIN_NS, outsider.name]);
    expect(plain.spec.initContainers ?? []).to.have.length(0);
    const slices = await getJson<Slices>(mesh, ['endpointslices', '-n', NS, '-l', 'kubernetes.io/service-name=web']);
    const ready = slices.items.flatMap((s) => s.endpoints).filter((e) => e.conditions.ready).flatMap((e) => e.addresses);
    expect(ready.sort()).to.deep.equal(webPods.map((p) => p.ip).sort());
  });

  it('splits traffic 90/10 between the subsets within statistical bounds, with mTLS identities on the hop', async () => {
    await apply(mesh, webRoute({ v1: 90, v2: 10 }));
    // Live once a batch holds both versions (an earlier route sent everything to one).
    await eventuallyBatch('the 90/10 route reaches the client', async () => Object.keys(tally(await fetchFrom(mesh, NS, clients[0]!.name, WEB, { n: 60, concurrency: 6 }), 'version')).length === 2);
    const r = await fetchFrom(mesh, NS, clients[0]!.name, WEB, { n: 400, concurrency: 8 });
    const versions = tally(r, 'version');
    expect(Object.keys(versions).sort()).to.deep.equal(['v1', 'v2']);
    // Binomial(400, 0.1): mean 40, sd 6; four standard deviations either way.
    expect(versions.v2).to.be.within(16, 64);
    const peers = new Set(r.results.map((x) => (x.body as { peer?: string }).peer));
    expect([...peers]).to.deep.equal([`spiffe://cluster.local/ns/${NS}/sa/client`]);
  });

  it('routes by header: end-user: jason always reaches v2', async () => {
    const r = await fetchFrom(mesh, NS, clients[1]!.name, WEB, { n: 50, concurrency: 4, headers: { 'end-user': 'jason' } });
    expect(tally(r, 'version')).to.deep.equal({ v2: 50 });
  });

  it('aborts the configured percentage of requests with a fault', async () => {
    await apply(mesh, webRoute({ v1: 100, v2: 0, fault: 50 }));
    const c = clients[0]!.name;
    await eventuallyBatch('the fault reaches the client', async () => ((await fetchFrom(mesh, NS, c, WEB, { n: 20, concurrency: 4 })).counts['503'] ?? 0) > 0);
    const r = await fetchFrom(mesh, NS, c, WEB, { n: 400, concurrency: 8 });
    // Binomial(400, 0.5): mean 200, sd 10.
    expect(r.counts['503'] ?? 0).to.be.within(160, 240);
    expect((r.counts['503'] ?? 0) + (r.counts['200'] ?? 0)).to.equal(400);
    const aborted = r.results.find((x) => x.status === 503)!;
    expect(String(aborted.body)).to.match(/fault filter abort/);
    await apply(mesh, webRoute({ v1: 90, v2: 10 }));
  });

  it('retries hide an upstream that fails every other request', async () => {
    const c = clients[0]!.name;
    const before = await fetchFrom(mesh, NS, c, 'http://flaky:8000/', { n: 40 });
    expect(before.counts['503'] ?? 0).to.be.within(15, 25); // sequential: every other request fails
    await apply(mesh, flakyRoute(3));
    await eventuallyBatch('retries reach the client', async () => (await fetchFrom(mesh, NS, c, 'http://flaky:8000/', { n: 20 })).counts['200'] === 20);
    const after = await fetchFrom(mesh, NS, c, 'http://flaky:8000/', { n: 200, concurrency: 1 });
    expect(after.counts).to.deep.equal({ 200: 200 });
  });

  it('outlier detection ejects the failing pod', async () => {
    const r = await fetchFrom(mesh, NS, clients[1]!.name, 'http://backend:8000/', { n: 100, concurrency: 1 });
    const failed = r.counts['503'] ?? 0;
    // Round robin over a good and a bad pod fails every other request until two consecutive 5xx eject the bad one.
    expect(failed).to.be.within(1, 4);
    const last = r.results.slice(50);
    expect(last.every((x) => x.status === 200 && (x.body as { version: string }).version === 'good')).to.equal(true);
  });

  it('STRICT mTLS refuses a client without a sidecar and accepts one with', async () => {
    const target = `http://${webPods[0]!.ip}:9080/`;
    const plain = await fetchFrom(mesh, PLAIN_NS, outsider.name, target);
    expect(plain.results[0]!.status, JSON.stringify(plain.results[0])).to.equal(undefined);
    expect(plain.counts).to.deep.equal({ error: 1 });
    const fromOutside = await mesh.outsideGet(target, 3000).then((x) => x.status, () => 0);
    expect(fromOutside).to.equal(0);
    const meshed = await fetchFrom(mesh, NS, clients[0]!.name, WEB);
    expect(meshed.results[0]!.status).to.equal(200);
    expect((meshed.results[0]!.body as { peer: string }).peer).to.equal(`spiffe://cluster.local/ns/${NS}/sa/client`);
  });
});
