// Workloads whose write failed, looked at again with per-workload exponential backoff (1 s doubling to 60 s);
// a success resets the count. In: failures and successes. Out: `recheck(key)` once each backoff has passed.
import { expBackoff, type Timers } from '../timers.ts';

export class Retries {
  private readonly timers: Timers;
  private readonly recheck: (key: string) => void;
  private readonly failures = new Map<string, number>();
  private readonly timersByKey = new Map<string, unknown>();

  constructor(timers: Timers, recheck: (key: string) => void) {
    this.timers = timers;
    this.recheck = recheck;
  }

  /** A write for `key` failed: look at it again after the backoff (one pending retry per workload). */
  failed(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    if (this.timersByKey.has(key)) return;
    const handle = this.timers.setTimeout(() => {
      this.timersByKey.delete(key);
      this.recheck(key);
    }, expBackoff(n, 1000, 60_000));
    (handle as { unref?: () => void }).unref?.();
    this.timersByKey.set(key, handle);
  }

  succeeded(key: string): void {
    this.failures.delete(key);
  }

  /** Cancels every pending retry and forgets the counts. */
  clear(): void {
    for (const h of this.timersByKey.values()) this.timers.clearTimeout(h);
    this.timersByKey.clear();
    this.failures.clear();
  }
}
