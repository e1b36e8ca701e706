// At most `n` promises at once, started in the order they asked.
export class Limiter {
  private readonly n: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly producers: Array<() => void> = [];

  constructor(n: number) {
    this.n = Math.max(1, n);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
      for (const r of this.producers.splice(0)) r();
    }
  }

  /** Resolves once fewer than `n` runs are running or waiting: a producer that awaits it before making the next
   * run's input never holds more than `n` of them at once. */
  async room(): Promise<void> {
    while (this.active + this.waiting.length >= this.n) await new Promise<void>((r) => this.producers.push(r));
  }
}
