// Incremental translation over a long random run equals translating everything every time.
// A seeded sequence of mutations (routes, exportTo, subsets, endpoints, pod labels, injection, services,
// ServiceEntries, WorkloadEntries, scaling) is applied one after another; after each, only the workloads the
// dependency rule picks are translated again, against the dependency records kept from earlier steps, exactly as
// the loop does. Every injected workload's kept config must then equal a fresh translation.
import { expect } from 'chai';
import { affectedWorkloads, describeChanges, type DependencyEntry, type Touched } from '../../src/controllers/distribution/dependencies.ts';
import { stableJson, workloadKey } from '../../src/controllers/distribution/snapshot-index.ts';
import { emptyReads, trackingSnapshot } from '../../src/controllers/distribution/tracking.ts';
import { buildSnapshot } from '../../src/model/snapshot.ts';
import type { KubeObject, Snapshot, SnapshotInput } from '../../src/model/types.ts';
import { translate } from '../../src/translate/index.ts';
import { app, destinationRule, endpointSlice, inputOf, namespace, serviceEntry, service, virtualService, workloadEntry } from '../support/mesh-fixtures.ts';
import { seeded } from '../support/random.ts';

const ROOT = 'weft-system';
const NAMESPACES = ['a', 'b', 'c'];
const MESH = new Set(['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'WorkloadEntry', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication']);

const rng = seeded;

function start(): SnapshotInput {
  const parts = NAMESPACES.flatMap((ns, i) => [
    app('web', ns, { port: 80, versions: { v1: [`10.${i}.0.1`], v2: [`10.${i}.0.2`] } }),
    app('api', ns, { port: 8080, versions: { v1: [`10.${i}.1.1`] } }),
  ]);
  return inputOf(...parts, {
    namespaces: [...NAMESPACES.map((n) => namespace(n, n === 'c' ? {} : { 'weft-injection': 'enabled' })), namespace(ROOT)],
    config: {
      virtualServices: [virtualService('web', 'a', { hosts: ['web'], http: [{ route: [{ destination: { host: 'web', subset: 'v1' } }] }] })],
      destinationRules: [destinationRule('web', 'a', { host: 'web', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] })],
      serviceEntries: [serviceEntry('vm', 'b', { hosts: ['vm.b.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 9000, name: 'http' }],
        workloadSelector: { labels: { app: 'vm' } } })],
      workloadEntries: [workloadEntry('vm1', 'b', { address: '192.168.1.1', labels: { app: 'vm' } })],
    },
  });
}

type Any = Record<string, unknown>;
type Mutation = (i: SnapshotInput, r: () => number) => void;
const pick = <T>(xs: readonly T[], r: () => number): T => xs[Math.floor(r() * xs.length)]!;
const L = (i: SnapshotInput, l: string): KubeObject[] => (i as unknown as Record<string, KubeObject[]>)[l]!;
const C = (i: SnapshotInput, l: string): Any[] => (i.config as unknown as Record<string, Any[]>)[l]!;

const MUTATIONS: Record<string, Mutation> = {
  vsTimeout(i, r) {
    const vs = pick(C(i, 'virtualServices'), r);
    const http = ((vs.spec as Any).http ?? []) as Any[];
    if (http[0]) http[0].timeout = `${1 + Math.floor(r() * 9)}s`;
  },
  vsExportTo(i, r) {
    const vs = pick(C(i, 'virtualServices'), r);
    (vs.spec as Any).exportTo = pick([['.'], ['*'], ['b'], ['.', 'c']], r);
  },
  vsSubset(i, r) {
    const vs = pick(C(i, 'virtualServices'), r);
    const http = ((vs.spec as Any).http ?? []) as Any[];
    if (http[0]) http[0].route = [{ destination: { host: 'web', subset: pick(['v1', 'v2', 'v3'], r) } }];
  },
  newVs(i, r) {
    const ns = pick(NAMESPACES, r);
    const host = pick(['api', 'web.a.svc.cluster.local', 'vm.b.internal', 'outside.example.com'], r);
    C(i, 'virtualServices').push(virtualService(`vs${C(i, 'virtualServices').length}`, ns, {
      hosts: [host], ...(r() < 0.5 ? { exportTo: ['.'] } : {}), http: [{ retries: { attempts: 1 }, route: [{ destination: { host } }] }],
    }) as unknown as Any);
  },
  dropVs(i, r) {
    const l = C(i, 'virtualServices');
    if (l.length > 1) l.splice(Math.floor(r() * l.length), 1);
  },
  drPolicy(i, r) {
    const dr = pick(C(i, 'destinationRules'), r);
    (dr.spec as Any).trafficPolicy = { loadBalancer: { simple: pick(['ROUND_ROBIN', 'RANDOM', 'LEAST_REQUEST'], r) } };
  },
  newDr(i, r) {
    const ns = pick([...NAMESPACES, ROOT], r);
    C(i, 'destinationRules').push(destinationRule(`dr${C(i, 'destinationRules').length}`, ns, {
      host: pick(['api', 'web.a.svc.cluster.local', '*.b.svc.cluster.local', 'vm.b.internal'], r),
      ...(r() < 0.3 ? { exportTo: ['.'] } : {}),
      trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 + Math.floor(r() * 100) } } },
    }) as unknown as Any);
  },
  endpoint(i, r) {
    const slice = pick(L(i, 'endpointSlices'), r) as Any;
    const eps = slice.endpoints as Any[];
    if (r() < 0.5 && eps.length > 0) eps.pop();
    else eps.push({ addresses: [`10.9.${Math.floor(r() * 250)}.${1 + Math.floor(r() * 250)}`], conditions: { ready: r() < 0.8 } });
  },
  podLabel(i, r) {
    const p = pick(L(i, 'pods'), r);
    p.metadata!.labels = { ...p.metadata!.labels, version: pick(['v1', 'v2', 'v3'], r) };
  },
  podReady(i, r) {
    const p = pick(L(i, 'pods'), r);
    (p.status as { conditions: Any[] }).conditions = [{ type: 'Ready', status: pick(['True', 'False'], r) }];
  },
  injection(i, r) {
    const ns = pick(L(i, 'namespaces').filter((n) => n.metadata?.name !== ROOT), r);
    ns.metadata!.labels = r() < 0.5 ? { 'weft-injection': 'enabled' } : {};
  },
  serviceExport(i, r) {
    const s = pick(L(i, 'services'), r);
    s.metadata!.annotations = r() < 0.5 ? { 'networking.istio.io/exportTo': '.' } : {};
  },
  newService(i, r) {
    const ns = pick(NAMESPACES, r);
    const name = `s${L(i, 'services').length}`;
    L(i, 'services').push(service(name, ns, { ports: [{ name: pick(['http', 'tcp', 'grpc'], r), port: pick([80, 8080, 9090], r) }], selector: { app: 'api' },
      ...(r() < 0.5 ? { annotations: { 'networking.istio.io/exportTo': '.' } } : {}) }));
    L(i, 'endpointSlices').push(endpointSlice(name, ns, [{ ip: `10.8.${Math.floor(r() * 250)}.1` }], { http: 80 }, { name: `${name}-x` }));
  },
  dropService(i, r) {
    const l = L(i, 'services');
    l.splice(Math.floor(r() * l.length), 1);
  },
  seHosts(i, r) {
    const se = C(i, 'serviceEntries')[0]!;
    (se.spec as Any).hosts = pick([['vm.b.internal'], ['vm.b.internal', 'vm2.b.internal'], ['other.b.internal']], r);
  },
  weAddress(i, r) {
    const we = C(i, 'workloadEntries')[0]!;
    (we.spec as Any).address = `192.168.1.${1 + Math.floor(r() * 250)}`;
  },
  scaleDown(i, r) {
    const pods = L(i, 'pods');
    if (pods.length > 4) pods.splice(Math.floor(r() * pods.length), 1);
  },
  scaleUp(i, r) {
    const p = structuredClone(pick(L(i, 'pods'), r));
    p.metadata!.name = `${p.metadata!.name}-${Math.floor(r() * 1e6)}`;
    p.metadata!.uid = `uid-${p.metadata!.name}`;
    L(i, 'pods').push(p);
  },
};

function touchedBetween(a: SnapshotInput, b: SnapshotInput): Touched {
  const objects = (input: SnapshotInput): Map<string, [string, KubeObject]> => {
    const out = new Map<string, [string, KubeObject]>();
    const all: Array<[string, unknown[]]> = [...Object.entries(input), ...Object.entries(input.config)].filter((e): e is [string, unknown[]] => Array.isArray(e[1]));
    for (const [, items] of all) {
      for (const o of items as KubeObject[]) out.set(`${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`, [o.kind!, o]);
    }
    return out;
  };
  const namespaces = new Set<string>();
  const config = new Set<string>();
  const before = objects(a);
  const after = objects(b);
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    if (stableJson(before.get(id)?.[1]) === stableJson(after.get(id)?.[1])) continue;
    const [kind, o] = (after.get(id) ?? before.get(id))!;
    const ns = kind === 'Namespace' ? o.metadata!.name! : o.metadata!.namespace!;
    if (MESH.has(kind)) {
      config.add(`${kind}/${ns}/${o.metadata!.name}`);
      if (kind === 'ServiceEntry' || kind === 'WorkloadEntry') namespaces.add(ns);
    } else {
      namespaces.add(ns);
    }
  }
  return { namespaces, config };
}

function translateOne(snap: Snapshot, key: string): { entry: DependencyEntry; output: string } | undefined {
  const [ns, name] = key.split('/') as [string, string];
  const w = snap.workload(ns, name);
  if (!w?.injected) return undefined;
  const reads = emptyReads();
  const pc = translate(w, trackingSnapshot(snap, reads));
  return { entry: { namespace: w.namespace, labels: w.labels, inputs: new Set(pc.inputs), reads }, output: stableJson(pc) };
}

describe('distribution: incremental translation equals full translation', function () {
  this.timeout(120_000);
  for (const seed of [1, 2, 3]) {
    it(`over 60 random changes (seed ${seed})`, () => {
      const r = rng(seed);
      let input = start();
      let snap = buildSnapshot(input);
      const entries = new Map<string, DependencyEntry>();
      const outputs = new Map<string, string>();
      for (const w of snap.workloads) {
        const t = translateOne(snap, workloadKey(w));
        if (t) {
          entries.set(workloadKey(w), t.entry);
          outputs.set(workloadKey(w), t.output);
        }
      }
      let translated = 0;
      let possible = 0;
      const names = Object.keys(MUTATIONS);
      for (let step = 0; step < 60; step++) {
        const name = pick(names, r);
        const nextInput = structuredClone(input);
        MUTATIONS[name]!(nextInput, r);
        const next = buildSnapshot(nextInput);
        const change = describeChanges(touchedBetween(input, nextInput), snap, next);
        const affected = affectedWorkloads(change, entries, snap, next, ROOT);
        for (const k of affected) {
          const t = translateOne(next, k);
          entries.delete(k);
          outputs.delete(k);
          if (t) {
            entries.set(k, t.entry);
            outputs.set(k, t.output);
          }
        }
        translated += affected.size;
        possible += next.workloads.filter((w) => w.injected).length;
        for (const w of next.workloads) {
          if (!w.injected) continue;
          const fresh = translateOne(next, workloadKey(w))!;
          expect(outputs.get(workloadKey(w)), `step ${step} (${name}): ${workloadKey(w)} is stale`).to.equal(fresh.output);
        }
        expect([...outputs.keys()].sort(), `step ${step} (${name}): workloads`).to.deep.equal(next.workloads.filter((w) => w.injected).map(workloadKey).sort());
        input = nextInput;
        snap = next;
      }
      // Not a correctness property, but the point of the exercise: most workloads are left alone.
      expect(translated).to.be.below(possible);
    });
  }
});
