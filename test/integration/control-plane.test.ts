// The harness itself: a real kube-apiserver at the pinned release, RBAC on, surviving a restart.
import { expect } from 'chai';
import { CoreV1Api, VersionApi } from '@kubernetes/client-node';
import { sharedCluster } from '../support/cluster.ts';

describe('local control plane', function () {
  this.timeout(180_000);

  it('serves the pinned Kubernetes release with RBAC enforced', async () => {
    const cp = await sharedCluster();
    const version = await cp.kubeConfig().makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).to.equal('v1.36.3');
    const denied = cp.kubectlResult(['auth', 'can-i', 'list', 'pods', '--as', 'nobody']);
    expect(denied.stdout.trim()).to.equal('no');
    expect(cp.kubectl(['auth', 'can-i', 'list', 'pods']).trim()).to.equal('yes');
  });

  it('runs kube-controller-manager (a new namespace gets its default ServiceAccount)', async () => {
    const cp = await sharedCluster();
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    const namespace = `kcm-${process.pid}`;
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    for (let i = 0; i < 300; i++) {
      const sas = await core.listNamespacedServiceAccount({ namespace });
      if (sas.items.some((sa) => sa.metadata?.name === 'default')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect.fail('no default ServiceAccount after 30 s');
  });

  it('keeps its data across a kube-apiserver restart', async () => {
    const cp = await sharedCluster();
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    const name = `restart-${process.pid}`;
    await core.createNamespace({ body: { metadata: { name } } });
    await cp.restartApiServer();
    const ns = await core.readNamespace({ name });
    expect(ns.metadata?.name).to.equal(name);
  });
});
