// Load balancers on injected randomness: round robin splits evenly (and by weight), random and least request
// behave, ring hash and Maglev keep a key on one host and move few keys when a host goes, peak EWMA prefers the
// fast host, and a retry avoids the hosts it already tried.
import { expect } from 'chai';
import { buildMaglev, createMaglev, createRingHash } from '../../src/proxy/upstream/hash-lb.ts';
import { createLeastRequest, createPeakEwma, createRandom, createRoundRobin, pickAvoiding } from '../../src/proxy/upstream/lb.ts';
import type { Balancer, HostEntry } from '../../src/proxy/upstream/types.ts';
import { countBy, hosts, seeded } from '../support/proxy-upstream-fixtures.ts';

function picks(b: Balancer, set: readonly HostEntry[], n: number, random = seeded(7), hashKey?: (i: number) => string): string[] {
  return Array.from({ length: n }, (_, i) => b.pick(set, hashKey ? { hashKey: hashKey(i) } : {}, random).key);
}

describe('proxy upstream: load balancers', () => {
  it('round robin splits evenly over equal hosts', () => {
    const set = hosts(3);
    const counts = countBy(picks(createRoundRobin(), set, 300));
    expect([...counts.values()]).to.deep.equal([100, 100, 100]);
  });

  it('round robin follows weights smoothly', () => {
    const set = hosts(3);
    set[0]!.weight = 3;
    const seq = picks(createRoundRobin(), set, 10);
    const counts = countBy(seq);
    expect(counts.get('10.0.0.1:80')).to.equal(6);
    expect(counts.get('10.0.0.2:80')).to.equal(2);
    // Smooth: the heavy host never takes more than two in a row here.
    expect(seq.join(',')).to.not.include('10.0.0.1:80,10.0.0.1:80,10.0.0.1:80');
  });

  it('random spreads over every host, weighted', () => {
    const set = hosts(2);
    set[1]!.weight = 3;
    const counts = countBy(picks(createRandom(), set, 4000));
    expect(counts.get('10.0.0.2:80')! / 4000).to.be.closeTo(0.75, 0.03);
  });

  it('least request prefers idle hosts', () => {
    const set = hosts(4);
    for (const h of set) h.active = 10;
    set[2]!.active = 0;
    const counts = countBy(picks(createLeastRequest(2), set, 1000));
    // Host 3 wins every draw it appears in: 1 - (3/4)^2 of the picks.
    expect(counts.get('10.0.0.3:80')! / 1000).to.be.closeTo(1 - 9 / 16, 0.04);
    const all = countBy(picks(createLeastRequest(4), set, 200));
    expect(all.get('10.0.0.3:80')! / 200).to.be.greaterThan(0.6);
  });

  // The ring keeps its size, so the remaining hosts gain points and take a few keys from each other; a modulo
  // hash would move about 80 % of them.
  for (const [label, make, bound] of [['ring hash', () => createRingHash(1024), 0.15], ['maglev', () => createMaglev(), 0.05]] as const) {
    it(`${label} keeps a key on one host and moves few keys when a host goes`, () => {
      const set = hosts(5);
      const b = make();
      const key = (i: number) => `user-${i}`;
      const before = picks(b, set, 2000, seeded(1), key);
      expect(picks(b, set, 2000, seeded(99), key)).to.deep.equal(before);
      // Roughly even load.
      for (const n of countBy(before).values()) expect(n).to.be.within(250, 600);
      const removed = '10.0.0.3:80';
      const after = picks(make(), set.filter((h) => h.key !== removed), 2000, seeded(1), key);
      let moved = 0;
      before.forEach((k, i) => {
        if (k === removed) expect(after[i]).to.not.equal(removed);
        else if (after[i] !== k) moved++;
      });
      // Keys that were not on the removed host (nearly) all stay where they were.
      expect(moved / 2000).to.be.lessThan(bound);
    });
  }

  it('consistent hash without a key falls back to random', () => {
    const set = hosts(4);
    const counts = countBy(picks(createRingHash(), set, 400));
    expect(counts.size).to.equal(4);
  });

  it('maglev fills its table in proportion to weight', () => {
    const set = hosts(2);
    set[0]!.weight = 3;
    const table = buildMaglev(set, 65537);
    const share = table.filter((i) => i === 0).length / table.length;
    expect(share).to.be.closeTo(0.75, 0.01);
  });

  it('peak EWMA prefers the fast host, follows a slowdown and tries a slow host again later', () => {
    const set = hosts(2);
    let now = 1000;
    const b = createPeakEwma(2, 10_000, () => now);
    const [fast, slow] = set as [HostEntry, HostEntry];
    for (let i = 0; i < 5; i++) {
      b.observe!(fast, 2, now);
      b.observe!(slow, 50, now);
      now += 100;
    }
    const counts = countBy(picks(b, set, 400));
    // With two hosts a draw of the same host twice is the only way the slow one is chosen.
    expect(counts.get(fast.key)! / 400).to.be.greaterThan(0.7);
    // A peak jumps at once: the fast host turns slow, the other is now preferred.
    b.observe!(fast, 500, now);
    const after = countBy(picks(b, set, 400));
    expect(after.get(slow.key)! / 400).to.be.greaterThan(0.7);
    // Idle for a minute, the old peak has decayed below the other host's recent latency.
    now += 60_000;
    b.observe!(slow, 50, now);
    expect(b.pick(set, {}, seeded(2)).key).to.equal(fast.key);
  });

  it('a retry avoids the hosts it already tried when others are eligible', () => {
    const set = hosts(3);
    const random = seeded(3);
    for (const b of [createRoundRobin(), createRandom(), createLeastRequest(), createRingHash(), createMaglev()]) {
      for (let i = 0; i < 50; i++) {
        const h = pickAvoiding(b, set, { hashKey: 'k', attempted: new Set(['10.0.0.1:80', '10.0.0.2:80']) }, random);
        expect(h.key).to.equal('10.0.0.3:80');
      }
      // Only tried hosts left: one of them is still returned.
      const only = pickAvoiding(b, set.slice(0, 1), { attempted: new Set(['10.0.0.1:80']) }, random);
      expect(only.key).to.equal('10.0.0.1:80');
    }
  });
});
