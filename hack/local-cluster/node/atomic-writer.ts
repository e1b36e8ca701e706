// The kubelet's atomic writer for ConfigMap, Secret, projected and downward API volumes. The payload lives in a
// timestamped `..<timestamp>` directory, `..data` is a symlink to it and every visible top-level name is a
// symlink `name -> ..data/name`. An update writes a new timestamped directory, points `..data_tmp` at it,
// renames `..data_tmp` over `..data` (the one atomic step readers can observe), adds links for new names,
// removes links for names the payload no longer has and removes the old directory. An unchanged payload is not
// rewritten, so watchers of `..data` see no spurious swaps.
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A file's content, or its content with its own mode (a volume item's `mode`). */
export type FileContent = string | Uint8Array | { data: string | Uint8Array; mode?: number };

const DATA = '..data';
const DATA_TMP = '..data_tmp';

export class AtomicWriter {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
  }

  /**
   * Replaces the whole payload with `files` (keys are relative paths, possibly nested like `a/b`) in one
   * atomic swap; `mode` is the default file mode (0644). Returns false when the payload was already on disk.
   */
  write(files: Record<string, FileContent>, mode = 0o644): boolean {
    const payload = normalize(files, mode);
    const previous = this.current();
    if (previous !== undefined && sameAsOnDisk(join(this.dir, previous), payload)) return false;

    const stamp = this.newTimestampDir();
    const next = join(this.dir, stamp);
    for (const [path, f] of payload) {
      const file = join(next, path);
      mkdirp(next, dirname(path));
      writeFileSync(file, f.data);
      chmodSync(file, f.mode); // exact mode, whatever the umask
    }

    const tmp = join(this.dir, DATA_TMP);
    rmSync(tmp, { force: true });
    symlinkSync(stamp, tmp);
    renameSync(tmp, join(this.dir, DATA));

    const visible = new Set([...payload.keys()].map(topLevel));
    for (const name of visible) {
      if (!exists(join(this.dir, name))) symlinkSync(join(DATA, name), join(this.dir, name));
    }
    if (previous !== undefined) {
      for (const name of readdirSync(join(this.dir, previous))) {
        if (!visible.has(name)) rmSync(join(this.dir, name), { force: true });
      }
      rmSync(join(this.dir, previous), { recursive: true, force: true });
    }
    return true;
  }

  /** The timestamped directory `..data` points at, if any. */
  current(): string | undefined {
    try {
      return readlinkSync(join(this.dir, DATA));
    } catch {
      return undefined;
    }
  }

  /** Removes a visible name by hand (the payload keeps it). */
  unlinkVisible(name: string): void {
    unlinkSync(join(this.dir, name));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  // `..2026_11_22_02_30_00.123456789`: the UTC time, then milliseconds and random digits so that two writes in
  // the same second never collide (the kubelet's MkdirTemp appends a random number the same way).
  private newTimestampDir(): string {
    for (;;) {
      const now = new Date();
      const p = (n: number, w = 2) => String(n).padStart(w, '0');
      const date = `${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}`;
      const time = `${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}`;
      const frac = `${p(now.getUTCMilliseconds(), 3)}${p(Math.floor(Math.random() * 1e6), 6)}`;
      const stamp = `..${date}_${time}.${frac}`;
      try {
        mkdirSync(join(this.dir, stamp));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw e;
      }
      chmodSync(join(this.dir, stamp), 0o755);
      return stamp;
    }
  }
}

interface File {
  data: Buffer;
  mode: number;
}

function normalize(files: Record<string, FileContent>, mode: number): Map<string, File> {
  const out = new Map<string, File>();
  for (const [path, c] of Object.entries(files)) {
    validatePath(path);
    const raw = typeof c === 'string' || c instanceof Uint8Array ? c : c.data;
    const m = typeof c === 'string' || c instanceof Uint8Array ? mode : (c.mode ?? mode);
    out.set(path, { data: Buffer.from(raw), mode: m & 0o777 });
  }
  // A path that is also another path's directory (`a` and `a/b`) cannot be laid out.
  for (const path of out.keys()) {
    for (let d = dirname(path); d !== '.'; d = dirname(d)) {
      if (out.has(d)) throw new Error(`atomic writer: ${JSON.stringify(path)} is under the file ${JSON.stringify(d)}`);
    }
  }
  return out;
}

// The kubelet's rules: relative, no `..` element, not starting with `..` (those names are the writer's own).
function validatePath(path: string): void {
  const bad = path === '' || path.startsWith('/') || path.startsWith('..') || path.split('/').some((e) => e === '..' || e === '' || e === '.');
  if (bad) throw new Error(`atomic writer: invalid path ${JSON.stringify(path)}`);
}

const topLevel = (path: string): string => path.split('/')[0]!;

function mkdirp(root: string, rel: string): void {
  let d = root;
  for (const e of rel === '.' ? [] : rel.split('/')) {
    d = join(d, e);
    if (!exists(d)) {
      mkdirSync(d);
      chmodSync(d, 0o755);
    }
  }
}

function sameAsOnDisk(dir: string, payload: Map<string, File>): boolean {
  const onDisk = listFiles(dir);
  if (onDisk === undefined || onDisk.length !== payload.size) return false;
  for (const path of onDisk) {
    const want = payload.get(path);
    if (!want) return false;
    const file = join(dir, path);
    if ((lstatSync(file).mode & 0o777) !== want.mode || !readFileSync(file).equals(want.data)) return false;
  }
  return true;
}

function listFiles(dir: string, prefix = ''): string[] | undefined {
  let entries;
  try {
    entries = readdirSync(join(dir, prefix), { withFileTypes: true });
  } catch {
    return undefined;
  }
  const out: string[] = [];
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(listFiles(dir, rel) ?? []));
    else out.push(rel);
  }
  return out;
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
