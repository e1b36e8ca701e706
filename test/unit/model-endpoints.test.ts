import { expect } from 'chai';
import { sliceEndpointHealth } from '../../src/model/endpoints.ts';
import type { Snapshot } from '../../src/model/types.ts';
import { app, endpointSlice, namespace, pod, service, snapshotOf, workloadEntry } from '../support/mesh-fixtures.ts';

const eps = (snap: Snapshot, host: string, portName: string) => {
  const svc = snap.servicesByHost(host)[0]!;
  return snap.endpoints(svc, svc.ports.find((p) => p.name === portName)!);
};

describe('model: endpoints', () => {
  it('health from EndpointSlice conditions', () => {
    expect(sliceEndpointHealth({ ready: true })).to.equal('HEALTHY');
    expect(sliceEndpointHealth({})).to.equal('HEALTHY'); // unset means ready
    expect(sliceEndpointHealth(undefined)).to.equal('HEALTHY');
    expect(sliceEndpointHealth({ ready: false })).to.equal('UNHEALTHY');
    expect(sliceEndpointHealth({ ready: false, serving: false })).to.equal('UNHEALTHY');
    expect(sliceEndpointHealth({ ready: false, serving: true, terminating: true })).to.equal('DRAINING');
    expect(sliceEndpointHealth({ ready: false, serving: false, terminating: true })).to.equal('UNHEALTHY');
    expect(sliceEndpointHealth({ ready: false, terminating: true })).to.equal('UNHEALTHY');
    expect(sliceEndpointHealth({ ready: false, serving: true })).to.equal('UNHEALTHY');
  });

  it('maps each service port to the target port of the slice port with its name', () => {
    const snap = snapshotOf({
      services: [service('api', 'ns', { selector: { app: 'api' }, ports: [{ name: 'http', port: 80, targetPort: 'web' }, { name: 'grpc', port: 9090, targetPort: 50051 }] })],
      endpointSlices: [
        endpointSlice('api', 'ns', [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', ready: false }, { ip: '10.0.0.3', ready: false, serving: true, terminating: true }],
          { http: 8080, grpc: 50051 }, { name: 'api-a' }),
        // A second slice whose pods expose only the http port.
        endpointSlice('api', 'ns', [{ ip: '10.0.0.4' }], { http: 8081 }, { name: 'api-b' }),
        // Another service's slice, and an FQDN slice: ignored.
        endpointSlice('other', 'ns', [{ ip: '10.9.9.9' }], { http: 1 }),
        endpointSlice('api', 'ns', [{ ip: 'db.example.com' }], { http: 1 }, { name: 'api-c', addressType: 'FQDN' }),
      ],
    });
    expect(eps(snap, 'api.ns.svc.cluster.local', 'http').map((e) => [e.address, e.ports.http, e.health])).to.deep.equal([
      ['10.0.0.1', 8080, 'HEALTHY'], ['10.0.0.2', 8080, 'UNHEALTHY'], ['10.0.0.3', 8080, 'DRAINING'], ['10.0.0.4', 8081, 'HEALTHY'],
    ]);
    expect(eps(snap, 'api.ns.svc.cluster.local', 'grpc').map((e) => [e.address, e.ports.grpc])).to.deep.equal([
      ['10.0.0.1', 50051], ['10.0.0.2', 50051], ['10.0.0.3', 50051],
    ]);
  });

  it('an endpoint listed in two slices is one endpoint', () => {
    const snap = snapshotOf({
      services: [service('api', 'ns', { selector: { app: 'api' }, ports: [{ name: 'http', port: 80 }] })],
      endpointSlices: [endpointSlice('api', 'ns', [{ ip: '10.0.0.1' }], { http: 80 }, { name: 'a' }), endpointSlice('api', 'ns', [{ ip: '10.0.0.1' }], { http: 80 }, { name: 'b' })],
    });
    expect(eps(snap, 'api.ns.svc.cluster.local', 'http')).to.have.length(1);
  });

  it('unnamed single port', () => {
    const snap = snapshotOf({
      services: [service('api', 'ns', { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080 }] })],
      endpointSlices: [endpointSlice('api', 'ns', [{ ip: '10.0.0.1' }], { '': 8080 })],
    });
    expect(eps(snap, 'api.ns.svc.cluster.local', '').map((e) => e.ports[''])).to.deep.equal([8080]);
  });

  it('pod details through the slice targetRef: labels, service account, workload, sidecar, locality', () => {
    const snap = snapshotOf(app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'] } }), {
      namespaces: [namespace('bookinfo', { 'weft-injection': 'enabled' })],
    });
    const [e] = eps(snap, 'reviews.bookinfo.svc.cluster.local', 'http');
    expect(e).to.deep.include({ address: '10.0.0.1', serviceAccount: 'reviews', health: 'HEALTHY', sidecar: true });
    expect(e!.workload).to.deep.equal({ kind: 'Deployment', name: 'reviews-v1', namespace: 'bookinfo' });
    expect(e!.labels).to.include({ app: 'reviews', version: 'v1' });

    const zoned = snapshotOf({
      services: [service('s', 'ns', { ports: [{ name: 'http', port: 80 }] })],
      pods: [pod('p1', 'ns', { ip: '10.0.0.1' }), pod('p2', 'ns', { ip: '10.0.0.2', labels: { 'istio-locality': 'eu-west1.eu-west1-b.rack7' } })],
      endpointSlices: [endpointSlice('s', 'ns', [{ ip: '10.0.0.1', pod: 'p1', zone: 'eu-west1-a' }, { ip: '10.0.0.2', pod: 'p2', zone: 'eu-west1-b' },
        { ip: '10.0.0.3' }], { http: 80 })],
    });
    expect(eps(zoned, 's.ns.svc.cluster.local', 'http').map((x) => [x.locality, x.sidecar, x.workload?.name, x.serviceAccount])).to.deep.equal([
      ['/eu-west1-a', false, 'p1', 'default'], ['eu-west1/eu-west1-b/rack7', false, 'p2', 'default'], [undefined, false, undefined, undefined],
    ]);
  });

  it('the endpoint of a pod with a proxy container has a sidecar even outside injected namespaces', () => {
    const snap = snapshotOf({
      services: [service('s', 'ns', { ports: [{ name: 'http', port: 80 }] })],
      pods: [pod('p1', 'ns', { ip: '10.0.0.1', proxy: true })],
      endpointSlices: [endpointSlice('s', 'ns', [{ ip: '10.0.0.1', pod: 'p1' }], { http: 80 })],
    });
    expect(eps(snap, 's.ns.svc.cluster.local', 'http')[0]!.sidecar).to.equal(true);
  });

  it('headless services: resolution NONE, no addresses, endpoints from slices', () => {
    const snap = snapshotOf({
      services: [service('db', 'ns', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'tcp', port: 5432 }] })],
      endpointSlices: [endpointSlice('db', 'ns', [{ ip: '10.0.0.7' }], { tcp: 5432 })],
    });
    const svc = snap.services[0]!;
    expect([svc.resolution, svc.addresses]).to.deep.equal(['NONE', []]);
    expect(eps(snap, 'db.ns.svc.cluster.local', 'tcp').map((e) => e.address)).to.deep.equal(['10.0.0.7']);
  });

  it('dual-stack ClusterIPs', () => {
    const svc = service('s', 'ns');
    (svc.spec as Record<string, unknown>).clusterIPs = ['10.96.0.10', 'fd00::10'];
    const snap = snapshotOf({ services: [svc] });
    expect([snap.services[0]!.resolution, snap.services[0]!.addresses]).to.deep.equal(['EDS', ['10.96.0.10', 'fd00::10']]);
  });

  it('ExternalName: DNS to the external name on the service ports, outside the mesh', () => {
    const snap = snapshotOf({ services: [service('db', 'ns', { type: 'ExternalName', externalName: 'db.example.com', ports: [{ name: 'tcp', port: 5432, targetPort: 1 }] })] });
    const svc = snap.services[0]!;
    expect([svc.resolution, svc.location, svc.addresses, svc.selector]).to.deep.equal(['DNS', 'MESH_EXTERNAL', [], undefined]);
    expect(snap.endpoints(svc, svc.ports[0]!).map((e) => [e.address, e.ports.tcp, e.health, e.sidecar])).to.deep.equal([['db.example.com', 5432, 'HEALTHY', false]]);
  });

  it('WorkloadEntries selected by a Service selector, in its namespace', () => {
    const snap = snapshotOf({
      services: [service('api', 'ns', { selector: { app: 'api' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'admin', port: 9000, targetPort: 'admin' }] })],
      endpointSlices: [endpointSlice('api', 'ns', [{ ip: '10.0.0.1' }], { http: 8080, admin: 9001 })],
      config: {
        workloadEntries: [
          workloadEntry('vm1', 'ns', { address: '192.168.0.5', labels: { app: 'api' }, serviceAccount: 'api', ports: { admin: 9100 } }),
          workloadEntry('vm2', 'ns', { address: '192.168.0.6', labels: { app: 'api', 'security.istio.io/tlsMode': 'disabled' }, serviceAccount: 'api' }),
          workloadEntry('vm3', 'other', { address: '192.168.0.7', labels: { app: 'api' } }),
          workloadEntry('vm4', 'ns', { address: '192.168.0.8', labels: { app: 'web' } }),
        ],
      },
    });
    expect(eps(snap, 'api.ns.svc.cluster.local', 'http').map((e) => [e.address, e.ports.http, e.sidecar, e.serviceAccount])).to.deep.equal([
      ['10.0.0.1', 8080, false, undefined], ['192.168.0.5', 8080, true, 'api'], ['192.168.0.6', 8080, false, 'api'],
    ]);
    expect(eps(snap, 'api.ns.svc.cluster.local', 'admin').map((e) => [e.address, e.ports.admin])).to.deep.equal([
      ['10.0.0.1', 9001], ['192.168.0.5', 9100], ['192.168.0.6', 9000],
    ]);
  });

  it('endpoints of an unknown service or port are empty', () => {
    const snap = snapshotOf(app('a', 'ns'));
    const svc = snap.services[0]!;
    expect(snap.endpoints({ ...svc, name: 'nope', hostname: 'nope' }, svc.ports[0]!)).to.deep.equal([]);
    expect(snap.endpoints(svc, { name: 'nope', port: 1, protocol: 'TCP' })).to.deep.equal([]);
  });
});
