// `weftctl proxy-config` against a real API server: a ConfigMap `weft-proxy-<workload>` in the writer's format,
// a Deployment whose ReplicaSet and Pod the controller manager creates (no node runs it), a bare Pod; the CLI
// runs as a child process with the control plane's kubeconfig and finds the config through the pod's owners.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { packProxyConfig, proxyConfigMapContent } from '../../src/controllers/proxy-bundle.ts';
import { proxyConfigMapName } from '../../src/translate/envoy/bundle-format.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { createNamespace, sharedCluster, type Cluster } from '../support/cluster.ts';
import { cluster } from '../unit/envoy-fixtures.ts';

const root = resolve(import.meta.dirname, '../..');

function weftctl(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'src/cli/weftctl.ts'), ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

function config(workload: string, namespace: string, subsets: string[]): ProxyConfig {
  return {
    workload: { kind: 'Deployment', name: workload, namespace, serviceAccount: 'default', labels: { app: workload } },
    listeners: [],
    routes: [],
    clusters: subsets.map((s) => cluster(s)),
    endpoints: [],
    inputs: [],
  };
}

describe('weftctl proxy-config on a real API server', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let ns: string;
  let core: CoreV1Api;
  let podName: string;

  async function writeConfigMap(workload: string, pc: ProxyConfig): Promise<void> {
    const { binaryData, annotations } = proxyConfigMapContent(packProxyConfig(pc));
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: proxyConfigMapName(workload), annotations }, binaryData } });
  }

  before(async () => {
    cp = await sharedCluster();
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    ns = await createNamespace(kc, 'pc');
    // Pods need their service account; the controller manager may not have made it yet.
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'default' } } }).catch(() => undefined);
    await writeConfigMap('reviews-v1', config('reviews-v1', ns, ['v1', 'v2']));
    await writeConfigMap('standalone', config('standalone', ns, ['v3']));
    const labels = { app: 'reviews', version: 'v1' };
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'reviews-v1' },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'example.invalid/reviews:1' }] } },
        },
      },
    });
    await core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'standalone' }, spec: { containers: [{ name: 'app', image: 'example.invalid/standalone:1' }] } },
    });
    // Deployment → ReplicaSet `reviews-v1-<hash>` → Pod `reviews-v1-<hash>-<suffix>`, made by the controllers.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=reviews' });
      const pod = pods.items.find((p) => p.metadata?.ownerReferences?.some((r) => r.kind === 'ReplicaSet'));
      if (pod) {
        podName = pod.metadata!.name!;
        break;
      }
      if (Date.now() > deadline) throw new Error('the controller manager made no pod for the Deployment');
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  const kubeconfig = () => ['--kubeconfig', cp.kubeconfigPath];

  it('follows a pod through its ReplicaSet to the Deployment\'s ConfigMap', async () => {
    expect(podName).to.match(/^reviews-v1-[a-z0-9]+-[a-z0-9]+$/);
    const r = await weftctl(['proxy-config', podName, 'clusters', '-n', ns, ...kubeconfig()]);
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    expect(r.stdout.split('\n')).to.deep.equal([
      'SERVICE FQDN                        PORT   SUBSET   DIRECTION   TYPE   DESTINATION RULE',
      'reviews.default.svc.cluster.local   9080   v1       outbound    EDS    -',
      'reviews.default.svc.cluster.local   9080   v2       outbound    EDS    -',
      '',
    ]);
  });

  it('takes deployment/NAME, istioctl\'s argument order and -o json', async () => {
    const r = await weftctl(['proxy-config', 'clusters', 'deployment/reviews-v1', '-n', ns, '-o', 'json', ...kubeconfig()]);
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal([cluster('v1'), cluster('v2')]);
  });

  it('reads a bare pod\'s own ConfigMap, with its workload and version under all', async () => {
    const r = await weftctl(['proxy-config', 'standalone', '-n', ns, ...kubeconfig()]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(new RegExp(`^Deployment ${ns}/standalone, service account default, version [0-9a-f]{12}\n`));
    expect(r.stdout).to.include('reviews.default.svc.cluster.local   9080   v3');
  });

  it('says which ConfigMap is missing', async () => {
    const r = await weftctl(['proxy-config', 'statefulset/db', '-n', ns, ...kubeconfig()]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(`no proxy config for workload ${ns}/db: ConfigMap weft-proxy-db not found`);
  });
});
