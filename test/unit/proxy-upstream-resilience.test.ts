// Circuit breakers and outlier detection as pure state machines on an injected clock: overflow of max requests,
// max pending and max retries; ejection after N consecutive 5xx or gateway failures, return after
// base_ejection_time × ejections, max_ejection_percent, enforcing percentages; the panic threshold that stands for
// Istio's minHealthPercent.
import { expect } from 'chai';
import { createBreaker, thresholdsOf } from '../../src/proxy/upstream/breaker.ts';
import { priorityLevels } from '../../src/proxy/upstream/host-set.ts';
import type { HostEntry } from '../../src/proxy/upstream/types.ts';
import { createOutlierDetector, outlierConfig } from '../../src/proxy/upstream/outlier.ts';
import type { OutlierConfig } from '../../src/proxy/upstream/outlier.ts';
import { hosts } from '../support/proxy-upstream-fixtures.ts';

const fail = { kind: 'response' as const, status: 500, latencyMs: 1 };
const bad = { kind: 'response' as const, status: 503, latencyMs: 1 };
const ok = { kind: 'response' as const, status: 200, latencyMs: 1 };
const always = () => 0;

function detector(over: Partial<OutlierConfig> = {}) {
  const config = { ...outlierConfig({ consecutive5xx: { value: 3 }, interval: { seconds: 10 }, baseEjectionTime: { seconds: 30 }, maxEjectionPercent: { value: 100 } })!, ...over };
  const d = createOutlierDetector(config);
  d.setHosts(['a', 'b', 'c', 'd']);
  return d;
}

describe('proxy upstream: circuit breakers', () => {
  it('reads the DEFAULT thresholds, with Envoy defaults', () => {
    expect(thresholdsOf({})).to.deep.equal({ maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 });
    const t = thresholdsOf({ circuitBreakers: { thresholds: [{ priority: 'HIGH', maxRequests: { value: 1 } }, { maxRequests: { value: 7 }, maxRetries: { value: 2 } }] } });
    expect(t.maxRequests).to.equal(7);
    expect(t.maxRetries).to.equal(2);
  });

  it('max requests overflow returns undefined until a request ends', () => {
    const b = createBreaker({ maxConnections: 2 ** 32 - 1, maxPendingRequests: 2 ** 32 - 1, maxRequests: 2, maxRetries: 3 });
    const r1 = b.admitRequest()!;
    expect(b.admitRequest()).to.be.a('function');
    expect(b.admitRequest()).to.equal(undefined);
    r1();
    r1(); // a second release changes nothing
    expect(b.activeRequests).to.equal(1);
    expect(b.admitRequest()).to.be.a('function');
    expect(b.admitRequest()).to.equal(undefined);
  });

  it('max pending bounds the requests queued beyond the connections', () => {
    const b = createBreaker({ maxConnections: 1, maxPendingRequests: 1, maxRequests: 100, maxRetries: 3 });
    expect(b.admitRequest()).to.be.a('function'); // on the connection
    expect(b.admitRequest()).to.be.a('function'); // pending
    expect(b.admitRequest()).to.equal(undefined);
  });

  it('max retries bounds concurrent retries', () => {
    const b = createBreaker(thresholdsOf({ circuitBreakers: { thresholds: [{ maxRetries: { value: 1 } }] } }));
    const r = b.admitRetry()!;
    expect(b.admitRetry()).to.equal(undefined);
    r();
    r(); // a second release changes nothing
    expect(b.admitRetry()).to.be.a('function');
    expect(b.admitRetry()).to.equal(undefined);
  });

  it('a retry budget allows a share of the requests in flight, at least its minimum', () => {
    const t = thresholdsOf({ circuitBreakers: { thresholds: [{ maxRetries: { value: 100 }, retryBudget: { budgetPercent: { value: 25 }, minRetryConcurrency: { value: 1 } } }] } });
    expect(t.retryBudget).to.deep.equal({ percent: 25, minConcurrency: 1 });
    const b = createBreaker(t);
    expect(b.admitRetry()).to.be.a('function');
    expect(b.admitRetry()).to.equal(undefined);
    for (let i = 0; i < 8; i++) b.admitRequest();
    expect(b.admitRetry()).to.be.a('function');
    expect(b.admitRetry()).to.equal(undefined);
  });
});

describe('proxy upstream: outlier detection', () => {
  it('ejects after N consecutive 5xx and brings the host back after base ejection time × ejections', () => {
    const d = detector();
    expect(d.record('a', fail, 0, always)).to.equal(false);
    d.record('a', ok, 1, always); // a success resets the count
    d.record('a', fail, 2, always);
    d.record('a', fail, 3, always);
    expect(d.isEjected('a')).to.equal(false);
    expect(d.record('a', fail, 4, always)).to.equal(true);
    expect(d.isEjected('a')).to.equal(true);
    expect(d.sweep(29_000)).to.equal(false);
    expect(d.isEjected('a')).to.equal(true);
    expect(d.sweep(30_004)).to.equal(true);
    expect(d.isEjected('a')).to.equal(false);
    // Second ejection lasts twice as long.
    for (let i = 0; i < 3; i++) d.record('a', fail, 31_000, always);
    expect(d.isEjected('a')).to.equal(true);
    d.sweep(31_000 + 59_000);
    expect(d.isEjected('a')).to.equal(true);
    d.sweep(31_000 + 60_000);
    expect(d.isEjected('a')).to.equal(false);
  });

  it('counts connect failures and gateway errors; gateway ejection is not enforced by default', () => {
    const d = detector({ consecutive5xx: 0, consecutiveGateway: 2 });
    d.record('a', bad, 0, always);
    d.record('a', { kind: 'connect-failure', latencyMs: 1 }, 0, always);
    expect(d.isEjected('a')).to.equal(false);
    const enforced = detector({ consecutive5xx: 0, consecutiveGateway: 2, enforcingGateway: 100 });
    enforced.record('a', bad, 0, always);
    expect(enforced.record('a', { kind: 'connect-failure', latencyMs: 1 }, 0, always)).to.equal(true);
  });

  it('split local origin errors: connect failures count on their own, not as 5xx', () => {
    const d = detector({ splitLocalOrigin: true, consecutiveLocalOrigin: 2, consecutive5xx: 2 });
    d.record('a', fail, 0, always);
    d.record('a', { kind: 'connect-failure', latencyMs: 1 }, 0, always);
    expect(d.isEjected('a')).to.equal(false);
    expect(d.record('a', { kind: 'timeout', latencyMs: 1 }, 0, always)).to.equal(true);
  });

  it('enforcing percentage below the draw does not eject', () => {
    const d = detector({ enforcing5xx: 50 });
    for (let i = 0; i < 3; i++) d.record('a', fail, 0, () => 0.9);
    expect(d.isEjected('a')).to.equal(false);
  });

  it('respects max ejection percent, but can always eject one host', () => {
    const d = detector({ maxEjectionPercent: 10 });
    for (const k of ['a', 'b']) for (let i = 0; i < 3; i++) d.record(k, fail, 0, always);
    expect(d.isEjected('a')).to.equal(true);
    expect(d.isEjected('b')).to.equal(false);
    expect(d.ejectedCount()).to.equal(1);
    const half = detector({ maxEjectionPercent: 50 });
    for (const k of ['a', 'b', 'c']) for (let i = 0; i < 3; i++) half.record(k, fail, 0, always);
    expect(half.ejectedCount()).to.equal(2);
  });

  it('reads Envoy defaults for unset fields', () => {
    const c = outlierConfig({})!;
    expect(c).to.include({ consecutive5xx: 5, enforcing5xx: 100, enforcingGateway: 0, intervalMs: 10_000, baseEjectionMs: 30_000, maxEjectionPercent: 10 });
    expect(outlierConfig(undefined)).to.equal(undefined);
  });

  it('below the panic threshold (minHealthPercent) ejected hosts take traffic again', () => {
    const set = hosts(4);
    const ejected = new Set(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']);
    expect(keys(priorityLevels(set, (k) => ejected.has(k), 0))).to.deep.equal([[0, ['10.0.0.4:80']]]);
    const panic = priorityLevels(set, (k) => ejected.has(k), 50);
    expect(panic[0]!.panic).to.equal(true);
    expect(panic[0]!.hosts).to.have.length(4);
    set[3]!.health = 'unhealthy';
    expect(priorityLevels(set, (k) => ejected.has(k), 0)).to.have.length(0);
    expect(priorityLevels(set, (k) => ejected.has(k), 1)[0]!.hosts).to.have.length(4);
  });

  it('spills load to the next priority as the first loses hosts (overprovisioning 1.4)', () => {
    const set = hosts(4);
    set[2]!.priority = 1;
    set[3]!.priority = 1;
    // All healthy: priority 0 takes everything.
    expect(keys(priorityLevels(set, () => false, 0))).to.deep.equal([[0, ['10.0.0.1:80', '10.0.0.2:80']]]);
    // Half of priority 0 out: 1.4 × 50 % = 70 % stays, 30 % spills to priority 1.
    const spilled = priorityLevels(set, (k) => k === '10.0.0.1:80', 0);
    expect(keys(spilled)).to.deep.equal([[0, ['10.0.0.2:80']], [1, ['10.0.0.3:80', '10.0.0.4:80']]]);
    expect(spilled[0]!.upTo).to.be.closeTo(0.7, 1e-9);
    // Priority 0 gone: everything on priority 1.
    set[0]!.health = 'unhealthy';
    set[1]!.health = 'unhealthy';
    expect(keys(priorityLevels(set, () => false, 0))).to.deep.equal([[1, ['10.0.0.3:80', '10.0.0.4:80']]]);
  });
});

function keys(levels: ReturnType<typeof priorityLevels>): Array<[number, string[]]> {
  return levels.map((l) => [l.priority, l.hosts.map((h: HostEntry) => h.key)]);
}
