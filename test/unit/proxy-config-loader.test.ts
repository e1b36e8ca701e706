// Decoding and checking a bundle: everything translation emits for the golden meshes loads without errors or
// warnings; what would break the proxy (a listener naming a missing route configuration, garbage bytes) is
// rejected with a reason; a route to a missing cluster is only a warning (Envoy answers 503 NC).
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
    for (const c of cases) {
      const snap = buildSnapshot(c.input);
      for (const ref of c.workloads) {
        const [ns, name] = ref.split('/');
        const w = snap.workload(ns!, name!);
        if (!w) continue;
        const r = load(translate(w, snap));
        expect(r, `${c.name} ${ref}`).to.deep.include({ kind: 'ok' });
        if (r.kind === 'ok') expect(r.warnings, `${c.name} ${ref}`).to.deep.equal([]);
        n++;
      }
    }
    expect(n).to.be.greaterThan(3);
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

  it('rejects empty, truncated, garbage and non-bundle bytes with a reason', () => {
    const good = packProxyConfig(productpageConfig()).gzipped;
    const reasons = [new Uint8Array(0), good.subarray(0, 40), Buffer.from([0x1f, 0x8b, 1, 2, 3]), gzipSync(Buffer.from('{"not":"proto"}'))]
      .map((b) => loadProxyConfig(b, NOW))
      .map((r) => (r.kind === 'rejected' ? r.reason : 'accepted'));
    expect(reasons[0]).to.equal('config file is empty');
    for (const reason of reasons.slice(1)) expect(reason).to.not.equal('accepted');
  });
});
