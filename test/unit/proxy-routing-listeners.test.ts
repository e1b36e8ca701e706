import { expect } from 'chai';
import { simulate } from '../../src/proxy/routing/simulate.ts';
import type { ClusterAction, RequestDescription } from '../../src/proxy/routing/types.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import {
  HTTP_INSPECTOR, TLS_INSPECTOR, UPSTREAM_TLS, cla, edsCluster, hcm, listener, proxyConfig, routeConfig, tcpProxy,
  toCluster, vhost,
} from '../support/envoy-objects.ts';

const inspectors = { listenerFilters: [
  { name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': TLS_INSPECTOR } },
  { name: 'envoy.filters.listener.http_inspector', typedConfig: { '@type': HTTP_INSPECTOR } },
] };

const passthrough = { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED' };

/** A sidecar-like config: virtualOutbound, a port-wide HTTP listener, a ClusterIP TCP listener, TLS by SNI. */
function mesh(): ProxyConfig {
  return proxyConfig({
    listeners: [
      listener('virtualOutbound', '0.0.0.0', 15001, [{ name: 'virtualOutbound-catchall-tcp', filters: [tcpProxy('PassthroughCluster')] }], { useOriginalDst: { value: true } }),
      listener('0.0.0.0_9080', '0.0.0.0', 9080, [{ name: 'http', filters: [hcm('9080')] }], { bindToPort: { value: false } }),
      listener('10.96.0.20_3306', '10.96.0.20', 3306, [{ filters: [tcpProxy('outbound|3306||mysql.db.svc.cluster.local')] }], { bindToPort: { value: false } }),
      listener('0.0.0.0_3306', '0.0.0.0', 3306, [{ filters: [tcpProxy('outbound|3306||other')] }], { bindToPort: { value: false } }),
      listener('0.0.0.0_443', '0.0.0.0', 443, [
        { name: 'exact', filterChainMatch: { serverNames: ['api.example.com'] }, filters: [tcpProxy('outbound|443||api.example.com')] },
        { name: 'wild', filterChainMatch: { serverNames: ['*.example.com'] }, filters: [tcpProxy('outbound|443||wild')] },
        { name: 'wilder', filterChainMatch: { serverNames: ['*.b.example.com'] }, filters: [tcpProxy('outbound|443||wilder')] },
        { name: 'split', filterChainMatch: { serverNames: ['split.example.org'] }, filters: [tcpProxy([['a', 20], ['b', 80]])] },
      ], { ...inspectors, bindToPort: { value: false } }),
    ],
    routes: [routeConfig('9080', [vhost('reviews:9080', ['reviews', 'reviews:9080'], [toCluster('outbound|9080||reviews.default.svc.cluster.local')])])],
    clusters: [passthrough, edsCluster('outbound|9080||reviews.default.svc.cluster.local')],
    endpoints: [cla('outbound|9080||reviews.default.svc.cluster.local', ['10.1.0.1:9080'])],
  });
}

const tcp = (destinationIp: string, port: number, extra: Partial<RequestDescription> = {}): RequestDescription =>
  ({ direction: 'outbound', destinationIp, port, protocol: 'tcp', ...extra });

function forwarded(pc: ProxyConfig, req: RequestDescription, random = 0): ClusterAction & { listener?: string; filterChain?: string } {
  const r = simulate(pc, req, { random: () => random });
  if (r.action.kind !== 'cluster') throw new Error(`expected a cluster action, got ${JSON.stringify(r)}`);
  return { ...r.action, ...(r.listener ? { listener: r.listener } : {}), ...(r.filterChain ? { filterChain: r.filterChain } : {}) };
}

describe('proxy/routing: listeners and filter chains', () => {
  it('hands an outbound connection to the exact ip:port listener, then 0.0.0.0:port, then keeps it in virtualOutbound', () => {
    const pc = mesh();
    expect(forwarded(pc, tcp('10.96.0.20', 3306))).to.include({ listener: '10.96.0.20_3306', cluster: 'outbound|3306||mysql.db.svc.cluster.local', via: 'tcp' });
    expect(forwarded(pc, tcp('10.96.0.21', 3306))).to.include({ listener: '0.0.0.0_3306', cluster: 'outbound|3306||other' });
    const passthroughed = forwarded(pc, tcp('93.184.216.34', 8443));
    expect(passthroughed).to.include({ listener: 'virtualOutbound', filterChain: 'virtualOutbound-catchall-tcp', cluster: 'PassthroughCluster' });
    expect(passthroughed.upstream.endpoints.map((e) => e.address)).to.deep.equal(['93.184.216.34:8443']);
  });

  it('routes HTTP on a port-wide listener through RDS', () => {
    const r = simulate(mesh(), { direction: 'outbound', destinationIp: '10.96.0.10', port: 9080, host: 'reviews:9080', path: '/' });
    expect(r).to.deep.include({ listener: '0.0.0.0_9080', filterChain: 'http', routeConfig: '9080', virtualHost: 'reviews:9080' });
    expect(r.action).to.deep.include({ kind: 'cluster', cluster: 'outbound|9080||reviews.default.svc.cluster.local' });
  });

  it('picks TLS filter chains by SNI: exact, then the longest wildcard', () => {
    const pc = mesh();
    const tls = (sni: string) => tcp('1.2.3.4', 443, { tls: { sni } });
    expect(forwarded(pc, tls('api.example.com')).filterChain).to.equal('exact');
    expect(forwarded(pc, tls('x.example.com')).filterChain).to.equal('wild');
    expect(forwarded(pc, tls('a.b.example.com')).filterChain).to.equal('wilder');
    expect(simulate(pc, tls('example.net')).action).to.deep.equal({ kind: 'closed', reason: 'no filter chain matches' });
    const split = forwarded(pc, tls('split.example.org'), 0.5);
    expect(split.cluster).to.equal('b');
    expect(split.weightedClusters).to.deep.equal([{ name: 'a', weight: 20 }, { name: 'b', weight: 80 }]);
  });

  it('cannot see SNI without a tls_inspector', () => {
    const pc = proxyConfig({ listeners: [listener('0.0.0.0_443', '0.0.0.0', 443, [
      { name: 'sni', filterChainMatch: { serverNames: ['a.com'] }, filters: [tcpProxy('a')] },
    ], { defaultFilterChain: { name: 'default', filters: [tcpProxy('default')] } })] });
    expect(forwarded(pc, tcp('1.1.1.1', 443, { tls: { sni: 'a.com' } })).filterChain).to.equal('default');
  });

  it('matches transport and application protocols as the inspectors detect them, without backtracking', () => {
    const pc = proxyConfig({ listeners: [listener('0.0.0.0_8000', '0.0.0.0', 8000, [
      { name: 'http', filterChainMatch: { applicationProtocols: ['http/1.1', 'h2c'] }, filters: [hcm('8000')] },
      { name: 'tcp', filterChainMatch: {}, filters: [tcpProxy('tcp')] },
      { name: 'other-port', filterChainMatch: { destinationPort: { value: 9000 } }, filters: [tcpProxy('nine')] },
    ], inspectors)], routes: [routeConfig('8000', [vhost('any', ['*'], [toCluster('http')])])] });
    expect(simulate(pc, { direction: 'outbound', port: 8000, host: 'x', path: '/' }).filterChain).to.equal('http');
    expect(simulate(pc, { direction: 'outbound', port: 8000, host: 'x', path: '/', protocol: 'http2' }).filterChain).to.equal('http');
    expect(simulate(pc, tcp('1.1.1.1', 8000)).filterChain).to.equal('tcp');
    // A transport protocol on the HTTP chain alone makes raw TCP pick that subtree and find nothing there.
    const strict = proxyConfig({ listeners: [listener('0.0.0.0_8000', '0.0.0.0', 8000, [
      { name: 'http', filterChainMatch: { transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.1'] }, filters: [hcm('8000')] },
      { name: 'tcp', filters: [tcpProxy('tcp')] },
    ], inspectors)] });
    expect(simulate(strict, tcp('1.1.1.1', 8000)).action.kind).to.equal('closed');
    const noPort = proxyConfig({ listeners: [listener('0.0.0.0_8000', '0.0.0.0', 8000, [
      { name: 'p', filterChainMatch: { destinationPort: { value: 8000 }, transportProtocol: 'tls' }, filters: [tcpProxy('tls')] },
      { name: 'any', filters: [tcpProxy('any')] },
    ], inspectors)] });
    // destination port 8000 selects the first chain's subtree; its transport protocol does not match, and there is no fallback.
    expect(simulate(noPort, tcp('1.1.1.1', 8000)).action).to.deep.equal({ kind: 'closed', reason: 'no filter chain matches' });
  });

  it('matches destination IP ranges by the longest prefix', () => {
    const pc = proxyConfig({ listeners: [listener('0.0.0.0_80', '0.0.0.0', 80, [
      { name: 'wide', filterChainMatch: { prefixRanges: [{ addressPrefix: '10.0.0.0', prefixLen: { value: 8 } }] }, filters: [tcpProxy('wide')] },
      { name: 'narrow', filterChainMatch: { prefixRanges: [{ addressPrefix: '10.1.0.0', prefixLen: { value: 16 } }] }, filters: [tcpProxy('narrow')] },
      { name: 'rest', filters: [tcpProxy('rest')] },
    ])] });
    expect(simulate(pc, tcp('10.1.2.3', 80)).filterChain).to.equal('narrow');
    expect(simulate(pc, tcp('10.2.2.3', 80)).filterChain).to.equal('wide');
    expect(simulate(pc, tcp('192.168.0.1', 80)).filterChain).to.equal('rest');
  });

  it('selects inbound filter chains of virtualInbound by destination port (no hand-off without use_original_dst)', () => {
    const pc = proxyConfig({
      listeners: [
        listener('virtualInbound', '0.0.0.0', 15006, [
          { name: 'inbound|9080||', filterChainMatch: { destinationPort: { value: 9080 } }, filters: [hcm('inbound|9080||')] },
          { name: 'inbound-passthrough', filters: [tcpProxy('InboundPassthroughCluster')] },
        ]),
        listener('0.0.0.0_9080', '0.0.0.0', 9080, [{ filters: [tcpProxy('outbound-should-not-be-used')] }]),
      ],
      routes: [routeConfig('inbound|9080||', [vhost('inbound|http|9080', ['*'], [toCluster('inbound|9080||')])])],
    });
    const r = simulate(pc, { direction: 'inbound', destinationIp: '10.1.0.1', port: 9080, host: 'reviews:9080', path: '/' });
    expect(r).to.deep.include({ listener: 'virtualInbound', filterChain: 'inbound|9080||', routeConfig: 'inbound|9080||' });
    expect(simulate(pc, { direction: 'inbound', destinationIp: '10.1.0.1', port: 7777, protocol: 'tcp' }).filterChain).to.equal('inbound-passthrough');
  });

  it('uses an inline route_config and closes when an RDS name is missing', () => {
    const inline = proxyConfig({ listeners: [listener('0.0.0.0_80', '0.0.0.0', 80, [{ filters: [hcm('x', { rds: undefined, routeConfig: routeConfig('inline', [vhost('v', ['*'], [toCluster('c')])]) })] }])] });
    expect(simulate(inline, { direction: 'outbound', port: 80, host: 'a', path: '/' })).to.deep.include({ routeConfig: 'inline', virtualHost: 'v' });
    const missing = proxyConfig({ listeners: [listener('0.0.0.0_80', '0.0.0.0', 80, [{ filters: [hcm('nope')] }])] });
    expect(simulate(missing, { direction: 'outbound', port: 80, host: 'a', path: '/' }).action.kind).to.equal('closed');
  });
});

describe('proxy/routing: upstream endpoints', () => {
  it('lists endpoints of an EDS cluster by priority, excluding unhealthy and draining ones', () => {
    const pc = proxyConfig({
      listeners: [listener('0.0.0.0_80', '0.0.0.0', 80, [{ filters: [tcpProxy('c')] }])],
      clusters: [edsCluster('c', { lbPolicy: 'LEAST_REQUEST' })],
      endpoints: [cla('c', [
        { address: '10.0.0.3:80', priority: 1, locality: { region: 'r', zone: 'z2' } },
        { address: '10.0.0.1:80', health: 'HEALTHY', locality: { region: 'r', zone: 'z1' } },
        { address: '10.0.0.2:80', health: 'DRAINING', locality: { region: 'r', zone: 'z1' } },
        { address: '10.0.0.4:80', health: 'UNHEALTHY', locality: { region: 'r', zone: 'z1' } },
      ])],
    });
    const up = forwarded(pc, tcp('1.1.1.1', 80)).upstream;
    expect(up).to.deep.include({ name: 'c', found: true, type: 'EDS', lbPolicy: 'LEAST_REQUEST' });
    expect(up.endpoints.map((e) => [e.address, e.priority, e.locality])).to.deep.equal([['10.0.0.1:80', 0, 'r/z1'], ['10.0.0.3:80', 1, 'r/z2']]);
    expect(up.excluded.map((e) => [e.address, e.health])).to.deep.equal([['10.0.0.2:80', 'DRAINING'], ['10.0.0.4:80', 'UNHEALTHY']]);
  });

  it('balances over every endpoint in panic mode (below healthy_panic_threshold, 50 % by default)', () => {
    const eps = cla('c', ['10.0.0.1:80', { address: '10.0.0.2:80', health: 'UNHEALTHY' }, { address: '10.0.0.3:80', health: 'UNHEALTHY' }]);
    const config = (cluster: Record<string, unknown>) => proxyConfig({
      listeners: [listener('0.0.0.0_80', '0.0.0.0', 80, [{ filters: [tcpProxy('c')] }])], clusters: [cluster], endpoints: [eps],
    });
    const panicking = forwarded(config(edsCluster('c')), tcp('1.1.1.1', 80)).upstream;
    expect(panicking.panic).to.equal(true);
    expect(panicking.endpoints).to.have.length(3);
    // A present Percent without value is 0: panic mode off.
    const off = forwarded(config(edsCluster('c', { commonLbConfig: { healthyPanicThreshold: {} } })), tcp('1.1.1.1', 80)).upstream;
    expect(off.panic).to.equal(undefined);
    expect(off.endpoints.map((e) => e.address)).to.deep.equal(['10.0.0.1:80']);
    const strict = forwarded(config(edsCluster('c', { commonLbConfig: { healthyPanicThreshold: { value: 30 } } })), tcp('1.1.1.1', 80)).upstream;
    expect(strict.panic).to.equal(undefined);
  });

  it('picks each endpoint\'s transport socket through transport_socket_matches', () => {
    const mtls = { name: 'envoy.transport_sockets.tls', typedConfig: { '@type': UPSTREAM_TLS, sni: 'outbound_.80_._.c', commonTlsContext: { tlsCertificates: [{ certificateChain: { filename: '/etc/weft/cert-chain.pem' } }] } } };
    const pc = proxyConfig({
      listeners: [listener('0.0.0.0_80', '0.0.0.0', 80, [{ filters: [tcpProxy('c')] }])],
      clusters: [edsCluster('c', { transportSocketMatches: [
        { name: 'tlsMode-weft', match: { fields: { tlsMode: { stringValue: 'weft' } } }, transportSocket: mtls },
        { name: 'tlsMode-disabled', match: {}, transportSocket: { name: 'envoy.transport_sockets.raw_buffer' } },
      ] })],
      endpoints: [cla('c', [
        { address: '10.0.0.1:80', metadata: { filterMetadata: { 'envoy.transport_socket_match': { fields: { tlsMode: { stringValue: 'weft' } } } } } },
        '10.0.0.2:80',
      ])],
    });
    const up = forwarded(pc, tcp('1.1.1.1', 80)).upstream;
    expect(up.endpoints.map((e) => [e.address, e.transport, e.sni])).to.deep.equal([['10.0.0.1:80', 'mtls', 'outbound_.80_._.c'], ['10.0.0.2:80', 'plaintext', undefined]]);
  });

  it('reads the inline load assignment of STRICT_DNS and STATIC clusters', () => {
    const pc = proxyConfig({
      listeners: [listener('0.0.0.0_80', '0.0.0.0', 80, [{ filters: [tcpProxy('dns')] }])],
      clusters: [{ name: 'dns', type: 'STRICT_DNS', loadAssignment: cla('dns', ['1.2.3.4:80']) }],
    });
    const up = forwarded(pc, tcp('1.1.1.1', 80)).upstream;
    expect(up).to.deep.include({ type: 'STRICT_DNS', lbPolicy: 'ROUND_ROBIN' });
    expect(up.endpoints.map((e) => e.address)).to.deep.equal(['1.2.3.4:80']);
  });
});
