// New keys for a jwksUri change no object, yet the workloads of the RequestAuthentications using it must be
// translated again — and only those.
import { expect } from 'chai';
import { affectedWorkloads, describeChanges, forceChange, type DependencyEntry } from '../../src/controllers/distribution/dependencies.ts';
import { emptyReads } from '../../src/controllers/distribution/tracking.ts';
import type { RequestAuthentication } from '../../src/api/index.ts';
import { app, namespace, snapshotOf } from '../support/mesh-fixtures.ts';

const INJECTED = { 'weft-injection': 'enabled' };
const ra = { apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name: 'jwt', namespace: 'bookinfo' },
  spec: { selector: { matchLabels: { app: 'reviews' } }, jwtRules: [{ issuer: 'x', jwksUri: 'https://x/keys' }] } } as RequestAuthentication;

describe('controllers: re-translation after fetched keys change', () => {
  it('a forced RequestAuthentication affects the workloads it selects or that used it, nothing else', () => {
    const parts = [
      app('reviews', 'bookinfo', { port: 9080 }),
      app('ratings', 'bookinfo', { port: 9080 }),
      app('cart', 'shop', { port: 8080 }),
      { namespaces: [namespace('bookinfo', INJECTED), namespace('shop', INJECTED)], config: { requestAuthentications: [ra] } },
    ];
    const prev = snapshotOf(...parts);
    const next = snapshotOf(...parts, { options: { jwks: { 'https://x/keys': { keys: '{"keys":[]}' } } } });
    const entries = new Map<string, DependencyEntry>();
    for (const w of prev.workloads) {
      const key = `${w.namespace}/${w.name}`;
      entries.set(key, { namespace: w.namespace, labels: w.labels, inputs: new Set(key === 'bookinfo/ratings-v1' ? ['RequestAuthentication/bookinfo/jwt'] : []), reads: emptyReads() });
    }
    const change = describeChanges({ namespaces: new Set(), config: new Set() }, prev, next);
    expect([...affectedWorkloads(change, entries, prev, next, 'weft-system')]).to.deep.equal([]);
    forceChange(change, 'RequestAuthentication/bookinfo/jwt', prev, next);
    expect([...affectedWorkloads(change, entries, prev, next, 'weft-system')].sort()).to.deep.equal(['bookinfo/ratings-v1', 'bookinfo/reviews-v1']);
  });
});
