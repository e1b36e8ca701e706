// The distribution with exactly config/rbac.yaml's permissions: as system:serviceaccount:weft-system:
// weft-operator the operator lists pod owners, writes a workload's ConfigMap, annotates its pod and deletes the
// ConfigMap when the namespace stops injection, and for weft-ingressgateway reads the credential Secret in
// weft-system and writes (then rewrites) weft-gateway-credentials-weft-ingressgateway, with no permission errors.
import { expect } from 'chai';
import { join, resolve } from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { createLogger } from '../../src/controllers/log.ts';
import type { Operator } from '../../src/controllers/operator.ts';
import { createNamespace, installCrds, serviceAccountKubeConfig, sharedCluster, type Cluster } from '../support/cluster.ts';
import { Workloads, hashOf } from './distribution-support.ts';
import { Mesh, retry, testOperator, waitFor } from './operator-support.ts';

const config = resolve(import.meta.dirname, '../../config');
const GW_CERT = `rbac-gw-cert-${process.pid}`;
const tls = (crt: string) => ({ metadata: { name: GW_CERT }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(crt).toString('base64'), 'tls.key': Buffer.from('key').toString('base64') } });

describe('distribution: least-privilege ServiceAccount', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let ns: string;
  let wl: Workloads;
  let op: Operator | undefined;
  const problems: string[] = [];

  before(async () => {
    cp = await sharedCluster();
    const admin = cp.kubeConfig();
    await installCrds(admin);
    await cp.kubectlAsync(['apply', '-f', join(config, 'namespace.yaml'), '-f', join(config, 'rbac.yaml')]);
    ns = await createNamespace(admin, 'dist-rbac', { 'weft-injection': 'enabled' });
    wl = new Workloads(admin, (args, input) => cp.kubectlAsync(args, input));
    const [pod] = await wl.deployment(ns, 'web', { app: 'web' }, ['10.244.9.1']);
    await new Mesh(admin).createService(ns, 'web');
    await wl.endpointSlice(ns, 'web', [{ ip: '10.244.9.1', pod: pod!.metadata!.name! }]);
  });

  after(async () => {
    await op?.stop();
    if (cp) {
      const core = cp.kubeConfig().makeApiClient(CoreV1Api);
      await core.deleteNamespace({ name: ns }).catch(() => undefined);
      if (wl) await wl.apps.deleteNamespacedDeployment({ namespace: 'weft-system', name: 'weft-ingressgateway' }).catch(() => undefined);
      for (const name of [GW_CERT, 'weft-gateway-credentials-weft-ingressgateway']) await core.deleteNamespacedSecret({ namespace: 'weft-system', name }).catch(() => undefined);
    }
  });

  it('writes the ConfigMap, annotates the pod and deletes the ConfigMap, without a forbidden request', async () => {
    const kc = await retry(() => serviceAccountKubeConfig(cp.kubeConfig(), 'weft-system', 'weft-operator'), 30_000);
    const log = createLogger('operator', {
      level: 'warn',
      sink: (line) => {
        problems.push(line);
        if (process.env.WEFT_LOG_LEVEL) process.stderr.write(`${line}\n`);
      },
    });
    op = await testOperator(kc, { log });
    await op.waitForSync();
    const cm = await wl.waitConfigMap(ns, 'web');
    await waitFor('pod annotation', () => wl.pods(ns, 'app=web'), (ps) => ps[0]?.metadata?.annotations?.['weft.dev/config-hash'] === hashOf(cm));
    await wl.core.patchNamespace({ name: ns, body: { metadata: { labels: { 'weft-injection': null } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await wl.waitGone(ns, 'web', 30_000);
    expect(problems.filter((l) => /forbidden|403/i.test(l))).to.deep.equal([]);
    expect(op.stats().distribution).to.include({ failures: 0 });
  });

  it('reads gateway credentials in weft-system and writes weft-gateway-credentials-weft-ingressgateway, without a forbidden request', async () => {
    const admin = cp.kubeConfig();
    const core = admin.makeApiClient(CoreV1Api);
    const labels = { app: 'weft-ingressgateway', istio: `rbac-ingress-${process.pid}` };
    await core.createNamespacedSecret({ namespace: 'weft-system', body: tls('v1') });
    await wl.deployment('weft-system', 'weft-ingressgateway', labels, ['10.244.9.50'], { 'weft.dev/proxy-mode': 'gateway' });
    await new Mesh(admin).create('Gateway', ns, 'edge', {
      selector: { istio: labels.istio },
      servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['edge.example.com'], tls: { mode: 'SIMPLE', credentialName: GW_CERT } }],
    });
    const read = () => core.readNamespacedSecret({ namespace: 'weft-system', name: 'weft-gateway-credentials-weft-ingressgateway' }).catch(() => undefined);
    const crt = (s: Awaited<ReturnType<typeof read>>) => Buffer.from(s?.data?.[`${GW_CERT}.tls.crt`] ?? '', 'base64').toString();
    await waitFor('credentials written', read, (s) => crt(s) === 'v1', 30_000);
    await core.replaceNamespacedSecret({ namespace: 'weft-system', name: GW_CERT, body: tls('v2') });
    await waitFor('credentials rewritten', read, (s) => crt(s) === 'v2', 30_000);
    expect(problems.filter((l) => /forbidden|403/i.test(l))).to.deep.equal([]);
  });
});
