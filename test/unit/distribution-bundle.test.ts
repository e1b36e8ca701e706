// What the writer stores: the same bytes and hash weftctl's packing gives, a gzip that is byte-for-byte stable,
// the ConfigMap body (labels, owner, annotation), and the status's Programmed condition next to Accepted and
// ResolvedRefs.
import { gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import { buildStatus } from '../../src/controllers/conditions.ts';
import { CachingBundleEncoder, ResourceEncoder } from '../../src/controllers/distribution/encoder.ts';
import { emptyReads, trackingSnapshot } from '../../src/controllers/distribution/tracking.ts';
import { translate } from '../../src/translate/index.ts';
import { encodeProxyConfig } from '../../src/translate/envoy/proto.ts';
import { app, destinationRule, inputOf, namespace, snapshotOf, virtualService } from '../support/mesh-fixtures.ts';
import { configMapBody } from '../../src/controllers/distribution/writer.ts';
import { encodeBundle, gzipBundle, packProxyConfig, unpackProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { proxyConfig } from './envoy-fixtures.ts';

describe('distribution: bundle and ConfigMap', () => {
  it('encodes like packProxyConfig, and gzips deterministically without a timestamp', () => {
    const b = encodeBundle(proxyConfig);
    const packed = packProxyConfig(proxyConfig);
    expect(b.hash).to.equal(packed.hash);
    const gz = gzipBundle(b.bytes);
    expect(packed.gzipped.equals(gz)).to.equal(true);
    expect(Buffer.from(gunzipSync(gz)).equals(Buffer.from(b.bytes))).to.equal(true);
    expect(gz.equals(gzipBundle(encodeBundle(structuredClone(proxyConfig)).bytes))).to.equal(true);
    expect(gz.readUInt32LE(4), 'gzip MTIME').to.equal(0);
    expect(unpackProxyConfig(gz).hash).to.equal(b.hash);
  });

  it('the caching encoder gives encodeProxyConfig\'s bytes, encoding each shared resource object once', () => {
    const snap = snapshotOf(inputOf(
      app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'], v2: ['10.0.0.2'], v3: ['10.0.0.3'] } }),
      app('ratings', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.4'] } }),
      app('cart', 'shop', { port: 8080, versions: { v1: ['10.0.1.1'] } }),
      {
        namespaces: [namespace('bookinfo', { 'weft-injection': 'enabled' }), namespace('shop', { 'weft-injection': 'enabled' })],
        config: {
          virtualServices: [virtualService('reviews', 'bookinfo', { hosts: ['reviews'], http: [{ timeout: '2s', route: [{ destination: { host: 'reviews', subset: 'v2' } }] }] })],
          destinationRules: [destinationRule('reviews', 'bookinfo', { host: 'reviews', subsets: [{ name: 'v2', labels: { version: 'v2' } }] })],
        },
      },
    ));
    const enc = new CachingBundleEncoder();
    for (const pc of [proxyConfig, ...snap.workloads.map((w) => translate(w, trackingSnapshot(snap, emptyReads())))]) {
      expect(enc.encode(pc)).to.deep.equal(encodeBundle(pc));
      expect(Buffer.from(encodeProxyConfig(pc)).equals(Buffer.from(encodeBundle(pc).bytes.subarray(0, encodeProxyConfig(pc).length)))).to.equal(true);
    }
    // Workloads sharing an outbound part share its objects: each is encoded once.
    const resources = new ResourceEncoder();
    const pcs = snap.workloads.map((w) => translate(w, snap));
    for (const pc of pcs) expect(Buffer.from(resources.encode(pc)).equals(Buffer.from(encodeProxyConfig(pc)))).to.equal(true);
    const distinct = new Set(pcs.flatMap((pc) => [...pc.listeners, ...pc.routes, ...pc.clusters, ...pc.endpoints]));
    expect(resources.misses).to.equal(distinct.size);
    expect(resources.hits).to.be.greaterThan(0);
    // Equal content in a new object is encoded again, to the same bytes.
    const copy = structuredClone(pcs[0]!);
    expect(Buffer.from(resources.encode(copy)).equals(Buffer.from(encodeProxyConfig(pcs[0]!)))).to.equal(true);
    // Invalid config still fails with the encoder's precise error.
    const bad = { ...proxyConfig, clusters: [{ name: 'x', type: 'NOT_A_TYPE' }] };
    expect(() => enc.encode(bad)).to.throw(/Cluster "x" \(clusters\[0\]\)/);
  });

  it('builds the applied ConfigMap: labels, hash annotation, a non-controller owner reference, binaryData', () => {
    const body = configMapBody({
      workload: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'reviews-v1', namespace: 'bookinfo', uid: 'u1' },
      hash: 'abc',
      gzipped: Buffer.from([1, 2, 3]),
    });
    expect(body).to.deep.equal({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'weft-proxy-reviews-v1',
        namespace: 'bookinfo',
        labels: { 'app.kubernetes.io/managed-by': 'weft', 'weft.dev/workload': 'reviews-v1' },
        annotations: { 'weft.dev/config-hash': 'abc' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'reviews-v1', uid: 'u1', controller: false, blockOwnerDeletion: false }],
      },
      binaryData: { 'config.pb.gz': 'AQID' },
    });
    const orphan = configMapBody({ workload: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', namespace: 'n', uid: '' }, hash: 'h', gzipped: Buffer.alloc(0) });
    expect((orphan.metadata as Record<string, unknown>).ownerReferences).to.equal(undefined);
  });
});

describe('status: Programmed next to Accepted and ResolvedRefs', () => {
  const base = { generation: 5, validation: { errors: [], warnings: [] }, refs: { errors: [], warnings: [] }, now: new Date('2026-01-01T00:00:00Z') };
  const programmed = { type: 'Programmed', status: 'True' as const, reason: 'Programmed', message: 'written to 2/2 workloads', observedGeneration: 5 };

  it('adds Programmed with the generation the distribution translated; an older one is still pending', () => {
    const st = buildStatus({ ...base, previous: undefined, programmed });
    expect(st.conditions!.map((c) => [c.type, c.status, c.observedGeneration])).to.deep.equal([
      ['Accepted', 'True', 5], ['ResolvedRefs', 'True', 5], ['Programmed', 'True', 5],
    ]);
    const older = buildStatus({ ...base, previous: undefined, programmed: { ...programmed, observedGeneration: 4 } });
    expect(older.conditions!.map((c) => [c.type, c.status, c.reason, c.observedGeneration]).at(-1)).to.deep.equal(['Programmed', 'False', 'Pending', 5]);
  });

  it('keeps the previous Programmed while the distribution has no answer, and has none before the first', () => {
    const first = buildStatus({ ...base, previous: undefined });
    expect(first.conditions!.map((c) => c.type)).to.deep.equal(['Accepted', 'ResolvedRefs']);
    const written = buildStatus({ ...base, previous: undefined, programmed });
    const kept = buildStatus({ ...base, previous: written });
    expect(kept.conditions!.find((c) => c.type === 'Programmed')).to.deep.equal(written.conditions!.find((c) => c.type === 'Programmed'));
  });
});
