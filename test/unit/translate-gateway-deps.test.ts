// Gateway workloads under the distribution's dependency rule: after a change to a Gateway, a VirtualService bound
// to it (or newly bound), or a destination service, the gateway workload must be among the workloads translated
// again whenever its config changed. The recorded reads (what translate looked at) and inputs carry this.
import { expect } from 'chai';
import { affectedWorkloads, describeChanges, type DependencyEntry, type Touched } from '../../src/controllers/distribution/dependencies.ts';
import { buildSnapshot } from '../../src/model/snapshot.ts';
import type { Snapshot, SnapshotInput } from '../../src/model/types.ts';
import { translateAll } from '../support/translate-all.ts';
import { app, deployment, gateway, inputOf, namespace, virtualService } from '../support/mesh-fixtures.ts';

const GW = 'weft-system/weft-ingressgateway';

function base(): SnapshotInput {
  return inputOf(
    deployment('weft-ingressgateway', 'weft-system', {
      labels: { istio: 'ingressgateway' }, ips: ['10.0.9.1'], podOptions: { annotations: { 'weft.dev/proxy-mode': 'gateway' } },
    }),
    app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.4'] } }),
    app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'] } }),
    {
      namespaces: [namespace('bookinfo', { 'weft-injection': 'enabled' }), namespace('weft-system')],
      config: {
        gateways: [gateway('public', 'bookinfo', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['bookinfo.example.com'] }] })],
        virtualServices: [
          virtualService('edge', 'bookinfo', { hosts: ['bookinfo.example.com'], gateways: ['public'], http: [{ route: [{ destination: { host: 'productpage' } }] }] }),
          virtualService('reviews', 'bookinfo', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] }),
        ],
      },
    },
  );
}


/** `touched`: what the informers report; returns whether the gateway changed and whether the rule picked it. */
function check(touched: Touched, mutate: (i: SnapshotInput) => void): { changed: boolean; affected: boolean } {
  const a = base();
  const b = base();
  mutate(b);
  const prev = buildSnapshot(a);
  const next = buildSnapshot(b);
  const before = translateAll(prev);
  const after = translateAll(next);
  const affected = affectedWorkloads(describeChanges(touched, prev, next), before.entries, prev, next, 'weft-system');
  for (const k of after.outputs.keys()) {
    if (before.outputs.get(k) !== after.outputs.get(k)) expect(affected.has(k), `${k} changed but the rule left it out`).to.equal(true);
  }
  return { changed: before.outputs.get(GW) !== after.outputs.get(GW), affected: affected.has(GW) };
}

const config = (key: string): Touched => ({ namespaces: new Set(), config: new Set([key]) });
type Vs = ReturnType<typeof virtualService>;
const vses = (i: SnapshotInput) => i.config.virtualServices as Vs[];

describe('gateway workloads: dependency rule', () => {
  it('is translated from the start, in a namespace without injection', () => {
    expect([...translateAll(buildSnapshot(base())).outputs.keys()]).to.include(GW);
  });

  it('picks the gateway when a bound VirtualService changes', () => {
    const r = check(config('VirtualService/bookinfo/edge'), (i) => {
      vses(i)[0]!.spec!.http![0]!.route![0]!.destination.host = 'reviews';
    });
    expect(r).to.deep.equal({ changed: true, affected: true });
  });

  it('picks the gateway when a VirtualService becomes bound to its Gateway', () => {
    const r = check(config('VirtualService/bookinfo/reviews'), (i) => {
      const vs = vses(i)[1]!;
      // Its routes follow the first VirtualService's on the shared virtual host.
      vs.spec!.hosts = ['bookinfo.example.com'];
      vs.spec!.gateways = ['bookinfo/public'];
    });
    expect(r).to.deep.equal({ changed: true, affected: true });
  });

  it('picks the gateway when its Gateway changes', () => {
    const r = check(config('Gateway/bookinfo/public'), (i) => {
      (i.config.gateways[0]!.spec!.servers![0]!.hosts as string[]).push('www.example.com');
    });
    expect(r.affected).to.equal(true);
  });

  it('picks the gateway when a destination service changes', () => {
    const r = check({ namespaces: new Set(['bookinfo']), config: new Set() }, (i) => {
      Object.assign(i, inputOf(i, app('ratings', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.7'] } })));
    });
    expect(r).to.deep.equal({ changed: true, affected: true });
  });
});
