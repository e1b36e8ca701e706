// The operator against a real kube-apiserver: status conditions follow the generation, references resolve as the
// referenced objects appear, warnings stay warnings, and a restarted operator writes nothing.
import { expect } from 'chai';
import { CoreV1Api } from '@kubernetes/client-node';
import type { Operator } from '../../src/controllers/operator.ts';
import { createNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { testdataCases } from '../support/testdata.ts';
import { Mesh, condition, recordingWriter, sleep, testOperator, waitFor, waitForStatus, type MeshObject } from './operator-support.ts';

describe('operator: status on a real API server', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let mesh: Mesh;
  let ns: string;
  let op: Operator | undefined;

  before(async () => {
    cp = await sharedCluster();
    const kc = cp.kubeConfig();
    await installCrds(kc);
    ns = await createNamespace(kc, 'op-status');
    mesh = new Mesh(kc);
    op = await testOperator(kc);
    await op.waitForSync();
  });

  after(async () => {
    await op?.stop();
    if (cp) await cp.kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
  });

  it('writes Accepted and ResolvedRefs with observedGeneration, and follows spec updates', async () => {
    await mesh.createService(ns, 'reviews');
    await mesh.create('VirtualService', ns, 'reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] });
    const first = await waitForStatus(mesh, 'VirtualService', ns, 'reviews');
    expect(first.metadata.generation).to.equal(1);
    expect(condition(first, 'Accepted')).to.include({ status: 'True', reason: 'Accepted', observedGeneration: 1 });
    expect(condition(first, 'ResolvedRefs')).to.include({ status: 'True', reason: 'ResolvedRefs', observedGeneration: 1 });
    expect(condition(first, 'Accepted')!.lastTransitionTime).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(first.status!.validationMessages ?? []).to.deep.equal([]);

    await mesh.updateSpec('VirtualService', ns, 'reviews', (spec) => {
      (spec.http as Array<Record<string, unknown>>)[0]!.timeout = '5s';
    });
    const second = await waitForStatus(mesh, 'VirtualService', ns, 'reviews', (o) => o.metadata.generation === 2);
    expect(second.status!.observedGeneration).to.equal(2);
    expect(condition(second, 'Accepted')).to.include({ status: 'True', observedGeneration: 2 });
    // Same status, so the transition time stays.
    expect(condition(second, 'Accepted')!.lastTransitionTime).to.equal(condition(first, 'Accepted')!.lastTransitionTime);
  });

  it('`kubectl wait --for=condition=Accepted` returns once weft has accepted a resource', async () => {
    await mesh.create('DestinationRule', ns, 'wait-for-me', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }] });
    const r = await cp.kubectlAsync(['wait', '--for=condition=Accepted', '--timeout=60s', '-n', ns, 'destinationrule/wait-for-me']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include('destinationrule.networking.istio.io/wait-for-me condition met');
    const refs = await cp.kubectlAsync(['wait', '--for=condition=ResolvedRefs', '--timeout=60s', '-n', ns, 'dr/wait-for-me']);
    expect(refs.status, refs.stderr).to.equal(0);
  });

  it('a VirtualService naming a missing Gateway is ResolvedRefs False (IST0101) until the Gateway exists', async () => {
    await mesh.create('VirtualService', ns, 'via-gw', {
      hosts: ['bookinfo.example.com'],
      gateways: ['missing-gw'],
      http: [{ route: [{ destination: { host: 'reviews' } }] }],
    });
    const broken = await waitForStatus(mesh, 'VirtualService', ns, 'via-gw');
    expect(condition(broken, 'Accepted')?.status).to.equal('True');
    expect(condition(broken, 'ResolvedRefs')).to.include({
      status: 'False',
      reason: 'ReferencedResourceNotFound',
      message: `spec.gateways[0]: Gateway "${ns}/missing-gw" not found`,
    });
    expect(broken.status!.validationMessages).to.deep.equal([
      { type: { code: 'IST0101', name: 'ReferencedResourceNotFound' }, level: 'ERROR', message: `Gateway "${ns}/missing-gw" not found`, field: 'spec.gateways[0]' },
    ]);

    await mesh.create('Gateway', ns, 'missing-gw', {
      servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['bookinfo.example.com'] }],
    });
    const fixed = await waitForStatus(mesh, 'VirtualService', ns, 'via-gw', (o) => condition(o, 'ResolvedRefs')?.status === 'True');
    expect(condition(fixed, 'ResolvedRefs')!.reason).to.equal('ResolvedRefs');
    expect(fixed.status!.validationMessages ?? []).to.deep.equal([]);
    expect(fixed.metadata.generation).to.equal(1);

    // And back: deleting the Gateway breaks the reference again.
    await mesh.delete('Gateway', ns, 'missing-gw');
    await waitForStatus(mesh, 'VirtualService', ns, 'via-gw', (o) => condition(o, 'ResolvedRefs')?.status === 'False');
  });

  it('unknown destination hosts and subsets are reported with their fields', async () => {
    await mesh.create('DestinationRule', ns, 'reviews', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }] });
    await mesh.create('VirtualService', ns, 'subsets', {
      hosts: ['reviews'],
      http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 50 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 50 }] }],
      tcp: [{ route: [{ destination: { host: 'nowhere.example.com' } }] }],
    });
    const vs = await waitForStatus(mesh, 'VirtualService', ns, 'subsets', (o) => condition(o, 'ResolvedRefs')?.status === 'False');
    expect(condition(vs, 'ResolvedRefs')!.message).to.equal(
      `spec.http[0].route[1].destination.subset: subset "v2" not found in any DestinationRule for host "reviews.${ns}.svc.cluster.local"; ` +
        'spec.tcp[0].route[0].destination.host: host "nowhere.example.com" not found (no Service or ServiceEntry declares it)',
    );
    // A ServiceEntry for the host and a new subset fix both.
    await mesh.create('ServiceEntry', ns, 'nowhere', { hosts: ['nowhere.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS', location: 'MESH_EXTERNAL' });
    await mesh.updateSpec('DestinationRule', ns, 'reviews', (spec) => {
      (spec.subsets as unknown[]).push({ name: 'v2', labels: { version: 'v2' } });
    });
    await waitForStatus(mesh, 'VirtualService', ns, 'subsets', (o) => condition(o, 'ResolvedRefs')?.status === 'True');
  });

  it('a selector that selects nothing is a WARNING message, not a False condition; a pod without a sidecar leaves the policy enforced nowhere', async () => {
    await mesh.create('AuthorizationPolicy', ns, 'ratings-only', { selector: { matchLabels: { app: 'ratings' } }, action: 'ALLOW', rules: [{}] });
    const ap = await waitForStatus(mesh, 'AuthorizationPolicy', ns, 'ratings-only', (o) => (o.status?.validationMessages ?? []).length > 0);
    expect(ap.status!.conditions!.filter((c) => c.type !== 'Programmed').map((c) => c.status)).to.deep.equal(['True', 'True']);
    expect(ap.status!.validationMessages).to.deep.equal([
      {
        type: { code: 'IST0127', name: 'NoMatchingWorkloadsFound' },
        level: 'WARNING',
        message: 'No matching workloads for this resource with the following labels: app=ratings',
        field: 'spec.selector.matchLabels',
      },
    ]);
    await mesh.createPod(ns, 'ratings-1', { app: 'ratings' });
    // The pod has no sidecar (the namespace is not injected): the policy still applies nowhere, and says so.
    const selected = await waitForStatus(mesh, 'AuthorizationPolicy', ns, 'ratings-only',
      (o) => (o.status?.validationMessages ?? []).some((m) => m.message.includes('enforced nowhere')));
    expect(selected.status!.validationMessages).to.deep.equal([
      {
        type: { code: 'IST0127', name: 'NoMatchingWorkloadsFound' },
        level: 'WARNING',
        message: 'No matching workloads with a sidecar for this resource: it is enforced nowhere',
        field: 'spec.selector.matchLabels',
      },
    ]);
  });

  it('a resource only the semantic validator refuses (no webhook here) is Accepted False/Invalid naming the field', async () => {
    // Find, per kind, the first invalid test case the API server's schema and CEL rules let through.
    const candidates = testdataCases().filter((c) => !c.valid && !c.caughtBy && c.expectedError);
    const seen = new Set<string>();
    let checked = 0;
    for (const c of candidates) {
      if (seen.has(c.doc.kind)) continue;
      let created: MeshObject;
      try {
        created = await mesh.createRaw(c.doc, ns);
      } catch {
        continue; // refused by the API server itself
      }
      seen.add(c.doc.kind);
      const name = created.metadata.name;
      const st = await waitForStatus(mesh, c.doc.kind, ns, name);
      const accepted = condition(st, 'Accepted')!;
      expect(accepted.status, `${c.file}#${c.index}`).to.equal('False');
      expect(accepted.reason).to.equal('Invalid');
      expect(accepted.message, `${c.file}#${c.index}`).to.contain(c.expectedError);
      expect(st.status!.validationMessages!.some((m) => m.level === 'ERROR' && m.message.length > 0)).to.equal(true);
      checked++;
    }
    expect(checked, 'at least one kind has a case only the validator catches').to.be.greaterThan(0);
  });

  it('a restarted operator writes no status when nothing changed', async () => {
    await op!.idle();
    await sleep(500);
    const kinds = ['VirtualService', 'Gateway', 'DestinationRule', 'ServiceEntry', 'AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication', 'WorkloadEntry'];
    const snapshot = async () => {
      const out: Record<string, string> = {};
      for (const k of kinds) for (const o of await mesh.list(k, ns)) out[`${k}/${o.metadata.name}`] = o.metadata.resourceVersion!;
      return out;
    };
    const before = await snapshot();
    expect(Object.keys(before).length).to.be.greaterThan(3);
    await op!.stop();
    const writer = recordingWriter(cp.kubeConfig());
    op = await testOperator(cp.kubeConfig(), { statusWriter: writer });
    await op.waitForSync();
    // Other test files' objects share the cluster; only this namespace is ours to judge.
    const ours = () => writer.calls.filter((c) => c.key.split('/')[1] === ns);
    await waitFor('the restarted operator to reconcile every object', async () => new Set(ours().map((c) => c.key)).size, (n) => n >= Object.keys(before).length);
    await op.idle();
    await sleep(1_000);
    expect(ours().filter((c) => c.result !== 'unchanged')).to.deep.equal([]);
    expect(await snapshot()).to.deep.equal(before);
  });
});
