import { expect } from 'chai';
import { hostCovers, hostForms, parseGatewayName, resolveRefs, serviceOf, type Labels, type MeshView, type DestinationRuleRef } from '../../src/controllers/refs.ts';

interface Fixture {
  gateways?: string[];
  virtualServices?: string[];
  services?: string[];
  seHosts?: string[];
  drs?: DestinationRuleRef[];
  workloads?: Array<{ ns: string; labels: Labels }>;
}

function view(f: Fixture): MeshView {
  return {
    rootNamespace: 'weft-system',
    hasGateway: (ns, n) => (f.gateways ?? []).includes(`${ns}/${n}`),
    hasVirtualService: (ns, n) => (f.virtualServices ?? []).includes(`${ns}/${n}`),
    hasService: (ns, n) => (f.services ?? []).includes(`${ns}/${n}`),
    serviceEntryHosts: () => f.seHosts ?? [],
    destinationRules: () => f.drs ?? [],
    workloadLabels: (ns) => (f.workloads ?? []).filter((w) => ns === undefined || w.ns === ns).map((w) => w.labels),
  };
}

const vs = (spec: unknown, ns = 'bookinfo') => ({ kind: 'VirtualService', metadata: { name: 'v', namespace: ns }, spec });

describe('refs', () => {
  describe('host helpers', () => {
    it('serviceOf understands the Service name shapes', () => {
      expect(serviceOf('reviews', 'bookinfo')).to.deep.equal({ name: 'reviews', namespace: 'bookinfo' });
      expect(serviceOf('reviews.other', 'bookinfo')).to.deep.equal({ name: 'reviews', namespace: 'other' });
      expect(serviceOf('reviews.other.svc', 'bookinfo')).to.deep.equal({ name: 'reviews', namespace: 'other' });
      expect(serviceOf('reviews.other.svc.cluster.local', 'bookinfo')).to.deep.equal({ name: 'reviews', namespace: 'other' });
      expect(serviceOf('api.example.com', 'bookinfo')).to.equal(undefined);
      expect(serviceOf('*.example.com', 'bookinfo')).to.equal(undefined);
    });
    it('hostForms expands short names only', () => {
      expect(hostForms('reviews', 'bookinfo')).to.deep.equal(['reviews.bookinfo.svc.cluster.local']);
      expect(hostForms('reviews.other', 'bookinfo')).to.deep.equal(['reviews.other', 'reviews.other.svc.cluster.local']);
      expect(hostForms('api.example.com', 'x')).to.deep.equal(['api.example.com']);
    });
    it('hostCovers matches wildcards', () => {
      expect(hostCovers('*.example.com', 'a.example.com')).to.equal(true);
      expect(hostCovers('*.example.com', 'a.b.example.com')).to.equal(true);
      expect(hostCovers('*.example.com', 'example.com')).to.equal(false);
      expect(hostCovers('*.com', '*.example.com')).to.equal(true);
      expect(hostCovers('*', 'anything')).to.equal(true);
      expect(hostCovers('a.example.com', 'b.example.com')).to.equal(false);
    });
    it('parseGatewayName', () => {
      expect(parseGatewayName('mesh', 'ns')).to.equal(undefined);
      expect(parseGatewayName('gw', 'ns')).to.deep.equal({ namespace: 'ns', name: 'gw' });
      expect(parseGatewayName('other/gw', 'ns')).to.deep.equal({ namespace: 'other', name: 'gw' });
      expect(parseGatewayName('gw.other.svc.cluster.local', 'ns')).to.deep.equal({ namespace: 'other', name: 'gw' });
    });
  });

  describe('VirtualService', () => {
    it('gateways: mesh is fine, short names are same-namespace, ns/name is explicit', () => {
      const r = resolveRefs(vs({ gateways: ['mesh', 'gw', 'istio-system/ingress', 'missing-gw', 'other/missing'] }), view({ gateways: ['bookinfo/gw', 'istio-system/ingress'] }));
      expect(r.errors).to.deep.equal([
        { field: 'spec.gateways[3]', message: 'Gateway "bookinfo/missing-gw" not found', code: 'IST0101' },
        { field: 'spec.gateways[4]', message: 'Gateway "other/missing" not found', code: 'IST0101' },
      ]);
    });

    it('checks gateways in match blocks', () => {
      const r = resolveRefs(vs({ http: [{ match: [{ gateways: ['nope'] }] }] }), view({}));
      expect(r.errors.map((e) => e.field)).to.deep.equal(['spec.http[0].match[0].gateways[0]']);
    });

    it('destination hosts must be a Service or a ServiceEntry host', () => {
      const spec = {
        http: [{ route: [{ destination: { host: 'reviews' } }, { destination: { host: 'ratings.other.svc.cluster.local' } }, { destination: { host: 'ghost' } }] }],
        tcp: [{ route: [{ destination: { host: 'db.example.com' } }, { destination: { host: 'x.wild.io' } }] }],
        tls: [{ route: [{ destination: { host: 'nothere.example.org' } }] }],
      };
      const r = resolveRefs(vs(spec), view({ services: ['bookinfo/reviews', 'other/ratings'], seHosts: ['db.example.com', '*.wild.io'] }));
      expect(r.errors.map((e) => [e.field, e.message])).to.deep.equal([
        ['spec.http[0].route[2].destination.host', 'host "ghost" not found (no Service or ServiceEntry declares it)'],
        ['spec.tls[0].route[0].destination.host', 'host "nothere.example.org" not found (no Service or ServiceEntry declares it)'],
      ]);
    });

    it('a short host is relative to the VirtualService namespace', () => {
      const r = resolveRefs(vs({ http: [{ route: [{ destination: { host: 'reviews' } }] }] }, 'other'), view({ services: ['bookinfo/reviews'] }));
      expect(r.errors).to.have.length(1);
    });

    it('subsets must be defined by a DestinationRule for the host', () => {
      const spec = {
        http: [
          {
            route: [
              { destination: { host: 'reviews', subset: 'v1' } },
              { destination: { host: 'reviews.bookinfo.svc.cluster.local', subset: 'v2' } },
              { destination: { host: 'reviews', subset: 'v3' } },
            ],
            mirror: { host: 'reviews', subset: 'v9' },
            mirrors: [{ destination: { host: 'reviews', subset: 'v1' } }],
          },
        ],
      };
      const drs = [
        { namespace: 'bookinfo', host: 'reviews', subsets: ['v1'] },
        { namespace: 'weft-system', host: 'reviews.bookinfo.svc.cluster.local', subsets: ['v2'] },
        { namespace: 'other', host: 'reviews', subsets: ['v3'] }, // other/reviews, not ours
      ];
      const r = resolveRefs(vs(spec), view({ services: ['bookinfo/reviews'], drs }));
      expect(r.errors.map((e) => [e.field, e.message])).to.deep.equal([
        ['spec.http[0].route[2].destination.subset', 'subset "v3" not found in any DestinationRule for host "reviews.bookinfo.svc.cluster.local"'],
        ['spec.http[0].mirror.subset', 'subset "v9" not found in any DestinationRule for host "reviews.bookinfo.svc.cluster.local"'],
      ]);
    });

    it('wildcard DestinationRule hosts provide subsets', () => {
      const spec = { http: [{ route: [{ destination: { host: 'api.example.com', subset: 'a' } }] }] };
      const r = resolveRefs(vs(spec), view({ seHosts: ['api.example.com'], drs: [{ namespace: 'x', host: '*.example.com', subsets: ['a'] }] }));
      expect(r.errors).to.deep.equal([]);
    });

    it('delegate must exist', () => {
      const spec = { http: [{ delegate: { name: 'child' } }, { delegate: { name: 'c2', namespace: 'team' } }, { delegate: { name: 'missing' } }] };
      const r = resolveRefs(vs(spec), view({ virtualServices: ['bookinfo/child', 'team/c2'] }));
      expect(r.errors).to.deep.equal([{ field: 'spec.http[2].delegate', message: 'VirtualService "bookinfo/missing" not found', code: 'IST0101' }]);
    });

    it('tolerates malformed specs', () => {
      expect(resolveRefs(vs(undefined), view({}))).to.deep.equal({ errors: [], warnings: [] });
      expect(resolveRefs(vs({ gateways: 'x', http: [null, { route: 'y' }, { route: [null, { destination: 3 }] }] }), view({}))).to.deep.equal({ errors: [], warnings: [] });
    });
  });

  describe('DestinationRule', () => {
    const dr = (spec: unknown, ns = 'bookinfo') => ({ kind: 'DestinationRule', metadata: { name: 'd', namespace: ns }, spec });
    it('host must be known unless it is a wildcard', () => {
      const v = view({ services: ['bookinfo/reviews'] });
      expect(resolveRefs(dr({ host: 'reviews' }), v).errors).to.deep.equal([]);
      expect(resolveRefs(dr({ host: '*.bookinfo.svc.cluster.local' }), v).errors).to.deep.equal([]);
      expect(resolveRefs(dr({ host: 'nope' }), v).errors).to.deep.equal([
        { field: 'spec.host', message: 'host "nope" not found (no Service or ServiceEntry declares it)', code: 'IST0101' },
      ]);
    });
    it('workloadSelector that selects nothing is a warning', () => {
      const v = view({ services: ['bookinfo/reviews'], workloads: [{ ns: 'bookinfo', labels: { app: 'reviews', version: 'v1' } }] });
      expect(resolveRefs(dr({ host: 'reviews', workloadSelector: { matchLabels: { app: 'reviews' } } }), v).warnings).to.deep.equal([]);
      const r = resolveRefs(dr({ host: 'reviews', workloadSelector: { matchLabels: { app: 'ratings' } } }), v);
      expect(r.errors).to.deep.equal([]);
      expect(r.warnings).to.deep.equal([
        { field: 'spec.workloadSelector.matchLabels', message: 'No matching workloads for this resource with the following labels: app=ratings', code: 'IST0127' },
      ]);
    });
  });

  describe('Gateway', () => {
    const gw = (spec: unknown) => ({ kind: 'Gateway', metadata: { name: 'g', namespace: 'bookinfo' }, spec });
    it('selector must match a workload in any namespace (warning IST0101)', () => {
      const v = view({ workloads: [{ ns: 'istio-system', labels: { istio: 'ingressgateway' } }] });
      expect(resolveRefs(gw({ selector: { istio: 'ingressgateway' } }), v)).to.deep.equal({ errors: [], warnings: [] });
      expect(resolveRefs(gw({ selector: { istio: 'egress' } }), v).warnings).to.deep.equal([
        { field: 'spec.selector', message: 'Referenced selector not found: "istio=egress"', code: 'IST0101' },
      ]);
      expect(resolveRefs(gw({}), v)).to.deep.equal({ errors: [], warnings: [] });
    });
  });

  describe('ServiceEntry and security policies', () => {
    const workloads = [
      { ns: 'bookinfo', labels: { app: 'reviews' } },
      { ns: 'other', labels: { app: 'db' } },
    ];
    it('ServiceEntry workloadSelector selects in its namespace', () => {
      const se = (labels: Labels) => ({ kind: 'ServiceEntry', metadata: { name: 's', namespace: 'bookinfo' }, spec: { workloadSelector: { labels } } });
      expect(resolveRefs(se({ app: 'reviews' }), view({ workloads })).warnings).to.deep.equal([]);
      expect(resolveRefs(se({ app: 'db' }), view({ workloads })).warnings.map((w) => w.code)).to.deep.equal(['IST0127']);
    });
    for (const kind of ['PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication']) {
      it(`${kind}: selector selects in its namespace; root namespace policies select anywhere`, () => {
        const pol = (ns: string, matchLabels: Labels) => ({ kind, metadata: { name: 'p', namespace: ns }, spec: { selector: { matchLabels } } });
        expect(resolveRefs(pol('bookinfo', { app: 'reviews' }), view({ workloads })).warnings).to.deep.equal([]);
        expect(resolveRefs(pol('bookinfo', { app: 'db' }), view({ workloads })).warnings).to.deep.equal([
          { field: 'spec.selector.matchLabels', message: 'No matching workloads for this resource with the following labels: app=db', code: 'IST0127' },
        ]);
        expect(resolveRefs(pol('weft-system', { app: 'db' }), view({ workloads })).warnings).to.deep.equal([]);
        expect(resolveRefs({ kind, metadata: { name: 'p', namespace: 'bookinfo' }, spec: {} }, view({}))).to.deep.equal({ errors: [], warnings: [] });
      });
    }
    it('targetRefs naming a Service must find it', () => {
      const ap = { kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'bookinfo' }, spec: { targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }, { kind: 'Service', group: '', name: 'gone' }, { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'x' }] } };
      expect(resolveRefs(ap, view({ services: ['bookinfo/reviews'] })).errors).to.deep.equal([
        { field: 'spec.targetRefs[1]', message: 'Service "bookinfo/gone" not found', code: 'IST0101' },
      ]);
    });
  });
});
