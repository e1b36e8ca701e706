// Two operator replicas against a real API server: one Lease, one leader writing status, and the other taking
// over when the leader stops (it releases the Lease, so the handover takes about one retry period).
import { expect } from 'chai';
import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { Operator } from '../../src/controllers/operator.ts';
import { createNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { Mesh, condition, recordingWriter, sleep, testOperator, waitFor, waitForStatus } from './operator-support.ts';

describe('operator: leader election with two replicas', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let mesh: Mesh;
  let ns: string;
  const ops: Operator[] = [];
  const writers: Array<ReturnType<typeof recordingWriter>> = [];

  before(async () => {
    cp = await sharedCluster();
    const kc = cp.kubeConfig();
    await installCrds(kc);
    ns = await createNamespace(kc, 'op-leader');
    mesh = new Mesh(kc);
  });

  after(async () => {
    for (const op of ops) await op.stop();
    if (cp) await cp.kubeConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
  });

  const lease = () => cp.kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: ns, name: 'weft-operator' });
  const ours = (w: ReturnType<typeof recordingWriter>) => w.calls.filter((c) => c.key.split('/')[1] === ns);

  it('elects exactly one leader, and only the leader writes status', async () => {
    for (const id of ['replica-a', 'replica-b']) {
      const w = recordingWriter(cp.kubeConfig());
      writers.push(w);
      ops.push(await testOperator(cp.kubeConfig(), { leaderElect: true, namespace: ns, identity: id, statusWriter: w }));
    }
    await waitFor('a leader', async () => ops.filter((o) => o.isLeader()).length, (n) => n === 1);
    const leaderIdx = ops.findIndex((o) => o.isLeader());
    const l = await lease();
    expect(l.spec!.holderIdentity).to.equal(ops[leaderIdx]!.identity);
    expect(l.spec!.leaseDurationSeconds).to.equal(3);

    await mesh.createService(ns, 'details');
    await mesh.create('VirtualService', ns, 'details', { hosts: ['details'], http: [{ route: [{ destination: { host: 'details' } }] }] });
    const vs = await waitForStatus(mesh, 'VirtualService', ns, 'details');
    expect(condition(vs, 'ResolvedRefs')!.status).to.equal('True');

    // A while of steady state: the follower never reconciles, the leader keeps its lease.
    await sleep(2_000);
    expect(ops.filter((o) => o.isLeader()).length).to.equal(1);
    expect(ours(writers[leaderIdx]!).some((c) => c.result === 'written')).to.equal(true);
    expect(ours(writers[1 - leaderIdx]!)).to.deep.equal([]);
    expect(ops[1 - leaderIdx]!.stats().reconciles).to.equal(0);
  });

  it('the other replica takes over when the leader stops, and reconciles from then on', async () => {
    const leaderIdx = ops.findIndex((o) => o.isLeader());
    const follower = ops[1 - leaderIdx]!;
    const stoppedAt = Date.now();
    await ops[leaderIdx]!.stop();
    // Released on stop: no holder until the follower's next try.
    await waitFor('the follower to lead', async () => follower.isLeader(), (v) => v, 10_000);
    expect(Date.now() - stoppedAt, 'handover well before the lease would have expired').to.be.below(3_000);
    expect((await lease()).spec!.holderIdentity).to.equal(follower.identity);
    expect((await lease()).spec!.leaseTransitions).to.be.at.least(1);

    const oldWrites = writers[leaderIdx]!.calls.length;
    await mesh.updateSpec('VirtualService', ns, 'details', (spec) => (spec.gateways = ['missing']));
    const vs = await waitForStatus(mesh, 'VirtualService', ns, 'details', (o) => o.metadata.generation === 2);
    expect(condition(vs, 'ResolvedRefs')).to.include({ status: 'False', reason: 'ReferencedResourceNotFound' });
    // The recorder notes a write once the response is in, which may be just after the status became visible.
    await waitFor(
      'the new leader to record its write',
      async () => ours(writers[1 - leaderIdx]!).some((c) => c.key === `VirtualService/${ns}/details` && c.result === 'written'),
      (v) => v,
      5_000,
    );
    expect(writers[leaderIdx]!.calls.length, 'the stopped replica writes nothing more').to.equal(oldWrites);
  });
});
