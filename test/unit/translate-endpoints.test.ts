// Endpoint translation: a ClusterLoadAssignment per EDS cluster, endpoints filtered by subset, grouped by locality,
// with health, weights, metadata and the priorities / weights of the DestinationRule's locality setting.
import { expect } from 'chai';
import type { DestinationRuleSpec } from '../../src/api/index.ts';
import {
  app, destinationRule, endpointSlice, pod, service, serviceEntry, snapshotOf, type InputPart, type SliceEndpoint,
} from '../support/mesh-fixtures.ts';
import { type Any, cds, plain } from './translate-cds-support.ts';

const CATALOG = 'catalog.shop.svc.cluster.local';
const out = (port: number, host = CATALOG, subset = '') => `outbound|${port}|${subset}|${host}`;

interface Ep extends Omit<SliceEndpoint, 'pod'> { locality?: string; labels?: Record<string, string>; sidecar?: boolean }

/** Service `catalog` in `shop` with one bare pod per endpoint (labels, `istio-locality` as region.zone.subzone). */
function catalog(eps: Ep[]): InputPart {
  return {
    services: [service('catalog', 'shop', { selector: { app: 'catalog' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] })],
    pods: eps.map((e, i) => pod(`catalog-${i}`, 'shop', {
      ip: e.ip, serviceAccount: 'catalog', proxy: e.sidecar,
      labels: { app: 'catalog', ...(e.locality ? { 'istio-locality': e.locality.split('/').join('.') } : {}), ...e.labels },
    })),
    endpointSlices: [endpointSlice('catalog', 'shop', eps.map(({ ip, ready, serving, terminating }, i) => ({ ip, ready, serving, terminating, pod: `catalog-${i}` })),
      { http: 8080 })],
  };
}

/** The client: a Deployment in us-east/zone-a/sub-1. */
const client = app('web', 'shop', { port: 80, versions: { v1: ['10.9.0.1'] }, labels: { 'istio-locality': 'us-east.zone-a.sub-1' } });
const rule = (spec: Omit<DestinationRuleSpec, 'host'>): InputPart => ({ config: { destinationRules: [destinationRule('catalog', 'shop', { host: 'catalog', ...spec })] } });
const run = (...parts: InputPart[]) => cds(snapshotOf(client, ...parts), 'shop', 'web-v1');

const spread: Ep[] = [
  { ip: '10.0.0.5', locality: 'ap-south/zone-d/sub-1' },
  { ip: '10.0.0.4', locality: 'eu-west/zone-c/sub-1' },
  { ip: '10.0.0.3', locality: 'us-east/zone-b/sub-1' },
  { ip: '10.0.0.2', locality: 'us-east/zone-a/sub-2' },
  { ip: '10.0.0.1', locality: 'us-east/zone-a/sub-1' },
];
/** locality → [priority, weight, addresses] of a load assignment. */
const layout = (cla: Any) => Object.fromEntries((cla.endpoints as Any[]).map((g) => [
  g.locality ? `${g.locality.region}/${g.locality.zone}/${g.locality.subZone}` : '',
  [g.priority ?? 0, g.loadBalancingWeight.value, g.lbEndpoints.map((e: Any) => e.endpoint.address.socketAddress.address)],
]));

describe('translate/endpoints', () => {
  it('gives every EDS cluster a load assignment, and no other cluster', () => {
    const r = run(catalog([{ ip: '10.0.0.1' }]),
      { services: [service('db', 'shop', { clusterIP: 'None', ports: [{ name: 'tcp', port: 5432 }] })] },
      { config: { serviceEntries: [serviceEntry('ext', 'shop', { hosts: ['api.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS' })] } },
      rule({ subsets: [{ name: 'pass', trafficPolicy: { loadBalancer: { simple: 'PASSTHROUGH' } } }] }));
    expect(r.endpoints.map((e) => e.clusterName)).to.deep.equal([out(80), out(80, 'web.shop.svc.cluster.local')]);
    expect(r.cla(out(80))).to.deep.equal({
      clusterName: out(80),
      endpoints: [{
        lbEndpoints: [{
          endpoint: { address: { socketAddress: { address: '10.0.0.1', portValue: 8080 } } },
          healthStatus: 'HEALTHY',
          metadata: (r.cla(out(80)) as Any).endpoints[0].lbEndpoints[0].metadata,
          loadBalancingWeight: { value: 1 },
        }],
        loadBalancingWeight: { value: 1 },
      }],
    });
  });

  it("filters a subset's endpoints by its labels, sorted by address", () => {
    const r = run(catalog([
      { ip: '10.0.0.3', labels: { version: 'v2' } }, { ip: '10.0.0.10', labels: { version: 'v1', tier: 'a' } }, { ip: '10.0.0.2', labels: { version: 'v1' } },
    ]), rule({ subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v1a', labels: { version: 'v1', tier: 'a' } }, { name: 'none', labels: { version: 'v9' } }] }));
    const addresses = (name: string) => ((r.cla(name) as Any).endpoints as Any[]).flatMap((g) => g.lbEndpoints.map((e: Any) => e.endpoint.address.socketAddress.address));
    expect(addresses(out(80))).to.deep.equal(['10.0.0.10', '10.0.0.2', '10.0.0.3']);
    expect(addresses(out(80, CATALOG, 'v1'))).to.deep.equal(['10.0.0.10', '10.0.0.2']);
    expect(addresses(out(80, CATALOG, 'v1a'))).to.deep.equal(['10.0.0.10']);
    expect(r.cla(out(80, CATALOG, 'none'))).to.deep.equal({ clusterName: out(80, CATALOG, 'none'), endpoints: [] });
  });

  it('maps endpoint health: ready, draining (serving while terminating), unhealthy', () => {
    const r = run(catalog([
      { ip: '10.0.0.1' }, { ip: '10.0.0.2', ready: false, serving: true, terminating: true }, { ip: '10.0.0.3', ready: false },
    ]));
    const health = ((r.cla(out(80)) as Any).endpoints[0].lbEndpoints as Any[]).map((e) => e.healthStatus);
    expect(health).to.deep.equal(['HEALTHY', 'DRAINING', 'UNHEALTHY']);
  });

  it('carries what telemetry and mTLS read in the endpoint metadata', () => {
    const r = run(catalog([{ ip: '10.0.0.1', sidecar: true, labels: { version: 'v3' } }, { ip: '10.0.0.2' }]));
    const [meshed, plainEp] = (r.cla(out(80)) as Any).endpoints[0].lbEndpoints as Any[];
    expect(plain(meshed.metadata.filterMetadata.istio)).to.deep.equal({
      workload: 'catalog-0', namespace: 'shop', serviceAccount: 'catalog', app: 'catalog', version: 'v3', tlsMode: 'istio',
    });
    expect(plain(meshed.metadata.filterMetadata['envoy.transport_socket_match'])).to.deep.equal({ tlsMode: 'istio' });
    expect(plain(plainEp.metadata.filterMetadata.istio)).to.not.have.property('tlsMode');
    expect(plainEp.metadata.filterMetadata).to.not.have.property('envoy.transport_socket_match');
  });

  it('takes ServiceEntry endpoint weights, localities and unix sockets', () => {
    const r = run({ config: { serviceEntries: [serviceEntry('pool', 'shop', {
      hosts: ['pool.internal'], ports: [{ number: 7000, name: 'tcp', protocol: 'TCP' }], resolution: 'STATIC',
      endpoints: [
        { address: '192.0.2.2', weight: 3, locality: 'r1/z1' },
        { address: '192.0.2.1', weight: 1, locality: 'r1/z1' },
        { address: 'unix:///var/run/pool.sock' },
      ],
    })] } });
    const cla = r.cla(out(7000, 'pool.internal')) as Any;
    expect(cla.endpoints.map((g: Any) => g.locality)).to.deep.equal([undefined, { region: 'r1', zone: 'z1' }]);
    expect(cla.endpoints[0].lbEndpoints[0].endpoint.address).to.deep.equal({ pipe: { path: '/var/run/pool.sock' } });
    expect(cla.endpoints[1].lbEndpoints.map((e: Any) => [e.endpoint.address.socketAddress.address, e.loadBalancingWeight.value]))
      .to.deep.equal([['192.0.2.1', 1], ['192.0.2.2', 3]]);
    expect(cla.endpoints[1].loadBalancingWeight).to.deep.equal({ value: 4 });
  });

  describe('locality', () => {
    it('groups endpoints by locality, all at priority 0 without outlier detection', () => {
      const cla = run(catalog(spread)).cla(out(80)) as Any;
      expect(cla.endpoints[0].locality).to.deep.equal({ region: 'ap-south', zone: 'zone-d', subZone: 'sub-1' });
      expect(layout(cla)).to.deep.equal({
        'ap-south/zone-d/sub-1': [0, 1, ['10.0.0.5']], 'eu-west/zone-c/sub-1': [0, 1, ['10.0.0.4']],
        'us-east/zone-a/sub-1': [0, 1, ['10.0.0.1']], 'us-east/zone-a/sub-2': [0, 1, ['10.0.0.2']], 'us-east/zone-b/sub-1': [0, 1, ['10.0.0.3']],
      });
    });

    it('with outlier detection, fails over by proximity to the client: subzone, zone, region, elsewhere', () => {
      const cla = run(catalog(spread), rule({ trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3 } } })).cla(out(80)) as Any;
      expect(layout(cla)).to.deep.equal({
        'us-east/zone-a/sub-1': [0, 1, ['10.0.0.1']], 'us-east/zone-a/sub-2': [1, 1, ['10.0.0.2']], 'us-east/zone-b/sub-1': [2, 1, ['10.0.0.3']],
        'ap-south/zone-d/sub-1': [3, 1, ['10.0.0.5']], 'eu-west/zone-c/sub-1': [3, 1, ['10.0.0.4']],
      });
      expect(cla.endpoints.map((g: Any) => g.priority ?? 0)).to.deep.equal([0, 1, 2, 3, 3]);
    });

    it('sends failover from the client region to the named region before any other', () => {
      const cla = run(catalog(spread), rule({ trafficPolicy: {
        outlierDetection: {}, loadBalancer: { localityLbSetting: { failover: [{ from: 'us-east', to: 'eu-west' }] } },
      } })).cla(out(80)) as Any;
      expect(layout(cla)['eu-west/zone-c/sub-1']![0]).to.equal(3);
      expect(layout(cla)['ap-south/zone-d/sub-1']![0]).to.equal(4);
    });

    it('orders by failoverPriority labels matched against the client (key or key=value), splitting localities', () => {
      const eps: Ep[] = [
        { ip: '10.0.0.1', locality: 'us-east/zone-a/sub-1', labels: { version: 'v1', tier: 'gold' } },
        { ip: '10.0.0.2', locality: 'us-east/zone-a/sub-1', labels: { version: 'v2', tier: 'gold' } },
        { ip: '10.0.0.3', locality: 'eu-west/zone-c/sub-1', labels: { version: 'v1', tier: 'silver' } },
      ];
      const by = (failoverPriority: string[]) => layout2(run(catalog(eps), rule({ trafficPolicy: {
        outlierDetection: {}, loadBalancer: { localityLbSetting: { failoverPriority } },
      } })).cla(out(80)));
      // The client is web-v1: version=v1.
      expect(by(['version'])).to.deep.equal([[0, ['10.0.0.3']], [0, ['10.0.0.1']], [1, ['10.0.0.2']]]);
      expect(by(['tier=gold', 'version'])).to.deep.equal([[0, ['10.0.0.1']], [1, ['10.0.0.2']], [2, ['10.0.0.3']]]);
      expect(by(['topology.kubernetes.io/region'])).to.deep.equal([[0, ['10.0.0.1', '10.0.0.2']], [1, ['10.0.0.3']]]);
    });

    it('rescales locality weights for distribute and drops localities it does not name', () => {
      const eps: Ep[] = [
        { ip: '10.0.0.1', locality: 'us-east/zone-a/sub-1' }, { ip: '10.0.0.2', locality: 'us-east/zone-a/sub-2' },
        { ip: '10.0.0.3', locality: 'eu-west/zone-c/sub-1' }, { ip: '10.0.0.4', locality: 'eu-west/zone-c/sub-1' },
        { ip: '10.0.0.5', locality: 'ap-south/zone-d/sub-1' },
      ];
      const cla = run(catalog(eps), rule({ trafficPolicy: { loadBalancer: { localityLbSetting: { distribute: [
        { from: 'eu-west/*', to: { 'eu-west/*': 100 } },
        { from: 'us-east/zone-a/*', to: { 'us-east/zone-a/*': 80, 'eu-west/zone-c': 20 } },
      ] } } } })).cla(out(80)) as Any;
      expect(layout(cla)).to.deep.equal({
        'eu-west/zone-c/sub-1': [0, 20, ['10.0.0.3', '10.0.0.4']],
        'us-east/zone-a/sub-1': [0, 40, ['10.0.0.1']], 'us-east/zone-a/sub-2': [0, 40, ['10.0.0.2']],
      });
    });

    it('does nothing when the rule turns locality load balancing off', () => {
      const cla = run(catalog(spread), rule({ trafficPolicy: {
        outlierDetection: {}, loadBalancer: { localityLbSetting: { enabled: false, failover: [{ from: 'us-east', to: 'eu-west' }] } },
      } })).cla(out(80)) as Any;
      expect(cla.endpoints.every((g: Any) => g.priority === undefined)).to.equal(true);
    });
  });
});

/** [priority, addresses] per group, in output order. */
function layout2(cla: Any): Array<[number, string[]]> {
  return (cla.endpoints as Any[]).map((g) => [g.priority ?? 0, g.lbEndpoints.map((e: Any) => e.endpoint.address.socketAddress.address)]);
}
