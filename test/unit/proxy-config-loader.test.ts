// Decoding and checking a bundle: everything translation emits for the golden meshes loads without errors or
// warnings; what would break the proxy (a listener naming a missing route configuration, garbage bytes) is
// rejected with a reason; a route to a missing cluster is only a warning (Envoy answers 503 NC). A filter the
// sidecar would have to skip (an HTTP filter no stage carries out, a network filter it does not execute) rejects
// the bundle, so the last-known-good config stays.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeBundle, packProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { buildSnapshot } from '../../src/model/snapshot.ts';
import { checkReferences, loadProxyConfig } from '../../src/proxy/config/loader.ts';
import { translate } from '../../src/translate/index.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { loadCases } from '../support/golden-case.ts';
import { productpageConfig } from '../support/proxy-bundles.ts';

const NOW = new Date('2026-11-22T00:00:00Z');

function load(pc: ProxyConfig) {
  return loadProxyConfig(packProxyConfig(pc).gzipped, NOW);
}

describe('proxy config loader', () => {
  it('loads every golden case translation without errors or warnings', () => {
    const cases = loadCases(resolve(import.meta.dirname, '../golden'));
    expect(cases.length).to.be.greaterThan(3);
    let n = 0;
    const types = new Set<string>();
    for (const c of cases) {
      const snap = buildSnapshot(c.input);
      for (const ref of c.workloads) {
        const [ns, name] = ref.split('/');
        const w = snap.workload(ns!, name!);
        if (!w) continue;
        const pc = translate(w, snap);
        for (const m of JSON.stringify(pc.listeners).matchAll(/"@type":"type\.googleapis\.com\/([^"]+)"/g)) types.add(m[1]!);
        const r = load(pc);
        expect(r, `${c.name} ${ref}`).to.deep.include({ kind: 'ok' });
        if (r.kind === 'ok') expect(r.warnings, `${c.name} ${ref}`).to.deep.equal([]);
        n++;
      }
    }
    expect(n).to.be.greaterThan(3);
    // The authorization filters are among what the golden meshes translate to (and so are accepted).
    for (const t of ['envoy.extensions.filters.network.rbac.v3.RBAC', 'envoy.extensions.filters.network.ext_authz.v3.ExtAuthz',
      'envoy.extensions.filters.http.rbac.v3.RBAC', 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
      'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication', 'weft.v1.IstioAuthn']) expect(types).to.include(t);
  });

  it('uses the bundle version and accepts uncompressed bundle bytes too', () => {
    const pc = productpageConfig();
    const p = packProxyConfig(pc);
    const r = loadProxyConfig(p.gzipped, NOW);
    expect(r.kind).to.equal('ok');
    if (r.kind === 'ok') {
      expect(r.value.version).to.equal(p.version);
      expect(r.value.loadedAt).to.equal(NOW);
    }
    const plain = loadProxyConfig(encodeBundle(pc).bytes, NOW);
    expect(plain.kind === 'ok' && plain.value.version).to.equal(p.version);
  });

  it('rejects a listener whose route configuration is missing', () => {
    const pc = productpageConfig();
    const broken = { ...pc, routes: pc.routes.filter((r) => r.name !== '9080') };
    const r = load(broken);
    expect(r.kind).to.equal('rejected');
    if (r.kind === 'rejected') expect(r.reason).to.match(/route configuration "9080" which does not exist/);
  });

  it('warns, but loads, when a route names a missing cluster', () => {
    const pc = productpageConfig();
    const broken = { ...pc, clusters: pc.clusters.filter((c) => !String(c.name).startsWith('outbound|9080||reviews')) };
    const { errors, warnings } = checkReferences(broken);
    expect(errors).to.deep.equal([]);
    expect(warnings.join('\n')).to.match(/outbound\|9080\|\|reviews\.bookinfo\.svc\.cluster\.local/);
    expect(load(broken).kind).to.equal('ok');
  });

  describe('filters the sidecar does not carry out', () => {
    type O = Record<string, unknown>;
    const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
    const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
    /** A copy of the productpage config whose first chain with `type` as its terminal filter is edited. */
    function edited(type: string, edit: (filters: O[], terminal: O) => void): ProxyConfig {
      const pc = structuredClone(productpageConfig());
      for (const l of pc.listeners) {
        for (const fc of (l.filterChains ?? []) as Array<{ filters?: O[] }>) {
          const terminal = fc.filters?.find((f) => (f.typedConfig as O | undefined)?.['@type'] === type);
          if (terminal) {
            edit(fc.filters!, terminal);
            return pc;
          }
        }
      }
      throw new Error(`no filter chain ends with ${type}`);
    }
    const rejectedFor = (pc: ProxyConfig): string => {
      const r = load(pc);
      return r.kind === 'rejected' ? r.reason : 'accepted';
    };

    it('rejects a connection manager listing an HTTP filter no stage carries out', () => {
      const pc = edited(HCM, (_f, hcm) => {
        const filters = (hcm.typedConfig as { httpFilters: O[] }).httpFilters;
        filters.splice(filters.length - 1, 0, { name: 'envoy.filters.http.custom', typedConfig: { '@type': 'type.googleapis.com/google.protobuf.Struct', fields: {} } });
      });
      expect(rejectedFor(pc)).to.match(/lists HTTP filter "envoy\.filters\.http\.custom" \(google\.protobuf\.Struct\), which this proxy does not carry out/);
      const untyped = edited(HCM, (_f, hcm) => (hcm.typedConfig as { httpFilters: O[] }).httpFilters.unshift({ name: 'envoy.filters.http.lua' }));
      expect(rejectedFor(untyped)).to.match(/HTTP filter "envoy\.filters\.http\.lua" \(no type\)/);
    });

    it('rejects a filter chain listing a network filter other than RBAC, ext_authz, tcp_proxy and the connection manager', () => {
      const direct = { name: 'envoy.filters.network.direct_response', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.direct_response.v3.Config' } };
      for (const terminal of [TCP_PROXY, HCM]) {
        const pc = edited(terminal, (filters) => filters.unshift(direct));
        expect(rejectedFor(pc), terminal).to.match(/lists network filter "envoy\.filters\.network\.direct_response" \(envoy\.extensions\.filters\.network\.direct_response\.v3\.Config\), which this proxy does not carry out/);
      }
      const { errors } = checkReferences(edited(TCP_PROXY, (filters) => filters.unshift({ name: 'envoy.filters.network.sni_cluster' })));
      expect(errors.join('\n')).to.match(/network filter "envoy\.filters\.network\.sni_cluster" \(no type\)/);
    });

    it('accepts the filters it executes: network RBAC and ext_authz before tcp_proxy or the connection manager, every HTTP stage and the router', () => {
      const rbac = { name: 'envoy.filters.network.rbac', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', statPrefix: 'tcp.' } };
      const extAuthz = { name: 'envoy.filters.network.ext_authz', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.ext_authz.v3.ExtAuthz', statPrefix: 'tcp.' } };
      for (const terminal of [TCP_PROXY, HCM]) {
        expect(rejectedFor(edited(terminal, (filters) => filters.unshift(rbac, extAuthz))), terminal).to.equal('accepted');
      }
      const { errors, warnings } = checkReferences(edited(TCP_PROXY, (filters) => filters.unshift({ ...extAuthz, typedConfig: { ...extAuthz.typedConfig, includePeerCertificate: true } })));
      expect(errors).to.deep.equal([]);
      expect(warnings.join('\n')).to.match(/ext_authz includePeerCertificate is not carried out/);
      const grpcWeb = { name: 'envoy.filters.http.grpc_web', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb' } };
      expect(rejectedFor(edited(HCM, (_f, hcm) => (hcm.typedConfig as { httpFilters: O[] }).httpFilters.unshift(grpcWeb)))).to.equal('accepted');
    });
  });

  it('rejects empty, truncated, garbage and non-bundle bytes with a reason', () => {
    const good = packProxyConfig(productpageConfig()).gzipped;
    const reasons = [new Uint8Array(0), good.subarray(0, 40), Buffer.from([0x1f, 0x8b, 1, 2, 3]), gzipSync(Buffer.from('{"not":"proto"}'))]
      .map((b) => loadProxyConfig(b, NOW))
      .map((r) => (r.kind === 'rejected' ? r.reason : 'accepted'));
    expect(reasons[0]).to.equal('config file is empty');
    for (const reason of reasons.slice(1)) expect(reason).to.not.equal('accepted');
  });
});
