// Gateway credentials on a real API server: a gateway Deployment in weft-system (pods annotated
// weft.dev/proxy-mode: gateway) selected by a Gateway of another namespace whose HTTPS server names a
// credentialName. The operator writes weft-gateway-credentials-<workload> next to the gateway with the flat keys
// the proxy reads, owned by the Deployment, plus the gateway's proxy ConfigMap; rotating the Secret rewrites it and
// moves the pods' hash; a credentialName with no Secret in weft-system makes the Gateway's ResolvedRefs False
// naming it, and the Secret's arrival makes it True; Programmed counts gateway workloads; two Gateways serving the
// same host on the same port of the same workload both carry IST0145.
import { expect } from 'chai';
import { CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import { podHash } from '../../src/controllers/gateway/credentials.ts';
import type { Operator } from '../../src/controllers/operator.ts';
import { createNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { Workloads, hashOf } from './distribution-support.ts';
import { Mesh, condition, retry, testOperator, waitFor, waitForStatus } from './operator-support.ts';

const SYSTEM = 'weft-system';
const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('gateway credentials on a real API server', function () {
  this.timeout(180_000);
  const id = `${process.pid}`;
  const workload = `gw-ingress-${id}`;
  const selector = { istio: `ingress-test-${id}` };
  const cert = `shop-cert-${id}`;
  const absent = `absent-cert-${id}`;
  const credentials = `weft-gateway-credentials-${workload}`;
  let cp: Cluster;
  let core: CoreV1Api;
  let mesh: Mesh;
  let wl: Workloads;
  let apps: string;
  let op: Operator | undefined;

  const tlsSecret = (name: string, crt: string): V1Secret => ({
    metadata: { name, namespace: SYSTEM },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(crt), 'tls.key': b64(`key of ${name}`), 'ca.crt': b64('client ca') },
  });
  const readCredentials = () => core.readNamespacedSecret({ namespace: SYSTEM, name: credentials }).catch(() => undefined);
  const server = (credentialName: string, host: string) => ({ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: [host], tls: { mode: 'SIMPLE', credentialName } });

  before(async () => {
    cp = await sharedCluster();
    const kc = cp.kubeConfig();
    await installCrds(kc);
    core = kc.makeApiClient(CoreV1Api);
    mesh = new Mesh(kc);
    wl = new Workloads(kc, (args, input) => cp.kubectlAsync(args, input));
    await core.createNamespace({ body: { metadata: { name: SYSTEM } } }).catch(() => undefined);
    apps = await createNamespace(kc, 'gw-apps');
    await retry(() => core.createNamespacedSecret({ namespace: SYSTEM, body: tlsSecret(cert, 'certificate v1') }), 10_000);
    await wl.deployment(SYSTEM, workload, { app: workload, ...selector }, ['10.244.60.1'], { 'weft.dev/proxy-mode': 'gateway' });
    await mesh.create('Gateway', apps, 'shop', { selector, servers: [server(cert, 'shop.example.com')] });
    op = await testOperator(kc);
    await op.waitForSync();
  });

  after(async () => {
    await op?.stop();
    if (core) {
      await wl.apps.deleteNamespacedDeployment({ namespace: SYSTEM, name: workload }).catch(() => undefined);
      for (const name of [cert, absent, credentials]) await core.deleteNamespacedSecret({ namespace: SYSTEM, name }).catch(() => undefined);
      if (apps) await core.deleteNamespace({ name: apps }).catch(() => undefined);
    }
  });

  it('writes the credentials Secret next to the gateway, flat keys, owned by the Deployment; and the gateway\'s ConfigMap', async () => {
    const s = await waitFor('credentials Secret', readCredentials, (x) => x !== undefined, 30_000);
    expect(Object.keys(s!.data ?? {}).sort()).to.deep.equal([`${cert}.ca.crt`, `${cert}.tls.crt`, `${cert}.tls.key`]);
    expect(Buffer.from(s!.data![`${cert}.tls.crt`]!, 'base64').toString()).to.equal('certificate v1');
    const dep = await wl.apps.readNamespacedDeployment({ namespace: SYSTEM, name: workload });
    expect(s!.metadata!.ownerReferences).to.deep.equal([
      { apiVersion: 'apps/v1', kind: 'Deployment', name: workload, uid: dep.metadata!.uid, controller: false, blockOwnerDeletion: false },
    ]);
    // The gateway's namespace is not injected: it gets its config as a gateway.
    await wl.waitConfigMap(SYSTEM, workload);
  });

  it('annotates the gateway pods with a hash covering config and credentials; a rotated Secret rewrites both', async () => {
    const expected = async () => {
      const cm = await wl.waitConfigMap(SYSTEM, workload);
      const s = await readCredentials();
      return podHash(hashOf(cm)!, s?.metadata?.annotations?.['weft.dev/credentials-hash'] ?? '');
    };
    const podAnnotation = async () => (await wl.pods(SYSTEM, `app=${workload}`))[0]?.metadata?.annotations?.['weft.dev/config-hash'];
    const first = await expected();
    await waitFor('pod hash', podAnnotation, (h) => h === first, 30_000);
    expect(first).to.not.equal(hashOf((await wl.configMap(SYSTEM, workload))!));

    await core.replaceNamespacedSecret({ namespace: SYSTEM, name: cert, body: tlsSecret(cert, 'certificate v2') });
    const rotated = await waitFor('rotated credentials', readCredentials, (x) => Buffer.from(x?.data?.[`${cert}.tls.crt`] ?? '', 'base64').toString() === 'certificate v2', 30_000);
    expect(Buffer.from(rotated!.data![`${cert}.tls.key`]!, 'base64').toString()).to.equal(`key of ${cert}`);
    const second = await expected();
    expect(second).to.not.equal(first);
    await waitFor('new pod hash', podAnnotation, (h) => h === second, 30_000);
  });

  it('says ResolvedRefs False naming a credential Secret missing in the gateway\'s namespace; True once it exists', async () => {
    await mesh.create('Gateway', apps, 'partner', { selector, servers: [server(absent, 'partner.example.com')] });
    const bad = await waitForStatus(mesh, 'Gateway', apps, 'partner', (o) => condition(o, 'ResolvedRefs')?.status === 'False', 30_000);
    const c = condition(bad, 'ResolvedRefs')!;
    expect(c.reason).to.equal('ReferencedResourceNotFound');
    expect(c.message).to.contain(`"${SYSTEM}/${absent}" not found`);
    // The other Gateway's credentials keep being delivered.
    const good = await waitForStatus(mesh, 'Gateway', apps, 'shop', (o) => condition(o, 'ResolvedRefs') !== undefined, 30_000);
    expect(condition(good, 'ResolvedRefs')!.status).to.equal('True');
    expect(Object.keys((await readCredentials())!.data ?? {})).to.include(`${cert}.tls.crt`);

    await core.createNamespacedSecret({ namespace: SYSTEM, body: tlsSecret(absent, 'partner certificate') });
    await waitForStatus(mesh, 'Gateway', apps, 'partner', (o) => condition(o, 'ResolvedRefs')?.status === 'True', 30_000);
    await waitFor('partner credentials', readCredentials, (x) => x?.data?.[`${absent}.tls.crt`] !== undefined, 30_000);
  });

  it('says Programmed "written to 1/1 gateway workloads" on a Gateway its gateway workload serves', async () => {
    const gw = await waitForStatus(mesh, 'Gateway', apps, 'shop', (o) => condition(o, 'Programmed')?.status === 'True', 30_000);
    expect(condition(gw, 'Programmed')).to.include({ reason: 'Programmed', message: 'written to 1/1 gateway workloads' });
  });

  it('reports IST0145 ConflictingGateways on both Gateways of a conflict, and clears it when one goes', async () => {
    await mesh.create('Gateway', apps, 'shop-copy', { selector, servers: [server(cert, 'shop.example.com')] });
    const ist0145 = (o: { status?: { validationMessages?: Array<{ type: { code: string } }> } }) =>
      (o.status?.validationMessages ?? []).filter((m) => m.type.code === 'IST0145');
    const copy = await waitForStatus(mesh, 'Gateway', apps, 'shop-copy', (o) => ist0145(o).length > 0, 30_000);
    expect(ist0145(copy)[0]).to.deep.include({ level: 'ERROR', type: { code: 'IST0145', name: 'ConflictingGateways' }, field: 'spec.servers[0]' });
    expect((ist0145(copy)[0] as unknown as { message: string }).message).to.contain(`${apps}/shop`);
    const shop = await waitForStatus(mesh, 'Gateway', apps, 'shop', (o) => ist0145(o).length > 0, 30_000);
    expect((ist0145(shop)[0] as unknown as { message: string }).message).to.contain(`${apps}/shop-copy`);
    // The conflict is a finding, not a refusal: both stay Accepted.
    expect(condition(shop, 'Accepted')?.status).to.equal('True');
    await mesh.delete('Gateway', apps, 'shop-copy');
    await waitForStatus(mesh, 'Gateway', apps, 'shop', (o) => ist0145(o).length === 0, 30_000);
  });
});
