// The informer on core kinds against a real API server: cluster-scoped Namespaces, EndpointSlices written by
// kube-controller-manager, label-selected Pods; list items look like watch events (apiVersion and kind set).
import { expect } from 'chai';
import { CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { Informer } from '../../src/controllers/informer.ts';
import { ENDPOINT_SLICES, NAMESPACES, PODS, SERVICES } from '../../src/controllers/resources.ts';
import { createNamespace, sharedCluster, type Cluster } from '../support/cluster.ts';
import { Mesh, waitFor } from './operator-support.ts';

describe('informer on core kinds', function () {
  this.timeout(60_000);
  let cp: Cluster;
  let ns: string;
  const informers: Array<Informer<KubernetesObject>> = [];

  const start = async (inf: Informer<KubernetesObject>) => {
    informers.push(inf);
    inf.start();
    await inf.waitForSync();
    return inf;
  };

  before(async () => {
    cp = await sharedCluster();
    ns = await createNamespace(cp.kubeConfig(), 'op-informer');
  });

  after(async () => {
    for (const i of informers) await i.stop();
    if (cp) await cp.kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
  });

  it('caches cluster-scoped Namespaces and reports changes by name', async () => {
    const inf = await start(new Informer({ kubeConfig: cp.kubeConfig(), type: NAMESPACES }));
    const seen: string[] = [];
    inf.onChange((k) => seen.push(k));
    expect(inf.get(undefined, ns)).to.include({ apiVersion: 'v1', kind: 'Namespace' });
    expect(inf.getByKey('kube-system')?.metadata?.name).to.equal('kube-system');
    const extra = await createNamespace(cp.kubeConfig(), 'op-informer-extra');
    await waitFor('the new namespace in the cache', async () => inf.get(undefined, extra), (v) => v !== undefined);
    expect(seen).to.include(extra);
    await cp.kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: extra });
  });

  it('caches EndpointSlices that kube-controller-manager creates for a Service', async () => {
    const slices = await start(new Informer({ kubeConfig: cp.kubeConfig(), type: ENDPOINT_SLICES, namespace: ns }));
    const services = await start(new Informer({ kubeConfig: cp.kubeConfig(), type: SERVICES, namespace: ns }));
    await new Mesh(cp.kubeConfig()).createService(ns, 'productpage');
    await waitFor('the Service', async () => services.get(ns, 'productpage'), (v) => v !== undefined);
    const slice = await waitFor(
      'an EndpointSlice for the Service',
      async () => slices.list(ns).find((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === 'productpage'),
      (v) => v !== undefined,
      30_000,
    );
    expect(slice).to.include({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' });
  });

  it('watches Pods through a label selector', async () => {
    const pods = await start(new Informer({ kubeConfig: cp.kubeConfig(), type: PODS, namespace: ns, labelSelector: 'app=reviews' }));
    const keys: string[] = [];
    pods.onChange((k) => keys.push(k));
    const mesh = new Mesh(cp.kubeConfig());
    await mesh.createPod(ns, 'reviews-1', { app: 'reviews' });
    await mesh.createPod(ns, 'ratings-1', { app: 'ratings' });
    await waitFor('the reviews pod', async () => pods.get(ns, 'reviews-1'), (v) => v !== undefined);
    await cp.kubeConfig().makeApiClient(CoreV1Api).deleteNamespacedPod({ namespace: ns, name: 'reviews-1', gracePeriodSeconds: 0 });
    await waitFor('the pod to leave the cache', async () => pods.get(ns, 'reviews-1'), (v) => v === undefined);
    expect(pods.list().map((p) => p.metadata?.name)).to.deep.equal([]);
    expect(keys.every((k) => k === `${ns}/reviews-1`)).to.equal(true);
  });
});
