// The local node's volumes on a real API server: a (Pending) pod's configMap, secret, optional, projected,
// downwardAPI and emptyDir volumes are projected with the kubelet's atomic-writer layout and modes; a changed
// ConfigMap is a new `..data` swap, an unchanged one is not; an optional ConfigMap created later appears; a
// missing non-optional Secret is an error naming it; the projected token is bound to the pod.
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { PodVolumes } from '../../hack/local-cluster/node/volumes.ts';
import { createNamespace, sharedCluster } from '../support/cluster.ts';
import { retry } from './operator-support.ts';

const mode = (p: string): number => statSync(p).mode & 0o777;

describe('local node: pod volumes on a real API server', function () {
  this.timeout(120_000);
  let core: CoreV1Api;
  let ns: string;
  let pod: V1Pod;
  let vols: PodVolumes;
  let dir: string;
  const file = (vol: string, name: string) => readFileSync(join(dir, 'volumes', vol, name), 'utf8');
  const dataTarget = (vol: string) => readlinkSync(join(dir, 'volumes', vol, '..data'));

  before(async () => {
    const kc = (await sharedCluster()).kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    ns = await createNamespace(kc, 'node-volumes');
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'app' }, data: { 'app.conf': 'v1', other: 'x' }, binaryData: { 'blob.bin': Buffer.from([0, 1, 2]).toString('base64') } } });
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'creds' }, stringData: { password: 's3cret' } } });
    const body: V1Pod = {
      metadata: { name: 'web-1', labels: { app: 'web', tier: 'front' }, annotations: { note: 'a "quoted" value' } },
      spec: {
        containers: [{ name: 'app', image: 'example.invalid/app:1' }],
        volumes: [
          { name: 'conf', configMap: { name: 'app', defaultMode: 0o600, items: [{ key: 'app.conf', path: 'etc/app.conf' }, { key: 'other', path: 'other.txt', mode: 0o640 }] } },
          { name: 'all', configMap: { name: 'app' } },
          { name: 'creds', secret: { secretName: 'creds' } },
          { name: 'maybe', configMap: { name: 'later', optional: true } },
          {
            name: 'proj',
            projected: {
              sources: [
                { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
                { configMap: { name: 'app', items: [{ key: 'app.conf', path: 'app.conf' }] } },
                { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
              ],
            },
          },
          { name: 'info', downwardAPI: { items: ['metadata.name', 'metadata.uid', 'metadata.labels', 'metadata.annotations', "metadata.labels['tier']"].map((f) => ({ path: f.replace(/\W/g, '_'), fieldRef: { fieldPath: f } })) } },
          { name: 'scratch', emptyDir: {} },
        ],
      },
    };
    // The default ServiceAccount appears once the controller manager gets to the namespace.
    pod = await retry(() => core.createNamespacedPod({ namespace: ns, body }), 30_000);
    dir = mkdtempSync(join(tmpdir(), 'weft-pod-'));
    vols = new PodVolumes({ kc, dir });
    await vols.sync(pod);
  });

  after(() => {
    vols?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('projects configMap items with their paths and modes in the atomic-writer layout', () => {
    const root = vols.hostPath('conf')!;
    expect(root).to.equal(join(dir, 'volumes', 'conf'));
    expect(dataTarget('conf')).to.match(/^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d{9}$/);
    expect(readlinkSync(join(root, 'etc'))).to.equal('..data/etc');
    expect(readlinkSync(join(root, 'other.txt'))).to.equal('..data/other.txt');
    expect(file('conf', 'etc/app.conf')).to.equal('v1');
    expect(mode(join(root, 'etc/app.conf'))).to.equal(0o600);
    expect(mode(join(root, 'other.txt'))).to.equal(0o640);
    expect(mode(join(root, '..data/etc'))).to.equal(0o755);
    expect(mode(join(root, '..data'))).to.equal(0o755);
    expect(() => lstatSync(join(root, 'blob.bin'))).to.throw();
  });

  it('projects every key (data and binaryData) without items, and secrets decoded, at 0644', () => {
    expect(file('all', 'app.conf')).to.equal('v1');
    expect([...readFileSync(join(vols.hostPath('all')!, 'blob.bin'))]).to.deep.equal([0, 1, 2]);
    expect(file('creds', 'password')).to.equal('s3cret');
    expect(mode(join(vols.hostPath('creds')!, 'password'))).to.equal(0o644);
  });

  it('projects the downward API and a token bound to the pod', () => {
    expect(file('info', 'metadata_name')).to.equal('web-1');
    expect(file('info', 'metadata_uid')).to.equal(pod.metadata!.uid);
    expect(file('info', 'metadata_labels')).to.equal('app="web"\ntier="front"');
    expect(file('info', 'metadata_annotations')).to.equal('note="a \\"quoted\\" value"');
    expect(file('info', 'metadata_labels__tier__')).to.equal('front');
    expect(file('proj', 'namespace')).to.equal(ns);
    expect(file('proj', 'app.conf')).to.equal('v1');
    const claims = JSON.parse(Buffer.from(file('proj', 'token').split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims['kubernetes.io'].pod).to.deep.equal({ name: 'web-1', uid: pod.metadata!.uid });
    expect(claims['kubernetes.io'].serviceaccount.name).to.equal('default');
    expect(claims.exp - claims.iat).to.be.at.least(3600);
  });

  it('leaves an optional missing ConfigMap empty and keeps an emptyDir across syncs', async () => {
    expect(readdirSync(vols.hostPath('maybe')!).sort()).to.deep.equal([dataTarget('maybe'), '..data'].sort()); // an empty payload
    writeFileSync(join(vols.hostPath('scratch')!, 'state'), 'kept');
    expect(mode(vols.hostPath('scratch')!)).to.equal(0o777);
    await vols.sync(pod);
    expect(file('scratch', 'state')).to.equal('kept');
  });

  it('swaps ..data when the ConfigMap changes, not when it does not, and drops keys it no longer has', async () => {
    const before = { conf: dataTarget('conf'), all: dataTarget('all'), proj: dataTarget('proj'), info: dataTarget('info') };
    await vols.sync(pod);
    expect({ conf: dataTarget('conf'), all: dataTarget('all'), proj: dataTarget('proj'), info: dataTarget('info') }).to.deep.equal(before);
    await core.replaceNamespacedConfigMap({ namespace: ns, name: 'app', body: { metadata: { name: 'app' }, data: { 'app.conf': 'v2', other: 'x' } } });
    await vols.sync(pod);
    expect(dataTarget('conf')).to.not.equal(before.conf);
    expect(file('conf', 'etc/app.conf')).to.equal('v2');
    expect(file('proj', 'app.conf')).to.equal('v2');
    expect(dataTarget('info')).to.equal(before.info);
    expect(() => lstatSync(join(vols.hostPath('all')!, 'blob.bin'))).to.throw(); // binaryData key gone: its link too
    expect(() => lstatSync(join(vols.hostPath('conf')!, before.conf))).to.throw(); // the old payload is removed
  });

  it('picks up an optional ConfigMap created later', async () => {
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'later' }, data: { flag: 'on' } } });
    await vols.sync(pod);
    expect(file('maybe', 'flag')).to.equal('on');
  });

  it('fails naming a missing non-optional Secret, and an unsupported volume type', async () => {
    const broken: V1Pod = { ...pod, spec: { ...pod.spec!, volumes: [{ name: 'gone', secret: { secretName: 'nope' } }, { name: 'data', persistentVolumeClaim: { claimName: 'c' } }] } };
    const err = await vols.sync(broken).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.contain(`volume gone: Secret ${ns}/nope not found`);
    expect(err?.message).to.contain('volume data: type persistentVolumeClaim is not supported by the local node');
    const missingKey: V1Pod = { ...pod, spec: { ...pod.spec!, volumes: [{ name: 'k', configMap: { name: 'app', items: [{ key: 'absent', path: 'a' }] } }] } };
    const err2 = await vols.sync(missingKey).then(() => undefined, (e: Error) => e);
    expect(err2?.message).to.contain(`volume k: ConfigMap ${ns}/app has no key "absent"`);
  });
});
