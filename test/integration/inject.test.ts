// weft's sidecar injector behind a real kube-apiserver: the shipped MutatingWebhookConfiguration (config/), pointed
// at an in-process webhook server on loopback and narrowed to this suite's namespaces. Stored pods must carry the
// sidecar in labelled namespaces (either label), be left alone when opted out, in unlabelled namespaces, when they
// are gateways (weft.dev/proxy-mode: gateway) and when already injected; the caBundle controller must make the API server trust the injector.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect } from 'chai';
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, type KubeConfig, type V1MutatingWebhookConfiguration, type V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { keepCaBundleCurrent } from '../../src/webhooks/cabundle.ts';
import { generateWebhookCerts } from '../../src/webhooks/certs.ts';
import { namespaceLabelsFrom, webhookHook } from '../../src/webhooks/run.ts';
import { silentLogger } from '../../src/controllers/log.ts';
import { startWebhookServer, type WebhookServer } from '../../src/webhooks/server.ts';
import { createNamespace, sharedCluster, type Cluster } from '../support/cluster.ts';

const NAME = `weft-injector-test-${process.pid}`;
const suite = { key: 'test.weft.dev/suite', value: `inject-${process.pid}` };
const suiteLabel = { [suite.key]: suite.value };

function shippedInjector(): V1MutatingWebhookConfiguration {
  const text = readFileSync(resolve(import.meta.dirname, '../../config/webhook.yaml'), 'utf8');
  for (const d of parseAllDocuments(text)) {
    const o = d.toJS() as V1MutatingWebhookConfiguration | null;
    if (o?.kind === 'MutatingWebhookConfiguration') return o;
  }
  throw new Error('config/webhook.yaml has no MutatingWebhookConfiguration');
}

/** The shipped webhooks with a loopback URL, each selector narrowed to this suite's namespaces. */
function registration(url: string, caPem: string, name = NAME): V1MutatingWebhookConfiguration {
  const mwc = shippedInjector();
  mwc.metadata = { name };
  mwc.webhooks = mwc.webhooks!.map((w) => ({
    ...w,
    clientConfig: { url, caBundle: Buffer.from(caPem).toString('base64') },
    namespaceSelector: { matchExpressions: [...(w.namespaceSelector?.matchExpressions ?? []), { key: suite.key, operator: 'In', values: [suite.value] }] },
  }));
  return mwc;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const pod = (name: string, annotations?: Record<string, string>): V1Pod => ({
  metadata: { name, labels: { app: name }, ...(annotations ? { annotations } : {}) },
  spec: { containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }] }] },
});

const names = (cs: Array<{ name: string }> | undefined) => (cs ?? []).map((c) => c.name);

describe('sidecar injection on a real API server', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let kc: KubeConfig;
  let core: CoreV1Api;
  let server: WebhookServer;
  let weftNs: string;
  let istioNs: string;
  let plainNs: string;
  let stopCa: (() => void) | undefined;

  before(async () => {
    cp = await sharedCluster();
    kc = cp.kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    weftNs = await createNamespace(kc, 'inject', { ...suiteLabel, 'weft-injection': 'enabled' });
    istioNs = await createNamespace(kc, 'inject-istio', { ...suiteLabel, 'istio-injection': 'enabled' });
    plainNs = await createNamespace(kc, 'inject-plain', suiteLabel);
    const certs = await generateWebhookCerts();
    server = await startWebhookServer({
      port: 0,
      host: '127.0.0.1',
      tls: { certPem: certs.certPem, keyPem: certs.keyPem, caPem: certs.caPem },
      inject: { namespaceLabels: namespaceLabelsFrom(kc) },
    });
    // Registered with a CA that did not sign the serving certificate: the operator's caBundle controller, run
    // for the mutating configuration, has to put the right one in before anything is injected.
    const stranger = await generateWebhookCerts();
    const api = kc.makeApiClient(AdmissionregistrationV1Api);
    await api.deleteMutatingWebhookConfiguration({ name: NAME }).catch(() => undefined);
    await api.createMutatingWebhookConfiguration({ body: registration(`https://127.0.0.1:${server.port}/inject`, stranger.caPem) });
    const ctl = keepCaBundleCurrent(kc, { caPem: certs.caPem, name: NAME, kind: 'mutating', resyncMs: 60_000 });
    stopCa = () => ctl.stop();
    await ctl.ready;
    // The API server loads webhook configurations asynchronously: wait until a dry-run pod comes back injected.
    await until('the injector to be active', async () => {
      const p = await core.createNamespacedPod({ namespace: weftNs, body: pod('probe'), dryRun: 'All' });
      return names(p.spec?.initContainers).includes('weft-proxy') ? true : undefined;
    });
  });

  after(async () => {
    stopCa?.();
    if (kc) {
      await kc.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: NAME }).catch(() => undefined);
      for (const ns of [weftNs, istioNs, plainNs]) if (ns) await core.deleteNamespace({ name: ns }).catch(() => undefined);
    }
    await server?.stop();
  });

  it('injects the pods of a Deployment, naming the proxy config after the Deployment', async () => {
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: weftNs,
      body: {
        metadata: { name: 'reviews-v1' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'reviews' } },
          template: { metadata: { labels: { app: 'reviews' } }, spec: { containers: [{ name: 'reviews', image: 'reviews:1' }] } },
        },
      },
    });
    const stored = await until('the Deployment\'s pod', async () => (await core.listNamespacedPod({ namespace: weftNs, labelSelector: 'app=reviews' })).items[0]);
    expect(names(stored.spec!.initContainers)).to.deep.equal(['weft-init', 'weft-proxy']);
    expect(names(stored.spec!.containers)).to.deep.equal(['reviews']);
    const proxy = stored.spec!.initContainers![1]!;
    expect(proxy.restartPolicy).to.equal('Always');
    expect(proxy.securityContext?.runAsUser).to.equal(1337);
    expect((proxy.env ?? []).map((e) => e.name)).to.include.members(['POD_NAME', 'POD_NAMESPACE', 'SERVICE_ACCOUNT', 'INSTANCE_IP']);
    expect(stored.spec!.initContainers![0]!.securityContext?.capabilities?.add).to.deep.equal(['NET_ADMIN', 'NET_RAW']);
    const volumes = Object.fromEntries((stored.spec!.volumes ?? []).map((v) => [v.name, v]));
    expect(volumes['weft-proxy-config']?.configMap).to.deep.include({ name: 'weft-proxy-reviews-v1', optional: true });
    expect(volumes['weft-identity']?.secret).to.deep.include({ secretName: 'weft-identity-default', optional: true });
    expect(volumes['weft-root-cert']?.configMap).to.deep.include({ name: 'weft-root-cert', optional: true });
  });

  it('injects in namespaces labelled istio-injection=enabled', async () => {
    const stored = await core.createNamespacedPod({ namespace: istioNs, body: pod('ratings') });
    expect(names(stored.spec!.initContainers)).to.deep.equal(['weft-init', 'weft-proxy']);
    expect(stored.spec!.volumes!.find((v) => v.name === 'weft-proxy-config')?.configMap?.name).to.equal('weft-proxy-ratings');
  });

  it('leaves a pod that opts out, and pods of unlabelled namespaces, untouched', async () => {
    const out = await core.createNamespacedPod({ namespace: weftNs, body: pod('no-mesh', { 'sidecar.weft.dev/inject': 'false' }) });
    expect(out.spec!.initContainers ?? []).to.deep.equal([]);
    expect(names(out.spec!.containers)).to.deep.equal(['app']);
    expect(out.metadata!.annotations).to.not.have.property('sidecar.weft.dev/status');
    const plain = await core.createNamespacedPod({ namespace: plainNs, body: pod('plain') });
    expect(plain.spec!.initContainers ?? []).to.deep.equal([]);
    expect((plain.spec!.volumes ?? []).map((v) => v.name).filter((n) => n.startsWith('weft-'))).to.deep.equal([]);
  });

  it('never injects a gateway pod (weft.dev/proxy-mode: gateway), even in an injected namespace', async () => {
    const gw = await core.createNamespacedPod({ namespace: weftNs, body: pod('edge-gateway', { 'weft.dev/proxy-mode': 'gateway' }) });
    expect(gw.spec!.initContainers ?? []).to.deep.equal([]);
    expect(names(gw.spec!.containers)).to.deep.equal(['app']);
    expect(gw.metadata!.annotations).to.not.have.property('sidecar.weft.dev/status');
  });

  it('changes nothing when an already injected pod is submitted again', async () => {
    const first = await core.createNamespacedPod({ namespace: weftNs, body: pod('productpage') });
    expect(names(first.spec!.initContainers)).to.deep.equal(['weft-init', 'weft-proxy']);
    const again = await core.createNamespacedPod({
      namespace: weftNs,
      body: { metadata: { name: 'productpage-copy', labels: first.metadata!.labels, annotations: first.metadata!.annotations }, spec: first.spec },
    });
    expect(again.spec!.initContainers).to.deep.equal(first.spec!.initContainers);
    expect(again.spec!.containers).to.deep.equal(first.spec!.containers);
    expect(again.spec!.volumes!.filter((v) => v.name.startsWith('weft-'))).to.deep.equal(first.spec!.volumes!.filter((v) => v.name.startsWith('weft-')));
    expect(again.metadata!.annotations).to.deep.equal(first.metadata!.annotations);
  });
});

describe('the injector as the operator runs it (webhookHook)', function () {
  this.timeout(120_000);
  const name = `weft-injector-hook-${process.pid}`;
  let kc: KubeConfig;
  let ns: string | undefined;
  let running: { port: number; caPem: string; stop(): Promise<void> } | undefined;

  after(async () => {
    await running?.stop();
    if (kc) {
      await kc.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
      if (ns) await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
    }
  });

  it('serves /inject and puts its CA into the MutatingWebhookConfiguration registered with another one', async () => {
    kc = (await sharedCluster()).kubeConfig();
    ns = await createNamespace(kc, 'inject-hook', { ...suiteLabel, 'weft-injection': 'enabled' });
    const hook = webhookHook({ port: 0, host: '127.0.0.1', namespace: ns, configurationName: `absent-${process.pid}`, injectorConfigurationName: name });
    running = (await hook.start({ kubeConfig: kc, log: silentLogger })) as typeof running;
    const stranger = await generateWebhookCerts();
    await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({ body: registration(`https://127.0.0.1:${running!.port}/inject`, stranger.caPem, name) });
    const core = kc.makeApiClient(CoreV1Api);
    const injected = await until('a pod to be injected', async () => {
      const p = await core.createNamespacedPod({ namespace: ns!, body: pod('details'), dryRun: 'All' });
      return names(p.spec?.initContainers).includes('weft-proxy') ? p : undefined;
    });
    expect(injected.spec!.volumes!.find((v) => v.name === 'weft-proxy-config')?.configMap?.name).to.equal('weft-proxy-details');
    const mwc = await kc.makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name });
    expect(mwc.webhooks!.map((w) => w.clientConfig.caBundle)).to.deep.equal(mwc.webhooks!.map(() => Buffer.from(running!.caPem).toString('base64')));
  });
});
