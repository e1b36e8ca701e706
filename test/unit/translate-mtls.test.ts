// Mutual TLS in translation: PeerAuthentication's mode per inbound port with Istio's precedence (workload over
// namespace over mesh, port-level over workload, UNSET inherits, oldest wins, PERMISSIVE by default), the chains
// each mode gives virtualInbound, and automatic ISTIO_MUTUAL towards endpoints with a sidecar.
import { expect } from 'chai';
import { simulate } from '../../src/proxy/routing/index.ts';
import { mtlsModeFor } from '../../src/translate/peer-authentication.ts';
import { app, clusterIPOf, destinationRule, meshMtls, namespace, peerAuthentication, snapshotOf, type InputPart } from '../support/mesh-fixtures.ts';
import { type Any, xds } from './translate-lds-support.ts';

const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const policies = (...list: ReturnType<typeof peerAuthentication>[]): InputPart => ({ config: { peerAuthentications: list } });
const bookinfo = (...more: InputPart[]) => snapshotOf(
  { namespaces: [namespace('bookinfo', { 'weft-injection': 'enabled' })] },
  app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'] } }),
  app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.1.1'] } }),
  ...more,
);
const reviews = (...more: InputPart[]) => xds(bookinfo(...more), 'bookinfo', 'reviews-v1');
const portChains = (r: ReturnType<typeof reviews>, port: number) =>
  r.listener('virtualInbound').filterChains.filter((c: Any) => c.filterChainMatch?.destinationPort?.value === port);
const inbound = (r: ReturnType<typeof reviews>, tls?: { alpn: string[] }) => simulate(r.pc, {
  direction: 'inbound', destinationIp: '10.0.0.1', port: 9080, host: 'reviews', path: '/', ...(tls ? { tls } : {}),
});

describe('translate: mutual TLS', () => {
  describe('PeerAuthentication precedence', () => {
    const labels = { app: 'reviews', version: 'v1' };
    const mode = (...more: InputPart[]) => mtlsModeFor(bookinfo(...more), 'bookinfo', labels, 9080);

    it('is PERMISSIVE without any policy, and takes the mesh policy from the root namespace', () => {
      expect(mode()).to.equal('PERMISSIVE');
      expect(mode(meshMtls('STRICT'))).to.equal('STRICT');
      // A selector-less policy in another namespace does nothing here.
      expect(mode(policies(peerAuthentication('other', 'shop', { mtls: { mode: 'STRICT' } })))).to.equal('PERMISSIVE');
    });

    it('prefers the namespace policy to the mesh policy, and UNSET inherits', () => {
      expect(mode(meshMtls('STRICT'), policies(peerAuthentication('ns', 'bookinfo', { mtls: { mode: 'DISABLE' } })))).to.equal('DISABLE');
      expect(mode(meshMtls('STRICT'), policies(peerAuthentication('ns', 'bookinfo', { mtls: { mode: 'UNSET' } })))).to.equal('STRICT');
    });

    it('prefers a policy selecting the workload, then its portLevelMtls for that port', () => {
      const wl = peerAuthentication('wl', 'bookinfo', {
        selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 9080: { mode: 'DISABLE' }, 9443: { mode: 'UNSET' } },
      });
      const ns = peerAuthentication('ns', 'bookinfo', { mtls: { mode: 'PERMISSIVE' } });
      const snap = bookinfo(policies(ns, wl));
      expect(mtlsModeFor(snap, 'bookinfo', labels, 9080)).to.equal('DISABLE');
      expect(mtlsModeFor(snap, 'bookinfo', labels, 9443)).to.equal('STRICT');
      expect(mtlsModeFor(snap, 'bookinfo', { app: 'productpage' }, 9080)).to.equal('PERMISSIVE');
    });

    it('takes the oldest of two policies at one level', () => {
      const older = peerAuthentication('b', 'bookinfo', { mtls: { mode: 'DISABLE' } }, { created: '2023-01-01T00:00:00Z' });
      const newer = peerAuthentication('a', 'bookinfo', { mtls: { mode: 'STRICT' } }, { created: '2024-06-01T00:00:00Z' });
      expect(mode(policies(newer, older))).to.equal('DISABLE');
    });
  });

  describe('virtualInbound', () => {
    it('PERMISSIVE (the default): an mTLS chain with the workload identity, and the plaintext chain', () => {
      const chains = portChains(reviews(), 9080);
      expect(chains.map((c: Any) => c.filterChainMatch.transportProtocol)).to.deep.equal(['tls', 'raw_buffer']);
      const tls = chains[0].transportSocket.typedConfig;
      expect(tls['@type']).to.equal(DOWNSTREAM_TLS);
      expect(tls.requireClientCertificate).to.deep.equal({ value: true });
      expect(tls.commonTlsContext.tlsCertificates).to.deep.equal([{
        certificateChain: { filename: '/etc/weft/identity/cert-chain.pem' }, privateKey: { filename: '/etc/weft/identity/key.pem' },
      }]);
      expect(tls.commonTlsContext.validationContext).to.deep.equal({ trustedCa: { filename: '/etc/weft/identity/root-cert.pem' } });
      expect(chains[1].transportSocket).to.equal(undefined);
      // Both reach the application.
      expect(inbound(reviews()).action).to.deep.include({ kind: 'cluster', cluster: 'inbound|9080||' });
      expect(inbound(reviews(), { alpn: ['istio-http/1.1'] }).action).to.deep.include({ kind: 'cluster', cluster: 'inbound|9080||' });
    });

    it('STRICT: only mTLS chains, so plaintext is closed; DISABLE: only plaintext', () => {
      const strict = reviews(meshMtls('STRICT'));
      expect(portChains(strict, 9080).map((c: Any) => c.filterChainMatch.transportProtocol)).to.deep.equal(['tls']);
      expect(inbound(strict).action.kind).to.equal('closed');
      expect(inbound(strict, { alpn: ['istio-h2'] }).action).to.deep.include({ kind: 'cluster', cluster: 'inbound|9080||' });
      // The passthrough for undeclared ports is strict as well.
      expect(simulate(strict.pc, { direction: 'inbound', destinationIp: '10.0.0.1', port: 7777, protocol: 'tcp' }).action.kind).to.equal('closed');

      const off = reviews(meshMtls('DISABLE'));
      expect(portChains(off, 9080).map((c: Any) => c.filterChainMatch.transportProtocol)).to.deep.equal(['raw_buffer']);
      expect(inbound(off).action).to.deep.include({ kind: 'cluster', cluster: 'inbound|9080||' });
    });

    it('records the policies it applied', () => {
      expect(reviews(meshMtls('STRICT')).pc.inputs).to.include('PeerAuthentication/weft-system/default');
    });
  });

  describe('automatic mTLS', () => {
    const cluster = (r: ReturnType<typeof reviews>, name: string) => r.pc.clusters.find((c) => c.name === name) as Any;
    const toReviews = 'outbound|9080||reviews.bookinfo.svc.cluster.local';

    it('sends nothing but plaintext to a service whose pods have no sidecar', () => {
      const plain = xds(snapshotOf(app('reviews', 'bookinfo', { port: 9080 }), app('productpage', 'bookinfo', { port: 9080 })), 'bookinfo', 'productpage-v1');
      expect(cluster(plain, toReviews).transportSocketMatches).to.equal(undefined);
    });

    it('sends ISTIO_MUTUAL to endpoints with a sidecar (tlsMode metadata), plaintext to the others', () => {
      const c = cluster(xds(bookinfo(), 'bookinfo', 'productpage-v1'), toReviews);
      expect(c.transportSocket).to.equal(undefined);
      expect(c.transportSocketMatches.map((m: Any) => m.name)).to.deep.equal(['tlsMode-istio', 'tlsMode-disabled']);
      const mtls = c.transportSocketMatches[0];
      expect(mtls.match).to.deep.equal({ fields: { tlsMode: { stringValue: 'istio' } } });
      const ctx = mtls.transportSocket.typedConfig;
      expect(ctx['@type']).to.equal(UPSTREAM_TLS);
      expect(ctx.sni).to.equal('outbound_.9080_._.reviews.bookinfo.svc.cluster.local');
      expect(ctx.commonTlsContext.validationContext.matchSubjectAltNames).to.deep.equal([{ exact: 'spiffe://cluster.local/ns/bookinfo/sa/reviews' }]);
      const sim = simulate(xds(bookinfo(), 'bookinfo', 'productpage-v1').pc, {
        direction: 'outbound', destinationIp: clusterIPOf('reviews', 'bookinfo'), port: 9080, host: 'reviews', path: '/',
      });
      expect(sim.action).to.deep.include({ kind: 'cluster', cluster: toReviews });
      expect(sim.action.kind === 'cluster' ? sim.action.upstream.endpoints.map((e) => e.transport) : []).to.deep.equal(['mtls']);
    });

    it('stays plaintext when the destination disables mTLS, or a DestinationRule sets tls', () => {
      const disabled = bookinfo(policies(peerAuthentication('ns', 'bookinfo', { mtls: { mode: 'DISABLE' } })));
      const c1 = cluster(xds(disabled, 'bookinfo', 'productpage-v1'), toReviews);
      expect(c1.transportSocketMatches).to.equal(undefined);
      const dr = { config: { destinationRules: [destinationRule('reviews', 'bookinfo', { host: 'reviews', trafficPolicy: { tls: { mode: 'DISABLE' } } })] } };
      const c2 = cluster(xds(bookinfo(dr), 'bookinfo', 'productpage-v1'), toReviews);
      expect(c2.transportSocketMatches).to.equal(undefined);
      expect(c2.transportSocket).to.equal(undefined);
    });
  });
});
