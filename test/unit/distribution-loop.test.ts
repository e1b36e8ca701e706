// The distribution loop against in-memory caches and a recording writer, on a manual clock: batching, writing
// only what changed, nothing after a restart, deleting what is no longer injected, pod annotations, failures
// and retries, and the Programmed answers.
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { DistributionLoop } from '../../src/controllers/distribution/loop.ts';
import { programmedCondition, type Programmed } from '../../src/controllers/distribution/programmed.ts';
import { signatureOf, toCachedPod, type CachedConfigMap, type CachedPod, type DistributionSources } from '../../src/controllers/distribution/sources.ts';
import { stableJson } from '../../src/controllers/distribution/snapshot-index.ts';
import type { ConfigMapContent, DistributionWriter } from '../../src/controllers/distribution/writer.ts';
import { buildSnapshot } from '../../src/model/snapshot.ts';
import type { KubeObject, SnapshotInput } from '../../src/model/types.ts';
import { proxyConfigMapName } from '../../src/translate/envoy/bundle-format.ts';
import { proxyVolumes } from '../../src/webhooks/inject-containers.ts';
import { translate } from '../../src/translate/index.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { app, inputOf, namespace, virtualService } from '../support/mesh-fixtures.ts';
import { FakeTimers, flush } from './fake-timers.ts';

const INJECTED = { 'weft-injection': 'enabled' };

function mesh(): SnapshotInput {
  return inputOf(
    app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'] } }),
    app('ratings', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.2'] } }),
    app('cart', 'shop', { port: 8080, versions: { v1: ['10.0.1.1'] } }),
    app('legacy', 'plain', { port: 80, versions: { v1: ['10.0.2.1'] } }),
    {
      namespaces: [namespace('bookinfo', INJECTED), namespace('shop', INJECTED), namespace('plain')],
      config: {
        virtualServices: [
          virtualService('reviews', 'bookinfo', { hosts: ['reviews'], exportTo: ['.'], http: [{ timeout: '1s', route: [{ destination: { host: 'reviews' } }] }] }),
          virtualService('unused', 'plain', { hosts: ['legacy'], exportTo: ['.'], http: [{ route: [{ destination: { host: 'legacy' } }] }] }),
        ],
      },
    },
  );
}

const KIND_LISTS: Record<string, string> = {
  Namespace: 'namespaces', Service: 'services', EndpointSlice: 'endpointSlices', Pod: 'pods', ReplicaSet: 'replicaSets', Deployment: 'deployments',
  VirtualService: 'virtualServices', DestinationRule: 'destinationRules',
};

class FakeSources implements DistributionSources {
  input: SnapshotInput = mesh();
  invalid = new Map<string, number | undefined>();
  readonly cms = new Map<string, CachedConfigMap>();

  private items(kind: string): KubeObject[] {
    const l = KIND_LISTS[kind]!;
    return ((this.input as unknown as Record<string, KubeObject[]>)[l] ?? (this.input.config as unknown as Record<string, KubeObject[]>)[l]) ?? [];
  }
  object(kind: string, key: string): KubeObject | undefined {
    return this.items(kind).find((o) => (o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata?.name) === key);
  }
  snapshotInput() {
    return { input: this.input, invalid: this.invalid };
  }
  configMap(ns: string, name: string) {
    return this.cms.get(`${ns}/${name}`);
  }
  configMaps() {
    return [...this.cms.values()];
  }
  pod(ns: string, name: string): CachedPod | undefined {
    const p = this.object('Pod', `${ns}/${name}`);
    return p ? toCachedPod(p as never) : undefined;
  }
  ownerIsWorkload(ns: string, owner: { kind: string; name: string; uid: string }) {
    return owner.kind !== 'Pod' && this.items(owner.kind).some((o) => o.metadata?.namespace === ns && o.metadata?.name === owner.name && o.metadata?.uid === owner.uid
      && !(o.metadata?.ownerReferences ?? []).some((r) => r.controller));
  }
  signature(kind: string, key: string) {
    return signatureOf(kind, this.object(kind, key) as never);
  }
}

class RecordingWriter implements DistributionWriter {
  applied: ConfigMapContent[] = [];
  deleted: string[] = [];
  annotated: string[] = [];
  fail: ((c: ConfigMapContent) => string | undefined) | undefined;
  private readonly s: FakeSources;
  echo: ((key: string) => void) | undefined;
  constructor(s: FakeSources) {
    this.s = s;
  }
  async apply(c: ConfigMapContent): Promise<void> {
    const err = this.fail?.(c);
    if (err) throw new Error(err);
    this.applied.push(c);
    const name = proxyConfigMapName(c.workload.name);
    const key = `${c.workload.namespace}/${name}`;
    this.s.cms.set(key, {
      namespace: c.workload.namespace, name, uid: `cm-${name}`, workload: c.workload.name, hash: c.hash,
      owner: c.workload.uid ? { apiVersion: c.workload.apiVersion, kind: c.workload.kind, name: c.workload.name, uid: c.workload.uid } : undefined,
    });
    setImmediate(() => this.echo?.(key));
  }
  async delete(ns: string, name: string): Promise<void> {
    this.deleted.push(`${ns}/${name}`);
    this.s.cms.delete(`${ns}/${name}`);
  }
  async annotatePod(ns: string, name: string, _uid: string, hash: string): Promise<void> {
    this.annotated.push(`${ns}/${name}`);
    const p = this.s.object('Pod', `${ns}/${name}`)!;
    p.metadata!.annotations = { ...p.metadata!.annotations, 'weft.dev/config-hash': hash };
  }
  written(): string[] {
    return this.applied.map((c) => `${c.workload.namespace}/${c.workload.name}`).sort();
  }
}

const encoder = {
  encode(pc: ProxyConfig) {
    const bytes = Buffer.from(stableJson(pc));
    return { bytes, hash: createHash('sha256').update(bytes).digest('hex') };
  },
};

function setup(o: { sources?: FakeSources } = {}) {
  const timers = new FakeTimers();
  const sources = o.sources ?? new FakeSources();
  const writer = new RecordingWriter(sources);
  const programmed: string[][] = [];
  const loop = new DistributionLoop({
    sources, writer, buildSnapshot, translate, encoder, rootNamespace: 'weft-system', timers, onProgrammed: (k) => programmed.push(k),
  });
  writer.echo = (key) => loop.notify('ConfigMap', key);
  const settle = async (ms = 0): Promise<void> => {
    await timers.advance(ms);
    await loop.idle();
    await flush();
  };
  return { timers, sources, writer, loop, programmed, settle };
}

const ALL = ['bookinfo/ratings-v1', 'bookinfo/reviews-v1', 'shop/cart-v1'];

/** Informers hand out new objects; snapshots keep the old ones. Replace, never mutate in place. */
function editVs(sources: FakeSources, i: number, edit: (vs: { spec: { http: Array<{ timeout?: string }> }; metadata: { generation?: number }; status?: unknown }) => void): void {
  const list = sources.input.config.virtualServices as unknown[];
  const copy = structuredClone(list[i]) as Parameters<typeof edit>[0];
  edit(copy);
  list[i] = copy;
}

describe('distribution loop', () => {
  it('writes one ConfigMap per injected workload, with its hash and owner, and annotates running pods', async () => {
    const { loop, writer, settle, sources } = setup();
    loop.activate();
    await settle();
    expect(writer.written()).to.deep.equal(ALL);
    const reviews = writer.applied.find((c) => c.workload.name === 'reviews-v1')!;
    expect(reviews.workload).to.include({ kind: 'Deployment', apiVersion: 'apps/v1', uid: 'uid-bookinfo-reviews-v1' });
    expect(reviews.hash).to.match(/^[0-9a-f]{64}$/);
    expect(writer.annotated.sort()).to.have.length(3);
    expect(sources.pod('bookinfo', writer.annotated.find((p) => p.startsWith('bookinfo/reviews'))!.split('/')[1]!)!.hash).to.equal(reviews.hash);
    expect(loop.stats()).to.include({ batches: 1, translated: 3, written: 3 });
    // The echoes of our own writes wake nothing.
    await settle(1000);
    expect(loop.stats().batches).to.equal(1);
  });

  it('after a restart, with the ConfigMaps and pod annotations in place, writes nothing', async () => {
    const first = setup();
    first.loop.activate();
    await first.settle();
    await first.loop.stop();
    const second = setup({ sources: first.sources });
    second.loop.activate();
    await second.settle();
    expect(second.writer.applied).to.deep.equal([]);
    expect(second.writer.annotated).to.deep.equal([]);
    expect(second.loop.stats()).to.include({ translated: 3, written: 0 });
  });

  it('batches changes: a change after quiet at once, then 100 ms of quiet, at most 1 s after the first', async () => {
    const { loop, settle, timers, sources } = setup();
    loop.activate();
    await settle();
    const bump = (n: number): void => {
      editVs(sources, 0, (vs) => {
        vs.spec.http[0]!.timeout = `${n}s`;
        vs.metadata.generation = n;
      });
      loop.notify('VirtualService', 'bookinfo/reviews');
    };
    await timers.advance(200);
    // A lone change after a quiet spell is not delayed.
    bump(2);
    await timers.advance(1);
    await settle(1);
    expect(loop.stats().batches).to.equal(2);
    // The next one, 50 ms later, waits for 100 ms of quiet.
    await timers.advance(49);
    bump(3);
    await timers.advance(99);
    expect(loop.stats().batches).to.equal(2);
    await settle(1);
    expect(loop.stats().batches).to.equal(3);
    // A change every 50 ms never leaves 100 ms of quiet: the first (after quiet) runs at once, the ones during
    // and after it make one batch 1 s after they began.
    for (let i = 0; i < 21; i++) {
      bump(10 + i);
      await timers.advance(50);
      if (i === 0) expect(loop.stats().batches).to.equal(4);
    }
    expect(loop.stats().batches).to.equal(5);
  });

  it('a VirtualService change rewrites only the workloads it affects; its Programmed answer counts them', async () => {
    const { loop, writer, settle, sources, programmed } = setup();
    loop.activate();
    await settle();
    expect(programmedCondition(loop.programmed('VirtualService/bookinfo/reviews')!)).to.deep.include({
      status: 'True', reason: 'Programmed', message: 'written to 2/2 workloads',
    });
    expect(programmedCondition(loop.programmed('VirtualService/plain/unused')!)).to.deep.include({
      status: 'True', reason: 'NoWorkloads', message: 'written to 0/0 workloads',
    });
    writer.applied = [];
    programmed.length = 0;
    editVs(sources, 0, (vs) => {
      vs.spec.http[0]!.timeout = '7s';
      vs.metadata.generation = 2;
    });
    loop.notify('VirtualService', 'bookinfo/reviews');
    await settle(100);
    expect(writer.written()).to.deep.equal(['bookinfo/ratings-v1', 'bookinfo/reviews-v1']);
    expect(loop.programmed('VirtualService/bookinfo/reviews')).to.deep.include({ generation: 2, total: 2, written: 2 });
    expect(programmed.flat()).to.include('VirtualService/bookinfo/reviews');
    // A status-only change (our own status write) is no change at all.
    editVs(sources, 0, (vs) => {
      vs.status = { conditions: [] };
    });
    loop.notify('VirtualService', 'bookinfo/reviews');
    await settle(200);
    expect(loop.stats().batches).to.equal(2);
  });

  it('deletes the ConfigMaps of a namespace that stops injection; keeps one whose owner has no pods for now', async () => {
    const { loop, writer, settle, sources } = setup();
    loop.activate();
    await settle();
    // ratings-v1 scaled to zero: no pods, no workload, but the Deployment is still there.
    sources.input = { ...sources.input, pods: sources.input.pods.filter((p) => !p.metadata!.name!.startsWith('ratings-v1-')) };
    loop.notify('Pod', 'bookinfo/ratings-v1-x');
    await settle(100);
    expect(writer.deleted).to.deep.equal([]);
    // ...then deleted: the ConfigMap goes (garbage collection would do it too).
    sources.input = { ...sources.input, deployments: sources.input.deployments.filter((d) => d.metadata!.name !== 'ratings-v1') };
    loop.notify('Deployment', 'bookinfo/ratings-v1');
    await settle(100);
    expect(writer.deleted).to.deep.equal(['bookinfo/weft-proxy-ratings-v1']);
    // shop no longer injected.
    sources.input = { ...sources.input, namespaces: sources.input.namespaces.map((n) => (n.metadata!.name === 'shop' ? namespace('shop') : n)) };
    loop.notify('Namespace', 'shop');
    await settle(100);
    expect(writer.deleted).to.deep.equal(['bookinfo/weft-proxy-ratings-v1', 'shop/weft-proxy-cart-v1']);
    expect(loop.programmed('VirtualService/bookinfo/reviews')).to.deep.include({ total: 1, written: 1 });
  });

  it('annotates Pending pods, and a pod mounting the ConfigMap first seen after the write; never a finished one', async () => {
    const { loop, writer, settle, sources } = setup();
    const withPhase = (p: KubeObject, phase: string) => ({ ...p, status: { ...(p as { status?: object }).status, phase } }) as KubeObject;
    sources.input = { ...sources.input, pods: sources.input.pods.map((p) => withPhase(p, 'Pending')) };
    loop.activate();
    await settle();
    expect(writer.annotated.sort()).to.have.length(3);
    const cart = sources.input.pods.find((p) => p.metadata?.namespace === 'shop')!;
    const mounting = (name: string, phase: string): KubeObject => {
      const p = structuredClone(cart) as KubeObject & { spec: Record<string, unknown> };
      p.metadata = { ...p.metadata, name, uid: `uid-${name}`, annotations: {} };
      p.spec.volumes = proxyVolumes('cart-v1', 'default');
      return withPhase(p, phase);
    };
    writer.annotated = [];
    sources.input = { ...sources.input, pods: [...sources.input.pods, mounting('cart-late', 'Pending'), mounting('cart-done', 'Succeeded')] };
    loop.notify('Pod', 'shop/cart-late');
    loop.notify('Pod', 'shop/cart-done');
    await settle(100);
    expect(writer.annotated).to.deep.equal(['shop/cart-late']);
    expect(sources.pod('shop', 'cart-late')!.hash).to.equal(sources.configMap('shop', 'weft-proxy-cart-v1')!.hash);
  });

  it('a ConfigMap deleted by someone else is written again', async () => {
    const { loop, writer, settle, sources } = setup();
    loop.activate();
    await settle();
    writer.applied = [];
    sources.cms.delete('shop/weft-proxy-cart-v1');
    loop.notify('ConfigMap', 'shop/weft-proxy-cart-v1');
    await settle(100);
    expect(writer.written()).to.deep.equal(['shop/cart-v1']);
  });

  it('a failed write makes Programmed False with the reason, and is retried with backoff', async () => {
    const { loop, writer, settle } = setup();
    writer.fail = (c) => (c.workload.name === 'reviews-v1' ? 'admission webhook said no' : undefined);
    loop.activate();
    await settle();
    const p = loop.programmed('VirtualService/bookinfo/reviews')!;
    expect(programmedCondition(p)).to.deep.include({
      status: 'False', reason: 'WriteFailed',
      message: 'written to 1/2 workloads; bookinfo/reviews-v1: writing ConfigMap weft-proxy-reviews-v1 failed: admission webhook said no',
    });
    writer.fail = undefined;
    await settle(1100);
    expect(writer.written()).to.include('bookinfo/reviews-v1');
    expect(programmedCondition(loop.programmed('VirtualService/bookinfo/reviews')!)).to.deep.include({ status: 'True', message: 'written to 2/2 workloads' });
  });

  it('reports invalid objects as not programmed, and nothing at all while inactive', async () => {
    const { loop, settle, sources } = setup();
    sources.invalid.set('VirtualService/shop/broken', 4);
    expect(loop.programmed('VirtualService/bookinfo/reviews')).to.equal(undefined);
    loop.activate();
    await settle();
    expect(programmedCondition(loop.programmed('VirtualService/shop/broken')!)).to.deep.include({ status: 'False', reason: 'Invalid', observedGeneration: 4 });
    loop.deactivate();
    expect(loop.programmed('VirtualService/bookinfo/reviews')).to.equal(undefined);
  });
});

describe('Programmed condition', () => {
  const st = (p: Partial<Extract<Programmed, { state: 'distributed' }>>): Programmed =>
    ({ state: 'distributed', generation: 3, total: 2, written: 2, failures: [], large: [], ...p });
  it('reads N/N, K/N, 0/0 and size warnings', () => {
    expect(programmedCondition(st({}))).to.deep.equal({ type: 'Programmed', observedGeneration: 3, status: 'True', reason: 'Programmed', message: 'written to 2/2 workloads' });
    expect(programmedCondition(st({ written: 1 }))).to.include({ status: 'False', reason: 'Pending', message: 'written to 1/2 workloads' });
    expect(programmedCondition(st({ total: 0, written: 0 }))).to.include({ status: 'True', reason: 'NoWorkloads' });
    expect(programmedCondition(st({ written: 0, failures: [{ workload: 'a/x', error: 'e1' }, { workload: 'a/y', error: 'e2' }] })).message)
      .to.equal('written to 0/2 workloads; a/x: e1 (and 1 more)');
    expect(programmedCondition(st({ large: [{ workload: 'a/x', bytes: 950 * 1024 }] })).message)
      .to.equal('written to 2/2 workloads; config near the 1 MiB ConfigMap limit: a/x (950 KiB)');
  });
});
