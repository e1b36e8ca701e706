// When the distribution's batches run: a change after a quiet spell (nothing for `debounceMs`) starts a batch at
// once, so a lone `kubectl apply` is not delayed; otherwise a batch starts `debounceMs` after the last change, or
// `maxDelayMs` after the first one at the latest (at once on activation); one batch at a time, changes arriving
// meanwhile make the next one. In: `schedule()` calls. Out: `run()` calls, and `idle()` for whoever waits for quiet.
import type { Timers } from '../timers.ts';

export interface BatchTimerOptions {
  timers: Timers;
  debounceMs: number;
  maxDelayMs: number;
  /** Whether batches may run at all (the loop is active and not stopped). */
  enabled: () => boolean;
  /** One batch. */
  run: () => Promise<void>;
  /** Whether work arrived while the last batch ran. */
  more: () => boolean;
}

export class BatchTimer {
  private readonly o: BatchTimerOptions;
  private firstPendingAt: number | undefined;
  private lastChangeAt = Number.NEGATIVE_INFINITY;
  private timer: unknown;
  private running: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(o: BatchTimerOptions) {
    this.o = o;
  }

  /** The running batch, if any. */
  get current(): Promise<void> | undefined {
    return this.running;
  }

  schedule(now = false): void {
    if (!this.o.enabled()) return;
    const t = this.o.timers.now();
    const quiet = this.firstPendingAt === undefined && !this.running && t - this.lastChangeAt >= this.o.debounceMs;
    this.lastChangeAt = t;
    this.firstPendingAt ??= t;
    if (this.running) return; // the running batch schedules the next one
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer);
    const delay = now || quiet ? 0 : Math.max(0, Math.min(this.o.debounceMs, this.firstPendingAt + this.o.maxDelayMs - t));
    this.timer = this.o.timers.setTimeout(() => {
      this.timer = undefined;
      this.firstPendingAt = undefined;
      this.running = this.o.run().finally(() => {
        this.running = undefined;
        if (this.o.more()) this.schedule();
        else this.resolveIdle();
      });
    }, delay);
  }

  busy(): boolean {
    return this.o.enabled() && (this.running !== undefined || this.timer !== undefined);
  }

  /** Resolves when no batch is due or running. */
  idle(): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops the due batch (a running one finishes) and wakes the waiters if nothing runs. */
  cancel(): void {
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.firstPendingAt = undefined;
    this.resolveIdle();
  }

  private resolveIdle(): void {
    if (this.busy()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }
}
