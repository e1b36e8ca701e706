// A keyed work queue in the manner of client-go's rate-limited workqueue.
// In: keys (`Kind/namespace/name`) from informer callbacks. Out: calls to `handler(key)` on up to `workers`
// concurrent workers. Guarantees: a key is never processed by two workers at once; adding a key that is already
// waiting is a no-op; adding a key while it is being processed queues it exactly once more after the current run.
// A handler that throws is retried with per-key exponential backoff; a handler that succeeds resets the key's
// failure count (`forget`).
import type { Logger } from './log.ts';
import { silentLogger } from './log.ts';
import { expBackoff, realTimers, type Timers } from './timers.ts';

export type Handler = (key: string) => Promise<void> | void;

/** Thrown by a handler to retry the key with backoff as an expected outcome (logged at debug, not warn). */
export class Requeue extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'Requeue';
  }
}

export interface WorkQueueOptions {
  /** Concurrent handler invocations (default 2). */
  workers?: number;
  /** First retry delay (default 5 ms); doubles per consecutive failure of the same key. */
  baseDelayMs?: number;
  /** Retry delay ceiling (default 300 s). */
  maxDelayMs?: number;
  timers?: Timers;
  log?: Logger;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys that need processing (queued, or re-queued while processing). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly waiting = new Map<string, { at: number; handle: unknown }>();
  private readonly workers: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timers: Timers;
  private readonly log: Logger;
  private handler: Handler | undefined;
  private active = 0;
  private shuttingDown = false;
  private idleWaiters: Array<() => void> = [];

  constructor(opts: WorkQueueOptions = {}) {
    this.workers = Math.max(1, opts.workers ?? 2);
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 300_000;
    this.timers = opts.timers ?? realTimers;
    this.log = opts.log ?? silentLogger;
  }

  /** Starts the workers. Keys added before `run` wait in the queue. */
  run(handler: Handler): void {
    this.handler = handler;
    this.pump();
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (!this.processing.has(key)) {
      this.queue.push(key);
      this.pump();
    }
  }

  /** Adds `key` after `delayMs`; an earlier pending delayed add of the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.timers.now() + delayMs;
    const pending = this.waiting.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.timers.clearTimeout(pending.handle);
    const handle = this.timers.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.waiting.set(key, { at, handle });
  }

  /** Adds `key` after its backoff delay and counts one more failure for it. */
  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, expBackoff(n, this.baseDelayMs, this.maxDelayMs));
  }

  /** Resets the key's failure count so its next retry starts from the base delay. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Keys waiting to be processed (not counting delayed adds). */
  len(): number {
    return this.queue.length;
  }

  /** Resolves once nothing is queued or being processed (delayed adds may still be pending). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  isIdle(): boolean {
    return this.active === 0 && (this.queue.length === 0 || this.handler === undefined || this.shuttingDown);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops taking keys, drops what is queued and waits for the running handlers to finish. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const { handle } of this.waiting.values()) this.timers.clearTimeout(handle);
    this.waiting.clear();
    this.queue.length = 0;
    this.dirty.clear();
    await this.whenIdle();
  }

  private pump(): void {
    const handler = this.handler;
    if (!handler) return;
    while (!this.shuttingDown && this.active < this.workers && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.dirty.delete(key);
      this.processing.add(key);
      this.active++;
      void this.process(handler, key);
    }
    this.notifyIdle();
  }

  private async process(handler: Handler, key: string): Promise<void> {
    try {
      await handler(key);
      this.forget(key);
    } catch (err) {
      const retries = this.numRequeues(key);
      if (err instanceof Requeue) this.log.debug('requeued', { key, retries, reason: err.message });
      else this.log.warn('reconcile failed, retrying', { key, retries, error: err });
      if (!this.shuttingDown) this.addRateLimited(key);
    } finally {
      this.processing.delete(key);
      this.active--;
      // Added while we were processing it: run it once more.
      if (this.dirty.has(key) && !this.shuttingDown) this.queue.push(key);
      this.pump();
    }
  }

  private notifyIdle(): void {
    if (!this.isIdle() || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
