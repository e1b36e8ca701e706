// A kubelet-projected directory (ConfigMap or Secret volume) read and watched the way the kubelet's atomic writer
// swaps it. In: a directory path. Out: consistent snapshots of its files and a callback when a new one is in place.
// The kubelet writes a new timestamped directory, points a `..data_tmp` symlink at it and renames that over
// `..data`; the visible names are symlinks `name -> ..data/name`. Files are therefore read through the resolved
// `..data` target, and a change is "the target changed". A plain directory (no `..data`: tests, explicit runs)
// changes when its files' size/mtime/inode change. fs.watch gives prompt events; a slow poll covers what inotify
// misses (directory recreated, overlay filesystems). Events are debounced: one swap gives several events.
import { readdirSync, readFileSync, readlinkSync, statSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { join } from 'node:path';

const DATA_LINK = '..data';

/** The files of one version of the directory. */
export interface DirSnapshot {
  /** `..data` target, or a fingerprint of the plain directory's files; equal stamps mean the same content. */
  stamp: string;
  files: ReadonlyMap<string, Buffer>;
}

function dataTarget(dir: string): string | undefined {
  try {
    return readlinkSync(join(dir, DATA_LINK));
  } catch {
    return undefined;
  }
}

/** Names in a directory, skipping dot entries (the atomic writer's own names start with `..`). */
function visibleNames(dir: string): string[] {
  return readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
}

/** The contents of the regular files among the visible names of `dir`. */
function readFiles(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const n of visibleNames(dir)) {
    const p = join(dir, n);
    if (statSync(p, { throwIfNoEntry: false })?.isFile()) files.set(n, readFileSync(p));
  }
  return files;
}

function plainStamp(dir: string): string | undefined {
  try {
    const parts: string[] = [];
    for (const n of visibleNames(dir)) {
      const s = statSync(join(dir, n), { throwIfNoEntry: false });
      if (s?.isFile()) parts.push(`${n}:${s.size}:${s.mtimeMs}:${s.ino}`);
    }
    return `plain:${parts.join('|')}`;
  } catch {
    return undefined;
  }
}

/** The directory's current stamp, without reading file contents; undefined when the directory is missing. */
function dirStamp(dir: string): string | undefined {
  const target = dataTarget(dir);
  return target !== undefined ? `data:${target}` : plainStamp(dir);
}

/**
 * Reads every file of the directory's current version. With `..data`, the files come from its resolved target
 * and the link is checked again afterwards: a swap in between (the old directory removed under us) retries.
 * Undefined when the directory does not exist or keeps changing.
 */
export function readAtomicDir(dir: string): DirSnapshot | undefined {
  for (let attempt = 0; attempt < 5; attempt++) {
    const target = dataTarget(dir);
    try {
      if (target === undefined) {
        const stamp = plainStamp(dir);
        if (stamp === undefined) return undefined;
        const files = readFiles(dir);
        if (plainStamp(dir) === stamp) return { stamp, files };
        continue;
      }
      const files = readFiles(join(dir, target));
      if (dataTarget(dir) === target) return { stamp: `data:${target}`, files };
    } catch {
      // The version we resolved was removed mid-read: resolve again.
    }
  }
  return undefined;
}

export interface WatchOptions {
  /** Poll interval for what fs.watch misses. */
  pollMs?: number;
  /** Quiet time after an event before reading. */
  debounceMs?: number;
}

export interface DirWatcher {
  /** The last snapshot handed to the callback (or read at start). */
  current(): DirSnapshot | undefined;
  /** Checks now (as an event would). */
  check(): void;
  close(): void;
}

/**
 * Calls `onChange` with the first snapshot (when the directory exists) and with every new version afterwards.
 * The callback runs synchronously from a timer; it must not throw (errors are swallowed to keep watching).
 */
export function watchAtomicDir(dir: string, onChange: (snap: DirSnapshot) => void, opts: WatchOptions = {}): DirWatcher {
  const pollMs = opts.pollMs ?? 2000;
  const debounceMs = opts.debounceMs ?? 25;
  let last: DirSnapshot | undefined;
  let lastStamp: string | undefined;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let closed = false;

  const check = (): void => {
    if (closed) return;
    ensureWatch();
    const stamp = dirStamp(dir);
    if (stamp === undefined || stamp === lastStamp) return;
    const snap = readAtomicDir(dir);
    if (!snap || snap.stamp === lastStamp) return;
    last = snap;
    lastStamp = snap.stamp;
    try {
      onChange(snap);
    } catch {
      // A consumer's error must not stop the watch.
    }
  };

  const schedule = (): void => {
    if (closed) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = undefined;
      check();
    }, debounceMs);
  };

  function ensureWatch(): void {
    if (watcher || closed) return;
    try {
      watcher = watch(dir, { persistent: false }, schedule);
      watcher.on('error', () => {
        // The directory went away (or the watch broke): drop it; the poll re-creates it when possible.
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined;
    }
  }

  const poll = setInterval(check, pollMs);
  poll.unref();
  check();

  return {
    current: () => last,
    check,
    close() {
      closed = true;
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      watcher?.close();
      watcher = undefined;
    },
  };
}
