// Gateway workloads in the model and in translation: the proxy-mode annotation makes a `mode: 'gateway'`
// workload in any namespace; Gateways select it by labels, their servers merge per port (and conflict: IST0145);
// VirtualServices bind by gateway name and hosts; the output has no capture listeners and records the Gateways and
// VirtualServices it used. Golden cases gateway-http and gateway-https show the Envoy output in full.
import { expect } from 'chai';
import type { GatewaySpec } from '../../src/api/index.ts';
import { simulate } from '../../src/proxy/routing/index.ts';
import { gatewayConflicts, rejectedGatewayServers } from '../../src/translate/gateway-conflicts.ts';
import { gatewayRef, gatewayServers, mergeServers, parseServerHost, type GatewayServerSpec } from '../../src/translate/gateway-servers.ts';
import { gatewayDownstreamTls } from '../../src/translate/gateway-tls.ts';
import { translate } from '../../src/translate/index.ts';
import {
  app, deployment, endpointSlice, gateway, namespace, service, snapshotOf, virtualService, type InputPart,
} from '../support/mesh-fixtures.ts';

const GATEWAY_POD = { annotations: { 'weft.dev/proxy-mode': 'gateway' } };
const ingress = (): InputPart => deployment('weft-ingressgateway', 'weft-system', {
  labels: { app: 'weft-ingressgateway', istio: 'ingressgateway' }, ips: ['10.0.9.1'], podOptions: GATEWAY_POD,
});
const http80 = (hosts: string[]): GatewaySpec => ({
  selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts }],
});
const mesh = (...more: InputPart[]) => snapshotOf(
  ingress(),
  { namespaces: [namespace('bookinfo', { 'weft-injection': 'enabled' })] },
  app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.1.1'] } }),
  ...more,
);
const gw = (s: ReturnType<typeof mesh>) => translate(s.workload('weft-system', 'weft-ingressgateway')!, s);

describe('gateway workloads', () => {
  it('are marked mode gateway in any namespace, get config, and are no sidecar endpoints', () => {
    // Even in an injected namespace the gateway pod is the proxy itself: clients reach it without mesh mTLS.
    const pod = (ingress().pods ?? [])[0]!;
    const s = mesh(
      { namespaces: [namespace('weft-system', { 'weft-injection': 'enabled' })] },
      { services: [service('weft-ingressgateway', 'weft-system', { ports: [{ name: 'http2', port: 80 }], selector: { istio: 'ingressgateway' } })] },
      { endpointSlices: [endpointSlice('weft-ingressgateway', 'weft-system', [{ ip: '10.0.9.1', pod: pod.metadata!.name! }], { http2: 80 })] },
    );
    expect(s.workload('weft-system', 'weft-ingressgateway')).to.deep.include({ mode: 'gateway', injected: true });
    expect(s.workload('bookinfo', 'productpage-v1')).to.deep.include({ mode: 'sidecar', injected: true });
    const svc = s.servicesByHost('weft-ingressgateway.weft-system.svc.cluster.local')[0]!;
    expect(s.endpoints(svc, svc.ports[0]!).map((e) => [e.address, e.sidecar])).to.deep.equal([['10.0.9.1', false]]);
    // Without the annotation the same pod in an uninjected namespace gets nothing.
    const plain = snapshotOf(deployment('gw', 'edge', { labels: { istio: 'ingressgateway' } }));
    expect(plain.workload('edge', 'gw')).to.deep.include({ mode: 'sidecar', injected: false });
  });

  it('translate to Gateway listeners only: no capture listeners, no inbound clusters', () => {
    const pc = gw(mesh({ config: { gateways: [gateway('public', 'bookinfo', http80(['*']))] } }));
    expect(pc.listeners.map((l) => l.name)).to.deep.equal(['0.0.0.0_80']);
    expect(pc.clusters.map((c) => c.name)).to.include('outbound|9080||productpage.bookinfo.svc.cluster.local');
    expect(pc.clusters.map((c) => String(c.name)).filter((n) => n.startsWith('inbound'))).to.deep.equal([]);
    // Nothing bound: a virtual host without routes answers every request 404.
    const r = simulate(pc, { direction: 'outbound', port: 80, host: 'any.example.com', path: '/' });
    expect(r).to.deep.include({ routeConfig: 'http.80', virtualHost: 'blackhole:80' });
    expect(r.action.kind).to.equal('no-route');
  });

  it('are not served by Gateways whose selector does not match them', () => {
    const pc = gw(mesh({ config: { gateways: [gateway('egress', 'bookinfo', { ...http80(['*']), selector: { istio: 'egressgateway' } })] } }));
    expect(pc.listeners).to.deep.equal([]);
    expect(pc.inputs).to.deep.equal([]);
  });

  it('record the Gateways and bound VirtualServices they used, and not the others', () => {
    const pc = gw(mesh({
      config: {
        gateways: [gateway('public', 'bookinfo', http80(['bookinfo.example.com']))],
        virtualServices: [
          virtualService('edge', 'bookinfo', { hosts: ['bookinfo.example.com'], gateways: ['public'], http: [{ route: [{ destination: { host: 'productpage' } }] }] }),
          virtualService('inside', 'bookinfo', { hosts: ['productpage'], http: [{ route: [{ destination: { host: 'productpage' } }] }] }),
        ],
      },
    }));
    expect(pc.inputs).to.deep.equal(['Gateway/bookinfo/public', 'VirtualService/bookinfo/edge']);
    const r = simulate(pc, { direction: 'outbound', port: 80, host: 'bookinfo.example.com', path: '/' });
    expect(r.action).to.deep.include({ kind: 'cluster', cluster: 'outbound|9080||productpage.bookinfo.svc.cluster.local' });
  });
});

describe('gateway servers', () => {
  it('read hosts as host, ns/host, ./host and */host', () => {
    expect(parseServerHost('a.example.com', 'gw')).to.deep.equal({ namespace: '*', host: 'a.example.com' });
    expect(parseServerHost('shop/a.example.com', 'gw')).to.deep.equal({ namespace: 'shop', host: 'a.example.com' });
    expect(parseServerHost('./a.example.com', 'gw')).to.deep.equal({ namespace: 'gw', host: 'a.example.com' });
    expect(parseServerHost('*/a.example.com', 'gw')).to.deep.equal({ namespace: '*', host: 'a.example.com' });
  });

  it('are named by VirtualServices as name (their own namespace), ns/name, ./name or the FQDN', () => {
    expect(gatewayRef('public', 'shop')).to.equal('shop/public');
    expect(gatewayRef('edge/public', 'shop')).to.equal('edge/public');
    expect(gatewayRef('./public', 'shop')).to.equal('shop/public');
    expect(gatewayRef('public.edge.svc.cluster.local', 'shop')).to.equal('edge/public');
    expect(gatewayRef('mesh', 'shop')).to.equal('mesh');
  });

  it('merge per port as Istio does: HTTP with HTTP, TLS with TLS, anything else on a taken port rejected', () => {
    const g = gateway('g', 'ns', {
      servers: [
        { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['a.com'] },
        { port: { number: 80, name: 'http2', protocol: 'HTTP2' }, hosts: ['b.com'] },
        { port: { number: 80, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] },
        { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['a.com'], tls: { mode: 'SIMPLE', credentialName: 'a' } },
        { port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: ['b.com'], tls: { mode: 'PASSTHROUGH' } },
        { port: { number: 443, name: 'plain', protocol: 'HTTP' }, hosts: ['c.com'] },
        { port: { number: 15443, name: 'auto', protocol: 'TLS' }, hosts: ['*'], tls: { mode: 'AUTO_PASSTHROUGH' } },
      ],
    });
    const { ports, rejected } = mergeServers(gatewayServers(g));
    expect(ports.map((p) => [p.port, p.tls, p.servers.map((s) => s.spec.port.name)])).to.deep.equal([
      [80, false, ['http', 'http2']],
      [443, true, ['https', 'tls']],
    ]);
    expect(rejected.map((r) => r.server.spec.port.name)).to.deep.equal(['tcp', 'plain', 'auto']);
    expect(ports[0]!.servers.map((s) => s.rds)).to.deep.equal(['http.80', 'http.80']);
    expect(ports[1]!.servers.map((s) => s.rds)).to.deep.equal(['https.443.https.g.ns', undefined]);
  });
});

describe('gateway TLS contexts', () => {
  const ctx = (tls: GatewayServerSpec['tls'], protocol = 'HTTPS') => {
    const socket = gatewayDownstreamTls({ port: { number: 443, name: 'https', protocol }, hosts: ['a.com'], tls }, protocol === 'HTTPS');
    const { '@type': _t, ...rest } = socket.typedConfig as Record<string, unknown>;
    return rest as { commonTlsContext: Record<string, unknown>; requireClientCertificate?: { value: boolean } };
  };

  it('take several credentials, and a separate CA credential for client verification', () => {
    const c = ctx({ mode: 'MUTUAL', credentialNames: ['rsa', 'ecdsa'], caCertCredentialName: 'clients' });
    expect(c.commonTlsContext.tlsCertificateSdsSecretConfigs).to.deep.equal([{ name: 'kubernetes://rsa' }, { name: 'kubernetes://ecdsa' }]);
    expect(c.commonTlsContext.validationContextSdsSecretConfig).to.deep.equal({ name: 'kubernetes://clients-cacert' });
    expect(c.requireClientCertificate).to.deep.equal({ value: true });
  });

  it('verify client certificates without requiring one for OPTIONAL_MUTUAL', () => {
    const c = ctx({ mode: 'OPTIONAL_MUTUAL', credentialName: 'c' });
    expect(c.commonTlsContext.validationContextSdsSecretConfig).to.deep.equal({ name: 'kubernetes://c-cacert' });
    expect(c.requireClientCertificate).to.equal(undefined);
  });

  it('offer no HTTP ALPN on a TLS server terminated into TCP, and keep the TLS versions asked for', () => {
    const c = ctx({ mode: 'SIMPLE', serverCertificate: '/c.pem', privateKey: '/k.pem', minProtocolVersion: 'TLSV1_3', maxProtocolVersion: 'TLSV1_3' }, 'TLS');
    expect(c.commonTlsContext).to.deep.equal({
      tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_3', tlsMaximumProtocolVersion: 'TLSv1_3' },
      tlsCertificates: [{ certificateChain: { filename: '/c.pem' }, privateKey: { filename: '/k.pem' } }],
    });
  });
});

describe('gatewayConflicts (IST0145)', () => {
  const tls = (host: string, name = 'https') => ({
    port: { number: 443, name, protocol: 'HTTPS' }, hosts: [host], tls: { mode: 'SIMPLE' as const, credentialName: 'c' },
  });
  const sel = { istio: 'ingressgateway' };

  it('reports overlapping hosts on one port on both Gateways, naming the other, the port and the hosts', () => {
    const s = mesh({
      config: {
        gateways: [
          gateway('a', 'bookinfo', { selector: sel, servers: [tls('bookinfo.example.com'), tls('other.example.com', 'https-other')] }),
          gateway('b', 'shop', { selector: sel, servers: [tls('shop/*.example.com')] }),
        ],
      },
    });
    const out = gatewayConflicts(s);
    expect([...out.keys()]).to.deep.equal(['Gateway/bookinfo/a', 'Gateway/shop/b']);
    expect(out.get('Gateway/bookinfo/a')!.map((c) => c.field)).to.deep.equal(['spec.servers[0]', 'spec.servers[1]']);
    expect(out.get('Gateway/bookinfo/a')![0]).to.deep.equal({
      code: 'IST0145',
      name: 'ConflictingGateways',
      field: 'spec.servers[0]',
      message: 'Conflict with gateways shop/b (workload selector istio=ingressgateway, port 443, hosts bookinfo.example.com).',
      conflictsWith: ['Gateway/shop/b'],
    });
    expect(out.get('Gateway/shop/b')![0]!.message).to.contain('gateways bookinfo/a').and.contain('hosts *.example.com');
  });

  it('is silent for other ports, disjoint hosts, duplicates inside one Gateway, and Gateways of other proxies', () => {
    const s = mesh({
      config: {
        gateways: [
          gateway('a', 'bookinfo', { selector: sel, servers: [tls('a.example.com'), tls('a.example.com', 'again')] }),
          gateway('b', 'bookinfo', { selector: sel, servers: [tls('b.example.com')] }),
          gateway('c', 'bookinfo', { selector: sel, servers: [{ ...tls('a.example.com'), port: { number: 8443, name: 'x', protocol: 'HTTPS' } }] }),
          gateway('d', 'bookinfo', { selector: { istio: 'egressgateway' }, servers: [tls('a.example.com')] }),
        ],
      },
    });
    expect([...gatewayConflicts(s).keys()]).to.deep.equal([]);
  });
});

describe('rejectedGatewayServers', () => {
  it('names the servers a gateway workload cannot serve, with the server holding the port', () => {
    const s = mesh({
      config: {
        gateways: [
          gateway('a', 'bookinfo', http80(['a.example.com'])),
          gateway('b', 'bookinfo', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'tcp', protocol: 'TCP' }, hosts: ['*'] }] }, { created: '2024-02-01T00:00:00Z' }),
        ],
      },
    });
    expect([...rejectedGatewayServers(s)]).to.deep.equal([['Gateway/bookinfo/b', [{
      field: 'spec.servers[0]',
      message: 'not served by weft-system/weft-ingressgateway: port 80 is taken by HTTP server http of Gateway bookinfo/a',
    }]]]);
  });
});
