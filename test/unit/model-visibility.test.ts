import { expect } from 'chai';
import type { DestinationRuleSpec } from '../../src/api/destinationrule.ts';
import { app, destinationRule, pod, service, serviceEntry, snapshotOf, virtualService } from '../support/mesh-fixtures.ts';

const HOST = 'reviews.bookinfo.svc.cluster.local';
const dr = (name: string, ns: string, spec: Partial<DestinationRuleSpec>, created?: string) =>
  destinationRule(name, ns, { host: HOST, ...spec }, created ? { created } : {});
const nameOf = (x: { metadata?: { namespace?: string; name?: string } } | undefined) => (x ? `${x.metadata?.namespace}/${x.metadata?.name}` : undefined);

describe('model: visibility', () => {
  it('services: the exportTo annotation', () => {
    const snap = snapshotOf({ services: [
      service('a', 'ns', { annotations: { 'networking.istio.io/exportTo': '.' } }),
      service('b', 'ns', { annotations: { 'networking.istio.io/exportTo': 'x, y' } }),
      service('c', 'ns', { annotations: { 'networking.istio.io/exportTo': '*' } }),
      service('d', 'ns', { annotations: { 'networking.istio.io/exportTo': '~' } }),
      service('e', 'ns'),
    ] });
    const names = (ns: string) => snap.servicesFor(ns).map((s) => s.name);
    expect(names('ns')).to.deep.equal(['a', 'c', 'e']);
    expect(names('x')).to.deep.equal(['b', 'c', 'e']);
    expect(names('z')).to.deep.equal(['c', 'e']);
    expect(snap.serviceFor('a.ns.svc.cluster.local', 'x')).to.equal(undefined);
    expect(snap.serviceFor('a.ns.svc.cluster.local', 'ns')?.name).to.equal('a');
  });

  it('a host with several services: Kubernetes first, then the client\'s namespace, then the oldest', () => {
    const snap = snapshotOf({
      services: [service('api', 'prod')],
      config: { serviceEntries: [
        serviceEntry('shadow', 'prod', { hosts: ['api.prod.svc.cluster.local'] }),
        serviceEntry('ext-new', 'team-b', { hosts: ['api.example.com'] }, { created: '2024-03-01T00:00:00Z' }),
        serviceEntry('ext-old', 'team-a', { hosts: ['api.example.com'] }, { created: '2024-02-01T00:00:00Z' }),
      ] },
    });
    expect(snap.servicesByHost('api.prod.svc.cluster.local').map((s) => s.origin)).to.deep.equal(['Kubernetes', 'ServiceEntry']);
    expect(snap.serviceFor('api.prod.svc.cluster.local', 'x')?.origin).to.equal('Kubernetes');
    expect(snap.serviceFor('api.example.com', 'team-b')?.name).to.equal('ext-new');
    expect(snap.serviceFor('api.example.com', 'elsewhere')?.name).to.equal('ext-old');
    // servicesFor lists one service per host.
    expect(snap.servicesFor('elsewhere').map((s) => `${s.hostname} ${s.name}`)).to.deep.equal(['api.example.com ext-old', 'api.prod.svc.cluster.local api']);
  });

  it('VirtualServices: exportTo, in creation order then name then namespace', () => {
    const snap = snapshotOf({ config: { virtualServices: [
      virtualService('late', 'a', { hosts: ['x'] }, { created: '2024-05-01T00:00:00Z' }),
      virtualService('early', 'b', { hosts: ['x'] }, { created: '2024-01-01T00:00:00Z' }),
      virtualService('same', 'z', { hosts: ['x'] }, { created: '2024-02-01T00:00:00Z' }),
      virtualService('same', 'a', { hosts: ['x'] }, { created: '2024-02-01T00:00:00Z' }),
      virtualService('private', 'b', { hosts: ['x'], exportTo: ['.'] }, { created: '2024-01-01T00:00:00Z' }),
      virtualService('to-a', 'b', { hosts: ['x'], exportTo: ['a'] }, { created: '2024-01-01T00:00:00Z' }),
    ] } });
    expect(snap.virtualServicesFor('a').map(nameOf)).to.deep.equal(['b/early', 'b/to-a', 'a/same', 'z/same', 'a/late']);
    expect(snap.virtualServicesFor('b').map(nameOf)).to.deep.equal(['b/early', 'b/private', 'a/same', 'z/same', 'a/late']);
  });

  it('config lists are sorted by namespace/name', () => {
    const snap = snapshotOf({ config: { virtualServices: [virtualService('b', 'y', {}), virtualService('a', 'y', {}), virtualService('z', 'x', {})] } });
    expect(snap.config.virtualServices.map(nameOf)).to.deep.equal(['x/z', 'y/a', 'y/b']);
    expect(snap.config.gateways).to.deep.equal([]);
  });
});

describe('model: destinationRuleFor', () => {
  const base = app('reviews', 'bookinfo', { port: 9080 });
  const lookup = (rules: ReturnType<typeof dr>[], client: string, opts: { root?: string } = {}) =>
    nameOf(snapshotOf(base, { config: { destinationRules: rules }, options: opts.root ? { rootNamespace: opts.root } : {} }).destinationRuleFor(HOST, client));

  it('the client\'s namespace, then the service\'s, then the root namespace', () => {
    const all = [dr('client', 'frontend', {}), dr('service', 'bookinfo', {}), dr('root', 'weft-system', {})];
    expect(lookup(all, 'frontend')).to.equal('frontend/client');
    expect(lookup(all.slice(1), 'frontend')).to.equal('bookinfo/service');
    expect(lookup(all.slice(2), 'frontend')).to.equal('weft-system/root');
    expect(lookup([], 'frontend')).to.equal(undefined);
    expect(lookup([dr('root', 'mesh-root', {})], 'frontend', { root: 'mesh-root' })).to.equal('mesh-root/root');
  });

  it('short hosts resolve in the rule\'s namespace', () => {
    expect(lookup([destinationRule('short', 'bookinfo', { host: 'reviews' })], 'x')).to.equal('bookinfo/short');
    expect(lookup([destinationRule('short', 'other', { host: 'reviews' })], 'other')).to.equal(undefined);
  });

  it('exportTo: rules elsewhere count only when exported to the client; own-namespace rules always', () => {
    expect(lookup([dr('private', 'bookinfo', { exportTo: ['.'] })], 'frontend')).to.equal(undefined);
    expect(lookup([dr('private', 'bookinfo', { exportTo: ['.'] })], 'bookinfo')).to.equal('bookinfo/private');
    expect(lookup([dr('listed', 'bookinfo', { exportTo: ['frontend'] })], 'frontend')).to.equal('bookinfo/listed');
    expect(lookup([dr('mine', 'frontend', { exportTo: ['other'] })], 'frontend')).to.equal('frontend/mine');
    // A private rule in the service namespace does not hide the root namespace's.
    expect(lookup([dr('private', 'bookinfo', { exportTo: ['.'] }), dr('root', 'weft-system', {})], 'frontend')).to.equal('weft-system/root');
    // Root rules exported only to the root namespace apply there only.
    expect(lookup([dr('root', 'weft-system', { exportTo: ['.'] })], 'frontend')).to.equal(undefined);
    expect(lookup([dr('root', 'weft-system', { exportTo: ['.'] })], 'weft-system')).to.equal('weft-system/root');
  });

  it('the most specific host wins within a namespace, then the oldest rule', () => {
    const rules = [
      destinationRule('all', 'bookinfo', { host: '*' }),
      destinationRule('local', 'bookinfo', { host: '*.cluster.local' }),
      destinationRule('ns', 'bookinfo', { host: '*.bookinfo.svc.cluster.local' }),
    ];
    expect(lookup(rules, 'bookinfo')).to.equal('bookinfo/ns');
    expect(lookup([...rules, dr('exact', 'bookinfo', {})], 'bookinfo')).to.equal('bookinfo/exact');
    expect(lookup(rules.slice(0, 2), 'bookinfo')).to.equal('bookinfo/local');
    expect(lookup([dr('newer', 'bookinfo', {}, '2024-02-01T00:00:00Z'), dr('older', 'bookinfo', {}, '2024-01-01T00:00:00Z')], 'bookinfo')).to.equal('bookinfo/older');
    expect(lookup([dr('b', 'bookinfo', {}), dr('a', 'bookinfo', {})], 'bookinfo')).to.equal('bookinfo/a');
    // A wildcard in the client namespace beats an exact rule in the service namespace.
    expect(lookup([destinationRule('wild', 'frontend', { host: '*.cluster.local' }), dr('exact', 'bookinfo', {})], 'frontend')).to.equal('frontend/wild');
  });

  it('workloadSelector: only for the selected workloads of its namespace, before the other rules there', () => {
    const snap = snapshotOf(base, {
      pods: [pod('canary', 'frontend', { labels: { app: 'fe', track: 'canary' } }), pod('stable', 'frontend', { labels: { app: 'fe', track: 'stable' } })],
      config: { destinationRules: [
        dr('for-canary', 'frontend', { workloadSelector: { matchLabels: { track: 'canary' } } }),
        dr('everyone', 'frontend', {}, '2023-01-01T00:00:00Z'),
        dr('selector-elsewhere', 'bookinfo', { workloadSelector: { matchLabels: { track: 'canary' } } }),
      ] },
    });
    const canary = snap.workload('frontend', 'canary')!;
    const stable = snap.workload('frontend', 'stable')!;
    expect(nameOf(snap.destinationRuleFor(HOST, 'frontend', canary))).to.equal('frontend/for-canary');
    expect(nameOf(snap.destinationRuleFor(HOST, 'frontend', stable))).to.equal('frontend/everyone');
    expect(nameOf(snap.destinationRuleFor(HOST, 'frontend'))).to.equal('frontend/everyone');
    // Selectors never apply across namespaces.
    const other = snapshotOf(base, {
      pods: [pod('canary', 'frontend', { labels: { track: 'canary' } })],
      config: { destinationRules: [dr('selector-elsewhere', 'bookinfo', { workloadSelector: { matchLabels: { track: 'canary' } } })] },
    });
    expect(other.destinationRuleFor(HOST, 'frontend', other.workload('frontend', 'canary')!)).to.equal(undefined);
  });

  it('hosts that name no service: the client\'s and root namespace rules still apply', () => {
    const snap = snapshotOf({ config: { destinationRules: [destinationRule('ext', 'weft-system', { host: '*.example.com' })] } });
    expect(nameOf(snap.destinationRuleFor('api.example.com', 'x'))).to.equal('weft-system/ext');
  });
});
