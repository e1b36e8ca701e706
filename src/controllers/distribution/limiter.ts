// At most `n` promises at once, started in the order they asked.
export class Limiter {
  private readonly n: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];

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
    }
  }
}
