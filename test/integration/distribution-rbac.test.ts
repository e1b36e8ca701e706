// The distribution with exactly config/rbac.yaml's permissions: as system:serviceaccount:weft-system:
// weft-operator the operator lists pod owners, writes a workload's ConfigMap, annotates its pod and deletes the
// ConfigMap when the namespace stops injection, with no permission errors.
import { expect } from 'chai';
import { join, resolve } from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { createLogger } from '../../src/controllers/log.ts';
import type { Operator } from '../../src/controllers/operator.ts';
import { createNamespace, installCrds, serviceAccountKubeConfig, sharedCluster, type Cluster } from '../support/cluster.ts';
import { Workloads, hashOf } from './distribution-support.ts';
import { Mesh, retry, testOperator, waitFor } from './operator-support.ts';

const config = resolve(import.meta.dirname, '../../config');

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
    if (cp) await cp.kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
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
});
