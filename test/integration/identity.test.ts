// Workload identity on a real API server: an injected namespace with a pod running as ServiceAccount `reviews`
// gets Secret `weft-identity-reviews` (a chain openssl verifies, for spiffe://cluster.local/ns/<ns>/sa/reviews,
// owned by the ServiceAccount) and ConfigMap `weft-root-cert`; the webhook's serving certificate comes from the same
// CA; a restarted operator rewrites nothing; moving the
// clock past the renewal time rewrites the Secret; a plug-in `cacerts` replaces the self-signed root.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import type { Operator } from '../../src/controllers/operator.ts';
import { realTimers, type Timers } from '../../src/controllers/timers.ts';
import { splitPem } from '../../src/pki/ca.ts';
import { ensureWebhookCertSecret } from '../../src/webhooks/cabundle.ts';
import { createCa } from '../../src/pki/certs.ts';
import { createNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { retry, sleep, testOperator, waitFor } from './operator-support.ts';

const HOUR = 3_600_000;
const INJECTED = { 'weft-injection': 'enabled' };
const text = (s: V1Secret | undefined, k: string): string => Buffer.from(s?.data?.[k] ?? '', 'base64').toString('utf8');

function opensslVerify(root: string, chain: string, atMs: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-identity-'));
  try {
    const certs = splitPem(chain);
    writeFileSync(join(dir, 'root.pem'), root);
    writeFileSync(join(dir, 'leaf.pem'), certs[0]!);
    const args = ['verify', '-attime', String(Math.floor(atMs / 1000)), '-CAfile', join(dir, 'root.pem')];
    if (certs.length > 1) {
      writeFileSync(join(dir, 'chain.pem'), certs.slice(1).join(''));
      args.push('-untrusted', join(dir, 'chain.pem'));
    }
    return execFileSync('openssl', [...args, join(dir, 'leaf.pem')], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('identity: workload certificates on a real API server', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let core: CoreV1Api;
  let ns: string;
  let caNs: string;
  let op: Operator | undefined;
  let offset = 0;
  // Real timers, a movable clock: renewal is tested by moving time, not by waiting twelve hours.
  const clock: Timers = { ...realTimers, now: () => Date.now() + offset };

  const secret = () => core.readNamespacedSecret({ namespace: ns, name: 'weft-identity-reviews' });
  const start = (caNamespace: string) => testOperator(cp.kubeConfig(), { workloadIdentity: { caNamespace, timers: clock } });

  before(async () => {
    cp = await sharedCluster();
    const kc = cp.kubeConfig();
    await installCrds(kc);
    core = kc.makeApiClient(CoreV1Api);
    caNs = await createNamespace(kc, 'identity-ca');
    ns = await createNamespace(kc, 'identity', INJECTED);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'reviews' } } });
    const pod = { metadata: { name: 'reviews-1', labels: { app: 'reviews' } }, spec: { serviceAccountName: 'reviews', automountServiceAccountToken: false, containers: [{ name: 'app', image: 'example.invalid/app:1' }] } };
    await retry(() => core.createNamespacedPod({ namespace: ns, body: pod }), 30_000);
    op = await start(caNs);
    await op.waitForSync();
  });

  after(async () => {
    await op?.stop();
  });

  it('writes weft-identity-reviews with a verifiable chain for the SPIFFE id, owned by the ServiceAccount', async () => {
    const s = await waitFor('identity Secret', secret, (x) => Boolean(x.data?.['cert-chain.pem']), 30_000);
    const chain = text(s, 'cert-chain.pem');
    const leaf = new X509Certificate(chain);
    expect(leaf.subjectAltName).to.equal(`URI:spiffe://cluster.local/ns/${ns}/sa/reviews`);
    expect(opensslVerify(text(s, 'root-cert.pem'), chain, Date.now())).to.contain('OK');
    expect(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(text(s, 'key.pem')))).to.equal(true);
    const sa = await core.readNamespacedServiceAccount({ namespace: ns, name: 'reviews' });
    expect(s.metadata?.ownerReferences?.map((r) => [r.kind, r.name, r.uid])).to.deep.equal([['ServiceAccount', 'reviews', sa.metadata!.uid]]);
    const ca = await core.readNamespacedSecret({ namespace: caNs, name: 'weft-ca' });
    expect(text(ca, 'root-cert.pem')).to.equal(text(s, 'root-cert.pem'));
  });

  it('issues the webhook serving certificate from the same mesh CA, without copying the CA key', async () => {
    const certs = await ensureWebhookCertSecret(cp.kubeConfig(), { namespace: caNs });
    const root = text(await core.readNamespacedSecret({ namespace: caNs, name: 'weft-ca' }), 'root-cert.pem');
    expect(certs.caPem).to.equal(root);
    expect(opensslVerify(root, certs.certPem, Date.now())).to.contain('OK');
    const stored = await core.readNamespacedSecret({ namespace: caNs, name: 'weft-webhook-tls' });
    expect(Object.keys(stored.data ?? {}).sort()).to.deep.equal(['ca.crt', 'tls.crt', 'tls.key']);
  });

  it('writes the trust bundle ConfigMap weft-root-cert', async () => {
    const cm = await waitFor('weft-root-cert', () => core.readNamespacedConfigMap({ namespace: ns, name: 'weft-root-cert' }), (c) => Boolean(c.data?.['root-cert.pem']), 30_000);
    expect(cm.data!['root-cert.pem']).to.equal(text(await secret(), 'root-cert.pem'));
  });

  it('a restarted operator rewrites nothing', async () => {
    const before = (await secret()).metadata!.resourceVersion;
    const cmBefore = (await core.readNamespacedConfigMap({ namespace: ns, name: 'weft-root-cert' })).metadata!.resourceVersion;
    await op!.stop();
    op = await start(caNs);
    await op.waitForSync();
    await waitFor('the CA loaded', async () => op!.workloadIdentity!.ca(), (c) => c !== undefined);
    await sleep(500);
    await op.workloadIdentity!.controller.idle();
    expect((await secret()).metadata!.resourceVersion).to.equal(before);
    expect((await core.readNamespacedConfigMap({ namespace: ns, name: 'weft-root-cert' })).metadata!.resourceVersion).to.equal(cmBefore);
    expect(op.stats().identity).to.deep.equal({ issued: 0, bundlesWritten: 0, podsNudged: 0 });
  });

  it('renews the certificate once the clock passes its renewal time', async () => {
    const old = await secret();
    const oldLeaf = new X509Certificate(text(old, 'cert-chain.pem'));
    offset = 14 * HOUR;
    op!.workloadIdentity!.controller.resync();
    const renewed = await waitFor('renewed Secret', secret, (x) => x.metadata!.resourceVersion !== old.metadata!.resourceVersion, 30_000);
    const leaf = new X509Certificate(text(renewed, 'cert-chain.pem'));
    expect(leaf.serialNumber).to.not.equal(oldLeaf.serialNumber);
    expect(Date.parse(leaf.validFrom)).to.be.greaterThan(Date.parse(oldLeaf.validFrom) + 13 * HOUR);
    expect(opensslVerify(text(renewed, 'root-cert.pem'), text(renewed, 'cert-chain.pem'), Date.now() + offset)).to.contain('OK');
    expect(text(renewed, 'key.pem')).to.not.equal(text(old, 'key.pem'));
  });

  const b64 = (s: string) => Buffer.from(s).toString('base64');
  let plugNs = '';

  it('honours a plug-in CA from Secret cacerts: chain = leaf + intermediate, bundle = plug-in root', async () => {
    offset = 0;
    const root = await createCa('plug-in root', { organizations: ['example'] });
    const inter = await createCa('plug-in intermediate', { issuer: root, organizations: ['example'] });
    plugNs = await createNamespace(cp.kubeConfig(), 'identity-plug');
    await core.createNamespacedSecret({
      namespace: plugNs,
      body: {
        metadata: { name: 'cacerts' },
        data: { 'ca-cert.pem': b64(inter.certPem), 'ca-key.pem': b64(inter.keyPem), 'root-cert.pem': b64(root.certPem), 'cert-chain.pem': b64(inter.certPem + root.certPem) },
      },
    });
    await op!.stop();
    op = await start(plugNs);
    await op.waitForSync();
    const rootFp = new X509Certificate(root.certPem).fingerprint256;
    const s = await waitFor('Secret from the plug-in CA', secret, (x) => {
      const r = text(x, 'root-cert.pem');
      return r !== '' && new X509Certificate(r).fingerprint256 === rootFp;
    }, 30_000);
    const chain = splitPem(text(s, 'cert-chain.pem'));
    expect(chain).to.have.length(2);
    expect(new X509Certificate(chain[1]!).fingerprint256).to.equal(new X509Certificate(inter.certPem).fingerprint256);
    expect(opensslVerify(root.certPem, text(s, 'cert-chain.pem'), Date.now())).to.contain('OK');
    await waitFor('weft-root-cert with the plug-in root', () => core.readNamespacedConfigMap({ namespace: ns, name: 'weft-root-cert' }), (c) => {
      const r = c.data?.['root-cert.pem'] ?? '';
      return r !== '' && new X509Certificate(r).fingerprint256 === rootFp;
    }, 30_000);
    // The plug-in CA is only read: no weft-ca is created next to it.
    let err: unknown;
    await core.readNamespacedSecret({ namespace: plugNs, name: 'weft-ca' }).catch((e) => (err = e));
    expect((err as { code?: number }).code).to.equal(404);
  });

  it('takes up a replaced cacerts while running (watched, not polled: the periodic reload is an hour away)', async () => {
    const root = await createCa('second plug-in root', { organizations: ['example'] });
    const rootFp = new X509Certificate(root.certPem).fingerprint256;
    await core.replaceNamespacedSecret({
      namespace: plugNs,
      name: 'cacerts',
      body: {
        metadata: { name: 'cacerts' },
        data: { 'ca-cert.pem': b64(root.certPem), 'ca-key.pem': b64(root.keyPem), 'root-cert.pem': b64(root.certPem), 'cert-chain.pem': b64(root.certPem) },
      },
    });
    const s = await waitFor('Secret from the replaced plug-in CA', secret, (x) => {
      const r = splitPem(text(x, 'root-cert.pem'));
      return r.some((pem) => new X509Certificate(pem).fingerprint256 === rootFp);
    }, 20_000);
    expect(opensslVerify(root.certPem, text(s, 'cert-chain.pem'), Date.now())).to.contain('OK');
  });
});
