import { expect } from 'chai';
import type { Snapshot, SnapshotInput } from '../../src/model/types.ts';
import {
  app, controller, deployment, destinationRule, endpointSlice, inputOf, namespace, pod, service, serviceEntry, snapshotOf, virtualService, workloadEntry,
} from '../support/mesh-fixtures.ts';
import { buildSnapshot } from '../../src/model/snapshot.ts';
import { seeded, shuffle } from '../support/random.ts';

/** Everything observable in a snapshot, as JSON (Sets as sorted arrays). */
function dump(snap: Snapshot): string {
  const json = (v: unknown) => JSON.stringify(v, (_k, x) => (x instanceof Set ? [...x].sort() : x));
  const namespaces = ['bookinfo', 'frontend', 'ext', 'weft-system', 'nowhere'];
  return json({
    options: snap.options,
    config: snap.config,
    services: snap.services,
    workloads: snap.workloads,
    endpoints: snap.services.map((s) => s.ports.map((p) => snap.endpoints(s, p))),
    servicesOf: snap.workloads.map((w) => snap.servicesOf(w).map((s) => s.hostname)),
    visible: namespaces.map((ns) => [
      snap.servicesFor(ns).map((s) => `${s.namespace}/${s.name}/${s.hostname}`),
      snap.virtualServicesFor(ns).map((v) => v.metadata?.name),
      snap.services.map((s) => snap.destinationRuleFor(s.hostname, ns)?.metadata?.name),
    ]),
  });
}

/** A seeded shuffle, so a failure is reproducible. */
const shuffled = <T>(xs: readonly T[], seed: number): T[] => shuffle(xs, seeded(seed));

function shuffleInput(input: SnapshotInput, seed: number): SnapshotInput {
  const out: Record<string, unknown> = { ...input };
  for (const [k, v] of Object.entries(input)) if (Array.isArray(v)) out[k] = shuffled(v, seed + k.length);
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input.config)) config[k] = shuffled(v as unknown[], seed * 31 + k.length);
  return { ...(out as unknown as SnapshotInput), config: config as unknown as SnapshotInput['config'] };
}

const rich = () => inputOf(
  app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1', '10.0.0.2'], v2: ['10.0.0.3'], v3: ['10.0.0.4'] } }),
  app('ratings', 'bookinfo', { ports: [{ name: 'http', port: 9080 }, { name: 'grpc-api', port: 9090 }], versions: { v1: ['10.0.1.1'] } }),
  app('productpage', 'frontend', { port: 9080, versions: { v1: ['10.0.2.1'] } }),
  deployment('worker', 'bookinfo', { ips: ['10.0.3.1', '10.0.3.2'] }),
  {
    namespaces: [namespace('bookinfo', { 'weft-injection': 'enabled' }), namespace('frontend', { 'istio-injection': 'enabled' })],
    services: [service('db', 'bookinfo', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'tcp', port: 5432 }] })],
    pods: [
      pod('db-0', 'bookinfo', { ip: '10.0.4.1', labels: { app: 'db', 'statefulset.kubernetes.io/pod-name': 'db-0' }, owner: { kind: 'StatefulSet', name: 'db' } }),
      pod('db-1', 'bookinfo', { ip: '10.0.4.2', labels: { app: 'db', 'statefulset.kubernetes.io/pod-name': 'db-1' }, owner: { kind: 'StatefulSet', name: 'db' } }),
      pod('job-28471260-abc', 'bookinfo', { owner: { kind: 'Job', name: 'job-28471260' } }),
    ],
    jobs: [controller('Job', 'job-28471260', 'bookinfo', { owner: { kind: 'CronJob', name: 'job' } })],
    endpointSlices: [endpointSlice('db', 'bookinfo', [{ ip: '10.0.4.1', pod: 'db-0' }, { ip: '10.0.4.2', pod: 'db-1', ready: false }], { tcp: 5432 })],
    config: {
      serviceEntries: [
        serviceEntry('ext', 'ext', { hosts: ['api.example.com', 'b.example.com'], resolution: 'DNS', ports: [{ number: 443, name: 'tls', protocol: 'TLS' }] }),
        serviceEntry('legacy', 'bookinfo', { hosts: ['legacy.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC',
          ports: [{ number: 80, name: 'http' }], workloadSelector: { labels: { app: 'legacy' } } }),
      ],
      workloadEntries: [workloadEntry('vm1', 'bookinfo', { address: '192.168.0.1', labels: { app: 'legacy' } }),
        workloadEntry('vm2', 'bookinfo', { address: '192.168.0.2', labels: { app: 'legacy' } })],
      virtualServices: [virtualService('reviews', 'bookinfo', { hosts: ['reviews'] }), virtualService('pp', 'frontend', { hosts: ['productpage'], exportTo: ['.'] })],
      destinationRules: [destinationRule('reviews', 'bookinfo', { host: 'reviews' }), destinationRule('all', 'weft-system', { host: '*.local' }),
        destinationRule('ext', 'frontend', { host: '*.example.com' })],
    },
  },
);

describe('model: buildSnapshot', () => {
  it('builds services, endpoints and workloads of an app', () => {
    const snap = snapshotOf(
      app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'], v2: ['10.0.0.2'] } }),
      { namespaces: [namespace('bookinfo', { 'weft-injection': 'enabled' })] },
    );
    const reviews = snap.serviceFor('reviews.bookinfo.svc.cluster.local', 'bookinfo')!;
    expect(reviews.ports).to.deep.equal([{ name: 'http', port: 9080, targetPort: 9080, protocol: 'HTTP' }]);
    expect(snap.endpoints(reviews, reviews.ports[0]!).map((e) => [e.address, e.ports.http, e.workload?.name, e.sidecar])).to.deep.equal([
      ['10.0.0.1', 9080, 'reviews-v1', true],
      ['10.0.0.2', 9080, 'reviews-v2', true],
    ]);
    expect(snap.workloads.map((w) => [w.kind, w.name, w.labels])).to.deep.equal([
      ['Deployment', 'reviews-v1', { app: 'reviews', version: 'v1' }],
      ['Deployment', 'reviews-v2', { app: 'reviews', version: 'v2' }],
    ]);
    expect(snap.servicesOf(snap.workload('bookinfo', 'reviews-v2')!).map((s) => s.name)).to.deep.equal(['reviews']);
    expect(snap.namespaceLabels('bookinfo')).to.deep.equal({ 'weft-injection': 'enabled' });
    expect(snap.namespaceLabels('nope')).to.equal(undefined);
    const defaults = {
      rootNamespace: 'weft-system', clusterDomain: 'cluster.local', trustDomain: 'cluster.local', outboundTrafficPolicy: 'ALLOW_ANY',
      extensionProviders: [], pathNormalization: 'DECODE_AND_MERGE_SLASHES', jwks: {},
    };
    expect(snap.options).to.deep.equal(defaults);
    expect(snapshotOf({ options: { rootNamespace: 'istio-system', clusterDomain: undefined } }).options)
      .to.deep.equal({ ...defaults, rootNamespace: 'istio-system' });
  });

  it('servicesOf: services selecting any pod of the workload, ServiceEntries by workloadSelector, same namespace only', () => {
    const snap = buildSnapshot(rich());
    const names = (ns: string, name: string) => snap.servicesOf(snap.workload(ns, name)!).map((s) => s.hostname);
    expect(names('bookinfo', 'reviews-v1')).to.deep.equal(['reviews.bookinfo.svc.cluster.local']);
    expect(names('bookinfo', 'db')).to.deep.equal(['db.bookinfo.svc.cluster.local']);
    expect(names('bookinfo', 'job')).to.deep.equal([]);
    // A per-pod Service of a StatefulSet (selector on the pod-name label) is the StatefulSet's too.
    const perPod = snapshotOf({ pods: rich().pods, services: [service('db-0', 'bookinfo', { selector: { 'statefulset.kubernetes.io/pod-name': 'db-0' } }),
      service('elsewhere', 'frontend', { selector: { app: 'db' } }), service('selectorless', 'bookinfo')] });
    expect(perPod.servicesOf(perPod.workload('bookinfo', 'db')!).map((s) => s.name)).to.deep.equal(['db-0']);
  });

  it('is deterministic: shuffled input gives the same snapshot', () => {
    const want = dump(buildSnapshot(rich()));
    for (let seed = 1; seed <= 20; seed++) expect(dump(buildSnapshot(shuffleInput(rich(), seed)))).to.equal(want, `seed ${seed}`);
  });

  it('is frozen', () => {
    const snap = buildSnapshot(rich());
    expect(Object.isFrozen(snap)).to.equal(true);
    expect(Object.isFrozen(snap.services)).to.equal(true);
    expect(Object.isFrozen(snap.workloads)).to.equal(true);
    expect(Object.isFrozen(snap.config.virtualServices)).to.equal(true);
    const s = snap.services[0]!;
    expect(Object.isFrozen(snap.endpoints(s, s.ports[0]!))).to.equal(true);
    expect(Object.isFrozen(s.ports[0])).to.equal(true);
    expect(Object.isFrozen(snap.workloads[0]!.pods[0]!.labels)).to.equal(true);
  });

  it('tolerates empty and malformed input', () => {
    const snap = snapshotOf({ services: [{}, { metadata: { name: 'x', namespace: 'y' }, spec: { ports: 'nope' } }], pods: [{}, { metadata: {} }],
      endpointSlices: [{ metadata: { labels: { 'kubernetes.io/service-name': 'x' }, namespace: 'y' }, endpoints: [{}, { addresses: [] }] }] });
    expect(snap.services.map((s) => s.hostname)).to.deep.equal(['x.y.svc.cluster.local']);
    expect(snap.workloads).to.deep.equal([]);
    const bare = buildSnapshot({ config: {} } as unknown as SnapshotInput);
    expect([bare.services, bare.workloads, bare.config.destinationRules]).to.deep.equal([[], [], []]);
    const odd = snapshotOf({
      pods: [{ metadata: { name: 'p', namespace: 'n', ownerReferences: 'x' as never, labels: 7 as never }, spec: { containers: 'no' }, status: 'x' }],
      services: [{ metadata: { name: 's', namespace: 'n' }, spec: { ports: [{}, { port: 'x' }, null, { port: 80, targetPort: {} }], selector: [] } }],
      config: { serviceEntries: [serviceEntry('e', 'n', { hosts: 'nope' as never, ports: [{}] as never, endpoints: [null] as never })],
        destinationRules: [destinationRule('d', 'n', {} as never)], virtualServices: [{ kind: 'VirtualService' } as never] },
    });
    expect(odd.workloads.map((w) => w.name)).to.deep.equal(['p']);
    expect(odd.services[0]!.ports).to.deep.equal([{ name: '', port: 80, protocol: 'UNKNOWN' }]);
    expect(odd.destinationRuleFor('s.n.svc.cluster.local', 'n')).to.equal(undefined);
    expect(odd.virtualServicesFor('n')).to.have.length(1);
  });
});
