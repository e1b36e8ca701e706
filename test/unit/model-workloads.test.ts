import { expect } from 'chai';
import { namespaceInjected, podHasSidecar } from '../../src/model/injection.ts';
import { podOwner, stableLabels } from '../../src/model/workloads.ts';
import { controller, deployment, namespace, pod, snapshotOf } from '../support/mesh-fixtures.ts';

const summary = (snap: ReturnType<typeof snapshotOf>) =>
  snap.workloads.map((w) => `${w.kind} ${w.namespace}/${w.name} ${w.apiVersion} ${w.uid || '-'} [${w.pods.map((p) => p.name).join(',')}]`);

describe('model: workloads', () => {
  it('groups the pods of a Deployment through its ReplicaSet', () => {
    const snap = snapshotOf(deployment('web', 'ns', { ips: ['10.0.0.2', '10.0.0.1'], hash: '7f9c6b8d5' }));
    expect(summary(snap)).to.deep.equal(['Deployment ns/web apps/v1 uid-ns-web [web-7f9c6b8d5-xxxx0,web-7f9c6b8d5-xxxx1]']);
    const w = snap.workload('ns', 'web')!;
    expect(w.labels).to.deep.equal({ app: 'web' });
    expect(w.serviceAccount).to.equal('web');
    expect(w.pods.map((p) => [p.ip, p.ready, p.phase])).to.deep.equal([['10.0.0.2', true, 'Running'], ['10.0.0.1', true, 'Running']]);
  });

  it('one workload across two ReplicaSets of a rollout', () => {
    const a = deployment('web', 'ns', { ips: ['10.0.0.1'], hash: 'aaaaaaaaa' });
    const b = deployment('web', 'ns', { ips: ['10.0.0.2'], hash: 'bbbbbbbbb' });
    const snap = snapshotOf({ deployments: a.deployments, replicaSets: [...a.replicaSets!, ...b.replicaSets!], pods: [...a.pods!, ...b.pods!] });
    expect(snap.workloads).to.have.length(1);
    expect(snap.workloads[0]!.pods).to.have.length(2);
  });

  it('derives the Deployment from the pod-template-hash when the ReplicaSet is not known', () => {
    const d = deployment('web', 'ns', { hash: '7f9c6b8d5' });
    expect(summary(snapshotOf({ pods: d.pods, deployments: d.deployments }))).to.deep.equal(['Deployment ns/web apps/v1 uid-ns-web [web-7f9c6b8d5-xxxx0]']);
    // Without the Deployment either: same name, uid unknown.
    expect(summary(snapshotOf({ pods: d.pods }))).to.deep.equal(['Deployment ns/web apps/v1 - [web-7f9c6b8d5-xxxx0]']);
  });

  it('a ReplicaSet without a Deployment is the workload itself', () => {
    const rs = controller('ReplicaSet', 'plain', 'ns');
    const p = pod('plain-x1', 'ns', { owner: { kind: 'ReplicaSet', name: 'plain' }, ip: '10.0.0.1' });
    expect(summary(snapshotOf({ replicaSets: [rs], pods: [p] }))).to.deep.equal(['ReplicaSet ns/plain apps/v1 uid-ns-plain [plain-x1]']);
    // Unknown ReplicaSet and no pod-template-hash label: still the ReplicaSet, uid from the pod's reference.
    expect(summary(snapshotOf({ pods: [p] }))).to.deep.equal(['ReplicaSet ns/plain apps/v1 uid-ns-plain [plain-x1]']);
  });

  it('StatefulSet, DaemonSet and ReplicationController pods by their controller reference', () => {
    const snap = snapshotOf({
      pods: [
        pod('db-0', 'ns', { owner: { kind: 'StatefulSet', name: 'db' }, labels: { app: 'db', 'statefulset.kubernetes.io/pod-name': 'db-0', 'controller-revision-hash': 'db-1' } }),
        pod('db-1', 'ns', { owner: { kind: 'StatefulSet', name: 'db' }, labels: { app: 'db', 'statefulset.kubernetes.io/pod-name': 'db-1', 'controller-revision-hash': 'db-1' } }),
        pod('agent-abcde', 'ns', { owner: { kind: 'DaemonSet', name: 'agent' } }),
        pod('legacy-abcde', 'ns', { owner: { kind: 'ReplicationController', name: 'legacy' } }),
      ],
    });
    expect(summary(snap)).to.deep.equal([
      'DaemonSet ns/agent apps/v1 uid-ns-agent [agent-abcde]',
      'StatefulSet ns/db apps/v1 uid-ns-db [db-0,db-1]',
      'ReplicationController ns/legacy v1 uid-ns-legacy [legacy-abcde]',
    ]);
    expect(snap.workload('ns', 'db')!.labels).to.deep.equal({ app: 'db' });
  });

  it('Job pods belong to their CronJob when it owns the Job', () => {
    const job = controller('Job', 'backup-28471260', 'ns', { owner: { kind: 'CronJob', name: 'backup' } });
    const p = pod('backup-28471260-q2x9z', 'ns', { owner: { kind: 'Job', name: 'backup-28471260' },
      labels: { app: 'backup', 'job-name': 'backup-28471260', 'batch.kubernetes.io/job-name': 'backup-28471260', 'controller-uid': 'u1',
        'batch.kubernetes.io/controller-uid': 'u1' } });
    const snap = snapshotOf({ jobs: [job], pods: [p] });
    expect(summary(snap)).to.deep.equal(['CronJob ns/backup batch/v1 uid-ns-backup [backup-28471260-q2x9z]']);
    expect(snap.workloads[0]!.labels).to.deep.equal({ app: 'backup' });
    // Job object not known: the name says CronJob (Job names of CronJobs end in 8 to 11 digits).
    expect(summary(snapshotOf({ pods: [p], cronJobs: [controller('CronJob', 'backup', 'ns')] }))).to.deep.equal(['CronJob ns/backup batch/v1 uid-ns-backup [backup-28471260-q2x9z]']);
    expect(summary(snapshotOf({ pods: [p] }))).to.deep.equal(['CronJob ns/backup batch/v1 - [backup-28471260-q2x9z]']);
  });

  it('a Job of its own', () => {
    const job = controller('Job', 'migrate', 'ns');
    const p = pod('migrate-7xk2p', 'ns', { owner: { kind: 'Job', name: 'migrate' } });
    expect(summary(snapshotOf({ jobs: [job], pods: [p] }))).to.deep.equal(['Job ns/migrate batch/v1 uid-ns-migrate [migrate-7xk2p]']);
    expect(summary(snapshotOf({ pods: [p] }))).to.deep.equal(['Job ns/migrate batch/v1 uid-ns-migrate [migrate-7xk2p]']);
  });

  it('bare pods, and pods of unknown controllers, are workloads of their own', () => {
    const snap = snapshotOf({ pods: [pod('debug', 'ns'), pod('spark-driver', 'ns', { owner: { kind: 'SparkApplication', name: 'etl', apiVersion: 'x/v1' } })] });
    expect(summary(snap)).to.deep.equal(['Pod ns/debug v1 uid-ns-debug [debug]', 'Pod ns/spark-driver v1 uid-ns-spark-driver [spark-driver]']);
  });

  it('leaves out Succeeded, Failed and deleted pods', () => {
    const snap = snapshotOf({
      pods: [
        pod('done', 'ns', { phase: 'Succeeded' }), pod('crashed', 'ns', { phase: 'Failed' }), pod('going', 'ns', { deleting: true }),
        pod('pending', 'ns', { phase: 'Pending', ready: false }),
      ],
    });
    expect(summary(snap)).to.deep.equal(['Pod ns/pending v1 uid-ns-pending [pending]']);
    expect(snap.workloads[0]!.pods[0]!.ready).to.equal(false);
  });

  it('sorts by namespace, then name', () => {
    const snap = snapshotOf({ pods: [pod('b', 'z'), pod('a', 'z'), pod('c', 'a')] });
    expect(snap.workloads.map((w) => `${w.namespace}/${w.name}`)).to.deep.equal(['a/c', 'z/a', 'z/b']);
  });

  it('injected: namespace label, opt-out annotation, proxy container', () => {
    const snap = snapshotOf({
      namespaces: [namespace('on', { 'weft-injection': 'enabled' }), namespace('istio', { 'istio-injection': 'enabled' }), namespace('off')],
      pods: [
        pod('a', 'on'), pod('b', 'on', { annotations: { 'sidecar.weft.dev/inject': 'false' } }), pod('c', 'istio'),
        pod('d', 'off'), pod('e', 'off', { proxy: true }),
      ],
    });
    expect(snap.workloads.map((w) => `${w.name}:${w.injected}`)).to.deep.equal(['c:true', 'd:false', 'e:true', 'a:true', 'b:false']);
  });

  it('the injection rule, shared with the webhook', () => {
    expect(namespaceInjected({ 'weft-injection': 'enabled' })).to.equal(true);
    expect(namespaceInjected({ 'istio-injection': 'enabled' })).to.equal(true);
    expect(namespaceInjected({ 'weft-injection': 'disabled' })).to.equal(false);
    expect(namespaceInjected(undefined)).to.equal(false);
    const native = { metadata: { name: 'p' }, spec: { initContainers: [{ name: 'weft-proxy', restartPolicy: 'Always' }], containers: [] } };
    expect(podHasSidecar(native, {})).to.equal(true);
    expect(podHasSidecar({}, { 'weft-injection': 'enabled' })).to.equal(true);
    expect(podHasSidecar({}, undefined)).to.equal(false);
  });

  it('podOwner works on a pod alone (as the webhook sees it at admission)', () => {
    const p = pod('web-5d8f7c9b4-abcde', 'ns', { owner: { kind: 'ReplicaSet', name: 'web-5d8f7c9b4' }, labels: { 'pod-template-hash': '5d8f7c9b4' } });
    expect(podOwner(p)).to.deep.equal({ kind: 'Deployment', name: 'web', namespace: 'ns', apiVersion: 'apps/v1', uid: '' });
  });

  it('stableLabels drops per-pod and per-revision labels', () => {
    expect(stableLabels({ app: 'a', version: 'v1', 'pod-template-hash': 'x', 'apps.kubernetes.io/pod-index': '0', 'pod-template-generation': '3' }))
      .to.deep.equal({ app: 'a', version: 'v1' });
  });

  it('pod details: service account default, container ports without the proxy', () => {
    const p = pod('p', 'ns', { ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 53, protocol: 'UDP' }], proxy: true });
    delete (p.spec as { serviceAccountName?: string }).serviceAccountName;
    const w = snapshotOf({ pods: [p] }).workloads[0]!;
    expect(w.serviceAccount).to.equal('default');
    expect(w.pods[0]!.containerPorts).to.deep.equal([{ name: 'http', port: 8080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }]);
  });
});
