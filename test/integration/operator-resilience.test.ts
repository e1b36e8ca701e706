// The operator survives a kube-apiserver restart: watches break, lists fail while it is down, and afterwards the
// informers resume and reconciling goes on — without the process exiting or an unhandled rejection.
import { expect } from 'chai';
import { CoreV1Api } from '@kubernetes/client-node';
import type { Operator } from '../../src/controllers/operator.ts';
import { createNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { Mesh, condition, retry, testOperator, waitForStatus } from './operator-support.ts';

describe('operator: kube-apiserver restart', function () {
  this.timeout(180_000);
  let cp: Cluster;
  let mesh: Mesh;
  let ns: string;
  let op: Operator | undefined;
  const rejections: unknown[] = [];
  const onRejection = (r: unknown): void => void rejections.push(r);

  before(async () => {
    process.on('unhandledRejection', onRejection);
    cp = await sharedCluster();
    const kc = cp.kubeConfig();
    await installCrds(kc);
    ns = await createNamespace(kc, 'op-restart');
    mesh = new Mesh(kc);
    op = await testOperator(kc);
    await op.waitForSync();
  });

  after(async () => {
    process.off('unhandledRejection', onRejection);
    await op?.stop();
    if (cp) await cp.kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
  });

  it('keeps reconciling after the API server comes back', async () => {
    await mesh.create('VirtualService', ns, 'front', {
      hosts: ['front.example.com'],
      gateways: ['edge'],
      http: [{ route: [{ destination: { host: 'front.example.com' } }] }],
    });
    await mesh.create('ServiceEntry', ns, 'front', { hosts: ['front.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' });
    const before = await waitForStatus(mesh, 'VirtualService', ns, 'front', (o) => condition(o, 'ResolvedRefs')?.message?.includes('Gateway') === true);
    expect(condition(before, 'ResolvedRefs')!.status).to.equal('False');

    // A real outage: the watches and any in-flight list see connection errors for a couple of seconds.
    await cp.restartApiServer(2_000);

    // Changes made after the restart must reach the informers' caches: the Gateway appears, the VS flips.
    await retry(
      () => mesh.create('Gateway', ns, 'edge', { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['front.example.com'] }] }),
      30_000,
    );
    await waitForStatus(mesh, 'VirtualService', ns, 'front', (o) => condition(o, 'ResolvedRefs')?.status === 'True', 60_000);

    // And new objects get a status.
    await mesh.create('DestinationRule', ns, 'front', { host: 'front.example.com', trafficPolicy: { tls: { mode: 'SIMPLE' } } });
    const dr = await waitForStatus(mesh, 'DestinationRule', ns, 'front', () => true, 30_000);
    expect(condition(dr, 'ResolvedRefs')!.status).to.equal('True');
    expect(rejections).to.deep.equal([]);
  });

  it('survives a second restart while idle', async () => {
    await cp.restartApiServer(500);
    await retry(() => mesh.updateSpec('VirtualService', ns, 'front', (spec) => (spec.gateways = ['edge', 'mesh'])), 30_000);
    const vs = await waitForStatus(mesh, 'VirtualService', ns, 'front', (o) => o.metadata.generation === 2, 60_000);
    expect(condition(vs, 'ResolvedRefs')!.status).to.equal('True');
    expect(rejections).to.deep.equal([]);
  });
});
