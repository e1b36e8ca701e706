// A directory laid out and updated the way the kubelet's atomic writer does for ConfigMap and Secret volumes:
// the payload lives in a timestamped `..<timestamp>` directory, `..data` is a symlink to it, and every visible
// name is a symlink `name -> ..data/name`. An update writes a new timestamped directory, points `..data_tmp` at
// it, renames `..data_tmp` over `..data` (the one atomic step), fixes the visible links and removes the old
// directory.
import { mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class KubeletVolume {
  readonly dir: string;
  private seq = 0;

  constructor(dir?: string) {
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'weft-volume-'));
    mkdirSync(this.dir, { recursive: true });
  }

  /** Replaces the whole payload with `files` in one atomic swap. */
  write(files: Record<string, string | Uint8Array>): void {
    const stamp = `..2026_11_22_00_00_${String(this.seq++).padStart(2, '0')}.${process.hrtime.bigint()}`;
    const next = join(this.dir, stamp);
    mkdirSync(next);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(next, name), content);
    let previous: string | undefined;
    try {
      previous = readlinkSync(join(this.dir, '..data'));
    } catch {
      previous = undefined;
    }
    const tmp = join(this.dir, '..data_tmp');
    symlinkSync(stamp, tmp);
    renameSync(tmp, join(this.dir, '..data'));
    for (const name of Object.keys(files)) {
      const link = join(this.dir, name);
      if (!exists(link)) symlinkSync(join('..data', name), link);
    }
    if (previous) rmSync(join(this.dir, previous), { recursive: true, force: true });
  }

  /** Removes a visible name (a key dropped from the ConfigMap). */
  unlinkVisible(name: string): void {
    unlinkSync(join(this.dir, name));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` every few milliseconds until it returns true; throws after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
