// The weft image's /app without an image: src/ compiled by `tsc -p tsconfig.build.json` to JavaScript, as the
// Dockerfile does, plus the SO_ORIGINAL_DST addon. The proxy bench runs its sidecar from it and the local node runs
// the `weft` image's containers in it. In: the checkout. Out: the built tree under .weft/image/ (ignored by git;
// node_modules resolves from the checkout above it), rebuilt only when a source file or tsconfig is newer than the
// last build.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
export const IMAGE_ROOT = join(ROOT, '.weft/image');
const OUT = IMAGE_ROOT;
const STAMP = join(OUT, 'source-mtime');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

export interface SidecarBuild {
  /** The compiled `weft` CLI. */
  cli: string;
  /** Whether an earlier build of the same sources was reused. */
  cached: boolean;
  build_ms: number;
}

/** The newest modification time among the files that go into the build. */
function sourceMtime(): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(ROOT, 'src'));
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json']) newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
  return newest;
}

export function buildSidecar(): SidecarBuild {
  const t = performance.now();
  const cli = join(OUT, 'dist/cli/weft.js');
  const mtime = String(sourceMtime());
  if (existsSync(cli) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === mtime) return { cli, cached: true, build_ms: 0 };
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  try {
    execFileSync(process.execPath, [TSC, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(OUT, 'dist')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
  } catch (err) {
    // tsc still emits JavaScript when it finds type errors (work in progress elsewhere must not stop the bench);
    // only a build that produced no CLI is a failure.
    if (!existsSync(cli)) throw new Error(`tsc -p tsconfig.build.json failed: ${String((err as { stdout?: Buffer }).stdout ?? err).slice(0, 2000)}`, { cause: err });
  }
  // The compiled loader looks for the SO_ORIGINAL_DST addon three levels above dist/proxy/net, as in the image.
  rmSync(join(OUT, 'native'), { force: true });
  symlinkSync(join(ROOT, 'native'), join(OUT, 'native'));
  writeFileSync(STAMP, mtime);
  return { cli, cached: false, build_ms: Math.round(performance.now() - t) };
}
