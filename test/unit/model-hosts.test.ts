import { expect } from 'chai';
import { hostMatches, mostSpecificMatch, resolveHost } from '../../src/model/hosts.ts';
import { parseExportAnnotation, parseExportTo, visibleIn } from '../../src/model/visibility.ts';
import { snapshotOf } from '../support/mesh-fixtures.ts';

describe('model: hosts', () => {
  describe('resolveHost (only names without a dot are short)', () => {
    const cases: Array<[string, string]> = [
      ['reviews', 'reviews.bookinfo.svc.cluster.local'],
      // With a dot, a name is taken as fully qualified, as Istio does.
      ['reviews.other', 'reviews.other'],
      ['reviews.other.svc', 'reviews.other.svc'],
      ['reviews.other.svc.cluster.local', 'reviews.other.svc.cluster.local'],
      ['api.example.com', 'api.example.com'],
      ['*', '*'],
      ['*.example.com', '*.example.com'],
      ['*.bookinfo.svc.cluster.local', '*.bookinfo.svc.cluster.local'],
      ['10.0.0.1', '10.0.0.1'],
      ['2001:db8::1', '2001:db8::1'],
      ['::1', '::1'],
      ['', ''],
    ];
    for (const [host, want] of cases) {
      it(`${JSON.stringify(host)} → ${JSON.stringify(want)}`, () => expect(resolveHost(host, 'bookinfo', 'cluster.local')).to.equal(want));
    }

    it('uses the cluster domain of the mesh options', () => {
      const snap = snapshotOf({ options: { clusterDomain: 'corp.internal' } });
      expect(snap.resolveHost('reviews', 'a')).to.equal('reviews.a.svc.corp.internal');
    });
  });

  describe('hostMatches', () => {
    const cases: Array<[string, string, boolean]> = [
      ['a.example.com', 'a.example.com', true],
      ['a.example.com', 'b.example.com', false],
      ['*.example.com', 'a.example.com', true],
      ['*.example.com', 'a.b.example.com', true],
      ['*.example.com', 'example.com', false],
      ['*.example.com', '*.example.com', true],
      ['*.com', '*.example.com', true],
      ['*.example.com', '*.com', false],
      ['*', 'anything.at.all', true],
      ['*', '*.example.com', true],
      ['a.example.com', '*.example.com', false],
    ];
    for (const [pattern, host, want] of cases) {
      it(`${pattern} ${want ? 'covers' : 'does not cover'} ${host}`, () => expect(hostMatches(pattern, host)).to.equal(want));
    }
  });

  it('mostSpecificMatch: exact, then the longest wildcard', () => {
    const patterns = ['*', '*.com', '*.example.com', 'a.example.com'];
    expect(mostSpecificMatch('a.example.com', patterns)).to.equal('a.example.com');
    expect(mostSpecificMatch('b.example.com', patterns)).to.equal('*.example.com');
    expect(mostSpecificMatch('b.other.com', patterns)).to.equal('*.com');
    expect(mostSpecificMatch('b.org', patterns)).to.equal('*');
    expect(mostSpecificMatch('b.org', ['*.com'])).to.equal(undefined);
  });
});

describe('model: exportTo', () => {
  const ns = (e: ReturnType<typeof parseExportTo>) => (e.all ? '*' : [...e.namespaces].sort().join(','));
  it('parses Istio values', () => {
    expect(ns(parseExportTo(undefined, 'own'))).to.equal('*');
    expect(ns(parseExportTo([], 'own'))).to.equal('*');
    expect(ns(parseExportTo(['*'], 'own'))).to.equal('*');
    expect(ns(parseExportTo(['.'], 'own'))).to.equal('own');
    expect(ns(parseExportTo(['.', 'b', 'a'], 'own'))).to.equal('a,b,own');
    expect(ns(parseExportTo(['~'], 'own'))).to.equal('');
    expect(ns(parseExportTo(['a', '*'], 'own'))).to.equal('*');
  });
  it('parses the Service annotation (comma separated)', () => {
    expect(ns(parseExportAnnotation('., other', 'own'))).to.equal('other,own');
    expect(ns(parseExportAnnotation(undefined, 'own'))).to.equal('*');
    expect(ns(parseExportAnnotation('', 'own'))).to.equal('*');
  });
  it('visibleIn', () => {
    expect(visibleIn(parseExportTo(['.'], 'own'), 'own')).to.equal(true);
    expect(visibleIn(parseExportTo(['.'], 'own'), 'other')).to.equal(false);
    expect(visibleIn(parseExportTo(['~'], 'own'), 'own')).to.equal(false);
    expect(visibleIn(parseExportTo(undefined, 'own'), 'x')).to.equal(true);
  });
});
