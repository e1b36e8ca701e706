import { expect } from 'chai';
import type { MeshStatus } from '../../src/controllers/conditions.ts';
import { silentLogger } from '../../src/controllers/log.ts';
import { DEPENDENCIES, RECONCILED, computeStatus, parseKey, reconcile } from '../../src/controllers/reconciler.ts';
import type { MeshView } from '../../src/controllers/refs.ts';
import type { ResourceType } from '../../src/controllers/resources.ts';
import type { StatusObject, StatusWriter, WriteResult } from '../../src/controllers/status-writer.ts';

const emptyView: MeshView = {
  rootNamespace: 'weft-system',
  hasGateway: () => false,
  hasVirtualService: () => false,
  hasService: () => false,
  serviceEntryHosts: () => [],
  destinationRules: () => [],
  workloadLabels: () => [],
};

const vs: StatusObject = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'r', namespace: 'bookinfo', generation: 7, resourceVersion: '42' },
  spec: { hosts: ['r'], gateways: ['gw'] },
} as StatusObject;

describe('reconciler', () => {
  it('covers the eight mesh kinds, and every dependency names reconciled kinds', () => {
    expect([...RECONCILED.keys()].sort()).to.deep.equal([
      'AuthorizationPolicy', 'DestinationRule', 'Gateway', 'PeerAuthentication', 'RequestAuthentication', 'ServiceEntry', 'VirtualService', 'WorkloadEntry',
    ]);
    for (const d of DEPENDENCIES) for (const k of d.dependents) expect(RECONCILED.has(k), k).to.equal(true);
  });

  it('parses queue keys', () => {
    expect(parseKey('Gateway/ns/gw')).to.deep.equal({ kind: 'Gateway', namespace: 'ns', name: 'gw' });
    expect(parseKey('Gateway/gw')).to.equal(undefined);
    expect(parseKey('Gateway/ns/gw/x')).to.equal(undefined);
  });

  it('reads from the cache, validates, resolves and hands the status to the writer', async () => {
    const writes: Array<{ type: ResourceType; obj: StatusObject; status: MeshStatus }> = [];
    const writer: StatusWriter = {
      write: async (type, obj, status): Promise<WriteResult> => {
        writes.push({ type, obj, status });
        return 'written';
      },
    };
    const caches = new Map([['VirtualService', { get: (ns: string | undefined, name: string) => (ns === 'bookinfo' && name === 'r' ? vs : undefined) }]]);
    const deps = { caches, view: emptyView, writer, validate: () => ({ errors: [], warnings: [] }), log: silentLogger, now: () => new Date('2026-01-01T00:00:00Z') };
    expect(await reconcile('VirtualService/bookinfo/r', deps)).to.equal('written');
    expect(await reconcile('VirtualService/bookinfo/gone', deps)).to.equal('missing');
    expect(await reconcile('Nope/bookinfo/r', deps)).to.equal('missing');
    expect(writes).to.have.length(1);
    const st = writes[0]!.status;
    expect(writes[0]!.type.plural).to.equal('virtualservices');
    expect(st.observedGeneration).to.equal(7);
    expect(st.conditions!.map((c) => [c.type, c.status, c.reason])).to.deep.equal([
      ['Accepted', 'True', 'Accepted'],
      ['ResolvedRefs', 'False', 'ReferencedResourceNotFound'],
    ]);
  });

  it('a validator that throws yields Accepted False with an InternalError message, not a crash', () => {
    const st = computeStatus(vs, {
      view: emptyView,
      validate: () => {
        throw new Error('bug');
      },
      log: silentLogger,
    });
    expect(st.conditions![0]).to.include({ type: 'Accepted', status: 'False', reason: 'Invalid' });
    expect(st.validationMessages![0]!.type).to.deep.equal({ code: 'IST0001', name: 'InternalError' });
  });
});
