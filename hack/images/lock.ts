// One image build at a time per cache (two suites or a script and a suite may ask together): a lock directory
// holding the owner's pid; a lock whose owner is gone is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Log } from './run.ts';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function withLock<T>(dir: string, log: Log, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 3_600_000;
  let told = false;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = 0;
      try {
        owner = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      } catch { /* the owner is between mkdir and writing its pid */ }
      if (owner && !alive(owner)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`image build lock ${dir} still held by pid ${owner}`, { cause: err });
      if (!told) log(`[images] waiting for the image build of pid ${owner}`);
      told = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
