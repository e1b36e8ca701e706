// The operator distributing proxy config on a real API server: a ConfigMap per injected workload with the
// translated Envoy resources, pods annotated with the hash, Programmed on the mesh objects, a VirtualService
// change rewriting only the workloads it reaches, nothing written after a restart, ConfigMaps removed with their
// workload (garbage collection) or when injection is turned off.
import { expect } from 'chai';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1ConfigMap } from '@kubernetes/client-node';
import type { Operator } from '../../src/controllers/operator.ts';
import { createNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { Workloads, decode, hashOf, names, sleep } from './distribution-support.ts';
import { Mesh, condition, testOperator, waitFor } from './operator-support.ts';

const INJECTED = { 'weft-injection': 'enabled' };

describe('distribution: ConfigMaps on a real API server', function () {
  this.timeout(180_000);
  let cp: Cluster;
  let mesh: Mesh;
  let wl: Workloads;
  let a: string; // injected: reviews-v1, reviews-v2, ratings-v1
  let b: string; // injected: cart-v1
  let plain: string; // not injected: legacy-v1
  let op: Operator | undefined;

  before(async () => {
    cp = await sharedCluster();
    const kc = cp.kubeConfig();
    await installCrds(kc);
    mesh = new Mesh(kc);
    wl = new Workloads(kc, (args, input) => cp.kubectlAsync(args, input));
    a = await createNamespace(kc, 'dist-a', INJECTED);
    b = await createNamespace(kc, 'dist-b', INJECTED);
    plain = await createNamespace(kc, 'dist-plain');
    const pod = async (ns: string, name: string, labels: Record<string, string>, ip: string) =>
      ({ ip, pod: (await wl.deployment(ns, name, labels, [ip]))[0]!.metadata!.name! });
    const [r1, r2, ra, c1, l1] = await Promise.all([
      pod(a, 'reviews-v1', { app: 'reviews', version: 'v1' }, '10.244.1.1'),
      pod(a, 'reviews-v2', { app: 'reviews', version: 'v2' }, '10.244.1.2'),
      pod(a, 'ratings-v1', { app: 'ratings', version: 'v1' }, '10.244.1.3'),
      pod(b, 'cart-v1', { app: 'cart', version: 'v1' }, '10.244.2.1'),
      pod(plain, 'legacy-v1', { app: 'legacy', version: 'v1' }, '10.244.3.1'),
    ]);
    await wl.endpointSlice(a, 'reviews', [r1, r2]);
    await wl.endpointSlice(a, 'ratings', [ra]);
    await wl.endpointSlice(b, 'cart', [c1]);
    await wl.endpointSlice(plain, 'legacy', [l1]);
    await wl.endpointSlice(b, 'billing', [{ ip: '192.168.7.1' }, { ip: '192.168.7.2' }]);
    await mesh.createService(a, 'reviews');
    await mesh.createService(a, 'ratings');
    await mesh.createService(b, 'cart');
    await mesh.createService(plain, 'legacy');
    // A service without a selector, for endpoints outside the cluster.
    await mesh.core.createNamespacedService({ namespace: b, body: { metadata: { name: 'billing' }, spec: { ports: [{ name: 'http', port: 9080 }] } } });
    await mesh.create('DestinationRule', a, 'reviews', { host: 'reviews', exportTo: ['.'], subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] });
    await mesh.create('VirtualService', a, 'reviews', { hosts: ['reviews'], exportTo: ['.'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] });
    await mesh.create('VirtualService', b, 'cart', { hosts: ['cart'], exportTo: ['.'], http: [{ timeout: '2s', route: [{ destination: { host: 'cart' } }] }] });
    await mesh.create('VirtualService', plain, 'legacy', { hosts: ['legacy'], exportTo: ['.'], http: [{ route: [{ destination: { host: 'legacy' } }] }] });
    op = await testOperator(kc);
    await op.waitForSync();
  });

  after(async () => {
    await op?.stop();
    const core = cp?.kubeConfig().makeApiClient(CoreV1Api);
    for (const ns of [a, b, plain]) if (ns) await core.deleteNamespace({ name: ns }).catch(() => undefined);
  });

  it('writes weft-proxy-<workload> for every injected workload, with the translated config, owner and hash', async () => {
    for (const w of ['reviews-v1', 'reviews-v2', 'ratings-v1']) await wl.waitConfigMap(a, w);
    const cart = await wl.waitConfigMap(b, 'cart-v1');
    await op!.distributed();
    expect(await wl.configMap(plain, 'legacy-v1')).to.equal(undefined);

    const cm = (await wl.configMap(a, 'ratings-v1'))!;
    expect(cm.metadata!.labels).to.deep.equal({ 'app.kubernetes.io/managed-by': 'weft', 'weft.dev/workload': 'ratings-v1' });
    const dep = await wl.apps.readNamespacedDeployment({ namespace: a, name: 'ratings-v1' });
    expect(cm.metadata!.ownerReferences).to.deep.equal([
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ratings-v1', uid: dep.metadata!.uid, controller: false, blockOwnerDeletion: false },
    ]);
    const { config, hash } = decode(cm);
    expect(hashOf(cm)).to.equal(hash);
    expect(config.workload).to.deep.include({ kind: 'Deployment', name: 'ratings-v1', namespace: a });
    const clusters = names(config.clusters);
    expect(clusters).to.include.members([`outbound|9080|v1|reviews.${a}.svc.cluster.local`, `outbound|9080|v2|reviews.${a}.svc.cluster.local`,
      `outbound|9080||ratings.${a}.svc.cluster.local`]);
    // Namespace-local config of another namespace stays out; its services (exported everywhere) do not.
    expect(config.inputs).to.include.members([`VirtualService/${a}/reviews`, `DestinationRule/${a}/reviews`]);
    expect(config.inputs).to.not.include(`VirtualService/${b}/cart`);
    const v1 = config.endpoints.find((e) => e.clusterName === `outbound|9080|v1|reviews.${a}.svc.cluster.local`);
    expect(JSON.stringify(v1)).to.include('10.244.1.1').and.not.include('10.244.1.2');
    // The selectorless service.
    const billing = decode(cart).config.endpoints.find((e) => e.clusterName === `outbound|9080||billing.${b}.svc.cluster.local`);
    expect(JSON.stringify(billing)).to.include('192.168.7.1').and.include('192.168.7.2');
  });

  it('annotates the running pods with the config hash', async () => {
    const cm = await wl.waitConfigMap(a, 'reviews-v1');
    await waitFor('pod annotation', () => wl.pods(a, 'app=reviews,version=v1'), (ps) => ps.every((p) => p.metadata?.annotations?.['weft.dev/config-hash'] === hashOf(cm)));
  });

  it('reports Programmed "written to N/N workloads" with the translated generation', async () => {
    const vs = await waitFor('Programmed on VirtualService reviews', () => mesh.get('VirtualService', a, 'reviews'), (o) => condition(o, 'Programmed') !== undefined);
    expect(condition(vs, 'Programmed')).to.include({ status: 'True', reason: 'Programmed', message: 'written to 3/3 workloads', observedGeneration: vs.metadata.generation });
    expect(condition(vs, 'Accepted')).to.include({ status: 'True' });
    const legacy = await waitFor('Programmed on VirtualService legacy', () => mesh.get('VirtualService', plain, 'legacy'), (o) => condition(o, 'Programmed') !== undefined);
    expect(condition(legacy, 'Programmed')).to.include({ status: 'True', reason: 'NoWorkloads', message: 'written to 0/0 workloads' });
  });

  it('a VirtualService change rewrites the ConfigMaps of the workloads it reaches, and only those', async () => {
    await op!.distributed();
    const before = new Map<string, V1ConfigMap>();
    for (const [ns, w] of [[a, 'reviews-v1'], [a, 'reviews-v2'], [a, 'ratings-v1'], [b, 'cart-v1']] as const) before.set(`${ns}/${w}`, (await wl.configMap(ns, w))!);
    const updated = await mesh.updateSpec('VirtualService', a, 'reviews', (spec) => {
      spec.http = [{ route: [{ destination: { host: 'reviews', subset: 'v2' } }] }];
    });
    for (const w of ['reviews-v1', 'reviews-v2', 'ratings-v1']) {
      const old = hashOf(before.get(`${a}/${w}`)!);
      const cm = await wl.waitConfigMap(a, w, (c) => hashOf(c) !== old);
      const routes = JSON.stringify(decode(cm).config.routes);
      expect(routes).to.include(`outbound|9080|v2|reviews.${a}.svc.cluster.local`);
    }
    await op!.distributed();
    const cart = (await wl.configMap(b, 'cart-v1'))!;
    expect(cart.metadata!.resourceVersion).to.equal(before.get(`${b}/cart-v1`)!.metadata!.resourceVersion);
    await waitFor('Programmed for the new generation', () => mesh.get('VirtualService', a, 'reviews'),
      (o) => condition(o, 'Programmed')?.observedGeneration === updated.metadata.generation);
  });

  it('a restarted operator writes nothing', async () => {
    await op!.distributed();
    await op!.stop();
    const rv = async () => {
      const cms = await wl.core.listNamespacedConfigMap({ namespace: a });
      return Object.fromEntries(cms.items.map((c) => [c.metadata!.name!, c.metadata!.resourceVersion!]));
    };
    const before = await rv();
    const podsBefore = (await wl.pods(a, 'app')).map((p) => p.metadata!.resourceVersion);
    op = await testOperator(cp.kubeConfig());
    await op.waitForSync();
    await sleep(300);
    await op.distributed();
    await op.idle();
    expect(op.stats().distribution).to.include({ written: 0, podsAnnotated: 0, deleted: 0 });
    expect(op.stats().distribution!.translated).to.be.at.least(4);
    expect(await rv()).to.deep.equal(before);
    expect((await wl.pods(a, 'app')).map((p) => p.metadata!.resourceVersion)).to.deep.equal(podsBefore);
  });

  it('deleting a Deployment removes its ConfigMap', async () => {
    await wl.apps.deleteNamespacedDeployment({ namespace: a, name: 'ratings-v1', propagationPolicy: 'Background' });
    await wl.waitGone(a, 'ratings-v1');
    const vs = await waitFor('Programmed counts two workloads', () => mesh.get('VirtualService', a, 'reviews'),
      (o) => condition(o, 'Programmed')?.message === 'written to 2/2 workloads');
    expect(condition(vs, 'Programmed')?.status).to.equal('True');
  });

  it('garbage collection removes the ConfigMap of a deleted workload, with no operator running', async () => {
    await op!.stop();
    op = undefined;
    await wl.apps.deleteNamespacedDeployment({ namespace: a, name: 'reviews-v2', propagationPolicy: 'Background' });
    await wl.waitGone(a, 'reviews-v2');
    op = await testOperator(cp.kubeConfig());
    await op.waitForSync();
  });

  it('turning injection off removes the namespace\'s ConfigMaps; turning it on writes them again', async () => {
    await wl.core.patchNamespace({ name: b, body: { metadata: { labels: { 'weft-injection': null } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await wl.waitGone(b, 'cart-v1', 30_000);
    await wl.core.patchNamespace({ name: b, body: { metadata: { labels: INJECTED } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await wl.waitConfigMap(b, 'cart-v1');
  });
});
