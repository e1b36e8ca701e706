import { expect } from 'chai';
import { WorkQueue } from '../../src/controllers/workqueue.ts';
import { expBackoff } from '../../src/controllers/timers.ts';
import { FakeTimers, flush } from './fake-timers.ts';

/** A handler whose runs stay open until the test releases them. */
function gatedHandler() {
  const calls: string[] = [];
  const open = new Map<string, Array<(err?: Error) => void>>();
  let running = 0;
  let maxRunning = 0;
  const handler = (key: string): Promise<void> => {
    calls.push(key);
    running++;
    maxRunning = Math.max(maxRunning, running);
    return new Promise<void>((resolve, reject) => {
      const list = open.get(key) ?? [];
      list.push((err) => {
        running--;
        if (err) reject(err);
        else resolve();
      });
      open.set(key, list);
    });
  };
  const release = async (key: string, err?: Error): Promise<void> => {
    const list = open.get(key);
    const fn = list?.shift();
    if (!fn) throw new Error(`${key} is not running`);
    fn(err);
    await flush();
  };
  return { handler, calls, release, maxRunning: () => maxRunning, running: () => running };
}

describe('WorkQueue', () => {
  it('dedupes a key that is already waiting', async () => {
    const q = new WorkQueue({ workers: 1, timers: new FakeTimers() });
    const h = gatedHandler();
    q.add('a');
    q.add('a');
    q.add('b');
    q.add('a');
    q.run(h.handler);
    await flush();
    expect(h.calls).to.deep.equal(['a']);
    await h.release('a');
    await h.release('b');
    expect(h.calls).to.deep.equal(['a', 'b']);
    expect(q.isIdle()).to.equal(true);
  });

  it('re-queues a key added during its processing exactly once, after the run', async () => {
    const q = new WorkQueue({ workers: 4, timers: new FakeTimers() });
    const h = gatedHandler();
    q.run(h.handler);
    q.add('a');
    await flush();
    expect(h.calls).to.deep.equal(['a']);
    q.add('a');
    q.add('a');
    q.add('a');
    await flush();
    // Not processed concurrently with itself, even with free workers.
    expect(h.calls).to.deep.equal(['a']);
    expect(h.running()).to.equal(1);
    await h.release('a');
    expect(h.calls).to.deep.equal(['a', 'a']);
    await h.release('a');
    expect(h.calls).to.deep.equal(['a', 'a']);
    await q.whenIdle();
  });

  it('runs at most `workers` handlers at once', async () => {
    const q = new WorkQueue({ workers: 3, timers: new FakeTimers() });
    const h = gatedHandler();
    q.run(h.handler);
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
    await flush();
    expect(h.calls).to.deep.equal(['a', 'b', 'c']);
    await h.release('b');
    expect(h.calls).to.deep.equal(['a', 'b', 'c', 'd']);
    for (const k of ['a', 'c', 'd']) await h.release(k);
    await h.release('e');
    expect(h.maxRunning()).to.equal(3);
    expect(q.isIdle()).to.equal(true);
  });

  it('retries failures with per-key exponential backoff and forgets on success', async () => {
    const timers = new FakeTimers();
    const q = new WorkQueue({ workers: 1, baseDelayMs: 5, maxDelayMs: 40, timers });
    let failUntil = 5;
    const seen: number[] = [];
    q.run((key) => {
      seen.push(timers.now());
      if (key === 'a' && seen.length <= failUntil) throw new Error('boom');
    });
    q.add('a');
    await flush();
    expect(q.numRequeues('a')).to.equal(1);
    expect(timers.delays()).to.deep.equal([5]);
    await timers.advance(1000);
    // Failures at t0, +5, +10, +20, +40(capped) then success.
    const gaps = seen.slice(1).map((t, i) => t - seen[i]!);
    expect(gaps).to.deep.equal([5, 10, 20, 40, 40]);
    expect(q.numRequeues('a')).to.equal(0);
    // A new failure starts over from the base delay.
    failUntil = Infinity;
    q.add('a');
    await flush();
    expect(timers.delays()).to.deep.equal([5]);
    await q.shutdown();
  });

  it('keeps the earliest of two delayed adds of the same key', async () => {
    const timers = new FakeTimers();
    const q = new WorkQueue({ timers });
    const calls: string[] = [];
    q.run((k) => void calls.push(k));
    q.addAfter('a', 100);
    q.addAfter('a', 50);
    q.addAfter('a', 200);
    expect(timers.delays()).to.deep.equal([50]);
    await timers.advance(60);
    expect(calls).to.deep.equal(['a']);
    await timers.advance(500);
    expect(calls).to.deep.equal(['a']);
  });

  it('backoff helper doubles and caps', () => {
    expect([0, 1, 2, 3, 10, 100, 5000].map((n) => expBackoff(n, 5, 1_000_000))).to.deep.equal([
      5, 10, 20, 40, 5120, 1_000_000, 1_000_000,
    ]);
  });

  it('shutdown drops queued keys, cancels delayed adds and waits for running handlers', async () => {
    const timers = new FakeTimers();
    const q = new WorkQueue({ workers: 1, timers });
    const h = gatedHandler();
    q.run(h.handler);
    q.add('a');
    q.add('b');
    q.addAfter('c', 10);
    await flush();
    let done = false;
    const stopped = q.shutdown().then(() => (done = true));
    await flush();
    expect(done).to.equal(false);
    expect(timers.delays()).to.deep.equal([]);
    await h.release('a');
    await stopped;
    expect(done).to.equal(true);
    q.add('d');
    await timers.advance(100);
    expect(h.calls).to.deep.equal(['a']);
  });

  it('a failing handler during shutdown is not retried', async () => {
    const timers = new FakeTimers();
    const q = new WorkQueue({ workers: 1, timers });
    const h = gatedHandler();
    q.run(h.handler);
    q.add('a');
    await flush();
    const stopped = q.shutdown();
    await h.release('a', new Error('late'));
    await stopped;
    expect(timers.delays()).to.deep.equal([]);
  });
});
