// Listener translation: virtualOutbound and the outbound listeners it hands connections to (HTTP port-wide
// listeners, TCP/TLS service-address listeners, sniffed ports, headless services, shared-port rules), and
// virtualInbound with a chain per served port. Every output is also run through the strict Envoy encoder.
import { expect } from 'chai';
import type { VirtualServiceSpec } from '../../src/api/index.ts';
import {
  app, clusterIPOf, destinationRule, endpointSlice, meshMtls, service, serviceEntry, snapshotOf, virtualService, type InputPart,
} from '../support/mesh-fixtures.ts';
import { type Any, xds } from './translate-lds-support.ts';

const T = 'type.googleapis.com/';
const HCM = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const TCP_PROXY = `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`;
const out = (port: number, host: string, subset = '') => `outbound|${port}|${subset}|${host}`;
const tcpProxy = (cluster: string, statPrefix = cluster) => ({
  name: 'envoy.filters.network.tcp_proxy', typedConfig: { '@type': TCP_PROXY, statPrefix, cluster },
});

const bookinfo = (...more: InputPart[]) => snapshotOf(
  app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'], v2: ['10.0.0.2'] } }),
  app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.1.1'] } }),
  ...more,
);
const configOf = (o: { vs?: Array<[string, string, VirtualServiceSpec]>; se?: Parameters<typeof serviceEntry>[] }): InputPart => ({
  config: {
    virtualServices: (o.vs ?? []).map(([n, ns, spec]) => virtualService(n, ns, spec)),
    serviceEntries: (o.se ?? []).map((a) => serviceEntry(...a)),
  },
});
const productpage = (...more: InputPart[]) => xds(bookinfo(...more), 'bookinfo', 'productpage-v1');
const chainFilterNames = (l: Any) => [...l.filterChains, ...(l.defaultFilterChain ? [l.defaultFilterChain] : [])].map((c: Any) => c.filters[0].name);

describe('translate/listeners', () => {
  describe('virtualOutbound', () => {
    it('captures on 15001, hands connections to their original destination, drops loops and passes the rest through', () => {
      const l = productpage().listener('virtualOutbound');
      expect(l).to.deep.equal({
        name: 'virtualOutbound',
        address: { socketAddress: { address: '0.0.0.0', portValue: 15001 } },
        useOriginalDst: { value: true },
        trafficDirection: 'OUTBOUND',
        filterChains: [
          { name: 'virtualOutbound-blackhole', filterChainMatch: { destinationPort: { value: 15001 } }, filters: [tcpProxy('BlackHoleCluster')] },
          { name: 'virtualOutbound-catchall-tcp', filters: [tcpProxy('PassthroughCluster')] },
        ],
      });
    });

    it('sends unknown destinations to BlackHoleCluster under REGISTRY_ONLY', () => {
      const r = productpage({ options: { outboundTrafficPolicy: 'REGISTRY_ONLY' } });
      expect(r.listener('virtualOutbound').filterChains[1].filters).to.deep.equal([tcpProxy('BlackHoleCluster')]);
      expect(r.listener('0.0.0.0_9080').defaultFilterChain.filters).to.deep.equal([tcpProxy('BlackHoleCluster')]);
    });
  });

  describe('outbound HTTP', () => {
    it('gives each HTTP port one 0.0.0.0 listener whose sniffed HTTP chain uses the port\'s route configuration', () => {
      const r = productpage();
      expect(r.listenerNames()).to.deep.equal(['0.0.0.0_9080', 'virtualInbound', 'virtualOutbound']);
      const l = r.listener('0.0.0.0_9080');
      expect(l).to.deep.include({
        address: { socketAddress: { address: '0.0.0.0', portValue: 9080 } },
        trafficDirection: 'OUTBOUND',
        bindToPort: { value: false },
        continueOnListenerFiltersTimeout: true,
        listenerFiltersTimeout: {},
      });
      expect(l.listenerFilters.map((f: Any) => f.name)).to.deep.equal(['envoy.filters.listener.tls_inspector', 'envoy.filters.listener.http_inspector']);
      expect(l.filterChains).to.have.length(1);
      expect(l.filterChains[0].filterChainMatch).to.deep.equal({ transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.1', 'h2c'] });
      const hcm = r.config(l.filterChains[0]);
      expect(hcm).to.deep.include({
        '@type': HCM,
        statPrefix: 'outbound_0.0.0.0_9080',
        rds: { configSource: { ads: {}, initialFetchTimeout: {}, resourceApiVersion: 'V3' }, routeConfigName: '9080' },
        useRemoteAddress: { value: false },
        upgradeConfigs: [{ upgradeType: 'websocket' }],
      });
      expect(hcm.httpFilters.map((f: Any) => f.name)).to.deep.equal(['envoy.filters.http.fault', 'envoy.filters.http.cors', 'envoy.filters.http.router']);
      expect(l.defaultFilterChain).to.deep.equal({ filterChainMatch: {}, name: 'PassthroughFilterChain', filters: [tcpProxy('PassthroughCluster')] });
    });

    it('adds the gRPC-Web filter for gRPC-Web ports', () => {
      const r = productpage(app('web', 'bookinfo', { ports: [{ name: 'grpc-web', port: 8081 }] }));
      const hcm = r.config(r.listener('0.0.0.0_8081').filterChains[0]);
      expect(hcm.httpFilters[0].name).to.equal('envoy.filters.http.grpc_web');
    });
  });

  describe('outbound TCP and TLS', () => {
    const db = app('db', 'bookinfo', { ports: [{ name: 'tcp', port: 5432 }] });
    const dbIp = clusterIPOf('db', 'bookinfo');
    const DB = 'db.bookinfo.svc.cluster.local';

    it('listens on the service address and proxies to the service cluster', () => {
      const l = productpage(db).listener(`${dbIp}_5432`);
      expect(l.address).to.deep.equal({ socketAddress: { address: dbIp, portValue: 5432 } });
      expect(l.listenerFilters).to.equal(undefined);
      expect(l.filterChains).to.deep.equal([{ filters: [tcpProxy(out(5432, DB))] }]);
      expect(l.defaultFilterChain).to.equal(undefined);
    });

    it('follows VirtualService tcp routes: weighted clusters, destination subnets, connection settings from the DestinationRule', () => {
      const r = productpage(db, configOf({ vs: [['db', 'bookinfo', { hosts: ['db'], tcp: [
        { match: [{ destinationSubnets: ['10.9.0.0/16'] }], route: [{ destination: { host: 'db', subset: 'replica' } }] },
        { match: [{ sourceLabels: { app: 'nobody' } }], route: [{ destination: { host: 'db', subset: 'never' } }] },
        { route: [{ destination: { host: 'db', subset: 'a' }, weight: 80 }, { destination: { host: 'db', subset: 'b' }, weight: 20 }] },
      ] }]] }), { config: { destinationRules: [destinationRule('db', 'bookinfo', { host: 'db', trafficPolicy: { connectionPool: { tcp: { idleTimeout: '30s' } } } })] } });
      const l = r.listener(`${dbIp}_5432`);
      expect(l.filterChains).to.have.length(1);
      expect(l.filterChains[0].filterChainMatch).to.deep.equal({ prefixRanges: [{ addressPrefix: '10.9.0.0', prefixLen: { value: 16 } }] });
      expect(r.config(l.filterChains[0])).to.deep.include({ cluster: out(5432, DB, 'replica'), idleTimeout: { seconds: 30 } });
      expect(r.config(l.defaultFilterChain)).to.deep.equal({
        '@type': TCP_PROXY, statPrefix: 'db.bookinfo', idleTimeout: { seconds: 30 },
        weightedClusters: { clusters: [{ name: out(5432, DB, 'a'), weight: 80 }, { name: out(5432, DB, 'b'), weight: 20 }] },
      });
      expect(r.pc.inputs).to.include('VirtualService/bookinfo/db');
    });

    it('tells TLS services without an address apart by SNI on 0.0.0.0, and follows tls routes by SNI', () => {
      const r = productpage(configOf({
        se: [
          ['a', 'bookinfo', { hosts: ['a.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS' }],
          ['b', 'bookinfo', { hosts: ['b.example.com'], ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }], resolution: 'DNS' }],
        ],
        vs: [['b', 'bookinfo', { hosts: ['b.example.com'], tls: [
          { match: [{ sniHosts: ['b.example.com'] }], route: [{ destination: { host: 'a.example.com' } }] },
        ] }]],
      }));
      const l = r.listener('0.0.0.0_443');
      expect(l.listenerFilters.map((f: Any) => f.name)).to.deep.equal(['envoy.filters.listener.tls_inspector']);
      expect(l.filterChains.map((c: Any) => [c.filterChainMatch.serverNames, r.config(c).cluster])).to.deep.equal([
        [['a.example.com'], out(443, 'a.example.com')],
        [['b.example.com'], out(443, 'a.example.com')],
      ]);
      expect(l.defaultFilterChain.name).to.equal('PassthroughFilterChain');
    });

    it('gives a headless service a listener per endpoint address, never the workload\'s own', () => {
      const snap = bookinfo(
        { services: [service('store', 'bookinfo', { clusterIP: 'None', ports: [{ name: 'tcp', port: 7000 }], selector: { app: 'store' } })] },
        { endpointSlices: [endpointSlice('store', 'bookinfo', [{ ip: '10.0.5.1' }, { ip: '10.0.5.2' }, { ip: '10.0.1.1' }], { tcp: 7000 })] },
      );
      const names = xds(snap, 'bookinfo', 'productpage-v1').listenerNames();
      expect(names).to.include.members(['10.0.5.1_7000', '10.0.5.2_7000']);
      expect(names).not.to.include('10.0.1.1_7000');
      expect(names).not.to.include('0.0.0.0_7000');
    });

    it('listens on every address of a ServiceEntry; a CIDR address becomes a prefix match on 0.0.0.0', () => {
      const r = productpage(configOf({ se: [['ips', 'bookinfo', {
        hosts: ['legacy.example.com'], addresses: ['192.168.1.10', '172.16.0.0/12'], ports: [{ number: 5000, name: 'tcp', protocol: 'TCP' }], resolution: 'STATIC',
        endpoints: [{ address: '192.168.1.10' }],
      }]] }));
      expect(r.listenerNames()).to.include.members(['192.168.1.10_5000', '0.0.0.0_5000']);
      const chains = r.listener('0.0.0.0_5000').filterChains;
      expect(chains[0].filterChainMatch).to.deep.equal({ prefixRanges: [{ addressPrefix: '172.16.0.0', prefixLen: { value: 12 } }] });
      expect(r.config(chains[0]).cluster).to.equal(out(5000, 'legacy.example.com'));
    });

    it('gives no listener or inbound chain to ports the proxy uses itself', () => {
      const r = xds(snapshotOf(app('odd', 'x', { ports: [{ name: 'tcp', port: 15001 }, { name: 'http', port: 15006 }] }), meshMtls('DISABLE')), 'x', 'odd-v1');
      expect(r.listenerNames().filter((n) => n.endsWith('_15001') || n.endsWith('_15006'))).to.deep.equal([]);
      expect(r.listener('virtualInbound').filterChains.map((c: Any) => c.name)).to.deep.equal(['virtualInbound-blackhole', 'virtualInbound-catchall-http', 'virtualInbound']);
    });

    it('uses 0.0.0.0 for a resolution NONE ServiceEntry without addresses or endpoints', () => {
      const r = productpage(configOf({ se: [['any', 'bookinfo', { hosts: ['db.example.com'], ports: [{ number: 3306, name: 'mysql', protocol: 'MYSQL' }], resolution: 'NONE' }]] }));
      expect(r.listener('0.0.0.0_3306').filterChains).to.deep.equal([{ filters: [tcpProxy(out(3306, 'db.example.com'))] }]);
    });

    it('merges an address-less TCP service into the HTTP listener of its port: HTTP by sniffing, the rest to the TCP service', () => {
      const r = productpage(configOf({ se: [['raw', 'bookinfo', { hosts: ['raw.example.com'], ports: [{ number: 9080, name: 'tcp', protocol: 'TCP' }], resolution: 'NONE' }]] }));
      const l = r.listener('0.0.0.0_9080');
      expect(l.filterChains[0].filters[0].name).to.equal('envoy.filters.network.http_connection_manager');
      expect(l.defaultFilterChain).to.deep.equal({ filters: [tcpProxy(out(9080, 'raw.example.com'))] });
    });

    it('keeps MySQL and Mongo ports to themselves: the first service on the port (snapshot order) keeps it', () => {
      const mongo = (host: string): Parameters<typeof serviceEntry> =>
        [host, 'bookinfo', { hosts: [host], ports: [{ number: 9080, name: 'mongo', protocol: 'MONGO' }], resolution: 'NONE' }];
      // Sorted before the HTTP services: the port is Mongo's alone.
      const first = productpage(configOf({ se: [mongo('a.example.com')] })).listener('0.0.0.0_9080');
      expect(first.filterChains).to.deep.equal([{ filters: [tcpProxy(out(9080, 'a.example.com'))] }]);
      // Sorted after them: the HTTP listener stays as it was.
      const r = productpage(configOf({ se: [mongo('z.example.com')] }));
      expect(chainFilterNames(r.listener('0.0.0.0_9080'))).to.deep.equal(['envoy.filters.network.http_connection_manager', 'envoy.filters.network.tcp_proxy']);
      expect(r.config(r.listener('0.0.0.0_9080').defaultFilterChain).cluster).to.equal('PassthroughCluster');
    });
  });

  describe('sniffed ports', () => {
    it('gives an UNKNOWN port a listener on the service address with a TCP default and an HTTP chain for that service', () => {
      const r = productpage(app('legacy', 'bookinfo', { ports: [{ name: 'legacy', port: 7000 }] }));
      const ip = clusterIPOf('legacy', 'bookinfo');
      const host = 'legacy.bookinfo.svc.cluster.local';
      const l = r.listener(`${ip}_7000`);
      expect(l.listenerFilters.map((f: Any) => f.name)).to.deep.equal(['envoy.filters.listener.tls_inspector', 'envoy.filters.listener.http_inspector']);
      expect(l.filterChains[0].filterChainMatch).to.deep.equal({ transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.1', 'h2c'] });
      expect(r.config(l.filterChains[0]).rds.routeConfigName).to.equal(`${host}:7000`);
      expect(l.defaultFilterChain).to.deep.equal({ filters: [tcpProxy(out(7000, host))] });
    });

    it('skips UDP ports', () => {
      const r = productpage(app('dns', 'bookinfo', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }));
      expect(r.listenerNames().some((n) => n.endsWith('_53'))).to.equal(false);
    });
  });

  describe('virtualInbound', () => {
    it('listens on 15006 with a blackhole for itself, passthrough chains and a chain per served port', () => {
      const r = productpage(meshMtls('DISABLE'));
      const l = r.listener('virtualInbound');
      expect(l).to.deep.include({
        address: { socketAddress: { address: '0.0.0.0', portValue: 15006 } },
        trafficDirection: 'INBOUND',
        continueOnListenerFiltersTimeout: true,
        listenerFiltersTimeout: {},
      });
      expect(l.filterChains.map((c: Any) => c.name)).to.deep.equal(['virtualInbound-blackhole', 'virtualInbound-catchall-http', 'virtualInbound', '0.0.0.0_9080']);
      expect(l.filterChains[0]).to.deep.equal({
        name: 'virtualInbound-blackhole', filterChainMatch: { destinationPort: { value: 15006 } }, filters: [tcpProxy('BlackHoleCluster')],
      });
      expect(l.filterChains[2]).to.deep.equal({
        name: 'virtualInbound', filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: [tcpProxy('InboundPassthroughCluster')],
      });
      expect(r.config(l.filterChains[1]).routeConfig.virtualHosts[0].routes[0].route.cluster).to.equal('InboundPassthroughCluster');
    });

    it('routes an HTTP port through an inline route configuration to inbound|<port>||', () => {
      const r = productpage(meshMtls('DISABLE'));
      const chain = r.listener('virtualInbound').filterChains[3];
      expect(chain.filterChainMatch).to.deep.equal({ destinationPort: { value: 9080 }, transportProtocol: 'raw_buffer' });
      const hcm = r.config(chain);
      expect(hcm.statPrefix).to.equal('inbound_0.0.0.0_9080');
      expect(hcm.forwardClientCertDetails).to.equal('APPEND_FORWARD');
      expect(hcm.routeConfig).to.deep.equal({
        name: 'inbound|9080||',
        virtualHosts: [{
          name: 'inbound|http|9080',
          domains: ['*'],
          routes: [{
            name: 'default',
            match: { prefix: '/' },
            route: { cluster: 'inbound|9080||', timeout: {}, maxStreamDuration: { maxStreamDuration: {}, grpcTimeoutHeaderMax: {} } },
            decorator: { operation: 'productpage.bookinfo.svc.cluster.local:9080/*' },
          }],
        }],
        validateClusters: { value: false },
      });
    });

    it('uses target ports (named ones from the pod), TCP proxies TCP ports and sniffs UNKNOWN ones', () => {
      const snap = snapshotOf(app('shop', 'store', {
        ports: [{ name: 'http', port: 80, targetPort: 'web' }, { name: 'tcp-db', port: 5000, targetPort: 5432 }, { name: 'admin', port: 9000 }],
        podOptions: { ports: [{ name: 'web', containerPort: 8080 }, { containerPort: 5432 }, { containerPort: 9000 }] },
      }), meshMtls('DISABLE'));
      const r = xds(snap, 'store', 'shop-v1');
      const chains = r.listener('virtualInbound').filterChains.slice(3);
      expect(chains.map((c: Any) => [c.name, c.filterChainMatch, c.filters[0].name])).to.deep.equal([
        ['0.0.0.0_5432', { destinationPort: { value: 5432 }, transportProtocol: 'raw_buffer' }, 'envoy.filters.network.tcp_proxy'],
        ['0.0.0.0_8080', { destinationPort: { value: 8080 }, transportProtocol: 'raw_buffer' }, 'envoy.filters.network.http_connection_manager'],
        ['0.0.0.0_9000', { destinationPort: { value: 9000 }, applicationProtocols: ['http/1.1', 'h2c'], transportProtocol: 'raw_buffer' }, 'envoy.filters.network.http_connection_manager'],
        ['0.0.0.0_9000', { destinationPort: { value: 9000 }, transportProtocol: 'raw_buffer' }, 'envoy.filters.network.tcp_proxy'],
      ]);
      expect(r.config(chains[0]).cluster).to.equal('inbound|5432||');
      // The HTTP inspector runs only where a chain needs it: the passthrough and the sniffed port.
      const inspector = r.listener('virtualInbound').listenerFilters.find((f: Any) => f.name === 'envoy.filters.listener.http_inspector');
      expect(inspector.filterDisabled).to.deep.equal({ orMatch: { rules: [
        { destinationPortRange: { start: 5432, end: 5433 } },
        { destinationPortRange: { start: 8080, end: 8081 } },
        { destinationPortRange: { start: 15006, end: 15007 } },
      ] } });
    });
  });

  it('emits listeners in name order and records the VirtualServices it applied', () => {
    const r = productpage(configOf({ vs: [['reviews', 'bookinfo', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] }]] }));
    const names = r.listenerNames();
    expect(names).to.deep.equal([...names].sort());
    expect(r.pc.inputs).to.include('VirtualService/bookinfo/reviews');
  });
});
