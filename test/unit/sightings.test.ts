// Waiting for a cache to show a write: at once when it does already, on the change notification that makes the
// check hold (not on one that does not), false after the bound on a manual clock, and ended by clear().
import { expect } from 'chai';
import { Sightings } from '../../src/controllers/sightings.ts';
import { FakeTimers } from './fake-timers.ts';

describe('sightings', () => {
  it('resolves at once, on the notification that makes the check hold, or false after the bound', async () => {
    const timers = new FakeTimers();
    const s = new Sightings(timers);
    let cached = 'old';
    expect(await s.wait('ns/cm', () => cached === 'old', 1_000)).to.equal(true);
    const outcome: boolean[] = [];
    const waiting = s.wait('ns/cm', () => cached === 'new', 1_000).then((v) => void outcome.push(v));
    s.seen('ns/cm');
    await timers.advance(0);
    expect(outcome).to.deep.equal([]);
    cached = 'new';
    s.seen('ns/other');
    await timers.advance(0);
    expect(outcome).to.deep.equal([]);
    s.seen('ns/cm');
    await waiting;
    expect(outcome).to.deep.equal([true]);

    const late = s.wait('ns/cm', () => cached === 'newer', 1_000);
    await timers.advance(1_000);
    expect(await late).to.equal(false);
  });

  it('clear() ends every wait', async () => {
    const s = new Sightings(new FakeTimers());
    const waits = [s.wait('a', () => false, 60_000), s.wait('b', () => false, 60_000)];
    s.clear();
    expect(await Promise.all(waits)).to.deep.equal([true, true]);
  });
});
