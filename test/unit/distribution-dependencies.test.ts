// The dependency rule is proved the only way that matters: after a change, every workload it leaves out must
// translate to exactly what it translated to before. Each scenario mutates a mesh, derives what the informers
// would have reported, and checks that claim with the real buildSnapshot and translate; some scenarios also pin
// how few workloads the rule picks.
import { expect } from 'chai';
import { affectedWorkloads, describeChanges, type DependencyEntry, type Touched } from '../../src/controllers/distribution/dependencies.ts';
import { stableJson } from '../../src/controllers/distribution/snapshot-index.ts';
import { buildSnapshot } from '../../src/model/snapshot.ts';
import type { KubeObject, MeshConfig, Snapshot, SnapshotInput } from '../../src/model/types.ts';
import { translateAll } from '../support/translate-all.ts';
import {
  app, controller, deployment, destinationRule, endpointSlice, gateway, inputOf, namespace, pod, service, serviceEntry, virtualService, workloadEntry,
} from '../support/mesh-fixtures.ts';

const ROOT = 'weft-system';
const INJECTED = { 'weft-injection': 'enabled' };
const LOCAL = { 'networking.istio.io/exportTo': '.' };

function base(): SnapshotInput {
  return inputOf(
    app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'], v2: ['10.0.0.2'] } }),
    app('ratings', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.3'] } }),
    app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.4'] } }),
    app('cart', 'shop', { port: 8080, versions: { v1: ['10.0.1.1'] } }),
    app('checkout', 'shop', { port: 8080, versions: { v1: ['10.0.1.2'] } }),
    app('legacy', 'plain', { port: 80, versions: { v1: ['10.0.2.1'] } }),
    deployment('ingress', 'gw', { labels: { istio: 'ingressgateway' }, ips: ['10.0.3.1'] }),
    {
      namespaces: [namespace('bookinfo', INJECTED), namespace('shop', INJECTED), namespace('gw', INJECTED), namespace('plain'), namespace(ROOT)],
      services: [
        service('details', 'bookinfo', { ports: [{ name: 'http', port: 9080 }], selector: { app: 'details' }, annotations: LOCAL }),
        service('vault', 'shop', { ports: [{ name: 'http', port: 8200 }], selector: { app: 'vault' }, annotations: LOCAL }),
      ],
      config: {
        virtualServices: [
          virtualService('reviews', 'bookinfo', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] }),
          virtualService('cart', 'shop', { hosts: ['cart'], exportTo: ['.'], http: [{ timeout: '3s', route: [{ destination: { host: 'cart' } }] }] }),
          virtualService('front', 'gw', { hosts: ['shop.example.com'], gateways: ['ingress'], http: [{ route: [{ destination: { host: 'productpage.bookinfo.svc.cluster.local' } }] }] }),
          virtualService('root', 'bookinfo', { hosts: ['productpage'], http: [{ match: [{ uri: { prefix: '/api' } }], delegate: { name: 'pp-api' } }, { route: [{ destination: { host: 'productpage' } }] }] }),
        ],
        destinationRules: [
          destinationRule('reviews', 'bookinfo', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] }),
        ],
        gateways: [gateway('ingress', 'gw', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] })],
        serviceEntries: [
          serviceEntry('ext', 'ext', { hosts: ['api.example.com'], resolution: 'DNS', ports: [{ number: 443, name: 'tls', protocol: 'TLS' }] }),
          serviceEntry('vm', 'shop', { hosts: ['vm.shop.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC', ports: [{ number: 80, name: 'http' }],
            workloadSelector: { labels: { app: 'vm' } } }),
        ],
        workloadEntries: [workloadEntry('vm1', 'shop', { address: '192.168.0.1', labels: { app: 'vm' } })],
      },
    },
  );
}

type Lists = Omit<SnapshotInput, 'config' | 'options'>;
const KIND_OF: Record<string, string> = {
  namespaces: 'Namespace', services: 'Service', endpointSlices: 'EndpointSlice', pods: 'Pod', replicaSets: 'ReplicaSet', deployments: 'Deployment',
  statefulSets: 'StatefulSet', daemonSets: 'DaemonSet', jobs: 'Job', cronJobs: 'CronJob',
  virtualServices: 'VirtualService', destinationRules: 'DestinationRule', gateways: 'Gateway', serviceEntries: 'ServiceEntry',
  workloadEntries: 'WorkloadEntry', peerAuthentications: 'PeerAuthentication', authorizationPolicies: 'AuthorizationPolicy',
  requestAuthentications: 'RequestAuthentication',
};

const MESH = ['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'WorkloadEntry', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'];

/** What the informers would have reported between two inputs. */
function touchedBetween(a: SnapshotInput, b: SnapshotInput): Touched {
  const namespaces = new Set<string>();
  const config = new Set<string>();
  const objects = (input: SnapshotInput): Map<string, [string, KubeObject]> => {
    const out = new Map<string, [string, KubeObject]>();
    for (const [list, kind] of Object.entries(KIND_OF)) {
      const items = ((input as unknown as Record<string, unknown>)[list] ?? (input.config as unknown as Record<string, unknown>)[list] ?? []) as KubeObject[];
      for (const o of items) out.set(`${kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`, [kind, o]);
    }
    return out;
  };
  const before = objects(a);
  const after = objects(b);
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    const x = before.get(id);
    const y = after.get(id);
    if (stableJson(x?.[1]) === stableJson(y?.[1])) continue;
    const [kind, o] = (y ?? x)!;
    const ns = kind === 'Namespace' ? o.metadata!.name! : o.metadata!.namespace!;
    if (MESH.includes(kind)) {
      config.add(`${kind}/${ns}/${o.metadata!.name}`);
      if (kind === 'ServiceEntry' || kind === 'WorkloadEntry') namespaces.add(ns);
    } else {
      namespaces.add(ns);
    }
  }
  return { namespaces, config };
}



/** Applies a mutation (to a base `setup` changed alike); returns the affected set after checking that nothing
 * outside it changed. */
function check(mutate: (i: SnapshotInput) => void, setup: (i: SnapshotInput) => void = () => {}): { affected: Set<string>; changed: Set<string>; all: string[] } {
  const a = base();
  const b = base();
  setup(a);
  setup(b);
  mutate(b);
  const prev = buildSnapshot(a);
  const next = buildSnapshot(b);
  const before = translateAll(prev);
  const after = translateAll(next);
  const change = describeChanges(touchedBetween(a, b), prev, next);
  const affected = affectedWorkloads(change, before.entries, prev, next, ROOT);
  const changed = new Set<string>();
  for (const k of new Set([...before.outputs.keys(), ...after.outputs.keys()])) {
    if (before.outputs.get(k) !== after.outputs.get(k)) changed.add(k);
  }
  for (const k of changed) expect(affected.has(k), `${k} changed but the rule left it out`).to.equal(true);
  return { affected, changed, all: [...after.outputs.keys()].sort() };
}

const cfg = (i: SnapshotInput): { -readonly [K in keyof MeshConfig]: MeshConfig[K][number][] } => i.config as never;
const lists = (i: SnapshotInput): { -readonly [K in keyof Lists]: KubeObject[] } => i as never;
const named = <T extends { metadata?: { name?: string; namespace?: string } }>(xs: readonly T[], ns: string, name: string): T =>
  xs.find((x) => x.metadata?.namespace === ns && x.metadata?.name === name)!;
const spec = (o: { spec?: unknown }): Record<string, unknown> => o.spec as Record<string, unknown>;

const bookinfo = (all: string[]) => all.filter((k) => k.startsWith('bookinfo/'));
const shop = (all: string[]) => all.filter((k) => k.startsWith('shop/'));

/** Two gateway workloads in the root namespace (weft.dev/proxy-mode: gateway), each with a Gateway in `gw` and an
 * HTTPS server, and a VirtualService bound to each. */
function withGateways(i: SnapshotInput): void {
  const edge = (name: string, ip: string) => deployment(name, ROOT, {
    labels: { istio: name }, ips: [ip], podOptions: { annotations: { 'weft.dev/proxy-mode': 'gateway' } },
  });
  for (const d of [edge('edge-a', '10.0.5.1'), edge('edge-b', '10.0.5.2')]) {
    lists(i).deployments.push(...d.deployments);
    lists(i).replicaSets.push(...d.replicaSets);
    lists(i).pods.push(...d.pods);
  }
  const https = (host: string, credentialName: string) => ({ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: [host], tls: { mode: 'SIMPLE' as const, credentialName } });
  cfg(i).gateways.push(
    gateway('edge-a', 'gw', { selector: { istio: 'edge-a' }, servers: [https('a.example.com', 'a-cert')] }),
    gateway('edge-b', 'gw', { selector: { istio: 'edge-b' }, servers: [https('b.example.com', 'b-cert')] }),
  );
  cfg(i).virtualServices.push(
    virtualService('a', 'gw', { hosts: ['a.example.com'], gateways: ['gw/edge-a'], http: [{ route: [{ destination: { host: 'reviews.bookinfo.svc.cluster.local' } }] }] }),
    virtualService('b', 'bookinfo', { hosts: ['b.example.com'], gateways: ['gw/edge-b'], http: [{ route: [{ destination: { host: 'ratings' } }] }] }),
  );
}

describe('distribution: gateway workloads', () => {
  const GATEWAYS = [`${ROOT}/edge-a`, `${ROOT}/edge-b`];

  it('are translated in the root namespace, which is not injected', () => {
    const { all } = check(() => {}, withGateways);
    expect(all).to.include.members(GATEWAYS);
  });

  it('a Gateway change affects the gateway workloads it selects (before or after), no sidecar', () => {
    const { affected, changed } = check((i) => {
      (spec(named(cfg(i).gateways, 'gw', 'edge-a')).servers as unknown[]).push({ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['a.example.com'], tls: { httpsRedirect: true } });
    }, withGateways);
    expect([...changed]).to.deep.equal([`${ROOT}/edge-a`]);
    expect([...affected].filter((k) => k.startsWith(`${ROOT}/`))).to.deep.equal([`${ROOT}/edge-a`]);
  });

  it('a VirtualService naming a Gateway affects the gateway workloads that Gateway selects, and nothing else', () => {
    const { affected, changed } = check((i) => {
      spec(named(cfg(i).virtualServices, 'bookinfo', 'b')).http = [{ timeout: '2s', route: [{ destination: { host: 'ratings' } }] }];
    }, withGateways);
    expect([...changed]).to.deep.equal([`${ROOT}/edge-b`]);
    expect([...affected]).to.deep.equal([`${ROOT}/edge-b`]);
  });

  it('a Gateway\'s selector moving to another workload affects both', () => {
    const { affected } = check((i) => {
      spec(named(cfg(i).gateways, 'gw', 'edge-a')).selector = { istio: 'edge-b' };
    }, withGateways);
    expect([...affected].filter((k) => k.startsWith(`${ROOT}/`)).sort()).to.deep.equal(GATEWAYS);
  });
});

describe('distribution: dependency rule', () => {
  it('no change affects nothing, and every injected workload is translated once at the start', () => {
    const { affected, all } = check(() => {});
    expect([...affected]).to.deep.equal([]);
    expect(all).to.include.members(['bookinfo/reviews-v1', 'shop/cart-v1', 'gw/ingress']);
    expect(all.some((k) => k.startsWith('plain/'))).to.equal(false);
  });

  describe('VirtualServices', () => {
    it('a VirtualService visible everywhere affects every workload (hosts outside its registry reach port-80 routes)', () => {
      const { affected, all } = check((i) => {
        spec(named(cfg(i).virtualServices, 'bookinfo', 'reviews')).http = [{ route: [{ destination: { host: 'reviews', subset: 'v2' } }] }];
      });
      // reviews is exported everywhere: every sidecar routes to it.
      expect([...affected].sort()).to.include.members([...bookinfo(all), ...shop(all)]);
    });

    it('a VirtualService exported to its namespace affects that namespace only', () => {
      const { affected, all } = check((i) => {
        spec(named(cfg(i).virtualServices, 'shop', 'cart')).http = [{ timeout: '5s', route: [{ destination: { host: 'cart' } }] }];
      });
      expect([...affected].sort()).to.deep.equal(shop(all));
    });

    it('a new VirtualService exported to its namespace affects that namespace', () => {
      const { affected, all } = check((i) => {
        cfg(i).virtualServices.push(virtualService('vault', 'shop', { hosts: ['vault'], exportTo: ['.'], http: [{ timeout: '1s', route: [{ destination: { host: 'vault' } }] }] }));
      });
      expect([...affected].sort()).to.deep.equal(shop(all));
    });

    it('a new VirtualService for a host other namespaces do not see still reaches them', () => {
      const { changed } = check((i) => {
        cfg(i).virtualServices.push(virtualService('vault', 'shop', { hosts: ['vault'], http: [{ timeout: '1s', route: [{ destination: { host: 'vault' } }] }] }));
      });
      expect([...changed]).to.include('bookinfo/productpage-v1');
    });

    it('narrowing exportTo affects the namespaces that saw it', () => {
      const { affected, all } = check((i) => {
        spec(named(cfg(i).virtualServices, 'bookinfo', 'reviews')).exportTo = ['.'];
      });
      expect([...affected]).to.include.members(shop(all));
    });

    it('a delegate affects the workloads that used the VirtualService delegating to it', () => {
      const { affected, all } = check((i) => {
        cfg(i).virtualServices.push(virtualService('pp-api', 'bookinfo', { http: [{ route: [{ destination: { host: 'ratings' } }] }] }));
      });
      expect([...affected]).to.include.members(bookinfo(all));
    });

    it('a gateway-bound VirtualService affects the gateway workload only', () => {
      const { affected } = check((i) => {
        spec(named(cfg(i).virtualServices, 'gw', 'front')).hosts = ['shop.example.com', 'www.example.com'];
      });
      expect([...affected]).to.deep.equal(['gw/ingress']);
    });

    it('deleting a VirtualService affects its users', () => {
      const { affected, all } = check((i) => {
        cfg(i).virtualServices.splice(cfg(i).virtualServices.indexOf(named(cfg(i).virtualServices, 'shop', 'cart')), 1);
      });
      expect([...affected].sort()).to.deep.equal(shop(all));
    });
  });

  describe('DestinationRules', () => {
    it('a changed DestinationRule affects the workloads that looked up its host', () => {
      const { affected, all } = check((i) => {
        spec(named(cfg(i).destinationRules, 'bookinfo', 'reviews')).trafficPolicy = { loadBalancer: { simple: 'ROUND_ROBIN' } };
      });
      expect([...affected]).to.include.members([...bookinfo(all), ...shop(all)]);
    });

    it('a DestinationRule for a host only its namespace sees affects that namespace', () => {
      const { affected, all } = check((i) => {
        cfg(i).destinationRules.push(destinationRule('vault', 'shop', { host: 'vault', trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }));
      });
      expect([...affected].sort()).to.deep.equal(shop(all));
    });

    it('a client-namespace DestinationRule overrides the service namespace one', () => {
      check((i) => {
        cfg(i).destinationRules.push(destinationRule('reviews-shop', 'shop', { host: 'reviews.bookinfo.svc.cluster.local', trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }));
      });
    });

    it('a root-namespace wildcard DestinationRule', () => {
      check((i) => {
        cfg(i).destinationRules.push(destinationRule('all', ROOT, { host: '*.local', trafficPolicy: { connectionPool: { tcp: { maxConnections: 10 } } } }));
      });
    });
  });

  describe('services, endpoints, pods, namespaces', () => {
    it('a new endpoint affects the workloads that see the service', () => {
      const { affected, all } = check((i) => {
        const slice = named(lists(i).endpointSlices, 'bookinfo', 'ratings-abcde');
        (slice.endpoints as unknown[]).push({ addresses: ['10.0.0.9'], conditions: { ready: true } });
      });
      expect([...affected]).to.include.members([...bookinfo(all), ...shop(all)]);
    });

    it('a namespace-local service change affects its namespace only', () => {
      const { affected, all } = check((i) => {
        const s = named(lists(i).services, 'shop', 'vault');
        (s.spec as { ports: unknown[] }).ports = [{ name: 'http', port: 8201, targetPort: 8201, protocol: 'TCP' }];
      });
      expect([...affected].sort()).to.deep.equal(shop(all));
    });

    it('a new namespace-local service', () => {
      const { affected, all } = check((i) => {
        lists(i).services.push(service('queue', 'shop', { ports: [{ name: 'tcp', port: 5672 }], annotations: LOCAL }));
      });
      expect([...affected].sort()).to.deep.equal(shop(all));
    });

    it('a pod label change moves endpoints between subsets', () => {
      check((i) => {
        const p = lists(i).pods.find((x) => x.metadata?.name?.startsWith('reviews-v2-'))!;
        p.metadata!.labels = { ...p.metadata!.labels, version: 'v1' };
      });
    });

    it('a pod that stops being ready', () => {
      check((i) => {
        const slice = named(lists(i).endpointSlices, 'bookinfo', 'reviews-abcde');
        (slice.endpoints as Array<{ conditions: { ready: boolean } }>)[0]!.conditions.ready = false;
        const p = lists(i).pods.find((x) => x.metadata?.name?.startsWith('reviews-v1-'))!;
        (p.status as { conditions: Array<{ status: string }> }).conditions[0]!.status = 'False';
      });
    });

    it('a namespace that turns injection on gets its workloads translated, and clients see sidecars there', () => {
      const { affected } = check((i) => {
        lists(i).namespaces.find((n) => n.metadata?.name === 'plain')!.metadata!.labels = INJECTED;
      });
      expect([...affected]).to.include('plain/legacy-v1');
    });

    it('a namespace that turns injection off drops its workloads', () => {
      const { affected, all } = check((i) => {
        lists(i).namespaces.find((n) => n.metadata?.name === 'shop')!.metadata!.labels = {};
      });
      expect(all.some((k) => k.startsWith('shop/'))).to.equal(false);
      expect([...affected]).to.include.members(['shop/cart-v1', 'shop/checkout-v1']);
    });

    it('a workload going away (pods deleted)', () => {
      const { affected } = check((i) => {
        lists(i).pods = lists(i).pods.filter((p) => !p.metadata?.name?.startsWith('ratings-v1-'));
      });
      expect([...affected]).to.include('bookinfo/ratings-v1');
    });

    it('a new workload', () => {
      const { affected } = check((i) => {
        const d = deployment('worker', 'shop', { ips: ['10.0.1.9'] });
        lists(i).deployments.push(...d.deployments);
        lists(i).replicaSets.push(...d.replicaSets);
        lists(i).pods.push(...d.pods);
      });
      expect([...affected]).to.deep.equal(['shop/worker']);
    });

    it('a bare pod and a StatefulSet pod', () => {
      check((i) => {
        lists(i).pods.push(pod('debug', 'shop', { labels: { app: 'debug' }, ip: '10.0.1.20' }));
        lists(i).statefulSets.push(controller('StatefulSet', 'db', 'shop'));
        lists(i).pods.push(pod('db-0', 'shop', { labels: { app: 'db' }, ip: '10.0.1.21', owner: { kind: 'StatefulSet', name: 'db' } }));
        lists(i).endpointSlices.push(endpointSlice('cart', 'shop', [{ ip: '10.0.1.20', pod: 'debug' }], { http: 8080 }, { name: 'cart-extra' }));
      });
    });
  });

  describe('ServiceEntries, WorkloadEntries, Gateways', () => {
    it('a ServiceEntry host change affects every workload that sees it', () => {
      const { affected, all } = check((i) => {
        spec(named(cfg(i).serviceEntries, 'ext', 'ext')).hosts = ['api.example.com', 'files.example.com'];
      });
      expect([...affected]).to.include.members([...bookinfo(all), ...shop(all)]);
    });

    it('a WorkloadEntry changes the endpoints of the ServiceEntry selecting it', () => {
      check((i) => {
        spec(named(cfg(i).workloadEntries, 'shop', 'vm1')).address = '192.168.0.2';
      });
    });

    it('a Gateway change affects the workloads it selects', () => {
      const { affected } = check((i) => {
        spec(named(cfg(i).gateways, 'gw', 'ingress')).servers = [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }];
      });
      expect([...affected]).to.include('gw/ingress');
      expect([...affected].filter((k) => !k.startsWith('gw/'))).to.deep.equal([]);
    });
  });

  it('a status-only change to a config object is no change', () => {
    const a = base();
    const b = base();
    (named(cfg(b).virtualServices, 'shop', 'cart') as { status?: unknown }).status = { observedGeneration: 1 };
    const prev = buildSnapshot(a);
    const next = buildSnapshot(b);
    const change = describeChanges(touchedBetween(a, b), prev, next);
    expect(change.config.size).to.equal(0);
  });
});
