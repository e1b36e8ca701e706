// weft's validating webhook behind a real kube-apiserver: registered from config/ with a loopback URL and a
// generated CA, it must refuse what only weft's rules refuse (naming the field), accept valid resources, pass
// warnings through, let deletes by, survive certificate rotation, and the caBundle controller must re-establish
// trust when the CA changes.
import { expect } from 'chai';
import { AdmissionregistrationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { ensureWebhookCertSecret, keepCaBundleCurrent, syncCaBundle } from '../../src/webhooks/cabundle.ts';
import { generateWebhookCerts, renewServingCert } from '../../src/webhooks/certs.ts';
import type { WebhookCerts } from '../../src/webhooks/certs.ts';
import { webhookHook } from '../../src/webhooks/run.ts';
import { startWebhookServer, type WebhookServer } from '../../src/webhooks/server.ts';
import { silentLogger } from '../../src/controllers/log.ts';
import { createNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { registerWebhook, unregisterWebhook } from '../support/webhook.ts';

const NAME = `weft-validator-webhook-${process.pid}`;
const label = { 'test.weft.dev/suite': `webhook-${process.pid}` };

function virtualService(name: string, http: unknown[]) {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name }, spec: { hosts: ['reviews'], http } };
}

const route = (weights: number[]) => weights.map((weight, i) => ({ destination: { host: 'reviews', subset: `v${i + 1}` }, weight }));
/** Schema and CEL accept this; only weft's semantic rules know "bogus" is no retry condition. */
const onlyWeftRefuses = (name: string) => virtualService(name, [{ route: route([100]), retries: { attempts: 2, retryOn: 'bogus' } }]);
const valid = (name: string) => virtualService(name, [{ route: route([80, 20]) }]);

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('validating webhook on a real API server', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let kc: KubeConfig;
  let ns: string;
  let certs: WebhookCerts;
  let server: WebhookServer;

  const apply = (obj: unknown, ...flags: string[]) => cp.kubectlAsync(['apply', '-n', ns, ...flags, '-f', '-'], JSON.stringify(obj));

  before(async () => {
    cp = await sharedCluster();
    kc = cp.kubeConfig();
    await installCrds(kc);
    ns = await createNamespace(kc, 'webhook', label);
    // Without the webhook, the API server (schema + CEL) takes the resource weft refuses.
    const alone = await apply(onlyWeftRefuses('probe'), '--dry-run=server');
    expect(alone.status, alone.stderr).to.equal(0);

    certs = await generateWebhookCerts();
    server = await startWebhookServer({ port: 0, host: '127.0.0.1', tls: { certPem: certs.certPem, keyPem: certs.keyPem, caPem: certs.caPem } });
    await registerWebhook(kc, { name: NAME, url: `https://127.0.0.1:${server.port}/validate`, caPem: certs.caPem, namespaceLabel: label });
    // The API server loads webhook configurations asynchronously.
    await until('the webhook to be active', async () => ((await apply(onlyWeftRefuses('probe'), '--dry-run=server')).status !== 0 ? true : undefined));
  });

  after(async () => {
    if (cp) {
      await unregisterWebhook(kc, NAME);
      await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
    }
    await server?.stop();
  });

  it('refuses what only weft refuses, naming the field', async () => {
    const r = await apply(onlyWeftRefuses('bad-retries'));
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.include('admission webhook "validation.weft.dev" denied the request');
    expect(r.stderr).to.match(/spec\.http\[0\]\.retries\.retryOn: .*bogus/);
  });

  it('accepts a valid VirtualService', async () => {
    const r = await apply(valid('reviews'));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect((await cp.kubectlAsync(['get', 'vs', 'reviews', '-n', ns, '-o', 'name'])).stdout).to.match(/virtualservice.networking.istio.io\/reviews/);
  });

  it('passes warnings back as warnings, accepting the resource', async () => {
    const r = await apply(virtualService('uneven', [{ route: route([60, 30]) }]));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/Warning: spec\.http\[0\]\.route: weights sum to 90/);
  });

  it('checks updates, lets metadata-only updates and deletes through', async () => {
    const r = await apply(onlyWeftRefuses('reviews'));
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.include('spec.http[0].retries.retryOn');
    expect((await cp.kubectlAsync(['label', 'vs', 'reviews', '-n', ns, 'team=shop'])).status).to.equal(0);
    expect((await cp.kubectlAsync(['delete', 'vs', 'reviews', '-n', ns])).status).to.equal(0);
  });

  it('keeps serving across a renewal of its certificate, without a restart', async () => {
    const renewed = await renewServingCert(certs);
    server.setTls({ certPem: renewed.certPem, keyPem: renewed.keyPem });
    const r = await apply(valid('after-renewal'), '--dry-run=server');
    expect(r.status, r.stderr).to.equal(0);
  });

  it('is trusted again after a CA change once the caBundle controller has patched the configuration', async () => {
    const next = await generateWebhookCerts();
    server.setTls({ certPem: next.certPem, keyPem: next.keyPem, caPem: next.caPem });
    // failurePolicy Fail: an untrusted webhook refuses everything rather than letting it through.
    const failure = await until('calls to fail', async () => {
      const r = await apply(valid('during-switch'), '--dry-run=server');
      return r.status !== 0 ? r.stderr : undefined;
    });
    expect(failure).to.match(/failed calling webhook/);

    const ctl = keepCaBundleCurrent(kc, { caPem: next.caPem, name: NAME, resyncMs: 60_000 });
    try {
      await ctl.ready;
      await until('the webhook to be trusted again', async () => ((await apply(valid('after-switch'), '--dry-run=server')).status === 0 ? true : undefined));

      // Someone re-applies the configuration with the old CA: the watch puts the current one back.
      const api = kc.makeApiClient(AdmissionregistrationV1Api);
      const old = Buffer.from(certs.caPem).toString('base64');
      const current = await api.readValidatingWebhookConfiguration({ name: NAME });
      await api.patchValidatingWebhookConfiguration(
        { name: NAME, body: { webhooks: current.webhooks!.map((w) => ({ name: w.name, clientConfig: { caBundle: old } })) } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      const want = Buffer.from(next.caPem).toString('base64');
      await until('the caBundle to be restored', async () => {
        const v = await api.readValidatingWebhookConfiguration({ name: NAME });
        return v.webhooks!.every((w) => w.clientConfig.caBundle === want) ? true : undefined;
      });
      expect(await syncCaBundle(kc, next.caPem, NAME)).to.equal(false); // nothing left to patch
    } finally {
      ctl.stop();
    }
  });

  it('keeps the webhook certificate in a Secret: created once, then reused, renewed from the same CA', async () => {
    const first = await ensureWebhookCertSecret(kc, { namespace: ns });
    const again = await ensureWebhookCertSecret(kc, { namespace: ns });
    expect(again).to.deep.equal(first);
    const later = await ensureWebhookCertSecret(kc, { namespace: ns, now: new Date(Date.now() + 300 * 86_400_000) });
    expect(later.caPem).to.equal(first.caPem);
    expect(later.certPem).to.not.equal(first.certPem);
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: 'weft-webhook-tls', namespace: ns });
    expect(secret.type).to.equal('kubernetes.io/tls');
    expect(Buffer.from(secret.data!['tls.crt']!, 'base64').toString()).to.equal(later.certPem);
  });
});

describe('the webhook as the operator runs it (webhookHook)', function () {
  this.timeout(120_000);
  const name = `weft-validator-hook-${process.pid}`;
  const hookLabel = { 'test.weft.dev/suite': `webhook-hook-${process.pid}` };
  let cp: Cluster;
  let kc: KubeConfig;
  let ns: string;
  let running: { port: number; caPem: string; stop(): Promise<void> } | undefined;

  before(async () => {
    cp = await sharedCluster();
    kc = cp.kubeConfig();
    await installCrds(kc);
    ns = await createNamespace(kc, 'webhook-hook', hookLabel);
  });

  after(async () => {
    await running?.stop();
    if (kc) {
      await unregisterWebhook(kc, name);
      await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
    }
  });

  it('serves the Secret\'s certificate and fixes a configuration registered with the wrong CA', async () => {
    const hook = webhookHook({ port: 0, host: '127.0.0.1', namespace: ns, configurationName: name });
    running = (await hook.start({ kubeConfig: kc, log: silentLogger })) as typeof running;
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: 'weft-webhook-tls', namespace: ns });
    expect(Buffer.from(secret.data!['ca.crt']!, 'base64').toString()).to.equal(running!.caPem);

    const stranger = await generateWebhookCerts();
    await registerWebhook(kc, { name, url: `https://127.0.0.1:${running!.port}/validate`, caPem: stranger.caPem, namespaceLabel: hookLabel });
    const refused = await until('the webhook to refuse', async () => {
      const r = await cp.kubectlAsync(['apply', '-n', ns, '--dry-run=server', '-f', '-'], JSON.stringify(onlyWeftRefuses('x')));
      return r.stderr.includes('denied the request') ? r.stderr : undefined;
    });
    expect(refused).to.include('spec.http[0].retries.retryOn');
  });
});
