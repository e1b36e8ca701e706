// The distribution's Limiter: at most `n` runs at once, in order, and room() holding a producer back while `n`
// runs are running or waiting (the loop awaits it before translating the next workload, so that no more than
// `n` encoded bundles wait for their writes).
import { expect } from 'chai';
import { Limiter } from '../../src/controllers/distribution/limiter.ts';

const tick = () => new Promise((r) => setImmediate(r));

function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('distribution limiter', () => {
  it('runs at most n at once, in the order asked', async () => {
    const l = new Limiter(2);
    const gates = [gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) => l.run(async () => {
      started.push(i);
      await g.promise;
    }));
    await tick();
    expect(started).to.deep.equal([0, 1]);
    gates[1]!.open();
    await tick();
    expect(started).to.deep.equal([0, 1, 2]);
    gates[0]!.open();
    gates[2]!.open();
    await Promise.all(runs);
  });

  it('room() waits while n runs are running or waiting, and resolves at once otherwise', async () => {
    const l = new Limiter(2);
    await l.room();
    const gates = [gate(), gate(), gate()];
    const runs = gates.slice(0, 2).map((g) => l.run(() => g.promise));
    let roomy = false;
    const waiting = l.room().then(() => (roomy = true));
    await tick();
    expect(roomy).to.equal(false);
    gates[0]!.open();
    await waiting;
    expect(roomy).to.equal(true);
    // One running, one more may start: a third run queued behind them counts too.
    runs.push(l.run(() => gates[2]!.promise));
    let again = false;
    const second = l.room().then(() => (again = true));
    await tick();
    expect(again).to.equal(false);
    gates[1]!.open();
    gates[2]!.open();
    await Promise.all([...runs, second]);
    expect(again).to.equal(true);
  });
});
