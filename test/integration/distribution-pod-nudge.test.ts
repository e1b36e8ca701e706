// Pods that start before what they mount exists, on a real API server: their Deployments' pods stay Pending (no
// node runs them), as a pod whose sidecar waits for its config does. Once the operator writes the workload's
// ConfigMap, the identity Secret and the trust bundle, each pod mounting them is annotated with their digests
// (the kubelet remounts a pod's volumes when the pod object changes) while still Pending; so is a pod created
// while the operator runs (but not for the identity it mounted fresh), and a ConfigMap change annotates the pods
// again.
import { expect } from 'chai';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import type { Operator } from '../../src/controllers/operator.ts';
import { IDENTITY_HASH_ANNOTATION, ROOT_CERT_HASH_ANNOTATION } from '../../src/controllers/identity/desired.ts';
import { proxyVolumes } from '../../src/webhooks/inject-containers.ts';
import { CONFIG_HASH_ANNOTATION } from '../../src/translate/envoy/bundle-format.ts';
import { createNamespace, deleteNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { Workloads, hashOf, sleep } from './distribution-support.ts';
import { Mesh, testOperator, waitFor } from './operator-support.ts';

const INJECTED = { 'weft-injection': 'enabled' };

describe('distribution: pods mounting what the operator writes are nudged, Pending ones too', function () {
  this.timeout(180_000);
  let cp: Cluster;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let wl: Workloads;
  let mesh: Mesh;
  let ns: string;
  let caNs: string;
  let op: Operator | undefined;

  /** A Deployment whose pods mount the volumes the injector adds; resolves with its (Pending) pod. */
  const deploy = async (name: string): Promise<V1Pod> => {
    const labels = { app: name };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              containers: [{ name: 'app', image: 'example.invalid/app:1', ports: [{ name: 'http', containerPort: 9080 }] }],
              volumes: proxyVolumes(name, 'default') as never,
            },
          },
        },
      },
    });
    const [pod] = await waitFor(`pod of ${name}`, () => wl.pods(ns, `app=${name}`), (ps) => ps.length === 1, 60_000);
    return pod!;
  };
  const podOf = async (name: string): Promise<V1Pod | undefined> => (await wl.pods(ns, `app=${name}`))[0];
  const annotation = (p: V1Pod | undefined, a: string): string | undefined => p?.metadata?.annotations?.[a];

  before(async () => {
    cp = await sharedCluster();
    const kc = cp.kubeConfig();
    await installCrds(kc);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    wl = new Workloads(kc, (args, input) => cp.kubectlAsync(args, input));
    mesh = new Mesh(kc);
    caNs = await createNamespace(kc, 'nudge-ca');
    ns = await createNamespace(kc, 'nudge', INJECTED);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'default' } } }).catch(() => undefined);
  });

  after(async () => {
    await op?.stop();
    for (const n of [ns, caNs]) if (n) await deleteNamespace(cp.kubeConfig(), n);
  });

  it('annotates a Pending pod that started before its ConfigMap, identity Secret and trust bundle existed', async () => {
    const early = await deploy('early');
    expect(early.status?.phase).to.equal('Pending');
    expect(await wl.configMap(ns, 'early')).to.equal(undefined);
    op = await testOperator(cp.kubeConfig(), { workloadIdentity: { caNamespace: caNs } });
    await op.waitForSync();
    const cm = await wl.waitConfigMap(ns, 'early');
    const pod = await waitFor('early pod annotated', () => podOf('early'),
      (p) => annotation(p, CONFIG_HASH_ANNOTATION) === hashOf(cm) && Boolean(annotation(p, IDENTITY_HASH_ANNOTATION)) && Boolean(annotation(p, ROOT_CERT_HASH_ANNOTATION)), 60_000);
    expect(pod!.metadata!.uid).to.equal(early.metadata!.uid);
    expect(pod!.status?.phase).to.equal('Pending');
  });

  it('annotates a Pending pod created while the operator runs, and again when its ConfigMap changes', async () => {
    // Created in a later second than the identity Secret and the trust bundle: it mounts them as they are, and
    // needs no nudge for them.
    await sleep(1_100);
    await deploy('late');
    const cm = await wl.waitConfigMap(ns, 'late');
    await waitFor('late pod annotated', () => podOf('late'), (p) => annotation(p, CONFIG_HASH_ANNOTATION) === hashOf(cm), 60_000);
    await op!.workloadIdentity!.controller.idle();
    const late = await podOf('late');
    expect(annotation(late, IDENTITY_HASH_ANNOTATION)).to.equal(undefined);
    expect(annotation(late, ROOT_CERT_HASH_ANNOTATION)).to.equal(undefined);
    // A Service with a VirtualService in the namespace changes every workload's outbound config.
    await mesh.createService(ns, 'ratings');
    await mesh.create('VirtualService', ns, 'ratings', { hosts: ['ratings'], exportTo: ['.'], http: [{ timeout: '3s', route: [{ destination: { host: 'ratings' } }] }] });
    const changed = await wl.waitConfigMap(ns, 'late', (c) => hashOf(c) !== hashOf(cm));
    const pod = await waitFor('late pod annotated with the new hash', () => podOf('late'), (p) => annotation(p, CONFIG_HASH_ANNOTATION) === hashOf(changed), 60_000);
    expect(pod!.status?.phase).to.equal('Pending');
    const early = await wl.waitConfigMap(ns, 'early', (c) => hashOf(c) !== undefined);
    await waitFor('early pod annotated with its new hash', () => podOf('early'), (p) => annotation(p, CONFIG_HASH_ANNOTATION) === hashOf(early), 60_000);
  });
});
