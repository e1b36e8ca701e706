// `weft operator` as a real process, the way the Deployment runs it: its own ServiceAccount with config/'s RBAC,
// the Lease, the validating webhook with its certificate Secret and caBundle, status writes; SIGTERM stops it
// cleanly and hands the Lease back.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { freePort } from '../../hack/local-cluster/processes.ts';
import { createNamespace, installCrds, serviceAccountKubeConfig, sharedCluster, type Cluster } from '../support/cluster.ts';
import { registerWebhook, unregisterWebhook } from '../support/webhook.ts';
import { Mesh, condition, retry, waitFor, waitForStatus } from './operator-support.ts';

const root = resolve(import.meta.dirname, '../..');
const label = { 'test.weft.dev/suite': 'operator-process' };

describe('weft operator (the process)', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let ns: string;
  let dir: string;
  let child: ChildProcess | undefined;
  let stderr = '';

  before(async () => {
    cp = await sharedCluster();
    const admin = cp.kubeConfig();
    await installCrds(admin);
    await cp.kubectlAsync(['apply', '-f', join(root, 'config/namespace.yaml'), '-f', join(root, 'config/rbac.yaml')]);
    ns = await createNamespace(admin, 'op-process', label);
    dir = mkdtempSync(join(tmpdir(), 'weft-operator-'));
  });

  after(async () => {
    child?.kill('SIGKILL');
    if (cp) {
      await unregisterWebhook(cp.kubeConfig(), 'weft-validator');
      await cp.kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves the webhook, writes status, and on SIGTERM exits 0 and releases its Lease', async () => {
    const admin = cp.kubeConfig();
    const port = await freePort();
    // The shipped webhook configuration, pointed at this process and scoped to this test's namespace, without
    // a caBundle: the operator must fill it in from the CA it keeps in Secret weft-system/weft-webhook-tls.
    await registerWebhook(admin, { name: 'weft-validator', url: `https://127.0.0.1:${port}/validate`, caPem: '', namespaceLabel: label });
    const sa = await retry(() => serviceAccountKubeConfig(admin, 'weft-system', 'weft-operator'), 30_000);
    const kubeconfig = join(dir, 'sa.kubeconfig');
    writeFileSync(kubeconfig, sa.exportConfig(), { mode: 0o600 });

    const exited = new Promise<number | null>((done) => {
      child = spawn(process.execPath, [join(root, 'src/cli/weft.ts'), 'operator', '--kubeconfig', kubeconfig, '--webhook-host', '127.0.0.1', '--webhook-port', String(port)]);
      child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      child.on('exit', (code) => done(code));
    });

    await waitFor('the caBundle', async () => (await cp.kubectlAsync(['get', 'validatingwebhookconfiguration', 'weft-validator', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}'])).stdout, (b) => b.length > 0, 60_000);
    const secret = await admin.makeApiClient(CoreV1Api).readNamespacedSecret({ name: 'weft-webhook-tls', namespace: 'weft-system' });
    expect(Object.keys(secret.data ?? {})).to.include.members(['ca.crt', 'tls.crt', 'tls.key']);

    const badRegex = {
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'bad', namespace: ns },
      spec: { hosts: ['reviews'], http: [{ match: [{ uri: { regex: '(?<=x)y' } }], route: [{ destination: { host: 'reviews' } }] }] },
    };
    const refused = await waitFor('the webhook to refuse', () => cp.kubectlAsync(['apply', '-f', '-'], JSON.stringify(badRegex)), (r) => r.status !== 0 && r.stderr.includes('validation.weft.dev'), 30_000);
    expect(refused.stderr).to.include('spec.http[0].match[0].uri.regex');

    const mesh = new Mesh(admin);
    await mesh.create('VirtualService', ns, 'good', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] });
    const vs = await waitForStatus(mesh, 'VirtualService', ns, 'good', (o) => condition(o, 'Accepted')?.status === 'True', 60_000);
    expect(condition(vs, 'Accepted')!.observedGeneration).to.equal(1);

    const leases = admin.makeApiClient(CoordinationV1Api);
    const held = await leases.readNamespacedLease({ name: 'weft-operator', namespace: 'weft-system' });
    const holder = held.spec?.holderIdentity;
    expect(holder, 'lease holder').to.be.a('string').and.not.equal('');

    child!.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 20_000))]);
    expect(code, stderr.slice(-2000)).to.equal(0);
    const after = await leases.readNamespacedLease({ name: 'weft-operator', namespace: 'weft-system' });
    // Released: the holder shortened the lease to 1 s so a successor need not wait out the full 15 s.
    expect(after.spec?.leaseDurationSeconds).to.equal(1);
    // RBAC refusals only: another file's namespace still terminating also answers 403 to creations in it.
    expect(stderr.split('\n').filter((l) => /forbidden/i.test(l) && !/being terminated/.test(l))).to.deep.equal([]);
  });
});
