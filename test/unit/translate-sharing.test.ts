// Sharing the outbound part between workloads must be invisible: for every workload, translate() with sharing
// gives exactly what building everything for that workload alone gives (ProxyConfig.inputs included), and a
// recording snapshot sees the same reads. Checked on a mesh made to vary everything the outbound part reads of a
// workload (namespace, sourceLabels, workloadSelector, IP family, own headless endpoints, locality, failover
// labels), and on every golden case.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { emptyReads, trackingSnapshot } from '../../src/controllers/distribution/tracking.ts';
import { buildSnapshot } from '../../src/model/snapshot.ts';
import type { Snapshot } from '../../src/model/types.ts';
import { translate } from '../../src/translate/index.ts';
import { loadCases } from '../support/golden-case.ts';
import {
  app, deployment, destinationRule, endpointSlice, namespace, service, serviceEntry, snapshotOf, virtualService,
} from '../support/mesh-fixtures.ts';

const INJECTED = { 'weft-injection': 'enabled' };
const at = (locality: string) => ({ 'istio-locality': locality });

/**
 * Workers in `shop` that differ from worker-a in one thing each (worker-b in nothing): a label a workloadSelector
 * selects, a label a sourceLabels match selects, an IPv6 address, an address that is a headless service's
 * endpoint, a locality, a label failoverPriority compares.
 */
const WORKERS = {
  'worker-a': { ip: '10.9.4.1' },
  'worker-b': { ip: '10.9.4.2' },
  'worker-sel': { ip: '10.9.4.3', labels: { role: 'batch' } },
  'worker-src': { ip: '10.9.4.4', labels: { tier: 'front' } },
  'worker-v6': { ip: 'fd00::4:5' },
  'worker-db': { ip: '10.9.4.6' },
  'worker-zone': { ip: '10.9.4.7', labels: { ...at('us-east.zone-b.sub-1'), zoned: 'yes' } },
  'worker-prio': { ip: '10.9.4.8', labels: { version: 'v1' } },
} as const satisfies Record<string, { ip: string; labels?: Record<string, string> }>;

function variedMesh(): Snapshot {
  const db = deployment('db', 'shop', { ips: ['10.9.1.1', '10.9.1.2'] });
  const workers = Object.entries(WORKERS).map(([name, w]) =>
    deployment(name, 'shop', { ips: [w.ip], labels: { app: 'worker', ...('labels' in w ? w.labels : {}) } }));
  const zoned = workers[6]!;
  const geoA = deployment('geo-a', 'shop', { ips: ['10.9.5.1'], labels: { app: 'geo', ...at('us-east.zone-a.sub-1') } });
  const geoB = deployment('geo-b', 'shop', { ips: ['10.9.5.2'], labels: { app: 'geo', ...at('eu-west.zone-c.sub-1') } });
  const podName = (d: typeof db) => d.pods![0]!.metadata!.name!;
  return snapshotOf(
    app('web', 'shop', { port: 80, versions: { v1: ['10.9.0.1'] }, labels: at('us-east.zone-a.sub-1') }),
    app('web2', 'shop', { port: 80, versions: { v1: ['10.9.0.2'] }, labels: { ...at('eu-west.zone-c.sub-1'), app: 'web2', tier: 'front' } }),
    app('api', 'shop', { port: 8080, versions: { v1: ['10.9.0.3'], v2: ['10.9.0.4'] } }),
    app('catalog', 'shop', { port: 80, versions: { v1: ['10.9.0.5'], v2: ['10.9.0.6'] }, labels: at('us-east.zone-b.sub-1') }),
    app('mobile', 'other', { port: 80, versions: { v1: ['10.9.3.1'], v2: ['10.9.3.2'] } }),
    geoA,
    geoB,
    db,
    ...workers,
    {
      namespaces: [namespace('shop', INJECTED), namespace('other', INJECTED), namespace('weft-system')],
      services: [
        service('db', 'shop', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'tcp', port: 5432 }] }),
        service('geo', 'shop', { selector: { app: 'geo' }, ports: [{ name: 'http', port: 80 }] }),
        service('zoned', 'shop', { selector: { zoned: 'yes' }, ports: [{ name: 'http', port: 9000 }] }),
      ],
      endpointSlices: [
        // worker-db's address is an endpoint of the headless service too (a slice managed by hand).
        endpointSlice('db', 'shop', [...db.pods!.map((p, i) => ({ ip: `10.9.1.${i + 1}`, pod: p.metadata!.name! })), { ip: WORKERS['worker-db'].ip }], { tcp: 5432 }),
        endpointSlice('geo', 'shop', [{ ip: '10.9.5.1', pod: podName(geoA) }, { ip: '10.9.5.2', pod: podName(geoB) }], { http: 80 }),
        endpointSlice('zoned', 'shop', [{ ip: WORKERS['worker-zone'].ip, pod: podName(zoned) }], { http: 9000 }),
      ],
      config: {
        virtualServices: [
          virtualService('catalog', 'shop', { hosts: ['catalog'], http: [
            { match: [{ sourceLabels: { app: 'web' } }], route: [{ destination: { host: 'catalog', subset: 'v1' } }] },
            { match: [{ sourceLabels: { tier: 'front' }, uri: { prefix: '/x' } }], timeout: '2s', route: [{ destination: { host: 'catalog', subset: 'v2' } }] },
            { route: [{ destination: { host: 'catalog' } }] },
          ] }),
          virtualService('db', 'shop', { hosts: ['db'], tcp: [{ match: [{ sourceLabels: { app: 'api' } }], route: [{ destination: { host: 'db' } }] }] }),
          virtualService('ext', 'shop', { hosts: ['api.example.com'], tls: [
            { match: [{ sniHosts: ['api.example.com'], sourceLabels: { app: 'web2' } }], route: [{ destination: { host: 'api.example.com' } }] },
          ] }),
          virtualService('mobile', 'other', { hosts: ['mobile'], http: [
            { match: [{ sourceLabels: { version: 'v2' } }], route: [{ destination: { host: 'mobile', subset: 'v2' } }] },
            { route: [{ destination: { host: 'mobile' } }] },
          ] }),
        ],
        destinationRules: [
          destinationRule('catalog', 'shop', {
            host: 'catalog',
            trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3 }, loadBalancer: { localityLbSetting: { enabled: true, failoverPriority: ['version'] } } },
            subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }],
          }),
          destinationRule('catalog-api', 'shop', { host: 'catalog', workloadSelector: { matchLabels: { app: 'api' } }, trafficPolicy: { loadBalancer: { simple: 'RANDOM' } },
            subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] }),
          destinationRule('batch', 'shop', { host: 'geo', workloadSelector: { matchLabels: { role: 'batch' } }, trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }),
          destinationRule('geo', 'shop', { host: 'geo', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 5 } } }),
          destinationRule('mobile', 'other', { host: 'mobile', subsets: [{ name: 'v2', labels: { version: 'v2' } }] }),
        ],
        serviceEntries: [
          serviceEntry('ext', 'shop', { hosts: ['api.example.com'], resolution: 'DNS', ports: [{ number: 443, name: 'tls', protocol: 'TLS' }] }),
          serviceEntry('dual', 'shop', { hosts: ['dual.example.com'], resolution: 'DNS', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] }),
        ],
      },
    },
  );
}

function expectSharingInvisible(snap: Snapshot, label: string): void {
  for (const w of snap.workloads) {
    const name = `${label}: ${w.namespace}/${w.name}`;
    expect(translate(w, snap), name).to.deep.equal(translate(w, snap, { outbound: 'own' }));
    const shared = emptyReads();
    const own = emptyReads();
    const a = translate(w, trackingSnapshot(snap, shared));
    const b = translate(w, trackingSnapshot(snap, own), { outbound: 'own' });
    expect(a, `${name} (recorded)`).to.deep.equal(b);
    expect(shared, `${name}: reads`).to.deep.equal(own);
  }
}

describe('translate: outbound sharing', () => {
  it('gives every workload of a varied mesh exactly its own translation, inputs and reads included', () => {
    const snap = variedMesh();
    expect(snap.workloads.length).to.be.greaterThan(8);
    expectSharingInvisible(snap, 'varied');
  });

  it('shares the outbound objects between workloads with the same view, and only between them', () => {
    const snap = variedMesh();
    const pc = (name: string) => translate(snap.workload('shop', name)!, snap);
    const sameObjects = (a: string, b: string) => {
      const [x, y] = [pc(a), pc(b)];
      return x.routes.length > 0 && x.routes.every((r, i) => r === y.routes[i]) && x.clusters.filter((c) => String(c.name).startsWith('outbound|'))
        .every((c) => y.clusters.includes(c));
    };
    expect(sameObjects('worker-a', 'worker-b')).to.equal(true);
    // The inbound side stays each workload's own.
    const inbound = (name: string) => pc(name).listeners.find((l) => l.name === 'virtualInbound');
    expect(inbound('worker-a')).to.not.equal(inbound('worker-b'));
    for (const other of Object.keys(WORKERS).filter((n) => n !== 'worker-a' && n !== 'worker-b')) {
      expect(sameObjects('worker-a', other), other).to.equal(false);
      // Each of them differs from worker-a in config, not only in its key.
      const strip = (name: string) => {
        const { workload: _w, listeners, clusters, inputs: _i, ...rest } = translate(snap.workload('shop', name)!, snap, { outbound: 'own' });
        return { ...rest, listeners: listeners.filter((l) => l.name !== 'virtualInbound'), clusters: clusters.filter((c) => String(c.name).startsWith('outbound|')) };
      };
      expect(strip(other), other).to.not.deep.equal(strip('worker-a'));
    }
  });

  it('is invisible on every golden case, for every workload of its mesh', () => {
    for (const c of loadCases(resolve(import.meta.dirname, '../golden'))) expectSharingInvisible(buildSnapshot(c.input), c.name);
  });
});
