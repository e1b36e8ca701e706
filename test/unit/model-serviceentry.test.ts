import { expect } from 'chai';
import type { Snapshot } from '../../src/model/types.ts';
import { namespace, pod, serviceEntry, snapshotOf, workloadEntry } from '../support/mesh-fixtures.ts';

const eps = (snap: Snapshot, host: string, portName: string) => {
  const svc = snap.servicesByHost(host)[0]!;
  return snap.endpoints(svc, svc.ports.find((p) => p.name === portName)!);
};

describe('model: ServiceEntry', () => {
  it('one service per host with the entry\'s ports, addresses, resolution, location, SANs', () => {
    const snap = snapshotOf({ config: { serviceEntries: [serviceEntry('ext', 'ns', {
      hosts: ['api.example.com', 'www.example.com'],
      addresses: ['240.0.0.1'],
      ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }, { number: 80, name: 'web', targetPort: 8080 }],
      resolution: 'DNS',
      subjectAltNames: ['spiffe://x/y'],
    })] } });
    expect(snap.services.map((s) => s.hostname)).to.deep.equal(['api.example.com', 'www.example.com']);
    const s = snap.services[0]!;
    expect(s).to.deep.include({ name: 'ext', namespace: 'ns', origin: 'ServiceEntry', location: 'MESH_EXTERNAL', resolution: 'DNS' });
    expect(s.addresses).to.deep.equal(['240.0.0.1']);
    expect(s.subjectAltNames).to.deep.equal(['spiffe://x/y']);
    expect(s.ports).to.deep.equal([{ name: 'web', port: 80, targetPort: 8080, protocol: 'UNKNOWN' }, { name: 'https', port: 443, protocol: 'HTTPS' }]);
    expect(s.selector).to.equal(undefined);
  });

  it('defaults: MESH_EXTERNAL, NONE, exported everywhere; short hosts kept as written', () => {
    const snap = snapshotOf({ config: { serviceEntries: [serviceEntry('e', 'ns', { hosts: ['legacy'], ports: [{ number: 80, name: 'http' }] })] } });
    const s = snap.services[0]!;
    expect([s.hostname, s.location, s.resolution, s.exportTo.all]).to.deep.equal(['legacy', 'MESH_EXTERNAL', 'NONE', true]);
    expect(snap.endpoints(s, s.ports[0]!)).to.deep.equal([]);
  });

  it('DNS without endpoints resolves the host itself', () => {
    const snap = snapshotOf({ config: { serviceEntries: [serviceEntry('e', 'ns', { hosts: ['api.example.com'], resolution: 'DNS',
      ports: [{ number: 443, name: 'tls', protocol: 'TLS' }, { number: 80, name: 'http', targetPort: 8080 }] })] } });
    expect(eps(snap, 'api.example.com', 'tls').map((e) => [e.address, e.ports.tls, e.health, e.sidecar])).to.deep.equal([['api.example.com', 443, 'HEALTHY', false]]);
    expect(eps(snap, 'api.example.com', 'http').map((e) => e.ports.http)).to.deep.equal([8080]);
  });

  it('STATIC endpoints: ports by name, else targetPort, else the port; labels, locality, weight, network', () => {
    const snap = snapshotOf({ config: { serviceEntries: [serviceEntry('e', 'ns', {
      hosts: ['db.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC',
      ports: [{ number: 5432, name: 'pg' }, { number: 80, name: 'http', targetPort: 8080 }, { number: 9000, name: 'admin' }],
      endpoints: [
        { address: '10.1.0.2', ports: { pg: 15432 }, labels: { version: 'v2' }, locality: 'r/z', weight: 3, network: 'n1', serviceAccount: 'db' },
        { address: '10.1.0.1' },
        { network: 'remote' }, // no address: behind another network's gateway, left out
        { address: 'unix:///var/run/db.sock' },
      ],
    })] } });
    expect(eps(snap, 'db.internal', 'pg').map((e) => [e.address, e.ports.pg])).to.deep.equal([['10.1.0.1', 5432], ['10.1.0.2', 15432], ['unix:///var/run/db.sock', 0]]);
    expect(eps(snap, 'db.internal', 'http').map((e) => e.ports.http)).to.deep.equal([8080, 8080, 0]);
    const e2 = eps(snap, 'db.internal', 'admin')[1]!;
    expect(e2).to.deep.include({ address: '10.1.0.2', locality: 'r/z', weight: 3, network: 'n1', serviceAccount: 'db', sidecar: true, health: 'HEALTHY' });
    expect(e2.labels).to.deep.equal({ version: 'v2' });
    expect(eps(snap, 'db.internal', 'admin')[0]!.sidecar).to.equal(false);
  });

  it('an external endpoint with a service account is not taken for a mesh workload', () => {
    const snap = snapshotOf({ config: { serviceEntries: [serviceEntry('e', 'ns', { hosts: ['x.example.com'], resolution: 'STATIC',
      ports: [{ number: 80, name: 'http' }], endpoints: [{ address: '1.2.3.4', serviceAccount: 'sa' }] })] } });
    expect(eps(snap, 'x.example.com', 'http')[0]!.sidecar).to.equal(false);
  });

  it('workloadSelector: WorkloadEntries and pods of its namespace', () => {
    const snap = snapshotOf({
      namespaces: [namespace('ns', { 'weft-injection': 'enabled' })],
      pods: [
        pod('vm-like', 'ns', { ip: '10.0.0.9', labels: { app: 'legacy' }, ports: [{ name: 'http', containerPort: 8081 }], serviceAccount: 'legacy' }),
        pod('not-ready', 'ns', { ip: '10.0.0.10', labels: { app: 'legacy' }, ready: false }),
        pod('no-ip', 'ns', { labels: { app: 'legacy' } }),
        pod('done', 'ns', { ip: '10.0.0.11', labels: { app: 'legacy' }, phase: 'Succeeded' }),
        pod('elsewhere', 'other', { ip: '10.0.0.12', labels: { app: 'legacy' } }),
      ],
      config: {
        serviceEntries: [serviceEntry('legacy', 'ns', { hosts: ['legacy.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC',
          ports: [{ number: 80, name: 'http', targetPort: 8080 }], workloadSelector: { labels: { app: 'legacy' } } })],
        workloadEntries: [
          workloadEntry('vm1', 'ns', { address: '192.168.1.1', labels: { app: 'legacy' }, serviceAccount: 'legacy', ports: { http: 9090 } }),
          workloadEntry('vm2', 'ns', { address: '192.168.1.2', labels: { app: 'other' } }),
          workloadEntry('vm3', 'other', { address: '192.168.1.3', labels: { app: 'legacy' } }),
        ],
      },
    });
    const svc = snap.services[0]!;
    expect(svc.selector).to.deep.equal({ app: 'legacy' });
    expect(snap.endpoints(svc, svc.ports[0]!).map((e) => [e.address, e.ports.http, e.health, e.sidecar, e.workload?.name])).to.deep.equal([
      ['10.0.0.10', 8080, 'UNHEALTHY', true, 'not-ready'],
      ['10.0.0.9', 8081, 'HEALTHY', true, 'vm-like'],
      ['192.168.1.1', 9090, 'HEALTHY', true, undefined],
    ]);
    // The selected pods' workloads have the entry among their services.
    expect(snap.servicesOf(snap.workload('ns', 'vm-like')!).map((s) => s.hostname)).to.deep.equal(['legacy.internal']);
  });

  it('a WorkloadEntry whose health check failed is unhealthy', () => {
    const we = workloadEntry('vm1', 'ns', { address: '192.168.1.1', labels: { app: 'x' } });
    (we as { status?: unknown }).status = { conditions: [{ type: 'Healthy', status: 'False' }] };
    const snap = snapshotOf({ config: { workloadEntries: [we], serviceEntries: [serviceEntry('x', 'ns', { hosts: ['x.internal'], resolution: 'STATIC',
      location: 'MESH_INTERNAL', ports: [{ number: 80, name: 'http' }], workloadSelector: { labels: { app: 'x' } } })] } });
    expect(eps(snap, 'x.internal', 'http').map((e) => e.health)).to.deep.equal(['UNHEALTHY']);
  });

  it('exportTo of an entry', () => {
    const snap = snapshotOf({ config: { serviceEntries: [
      serviceEntry('a', 'ns', { hosts: ['a.example.com'], exportTo: ['.'] }),
      serviceEntry('b', 'ns', { hosts: ['b.example.com'], exportTo: ['other', 'third'] }),
      serviceEntry('c', 'ns', { hosts: ['c.example.com'], exportTo: ['~'] }),
    ] } });
    expect(snap.servicesFor('ns').map((s) => s.hostname)).to.deep.equal(['a.example.com']);
    expect(snap.servicesFor('other').map((s) => s.hostname)).to.deep.equal(['b.example.com']);
    expect(snap.servicesFor('fourth').map((s) => s.hostname)).to.deep.equal([]);
  });
});
