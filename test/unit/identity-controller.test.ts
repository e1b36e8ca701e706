// The identity controller with fake caches, a recording API and a manual clock: it issues once per service
// account of pods with sidecars (and of gateway pods), writes the trust bundle once per injected namespace, renews at 50 % ± jitter of
// the lifetime (never after expiry, nothing before), and after a root rotation reissues with both roots in the bundle;
// the pods mounting what it wrote (Pending ones too) are annotated with its digest.
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { IDENTITY_HASH_ANNOTATION, ROOT_CERT_HASH_ANNOTATION } from '../../src/controllers/identity/desired.ts';
import { proxyVolumes } from '../../src/webhooks/inject-containers.ts';
import { IdentityController, RENEW_AT_ANNOTATION, type IdentityApi, type IdentityCaches } from '../../src/controllers/identity/controller.ts';
import { silentLogger } from '../../src/controllers/log.ts';
import { createRootCa, splitPem, type MeshCa } from '../../src/pki/ca.ts';
import { FakeTimers } from './fake-timers.ts';

const HOUR = 3_600_000;
type Obj = KubernetesObject & { data?: Record<string, string> };

class FakeCache {
  readonly items = new Map<string, Obj>();
  private readonly listeners: Array<(k: string) => void> = [];
  put(o: Obj): void {
    const key = o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata!.name!;
    this.items.set(key, o);
    for (const l of this.listeners) l(key);
  }
  list(ns?: string): Obj[] {
    return [...this.items.values()].filter((o) => ns === undefined || o.metadata?.namespace === ns);
  }
  get(ns: string | undefined, name: string): Obj | undefined {
    return this.items.get(ns ? `${ns}/${name}` : name);
  }
  onChange(cb: (k: string) => void): () => void {
    this.listeners.push(cb);
    return () => {};
  }
}

describe('identity controller (manual clock)', function () {
  this.timeout(20_000);
  let timers: FakeTimers;
  let caches: Record<keyof IdentityCaches, FakeCache>;
  let writes: Array<{ op: string; body: Obj }>;
  let ca: MeshCa;
  let ctl: IdentityController;
  let rv = 0;
  let nudges: Array<{ pod: string; annotations: Record<string, string> }>;

  const record = (op: string, cache: () => FakeCache) => async (req: { body: Obj }) => {
    const body = structuredClone(req.body);
    body.metadata!.resourceVersion = String(++rv);
    // As the API server records it: when a manager last wrote the object.
    body.metadata!.managedFields = [{ manager: 'weft', operation: 'Update', time: new Date(timers.now()) }];
    writes.push({ op, body });
    cache().put(body);
    return body;
  };

  beforeEach(async () => {
    timers = new FakeTimers(Date.now());
    caches = { pods: new FakeCache(), namespaces: new FakeCache(), serviceAccounts: new FakeCache(), secrets: new FakeCache(), configMaps: new FakeCache() };
    writes = [];
    nudges = [];
    ca = await createRootCa({ now: new Date(timers.now()) });
    const api = {
      createNamespacedSecret: record('create secret', () => caches.secrets),
      replaceNamespacedSecret: record('replace secret', () => caches.secrets),
      createNamespacedConfigMap: record('create configmap', () => caches.configMaps),
      replaceNamespacedConfigMap: record('replace configmap', () => caches.configMaps),
    } as unknown as IdentityApi;
    ctl = new IdentityController({ kubeConfig: new KubeConfig(), api, caches: caches as unknown as IdentityCaches, ca: () => ca, trustDomain: 'cluster.local', timers, rng: () => 0.5, log: silentLogger,
      patchPod: async (ns, name, _uid, annotations) => void nudges.push({ pod: `${ns}/${name}`, annotations: { ...annotations } }) });
    caches.namespaces.put({ metadata: { name: 'shop', labels: { 'weft-injection': 'enabled' } } });
    caches.namespaces.put({ metadata: { name: 'plain' } });
    caches.serviceAccounts.put({ metadata: { name: 'reviews', namespace: 'shop', uid: 'uid-reviews' } });
    caches.serviceAccounts.put({ metadata: { name: 'legacy', namespace: 'plain', uid: 'uid-legacy' } });
    caches.pods.put({ metadata: { name: 'r1', namespace: 'shop' }, spec: { serviceAccountName: 'reviews', containers: [] } } as Obj);
    caches.pods.put({ metadata: { name: 'r2', namespace: 'shop' }, spec: { serviceAccountName: 'reviews', containers: [] } } as Obj);
    caches.pods.put({ metadata: { name: 'l1', namespace: 'plain' }, spec: { serviceAccountName: 'legacy', containers: [] } } as Obj);
  });

  afterEach(async () => {
    await ctl.stop();
  });

  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) {
      await timers.advance(0);
      await new Promise((r) => setTimeout(r, 5));
    }
    await ctl.idle();
  };

  it('issues one Secret per service account with sidecars and one bundle per injected namespace', async () => {
    ctl.activate();
    await settle();
    expect(writes.map((w) => `${w.op} ${w.body.metadata!.namespace}/${w.body.metadata!.name}`).sort()).to.deep.equal([
      'create configmap shop/weft-root-cert',
      'create secret shop/weft-identity-reviews',
    ]);
    const secret = caches.secrets.get('shop', 'weft-identity-reviews')!;
    expect(secret.metadata!.ownerReferences).to.deep.equal([{ apiVersion: 'v1', kind: 'ServiceAccount', name: 'reviews', uid: 'uid-reviews' }]);
    ctl.resync();
    await settle();
    expect(writes).to.have.length(2); // nothing changed: nothing written
  });

  it('gives a gateway pod (weft.dev/proxy-mode: gateway) its identity and the trust bundle, in a namespace that is not injected', async () => {
    caches.namespaces.put({ metadata: { name: 'weft-system' } });
    caches.serviceAccounts.put({ metadata: { name: 'weft-ingressgateway', namespace: 'weft-system', uid: 'uid-gw' } });
    caches.pods.put({
      metadata: { name: 'gw-1', namespace: 'weft-system', annotations: { 'weft.dev/proxy-mode': 'gateway' } },
      spec: { serviceAccountName: 'weft-ingressgateway', containers: [] },
    } as Obj);
    ctl.activate();
    await settle();
    const made = writes.map((w) => `${w.op} ${w.body.metadata!.namespace}/${w.body.metadata!.name}`);
    expect(made).to.include.members(['create secret weft-system/weft-identity-weft-ingressgateway', 'create configmap weft-system/weft-root-cert']);
    expect(made.filter((m) => m.includes(' plain/'))).to.deep.equal([]);
  });

  it('a pod status change queues nothing; a pod with a new service account gets its identity', async () => {
    ctl.activate();
    await settle();
    let listed = 0;
    const list = caches.pods.list.bind(caches.pods);
    caches.pods.list = (ns?: string) => (listed++, list(ns));
    caches.pods.put({ metadata: { name: 'r1', namespace: 'shop' }, spec: { serviceAccountName: 'reviews', containers: [] }, status: { phase: 'Running' } } as Obj);
    await settle();
    expect(listed).to.equal(0);
    caches.serviceAccounts.put({ metadata: { name: 'ratings', namespace: 'shop', uid: 'uid-ratings' } });
    caches.pods.put({ metadata: { name: 'r1', namespace: 'shop' }, spec: { serviceAccountName: 'ratings', containers: [] } } as Obj);
    await settle();
    expect(listed).to.be.greaterThan(0);
    expect(writes.map((w) => `${w.op} ${w.body.metadata!.name}`)).to.include('create secret weft-identity-ratings');
  });

  it('annotates the pods mounting the Secret and the bundle it wrote, Pending ones too, and again after renewal', async () => {
    const mounting = (name: string, phase: string) => caches.pods.put({
      metadata: { name, namespace: 'shop', uid: `uid-${name}` },
      spec: { serviceAccountName: 'reviews', containers: [], volumes: proxyVolumes('reviews', 'reviews') },
      status: { phase },
    } as Obj);
    mounting('r1', 'Pending');
    mounting('r2', 'Running');
    mounting('r3', 'Succeeded');
    ctl.activate();
    await settle();
    const shown = (pod: string) => Object.assign({}, ...nudges.filter((n) => n.pod === pod).map((n) => n.annotations)) as Record<string, string>;
    expect(Object.keys(shown('shop/r1')).sort()).to.deep.equal([IDENTITY_HASH_ANNOTATION, ROOT_CERT_HASH_ANNOTATION]);
    expect(Object.keys(shown('shop/r2')).sort()).to.deep.equal([IDENTITY_HASH_ANNOTATION, ROOT_CERT_HASH_ANNOTATION]);
    expect(shown('shop/r3')).to.deep.equal({});
    const first = shown('shop/r1')[IDENTITY_HASH_ANNOTATION];
    const due = Date.parse(caches.secrets.get('shop', 'weft-identity-reviews')!.metadata!.annotations![RENEW_AT_ANNOTATION]!);
    await timers.advance(due - timers.now() + 1_000);
    await settle();
    expect(writes.filter((w) => w.op === 'replace secret')).to.have.length(1);
    expect(shown('shop/r1')[IDENTITY_HASH_ANNOTATION]).to.be.a('string').and.not.equal(first);
  });

  it('for pods first seen after a write, annotates those created before it and spares those created after', async () => {
    ctl.activate();
    await settle();
    const seen = (name: string, createdMs: number) => caches.pods.put({
      metadata: { name, namespace: 'shop', uid: `uid-${name}`, creationTimestamp: new Date(createdMs) },
      spec: { serviceAccountName: 'reviews', containers: [], volumes: proxyVolumes('reviews', 'reviews') },
      status: { phase: 'Pending' },
    } as Obj);
    seen('before', timers.now() - 5_000);
    seen('after', timers.now() + 5_000);
    await settle();
    expect([...new Set(nudges.map((n) => n.pod))]).to.deep.equal(['shop/before']);
  });

  it('renews at 50 % of the lifetime (rng 0.5), not before, and before expiry', async () => {
    ctl.activate();
    await settle();
    const first = caches.secrets.get('shop', 'weft-identity-reviews')!;
    const leaf = new X509Certificate(Buffer.from(first.data!['cert-chain.pem']!, 'base64').toString());
    const from = Date.parse(leaf.validFrom);
    const to = Date.parse(leaf.validTo);
    const due = Date.parse(first.metadata!.annotations![RENEW_AT_ANNOTATION]!);
    expect(due).to.equal(from + (to - from) / 2);
    await timers.advance(due - timers.now() - 1_000);
    await settle();
    expect(writes.filter((w) => w.op === 'replace secret')).to.have.length(0);
    await timers.advance(2_000);
    await settle();
    expect(writes.filter((w) => w.op === 'replace secret')).to.have.length(1);
    expect(due).to.be.lessThan(to);
    const next = caches.secrets.get('shop', 'weft-identity-reviews')!;
    expect(Date.parse(next.metadata!.annotations![RENEW_AT_ANNOTATION]!)).to.be.greaterThan(due + 11 * HOUR);
  });

  it('after a root rotation reissues, and the bundle keeps the old and the new root', async () => {
    ctl.activate();
    await settle();
    const old = ca;
    ca = await createRootCa({ now: new Date(timers.now()), previous: old.rootsPem });
    ctl.resync();
    await settle();
    const cm = caches.configMaps.get('shop', 'weft-root-cert')!;
    expect(splitPem(cm.data!['root-cert.pem']!)).to.deep.equal([...ca.rootsPem]);
    expect(splitPem(cm.data!['root-cert.pem']!)).to.include(old.rootsPem[0]);
    const secret = caches.secrets.get('shop', 'weft-identity-reviews')!;
    const chain = Buffer.from(secret.data!['cert-chain.pem']!, 'base64').toString();
    expect(new X509Certificate(chain).verify(new X509Certificate(ca.signer.certPem).publicKey)).to.equal(true);
    expect(writes.map((w) => w.op).sort()).to.deep.equal(['create configmap', 'create secret', 'replace configmap', 'replace secret']);
  });
});
