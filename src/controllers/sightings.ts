// Waiting for an informer's cache to show what a controller just wrote, before nudging the pods that mount it:
// the kubelet watches the same API server, so once our watch delivered the write, the kubelet's has it too (or
// is about to, ahead of the pod patch that follows); a pod remounted before that would get the old content and
// wait for the kubelet's periodic resync. In: the cache's change notifications (`seen(key)`), a check. Out: a
// wait that ends when the check holds, or after a bound (the nudge goes out anyway: a late cache must not hold
// it back for good).
import type { Timers } from './timers.ts';

interface Waiter {
  shows: () => boolean;
  done: () => void;
}

export class Sightings {
  private readonly timers: Timers;
  private readonly waiting = new Map<string, Set<Waiter>>();

  constructor(timers: Timers) {
    this.timers = timers;
  }

  /** Resolves with true once `shows()` holds (checked now and on every `seen(key)`), false after `maxMs`. */
  wait(key: string, shows: () => boolean, maxMs: number): Promise<boolean> {
    if (shows()) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.waiting.get(key);
      if (!set) this.waiting.set(key, (set = new Set()));
      const finish = (ok: boolean) => {
        this.timers.clearTimeout(timer);
        set.delete(w);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
        resolve(ok);
      };
      const w: Waiter = { shows, done: () => finish(true) };
      const timer = this.timers.setTimeout(() => finish(false), maxMs);
      set.add(w);
    });
  }

  /** The cache changed `key`: waits whose check now holds end. */
  seen(key: string): void {
    for (const w of [...(this.waiting.get(key) ?? [])]) if (w.shows()) w.done();
  }

  /** Ends every wait (stopping): the nudges go out without waiting. */
  clear(): void {
    for (const set of [...this.waiting.values()]) for (const w of [...set]) w.done();
  }
}
