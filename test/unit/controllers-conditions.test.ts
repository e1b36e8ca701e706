import { expect } from 'chai';
import { buildStatus, statusEqual, timestamp, type MeshStatus } from '../../src/controllers/conditions.ts';

const none = { errors: [], warnings: [] };
const t0 = new Date('2026-01-02T03:04:05.678Z');
const t1 = new Date('2026-01-02T04:00:00.000Z');

describe('conditions', () => {
  it('mesh-wide findings (IST0145) are ERROR messages that leave the conditions alone, kept while there is no answer', () => {
    const conflict = { field: 'spec.servers[0]', message: 'Conflict with gateways apps/b (workload selector istio=ingressgateway, port 443, hosts a.example.com).', code: 'IST0145' };
    const s = buildStatus({ generation: 1, previous: undefined, validation: none, refs: none, now: t0, analysis: [conflict] });
    expect(s.conditions!.map((c) => c.status)).to.deep.equal(['True', 'True']);
    expect(s.validationMessages).to.deep.equal([{ type: { code: 'IST0145', name: 'ConflictingGateways' }, level: 'ERROR', message: conflict.message, field: 'spec.servers[0]' }]);
    const kept = buildStatus({ generation: 1, previous: s, validation: none, refs: none, now: t1 });
    expect(kept.validationMessages).to.deep.equal(s.validationMessages);
    expect(buildStatus({ generation: 1, previous: s, validation: none, refs: none, now: t1, analysis: [] }).validationMessages).to.equal(undefined);
  });

  it('Programmed is False (Pending) for a generation the distribution has not carried yet, True once it has', () => {
    const written = { type: 'Programmed', status: 'True' as const, reason: 'Programmed', message: 'written to 2/2 workloads', observedGeneration: 1 };
    const g1 = buildStatus({ generation: 1, previous: undefined, validation: none, refs: none, now: t0, programmed: written });
    expect(g1.conditions![2]).to.include({ status: 'True', observedGeneration: 1 });
    // Generation 2 arrives before its batch ran: the answer the distribution has is for generation 1.
    const g2 = buildStatus({ generation: 2, previous: g1, validation: none, refs: none, now: t1, programmed: written });
    expect(g2.conditions![2]).to.include({ status: 'False', reason: 'Pending', observedGeneration: 2 });
    expect(g2.conditions![2]!.message).to.equal('generation 2 is being distributed (generation 1: written to 2/2 workloads)');
    // No answer at all (a new leader) and a kept condition for an older generation: pending too.
    expect(buildStatus({ generation: 2, previous: g1, validation: none, refs: none, now: t1 }).conditions![2]).to.include({ status: 'False', reason: 'Pending' });
    const done = buildStatus({ generation: 2, previous: g2, validation: none, refs: none, now: t1, programmed: { ...written, observedGeneration: 2 } });
    expect(done.conditions![2]).to.include({ status: 'True', observedGeneration: 2 });
  });

  it('a valid, resolved resource is Accepted and ResolvedRefs with observedGeneration', () => {
    const s = buildStatus({ generation: 3, previous: undefined, validation: none, refs: none, now: t0 });
    expect(s).to.deep.equal({
      observedGeneration: 3,
      conditions: [
        { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Configuration is valid', observedGeneration: 3, lastTransitionTime: '2026-01-02T03:04:05Z' },
        { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'All references resolved', observedGeneration: 3, lastTransitionTime: '2026-01-02T03:04:05Z' },
      ],
    });
  });

  it('validation errors make Accepted False/Invalid naming the fields, and become ERROR messages', () => {
    const errors = [
      { field: 'spec.http[0].timeout', message: 'must be at least 1ms' },
      { field: 'spec.hosts', message: 'must not be empty' },
      { field: 'spec.http[1].route[0].weight', message: 'weights must sum to 100' },
      { field: 'spec.tcp[0].route', message: 'is required' },
    ];
    const s = buildStatus({ generation: 1, previous: undefined, validation: { errors, warnings: [] }, refs: none, now: t0 });
    const accepted = s.conditions!.find((c) => c.type === 'Accepted')!;
    expect(accepted.status).to.equal('False');
    expect(accepted.reason).to.equal('Invalid');
    expect(accepted.message).to.equal(
      'spec.http[0].timeout: must be at least 1ms; spec.hosts: must not be empty; spec.http[1].route[0].weight: weights must sum to 100 (and 1 more)',
    );
    expect(s.validationMessages).to.have.length(4);
    expect(s.validationMessages![0]).to.deep.equal({
      type: { code: 'IST0106', name: 'SchemaValidationError' },
      level: 'ERROR',
      message: 'must be at least 1ms',
      field: 'spec.http[0].timeout',
    });
  });

  it('missing references make ResolvedRefs False/ReferencedResourceNotFound (IST0101)', () => {
    const refs = { errors: [{ field: 'spec.gateways[0]', message: 'Gateway "bookinfo/missing-gw" not found', code: 'IST0101' }], warnings: [] };
    const s = buildStatus({ generation: 2, previous: undefined, validation: none, refs, now: t0 });
    const rr = s.conditions!.find((c) => c.type === 'ResolvedRefs')!;
    expect(rr).to.include({ status: 'False', reason: 'ReferencedResourceNotFound', message: 'spec.gateways[0]: Gateway "bookinfo/missing-gw" not found' });
    expect(s.conditions!.find((c) => c.type === 'Accepted')!.status).to.equal('True');
    expect(s.validationMessages).to.deep.equal([
      { type: { code: 'IST0101', name: 'ReferencedResourceNotFound' }, level: 'ERROR', message: 'Gateway "bookinfo/missing-gw" not found', field: 'spec.gateways[0]' },
    ]);
  });

  it('warnings go to validationMessages with level WARNING and leave the conditions True', () => {
    const refs = { errors: [], warnings: [{ field: 'spec.selector.matchLabels', message: 'No matching workloads', code: 'IST0127' }] };
    const validation = { errors: [], warnings: [{ field: 'spec.foo', message: 'deprecated', code: 'IST0002' }] };
    const s = buildStatus({ generation: 1, previous: undefined, validation, refs, now: t0 });
    expect(s.conditions!.map((c) => c.status)).to.deep.equal(['True', 'True']);
    expect(s.validationMessages!.map((m) => [m.type.code, m.type.name, m.level])).to.deep.equal([
      ['IST0002', 'Deprecated', 'WARNING'],
      ['IST0127', 'NoMatchingWorkloadsFound', 'WARNING'],
    ]);
  });

  it('keeps lastTransitionTime while the status does not flip, and moves it when it does', () => {
    const first = buildStatus({ generation: 1, previous: undefined, validation: none, refs: none, now: t0 });
    const refs = { errors: [{ field: 'spec.gateways[0]', message: 'Gateway "a/b" not found' }], warnings: [] };
    const second = buildStatus({ generation: 2, previous: first, validation: none, refs, now: t1 });
    const [acc, rr] = second.conditions!;
    expect(acc!.lastTransitionTime).to.equal('2026-01-02T03:04:05Z');
    expect(acc!.observedGeneration).to.equal(2);
    expect(rr!.lastTransitionTime).to.equal('2026-01-02T04:00:00Z');
    // Same status, different message: still not a transition.
    const refs2 = { errors: [{ field: 'spec.gateways[0]', message: 'Gateway "a/c" not found' }], warnings: [] };
    const third = buildStatus({ generation: 3, previous: second, validation: none, refs: refs2, now: new Date('2026-02-01T00:00:00Z') });
    expect(third.conditions![1]!.lastTransitionTime).to.equal('2026-01-02T04:00:00Z');
  });

  it('timestamp has second precision', () => {
    expect(timestamp(t0)).to.equal('2026-01-02T03:04:05Z');
  });

  describe('statusEqual', () => {
    const base = buildStatus({ generation: 4, previous: undefined, validation: none, refs: none, now: t0 });

    it('rebuilding from the stored status at a later time is equal (no write on restart)', () => {
      const stored = JSON.parse(JSON.stringify(base)) as MeshStatus;
      const again = buildStatus({ generation: 4, previous: stored, validation: none, refs: none, now: t1 });
      expect(statusEqual(stored, again)).to.equal(true);
      expect(again).to.deep.equal(stored);
    });

    it('ignores lastTransitionTime, condition order and extra server fields', () => {
      const other: MeshStatus = {
        ...base,
        conditions: [...base.conditions!].reverse().map((c) => ({ ...c, lastTransitionTime: '2020-01-01T00:00:00Z' })),
      };
      expect(statusEqual(base, other)).to.equal(true);
    });

    it('sees a new generation, reason, message or validation message', () => {
      const g = buildStatus({ generation: 5, previous: base, validation: none, refs: none, now: t0 });
      expect(statusEqual(base, g)).to.equal(false);
      const w = buildStatus({ generation: 4, previous: base, validation: { errors: [], warnings: [{ field: 'x', message: 'y' }] }, refs: none, now: t0 });
      expect(statusEqual(base, w)).to.equal(false);
      const c = { ...base, conditions: base.conditions!.map((x) => ({ ...x, message: 'different' })) };
      expect(statusEqual(base, c)).to.equal(false);
    });

    it('an empty or missing status differs from a computed one', () => {
      expect(statusEqual(undefined, base)).to.equal(false);
      expect(statusEqual({}, undefined)).to.equal(true);
    });
  });
});
