// Time as a dependency: the workqueue, informers and leader election take a `Timers` so tests can drive
// retries and lease expiry with a manual clock instead of sleeping.

export interface Timers {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** `base * 2^failures`, capped at `max` (ms). */
export function expBackoff(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return baseMs;
  const exp = baseMs * 2 ** Math.min(failures, 62);
  return Number.isFinite(exp) ? Math.min(exp, maxMs) : maxMs;
}

/** `ms` plus up to `factor * ms` of random jitter, as client-go's wait.Jitter. */
export function jitter(ms: number, factor: number, rng: () => number = Math.random): number {
  return factor > 0 ? ms + rng() * factor * ms : ms;
}

/** Resolves after `ms` on the given timers, or as soon as `signal` aborts. */
export function sleep(timers: Timers, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      timers.clearTimeout(handle);
      resolve();
    };
    const handle = timers.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
