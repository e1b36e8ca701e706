// Leader election over an in-memory Lease with a manual clock; the integration tests run it against a real
// API server with two operator instances.
import { expect } from 'chai';
import { LeaderElector, LeaseConflict, type LeaseRecord, type LeaseStore } from '../../src/controllers/leader.ts';
import { FakeTimers } from './fake-timers.ts';

class MemoryLease {
  record: LeaseRecord | undefined;
  rv = 0;
  writes: Array<{ who: string; record: LeaseRecord }> = [];
  store(who: string, broken: () => boolean = () => false): LeaseStore {
    return {
      get: async () => {
        if (broken()) throw new Error('connection refused');
        return this.record ? { record: { ...this.record }, resourceVersion: String(this.rv) } : undefined;
      },
      create: async (record) => {
        if (broken()) throw new Error('connection refused');
        if (this.record) throw new LeaseConflict('exists');
        this.record = { ...record };
        this.writes.push({ who, record });
        return String(++this.rv);
      },
      update: async (record, rv) => {
        if (broken()) throw new Error('connection refused');
        if (rv !== String(this.rv)) throw new LeaseConflict('stale');
        this.record = { ...record };
        this.writes.push({ who, record });
        return String(++this.rv);
      },
    };
  }
}

function elector(lease: MemoryLease, timers: FakeTimers, id: string, events: string[], broken?: () => boolean) {
  return new LeaderElector({
    store: lease.store(id, broken),
    identity: id,
    timers,
    rng: () => 0,
    onStartedLeading: () => events.push(`${id}:start`),
    onStoppedLeading: () => events.push(`${id}:stop`),
  });
}

describe('LeaderElector', () => {
  it('rejects timings that cannot keep a single leader', () => {
    const lease = new MemoryLease();
    expect(() => new LeaderElector({ store: lease.store('a'), identity: 'a', leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).to.throw(/leaseDuration > renewDeadline/);
  });

  it('creates the Lease, leads, and renews every retryPeriod', async () => {
    const lease = new MemoryLease();
    const timers = new FakeTimers();
    const events: string[] = [];
    const a = elector(lease, timers, 'a', events);
    a.start();
    await timers.advance(0);
    expect(a.isLeader()).to.equal(true);
    expect(events).to.deep.equal(['a:start']);
    expect(lease.record).to.include({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    const acquired = lease.record!.acquireTime;
    await timers.advance(6_000);
    expect(lease.writes.length).to.equal(4); // create + 3 renewals
    expect(lease.record!.renewTime).to.equal(timers.now());
    expect(lease.record!.acquireTime).to.equal(acquired);
    await a.stop();
  });

  it('a second candidate waits while the leader renews, and takes over one retryPeriod after release', async () => {
    const lease = new MemoryLease();
    const timers = new FakeTimers();
    const events: string[] = [];
    const a = elector(lease, timers, 'a', events);
    const b = elector(lease, timers, 'b', events);
    a.start();
    await timers.advance(0);
    b.start();
    await timers.advance(60_000);
    expect(a.isLeader()).to.equal(true);
    expect(b.isLeader()).to.equal(false);
    expect(b.currentLeader()).to.equal('a');
    await a.stop();
    expect(events).to.deep.equal(['a:start', 'a:stop']);
    expect(lease.record!.holderIdentity).to.equal(undefined);
    await timers.advance(2_000);
    expect(b.isLeader()).to.equal(true);
    expect(lease.record).to.include({ holderIdentity: 'b', leaseTransitions: 1 });
    expect(events).to.deep.equal(['a:start', 'a:stop', 'b:start']);
    await b.stop();
  });

  it('when the leader goes silent, it steps down after renewDeadline and the other takes over after leaseDuration', async () => {
    const lease = new MemoryLease();
    const timers = new FakeTimers();
    const events: string[] = [];
    let aCut = false;
    const a = elector(lease, timers, 'a', events, () => aCut);
    const b = elector(lease, timers, 'b', events);
    a.start();
    await timers.advance(0);
    b.start();
    await timers.advance(4_000);
    const cutAt = timers.now();
    aCut = true;
    await timers.advance(9_000);
    expect(a.isLeader(), 'a still within its renew deadline').to.equal(true);
    await timers.advance(3_000);
    expect(a.isLeader(), 'a stepped down').to.equal(false);
    expect(b.isLeader(), 'b waits for the full lease duration').to.equal(false);
    await timers.advance(6_000);
    expect(b.isLeader()).to.equal(true);
    expect(timers.now() - cutAt).to.be.at.most(15_000 + 2_000 + 2_000 + 1);
    expect(events).to.deep.equal(['a:start', 'a:stop', 'b:start']);
    // a's network comes back: it respects b's lease.
    aCut = false;
    await timers.advance(30_000);
    expect(a.isLeader()).to.equal(false);
    expect(b.isLeader()).to.equal(true);
    await a.stop();
    await b.stop();
  });

  it('never two leaders under racing candidates (optimistic concurrency)', async () => {
    const lease = new MemoryLease();
    const timers = new FakeTimers();
    const events: string[] = [];
    const all = ['a', 'b', 'c'].map((id) => elector(lease, timers, id, events));
    for (const e of all) e.start();
    for (let i = 0; i < 20; i++) {
      await timers.advance(1_000);
      expect(all.filter((e) => e.isLeader()).length).to.be.at.most(1);
    }
    expect(all.filter((e) => e.isLeader()).length).to.equal(1);
    for (const e of all) await e.stop();
  });

  it('stop while campaigning does not write the lease', async () => {
    const lease = new MemoryLease();
    const timers = new FakeTimers();
    const a = elector(lease, timers, 'a', []);
    const b = elector(lease, timers, 'b', []);
    a.start();
    await timers.advance(0);
    b.start();
    await timers.advance(5_000);
    const writes = lease.writes.filter((w) => w.who === 'b').length;
    await b.stop();
    expect(lease.writes.filter((w) => w.who === 'b').length).to.equal(writes);
    expect(writes).to.equal(0);
    await a.stop();
  });
});
