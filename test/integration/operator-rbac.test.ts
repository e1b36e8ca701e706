// The operator running as its own ServiceAccount with exactly the RBAC of config/rbac.yaml: it lists and watches
// what it needs, takes the `weft-operator` Lease in weft-system and writes status, with no permission errors.
import { expect } from 'chai';
import { join, resolve } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { createLogger } from '../../src/controllers/log.ts';
import type { Operator } from '../../src/controllers/operator.ts';
import { createNamespace, installCrds, serviceAccountKubeConfig, sharedCluster, type Cluster } from '../support/cluster.ts';
import { Mesh, condition, retry, testOperator, waitFor, waitForStatus } from './operator-support.ts';

const config = resolve(import.meta.dirname, '../../config');

describe('operator: least-privilege ServiceAccount', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let mesh: Mesh;
  let ns: string;
  let op: Operator | undefined;
  const problems: string[] = [];

  before(async () => {
    cp = await sharedCluster();
    const admin = cp.kubeConfig();
    await installCrds(admin);
    cp.kubectl(['apply', '-f', join(config, 'namespace.yaml'), '-f', join(config, 'rbac.yaml')]);
    ns = await createNamespace(admin, 'op-rbac');
    mesh = new Mesh(admin);
  });

  after(async () => {
    await op?.stop();
    if (cp) await cp.kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
  });

  it('reconciles and holds the Lease as system:serviceaccount:weft-system:weft-operator', async () => {
    const kc = await retry(() => serviceAccountKubeConfig(cp.kubeConfig(), 'weft-system', 'weft-operator'), 30_000);
    const log = createLogger('operator', {
      level: 'warn',
      sink: (line) => {
        problems.push(line);
        if (process.env.WEFT_LOG_LEVEL) process.stderr.write(`${line}\n`);
      },
    });
    op = await testOperator(kc, { leaderElect: true, namespace: 'weft-system', identity: `rbac-test-${process.pid}`, log });
    await op.waitForSync();
    // The Lease may still be held by an earlier run's replica; it expires or is released.
    await waitFor('leadership', async () => op!.isLeader(), (v) => v, 30_000);

    await mesh.create('VirtualService', ns, 'ratings', { hosts: ['ratings'], gateways: ['ratings-gw'], http: [{ route: [{ destination: { host: 'ratings' } }] }] });
    const vs = await waitForStatus(mesh, 'VirtualService', ns, 'ratings');
    expect(condition(vs, 'ResolvedRefs')).to.include({ status: 'False', reason: 'ReferencedResourceNotFound' });
    await mesh.createService(ns, 'ratings');
    await mesh.create('Gateway', ns, 'ratings-gw', { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] });
    await waitForStatus(mesh, 'VirtualService', ns, 'ratings', (o) => condition(o, 'ResolvedRefs')?.status === 'True');
    expect(problems.filter((l) => /forbidden|403/i.test(l))).to.deep.equal([]);
  });

  it('reads the mesh config and writes its verdict (annotation and Event) on it', async () => {
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    // Invalid on purpose: the operators of other tests keep their defaults meanwhile.
    await core.createNamespacedConfigMap({ namespace: 'weft-system', body: { metadata: { name: 'weft' }, data: { mesh: 'outboundTrafficPolicy: {mode: WRONG}\n' } } });
    try {
      const cm = await waitFor('the mesh config verdict', () => core.readNamespacedConfigMap({ namespace: 'weft-system', name: 'weft' }),
        (c) => c.metadata?.annotations?.['weft.dev/mesh-config-status']?.startsWith('Invalid: ') === true, 30_000);
      expect(cm.metadata!.annotations!['weft.dev/mesh-config-status']).to.include('outboundTrafficPolicy.mode');
      await waitFor('the InvalidMeshConfig Event', async () => (await core.listNamespacedEvent({ namespace: 'weft-system', fieldSelector: 'involvedObject.name=weft' })).items,
        (es) => es.some((e) => e.reason === 'InvalidMeshConfig'), 30_000);
      expect(problems.filter((l) => /forbidden|403/i.test(l))).to.deep.equal([]);
    } finally {
      await core.deleteNamespacedConfigMap({ namespace: 'weft-system', name: 'weft' }).catch(() => undefined);
    }
  });
});
