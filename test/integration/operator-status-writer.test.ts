// The status writer alone (no operator running, so nothing else writes): server-side apply on /status with the
// cached resourceVersion as precondition, no request when nothing changed, 404 and 409 as outcomes.
import { expect } from 'chai';
import { CoreV1Api } from '@kubernetes/client-node';
import { buildStatus } from '../../src/controllers/conditions.ts';
import { FIELD_MANAGER, KubeStatusWriter } from '../../src/controllers/status-writer.ts';
import { createNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { Mesh, typeOf } from './operator-support.ts';

describe('status writer on a real API server', function () {
  this.timeout(60_000);
  let cp: Cluster;
  let mesh: Mesh;
  let ns: string;

  before(async () => {
    cp = await sharedCluster();
    await installCrds(cp.kubeConfig());
    ns = await createNamespace(cp.kubeConfig(), 'op-writer');
    mesh = new Mesh(cp.kubeConfig());
  });

  after(async () => {
    if (cp) await cp.kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
  });

  const none = { errors: [], warnings: [] };

  it('refuses a stale copy (conflict), writes a fresh one, skips an equal one, reports a deleted object as gone', async () => {
    const writer = new KubeStatusWriter(cp.kubeConfig());
    const type = typeOf('Gateway');
    const gw = await mesh.create('Gateway', ns, 'stale', { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] });
    const status = buildStatus({ generation: 1, previous: undefined, validation: none, refs: none, now: new Date() });
    await mesh.updateSpec('Gateway', ns, 'stale', (spec) => (spec.selector = { istio: 'ingressgateway' }));
    expect(await writer.write(type, gw, status)).to.equal('conflict');

    const fresh = await mesh.get('Gateway', ns, 'stale');
    const st2 = buildStatus({ generation: fresh.metadata.generation, previous: undefined, validation: none, refs: none, now: new Date() });
    expect(await writer.write(type, fresh, st2)).to.equal('written');
    const written = await mesh.get('Gateway', ns, 'stale');
    expect(written.status).to.deep.equal(JSON.parse(JSON.stringify(st2)));
    expect(written.metadata.generation, 'status writes do not bump the generation').to.equal(2);
    const managers = (written.metadata as { managedFields?: Array<{ manager: string; subresource?: string; operation: string }> }).managedFields ?? [];
    expect(managers.some((m) => m.manager === FIELD_MANAGER && m.subresource === 'status' && m.operation === 'Apply')).to.equal(true);

    expect(await writer.write(type, written, st2)).to.equal('unchanged');
    expect((await mesh.get('Gateway', ns, 'stale')).metadata.resourceVersion).to.equal(written.metadata.resourceVersion);

    // Applying without validationMessages removes the ones this manager wrote before.
    const warned = buildStatus({ generation: 2, previous: st2, validation: { errors: [], warnings: [{ field: 'spec.selector', message: 'w' }] }, refs: none, now: new Date() });
    expect(await writer.write(type, written, warned)).to.equal('written');
    const withWarning = await mesh.get('Gateway', ns, 'stale');
    expect(withWarning.status!.validationMessages).to.have.length(1);
    expect(await writer.write(type, withWarning, st2)).to.equal('written');
    expect((await mesh.get('Gateway', ns, 'stale')).status!.validationMessages).to.equal(undefined);

    await mesh.delete('Gateway', ns, 'stale');
    expect(await writer.write(type, { ...written, status: undefined }, st2)).to.equal('gone');
  });
});
