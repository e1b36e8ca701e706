import { expect } from 'chai';
import { app, namespace, snapshotOf } from '../support/mesh-fixtures.ts';

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
  });

  it('tolerates empty and malformed input', () => {
    const snap = snapshotOf({ services: [{}, { metadata: { name: 'x', namespace: 'y' }, spec: { ports: 'nope' } }], pods: [{}, { metadata: {} }],
      endpointSlices: [{ metadata: { labels: { 'kubernetes.io/service-name': 'x' }, namespace: 'y' }, endpoints: [{}, { addresses: [] }] }] });
    expect(snap.services.map((s) => s.hostname)).to.deep.equal(['x.y.svc.cluster.local']);
    expect(snap.workloads).to.deep.equal([]);
  });
});
